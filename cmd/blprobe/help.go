package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/mattn/go-runewidth"
	"github.com/urfave/cli/v2"
)

// Flag categories, in the order help lists them: what to check first,
// output last.
const (
	catTarget = "TARGET"
	catDNSBL  = "DNSBL"
	catSMTP   = "SMTP"
	catEgress = "EGRESS"
	catDNS    = "DNS"
	catOutput = "OUTPUT"
)

var categoryOrder = []string{catTarget, catDNSBL, catSMTP, catEgress, catDNS, catOutput, ""}

// examples are shown under EXAMPLES in each command's help.
var examples = map[string][]string{
	"check": {
		"blprobe check --to gmail.com --to outlook.com          # the egress IP, auto-detected",
		"blprobe check --to example.com 192.0.2.7               # a given IP",
		"blprobe check --to example.com 192.0.2.0/28            # every address of a range",
		"blprobe check --to example.com --format md -o ticket.md 192.0.2.7",
	},
	"dnsbl": {
		"blprobe dnsbl 192.0.2.7",
		"blprobe dnsbl 192.0.2.7 mail.example.com 198.51.100.0/28",
		"blprobe dnsbl --zone zen.spamhaus.org --dqs-key KEY 192.0.2.7",
		"blprobe --format json dnsbl @ips.txt",
	},
	"smtp": {
		"blprobe smtp example.com",
		"blprobe smtp -v --rcpt someone@example.com example.com",
		"blprobe smtp --server mx2.example.com example.com      # one server, not the MX",
		"blprobe smtp '[192.0.2.25]'                            # an address literal",
	},
	"egress": {
		"blprobe egress",
		"blprobe egress -4 --format json",
	},
	"zones": {
		"blprobe zones --all",
		"blprobe zones test --zone zen.spamhaus.org --resolver 127.0.0.1",
	},
	"test": {
		"blprobe zones test",
		"blprobe zones test --zone zen.spamhaus.org --resolver 127.0.0.1",
	},
	"version": {"blprobe version"},
}

// printHelp replaces urfave/cli's help printer for commands: flags grouped
// by category in a fixed order (the flag a user needs first), examples,
// subcommands and the exit codes. The app's own help keeps the default
// template.
func printHelp(w io.Writer, templ string, data any) {
	cmd, ok := data.(*cli.Command)
	if !ok {
		var b strings.Builder
		cli.HelpPrinterCustom(&b, templ, data, nil)
		_, _ = io.WriteString(w, fitWidth(b.String(), helpWidth)) // as below
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "NAME:\n   %s - %s\n\n", cmd.HelpName, cmd.Usage)
	fmt.Fprintf(&b, "USAGE:\n   %s [options] %s\n", cmd.HelpName, cmd.ArgsUsage)
	if cmd.Description != "" {
		b.WriteString("\nDESCRIPTION:\n")
		for _, l := range strings.Split(cmd.Description, "\n") {
			b.WriteString("   " + l + "\n")
		}
	}
	var subs []*cli.Command
	for _, s := range cmd.VisibleCommands() {
		if s.Name != "help" {
			subs = append(subs, s)
		}
	}
	if len(subs) > 0 {
		b.WriteString("\nCOMMANDS:\n")
		for _, s := range subs {
			fmt.Fprintf(&b, "   %-8s %s (see %s %s --help)\n", s.Name, s.Usage, cmd.HelpName, s.Name)
		}
	}
	byCat := map[string][]cli.Flag{}
	for _, f := range cmd.VisibleFlags() {
		c := ""
		if cf, ok := f.(cli.CategorizableFlag); ok {
			c = cf.GetCategory()
		}
		byCat[c] = append(byCat[c], f)
	}
	for _, c := range categoryOrder {
		fs := byCat[c]
		if len(fs) == 0 {
			continue
		}
		title := c + " OPTIONS"
		if c == "" {
			title = "OTHER OPTIONS"
		}
		b.WriteString("\n" + title + ":\n")
		writeFlags(&b, fs)
	}
	if ex := examples[cmd.Name]; len(ex) > 0 {
		b.WriteString("\nEXAMPLES:\n")
		for _, e := range ex {
			b.WriteString("   " + e + "\n")
		}
	}
	b.WriteString("\n" + exitHelp + "\n")
	_, _ = io.WriteString(w, fitWidth(b.String(), helpWidth)) // cli.HelpPrinter has no error to return; stdout failing shows nowhere else
}

// helpWidth is the width help text is wrapped to: an 80-column terminal.
const helpWidth = 80

// writeFlags lists flags as "   --name PLACEHOLDER   usage", the usage
// aligned and wrapped under itself.
func writeFlags(b *strings.Builder, fs []cli.Flag) {
	type line struct{ names, usage string }
	var ls []line
	col := 0
	for _, f := range fs {
		names, usage, _ := strings.Cut(cli.FlagStringer(f), "\t")
		names = strings.ReplaceAll(strings.ReplaceAll(names, " [ ", " ["), " ]", "]")
		ls = append(ls, line{names, usage})
		if len(names) <= 32 {
			col = max(col, len(names))
		}
	}
	pad := 3 + col + 2
	for _, l := range ls {
		first := "   " + l.names
		if len(l.names) > col {
			b.WriteString(first + "\n")
			first = ""
		}
		first += strings.Repeat(" ", max(0, pad-len(first)))
		for _, w := range wrapWords(l.usage, helpWidth-pad) {
			b.WriteString(first + w + "\n")
			first = strings.Repeat(" ", pad)
		}
	}
}

// wrapWords breaks s into lines of at most width bytes at spaces.
func wrapWords(s string, width int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(out, line)
}

// listMarker is the marker of a numbered item ("1. ", "2-4. ").
var listMarker = regexp.MustCompile(`^[0-9][0-9.,-]* `)

// fitWidth wraps every line of s wider than width at spaces. A continuation
// is indented under the line's text: after the line's first gap of two or
// more spaces (a term and its description, an exit code and its meaning)
// when that is in the left half, else after a numbered item's marker, else
// as deep as the line. A
// word wider than the room is left whole.
func fitWidth(s string, width int) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		nl := strings.HasSuffix(line, "\n")
		line = strings.TrimSuffix(line, "\n")
		if runewidth.StringWidth(line) > width {
			lead := len(line) - len(strings.TrimLeft(line, " "))
			hang := lead
			if m := listMarker.FindString(line[lead:]); m != "" {
				hang += len(m)
			}
			if i := strings.Index(line[lead:], "  "); i > 0 {
				if j := lead + i + len(line[lead+i:]) - len(strings.TrimLeft(line[lead+i:], " ")); j <= width/2 {
					hang = j
				}
			}
			for runewidth.StringWidth(line) > width {
				cut := strings.LastIndexByte(runewidth.Truncate(line, width+1, ""), ' ')
				if cut <= hang {
					break
				}
				b.WriteString(strings.TrimRight(line[:cut], " ") + "\n")
				line = strings.Repeat(" ", hang) + strings.TrimLeft(line[cut:], " ")
			}
		}
		b.WriteString(line)
		if nl {
			b.WriteString("\n")
		}
	}
	return b.String()
}
