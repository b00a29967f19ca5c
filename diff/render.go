package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/blprobe/blprobe/internal/textsafe"
	"github.com/blprobe/blprobe/migrate"
	"github.com/blprobe/blprobe/report"
)

// WriteJSON writes the diff as indented JSON and a newline.
func WriteJSON(w io.Writer, d *Diff) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("marshalling diff: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// where names what a change is about, e.g. "198.51.100.7 on zen.spamhaus.org".
func where(c Change) string {
	var parts []string
	switch {
	case c.Item != "":
		parts = append(parts, migrate.ItemName(c.Item, c.Domain))
	case c.MX != "":
		parts = append(parts, c.Domain+" MX "+c.MX+" ["+c.Address+"]")
	case c.Domain != "":
		parts = append(parts, c.Domain+" for "+c.Address)
	case c.Zone != "":
		parts = append(parts, c.Address+" on "+c.Zone)
	case c.Address != "":
		parts = append(parts, c.Address)
	}
	return strings.Join(parts, " ")
}

func title(kind string) string {
	return map[string]string{
		ListingAdded: "new listing", ListingRemoved: "listing removed", ListingChanged: "listing changed",
		MXChanged: "MX outcome changed", MXAdded: "MX address added", MXRemoved: "MX address gone",
		PTRChanged: "PTR changed", SPFChanged: "SPF changed", RowChanged: "readiness changed", VerdictChanged: "verdict changed",
	}[kind]
}

func summary(d *Diff) string {
	switch {
	case d.NewProblem:
		return fmt.Sprintf("NEW PROBLEM (%d new, %d gone, %s)", len(d.NewProblems), len(d.GoneProblems), plural(len(d.Changes), "change"))
	case len(d.Changes)+len(d.NewProblems)+len(d.GoneProblems) == 0:
		return "NO CHANGE"
	}
	// New problems without NewProblem are checks that could not be done
	// this time (inconclusive): said only when there are some.
	var parts []string
	if n := len(d.NewProblems); n > 0 {
		parts = append(parts, fmt.Sprintf("%d new could not be checked", n))
	}
	parts = append(parts, fmt.Sprintf("%d gone", len(d.GoneProblems)), plural(len(d.Changes), "change"))
	return "no new problem (" + strings.Join(parts, ", ") + ")"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// WriteText writes the diff for a terminal. Remote text (replies, TXT
// reasons) is stripped of control characters.
func WriteText(w io.Writer, d *Diff) error {
	var b bytes.Buffer
	cl := textsafe.Clean
	fmt.Fprintf(&b, "blprobe diff: %s\n", summary(d))
	fmt.Fprintf(&b, "  before: %s (%s, %s, verdict %s)\n", cl(d.Before.File), d.Before.Schema, d.Before.Started, d.Before.Verdict)
	fmt.Fprintf(&b, "  after:  %s (%s, %s, verdict %s)\n", cl(d.After.File), d.After.Schema, d.After.Started, d.After.Verdict)
	if len(d.Changes) > 0 {
		b.WriteString("\nCHANGES\n")
		for _, c := range d.Changes {
			mark := " "
			if c.Worse {
				mark = "!"
			}
			if w := where(c); w != "" {
				fmt.Fprintf(&b, " %s %s: %s\n", mark, title(c.Kind), cl(w))
			} else {
				fmt.Fprintf(&b, " %s %s\n", mark, title(c.Kind))
			}
			fmt.Fprintf(&b, "      before: %s\n      after:  %s\n", cl(c.Before), cl(c.After))
		}
	}
	for _, sec := range []struct {
		name string
		list []Problem
	}{{"NEW PROBLEMS", d.NewProblems}, {"PROBLEMS GONE", d.GoneProblems}} {
		if len(sec.list) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s\n", sec.name)
		for _, p := range sec.list {
			fmt.Fprintf(&b, "  [%s] %s\n", p.Verdict, cl(p.Message))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func md(s string) string {
	s = report.EscapeMarkdown(s)
	if s == "" {
		return "-"
	}
	return s
}

// WriteMarkdown writes the diff as GitHub-flavoured Markdown.
func WriteMarkdown(w io.Writer, d *Diff) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# blprobe diff: %s\n\n", md(summary(d)))
	fmt.Fprintf(&b, "| | File | Started | Verdict |\n|---|---|---|---|\n| Before | %s | %s | %s |\n| After | %s | %s | %s |\n",
		md(d.Before.File), md(d.Before.Started), md(d.Before.Verdict), md(d.After.File), md(d.After.Started), md(d.After.Verdict))
	if len(d.Changes) > 0 {
		b.WriteString("\n## Changes\n\n| Change | What | Before | After |\n|---|---|---|---|\n")
		for _, c := range d.Changes {
			t := md(title(c.Kind))
			if c.Worse {
				t = "**" + t + "**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t, md(where(c)), md(c.Before), md(c.After))
		}
	}
	for _, sec := range []struct {
		name string
		list []Problem
	}{{"New problems", d.NewProblems}, {"Problems gone", d.GoneProblems}} {
		if len(sec.list) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n", sec.name)
		for _, p := range sec.list {
			fmt.Fprintf(&b, "- %s: %s\n", md(p.Verdict), md(p.Message))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
