package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/diff"
	"github.com/blprobe/blprobe/report"
)

// maxReportBytes bounds a report read by diff.
const maxReportBytes = 64 << 20

// diffArgs are the values of diff's flags.
type diffArgs struct{ format, output string }

func (a *diffArgs) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "format", EnvVars: []string{"BLPROBE_FORMAT"}, Destination: &a.format, Value: "text", Usage: "output format: text, json or markdown"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, EnvVars: []string{"BLPROBE_OUTPUT"}, Destination: &a.output, Usage: "write the diff to `FILE` instead of stdout", TakesFile: true},
	}
}

func diffCommand(st *streams) *cli.Command {
	var a diffArgs
	return &cli.Command{
		Name:      "diff",
		Usage:     "what changed between two JSON reports (new and removed listings, MX outcomes, PTR, SPF, problems)",
		ArgsUsage: "BEFORE.json AFTER.json",
		Description: "Compares two blprobe.report/v1 reports of any command (or two blprobe.migrate/v1 reports). " +
			"Exit 1 when a new listing, rejection or migrate blocker appeared, 0 otherwise, 2 for unreadable input or " +
			"an unknown schema version.\nFrom cron: blprobe check --format json -o today.json ...; blprobe diff yesterday.json today.json",
		Flags:  a.flags(),
		Action: func(c *cli.Context) error { return a.run(c, st) },
	}
}

func readReport(st *streams, path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = st.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("cannot read %s: %v", path, errors.Unwrap(err))
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxReportBytes+1))
	if err != nil {
		return nil, usagef("cannot read %s: %v", path, err)
	}
	if len(b) > maxReportBytes {
		return nil, usagef("%s is larger than %d MiB: not a blprobe report", path, maxReportBytes>>20)
	}
	return b, nil
}

func (a *diffArgs) run(c *cli.Context, st *streams) error {
	format := a.format
	switch format {
	case "text", "json", "markdown":
	default:
		return usagef("invalid --format %q (accepted: text, json, markdown)", format)
	}
	if c.NArg() != 2 {
		return usagef("diff takes two reports, BEFORE.json AFTER.json (written with --format json), got %d arguments", c.NArg())
	}
	bn, an := c.Args().Get(0), c.Args().Get(1)
	if bn == "-" && an == "-" {
		return usagef("only one of the two reports can be read from stdin (-)")
	}
	before, err := readReport(st, bn)
	if err != nil {
		return err
	}
	after, err := readReport(st, an)
	if err != nil {
		return err
	}
	d, err := diff.Compare(report.Tool{Name: "blprobe", Version: toolVersion()}, bn, before, an, after)
	if err != nil {
		var ie *diff.InputError
		if errors.As(err, &ie) {
			return &usageError{err}
		}
		return &failure{err}
	}
	var b strings.Builder
	switch format {
	case "json":
		err = diff.WriteJSON(&b, d)
	case "markdown":
		err = diff.WriteMarkdown(&b, d)
	default:
		err = diff.WriteText(&b, d)
	}
	if err != nil {
		return fmt.Errorf("rendering the diff: %w", err)
	}
	if out := a.output; out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			return usagef("cannot write --output %s: %v", out, errors.Unwrap(err))
		}
	} else if _, err := io.WriteString(st.stdout, b.String()); err != nil {
		return err
	}
	if d.ExitCode != 0 {
		return exitCode(d.ExitCode)
	}
	return nil
}
