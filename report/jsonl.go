package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
)

// JSONL writes the DNSBL results of a run as JSON Lines (--format jsonl):
// a "run" line first, then one line per result as it completes (the same
// object as an item of dnsbl.results), then a "summary" line with the
// verdict and counts. Buffered lines are written out within about 100 ms,
// so a reader (jq) sees results while the run goes. Safe for concurrent
// use; Finish must be called.
type JSONL struct {
	mu        sync.Mutex
	w         *bufio.Writer
	secrets   []string
	only      DNSBL // only Only is used: which statuses are written
	counts    map[dnsbl.Status]int
	omitted   map[string]map[dnsbl.Status]int
	lastFlush time.Time
	err       error
	stop      chan struct{} // ends the flusher
}

// jsonlRun is the first line.
type jsonlRun struct {
	Type      string         `json:"type"` // "run"
	Schema    string         `json:"schema"`
	Tool      Tool           `json:"tool"`
	Command   []string       `json:"command"`
	Started   time.Time      `json:"started"`
	Resolvers []string       `json:"resolvers"`
	Only      []dnsbl.Status `json:"only,omitempty"`
}

// jsonlSummary is the last line.
type jsonlSummary struct {
	Type        string                          `json:"type"` // "summary"
	Finished    time.Time                       `json:"finished"`
	Interrupted bool                            `json:"interrupted"`
	Verdict     Verdict                         `json:"verdict"`
	ExitCode    int                             `json:"exit_code"`
	Summary     string                          `json:"summary,omitempty"`
	NextSteps   []string                        `json:"next_steps"`
	Warnings    []string                        `json:"warnings"`
	Counts      map[dnsbl.Status]int            `json:"counts"` // every result, written or not
	Omitted     map[string]map[dnsbl.Status]int `json:"omitted,omitempty"`
	Zones       []dnsbl.ZoneHealth              `json:"zones"`
}

// NewJSONL writes the run line of r (a report just started) and returns the
// writer of the result lines; only selects the statuses written (empty: all).
func NewJSONL(w io.Writer, r *Report, only []dnsbl.Status) (*JSONL, error) {
	j := &JSONL{w: bufio.NewWriterSize(w, 64<<10), secrets: r.secrets, only: DNSBL{Only: only},
		counts: map[dnsbl.Status]int{}, lastFlush: time.Now()}
	n := normalize(r)
	j.line(jsonlRun{Type: "run", Schema: SchemaV1, Tool: n.Tool, Command: n.Command, Started: n.Started, Resolvers: n.Resolvers, Only: only})
	j.flush()
	if j.err != nil {
		return nil, j.err
	}
	j.stop = make(chan struct{})
	go j.flusher(j.stop)
	return j, nil
}

// flusher writes out buffered lines that waited 100 ms (results that
// complete slowly are seen without waiting for the next one).
func (j *JSONL) flusher(stop <-chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			j.mu.Lock()
			if j.w.Buffered() > 0 && time.Since(j.lastFlush) >= 100*time.Millisecond {
				j.flush()
			}
			j.mu.Unlock()
		}
	}
}

// line writes one JSON value and a newline; the first error sticks.
func (j *JSONL) line(v any) {
	if j.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		j.err = fmt.Errorf("marshalling JSON line: %w", err)
		return
	}
	b = append(redactJSON(b, j.secrets), '\n')
	if _, err := j.w.Write(b); err != nil {
		j.err = fmt.Errorf("writing JSON lines: %w", err)
	}
}

func (j *JSONL) flush() {
	if j.err == nil {
		if err := j.w.Flush(); err != nil {
			j.err = fmt.Errorf("writing JSON lines: %w", err)
		}
	}
	j.lastFlush = time.Now()
}

// Result writes one result line (or counts it as omitted by --only).
func (j *JSONL) Result(res *dnsbl.Result) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.counts[res.Status]++
	if !j.only.Shown(res.Status) {
		j.omitted = countOmitted(j.omitted, res)
		return
	}
	j.line(normResult(*res))
	if time.Since(j.lastFlush) >= 50*time.Millisecond {
		j.flush()
	}
}

// Finish writes the summary line of r (finalised) and flushes.
func (j *JSONL) Finish(r *Report) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stop != nil {
		close(j.stop)
		j.stop = nil
	}
	n := normalize(r)
	s := jsonlSummary{Type: "summary", Finished: n.Finished, Interrupted: n.Interrupted, Verdict: n.Verdict, ExitCode: n.ExitCode,
		Summary: n.Summary, NextSteps: n.NextSteps, Warnings: n.Warnings, Counts: j.counts, Omitted: j.omitted, Zones: []dnsbl.ZoneHealth{}}
	if n.DNSBL != nil {
		s.Zones = n.DNSBL.Zones
	}
	j.line(s)
	j.flush()
	return j.err
}
