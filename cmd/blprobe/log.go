package main

import (
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/blprobe/blprobe/report"
)

// newLogger returns the logger of -v (the parts' progress, info level) and
// --debug (also every DNS exchange and SMTP step), as text or JSON lines on
// w, with every secret redacted; nil when neither flag is given.
func newLogger(w io.Writer, verbose, debug bool, format string, secrets func() []string) *slog.Logger {
	if !verbose && !debug {
		return nil
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	rw := &redactWriter{w: w, secrets: secrets}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(rw, opts))
	}
	return slog.New(slog.NewTextHandler(rw, opts))
}

// redactWriter replaces secrets (DQS keys appear in query names) in each
// log record; slog handlers write one record per Write.
type redactWriter struct {
	mu      sync.Mutex
	w       io.Writer
	secrets func() []string
}

func (r *redactWriter) Write(p []byte) (int, error) {
	s := string(p)
	for _, k := range r.secrets() {
		if k != "" {
			s = strings.ReplaceAll(s, k, report.Redacted)
			s = strings.ReplaceAll(s, strings.ToLower(k), report.Redacted)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
