package main

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// formats maps every accepted --format name (lower case) to the report
// format it selects. This table is the one place format names live: a new
// format adds its names here and a case to common.write.
var formats = map[string]string{
	"text":     "text",
	"txt":      "text",
	"json":     "json",
	"markdown": "markdown",
	"md":       "markdown",
	"nagios":   "nagios", // one plugin status line (report/nagios.go)
	"jsonl":    "jsonl",  // dnsbl only: one JSON object per result
}

// formatNames lists the accepted names for errors and help.
const formatNames = "text, json, markdown (or md), nagios, jsonl (dnsbl)"

// parseFormat accepts a --format name in any case ("JSON", "md").
func parseFormat(s string) (string, error) {
	if f, ok := formats[strings.ToLower(strings.TrimSpace(s))]; ok {
		return f, nil
	}
	return "", usagef("invalid --format %q (accepted: %s; any case)", s, formatNames)
}

// Width limits of --width.
const (
	minWidth = 40
	maxWidth = 1000
)

// reportWidth decides the width of the text report: --width when given
// (0: no limit); else the terminal's width when stdout is a terminal;
// else $COLUMNS when stdout is not redirected to a file by -o; else no
// limit, so that files, pipes and logs keep every line whole.
func reportWidth(w int, set bool, st *streams, output string) (int, error) {
	if set {
		if w != 0 && (w < minWidth || w > maxWidth) {
			return 0, usagef("invalid --width %d (accepted: 0 for no limit, or %d to %d columns)", w, minWidth, maxWidth)
		}
		return w, nil
	}
	if output != "" {
		return 0, nil
	}
	if f, ok := st.stdout.(*os.File); ok && isTerm(f.Fd()) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return max(w, minWidth), nil
		}
	}
	if v := os.Getenv("COLUMNS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return min(max(n, minWidth), maxWidth), nil
		}
	}
	return 0, nil
}
