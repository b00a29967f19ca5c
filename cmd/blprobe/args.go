package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// permute rewrites the command line so that it parses as users expect:
//
//   - the common flags may come before the command ("blprobe --format json
//     dnsbl 192.0.2.1"): they move behind the command name;
//   - flags may follow arguments ("blprobe dnsbl 192.0.2.1 --zone zen.test"):
//     urfave/cli stops parsing flags at the first argument, so they move in
//     front of the arguments, which follow a "--";
//   - --help (-h) anywhere shows the command's help, whatever the arguments.
//
// Everything after "--" stays positional; a lone "-" (stdin) is an argument.
// Flags the app itself knows (--help, --version) stay where they are when no
// command follows.
func permute(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// Value flags of any command, to skip the values of flags given before
	// the command name.
	anyValue := map[string]bool{}
	var collect func([]*cli.Command)
	collect = func(cs []*cli.Command) {
		for _, c := range cs {
			for _, f := range c.Flags {
				if _, isBool := f.(*cli.BoolFlag); !isBool {
					for _, n := range f.Names() {
						anyValue[n] = true
					}
				}
			}
			collect(c.Subcommands)
		}
	}
	collect(app.Commands)
	i := 1
	var pre []string
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" && args[i] != "--" {
		pre = append(pre, args[i])
		name := strings.TrimLeft(args[i], "-")
		i++
		if anyValue[name] && i < len(args) {
			pre = append(pre, args[i])
			i++
		}
	}
	if i >= len(args) || app.Command(args[i]) == nil {
		return args
	}
	cmd := app.Command(args[i])
	out := []string{args[0], args[i]}
	i++
	if len(cmd.Subcommands) > 0 && i < len(args) {
		if sub := cmd.Command(args[i]); sub != nil {
			cmd = sub
			out = append(out, args[i])
			i++
		}
	}
	valueFlags := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			valueFlags[n] = !isBool
		}
	}
	// Flags before the command join those after it; a value flag takes the
	// next word with it.
	var flags, pos []string
	rest := args[i:]
	all := append(append([]string(nil), pre...), rest...)
	help, dangling := false, false
	for k := 0; k < len(all); k++ {
		a := all[k]
		if a == "--" {
			pos = append(pos, all[k+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if name == "help" || name == "h" {
			help = true
		}
		flags = append(flags, a)
		if strings.Contains(name, "=") {
			continue
		}
		if valueFlags[name] {
			if k+1 == len(all) {
				dangling = true // "flag needs an argument", not the "--" below as its value
				continue
			}
			k++
			flags = append(flags, all[k])
		}
	}
	out = append(out, flags...)
	if help || dangling {
		return out // help for the command, or the error: the arguments do not matter
	}
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

var (
	reUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	reBadValue  = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]+): (.*)$`)
	reBadEnv    = regexp.MustCompile(`^could not parse "(.*)" as (\w+) value from environment variable "([^"]+)" for flag ([^:]+): `)
	reNeedsArg  = regexp.MustCompile(`^flag needs an argument: -+(.+)$`)
)

// friendlyFlagError turns the flag package's errors into one line naming
// the flag with two dashes and what is accepted, with a suggestion for an
// unknown flag. flags are those of the command being parsed; app, when the
// app's own flags are parsed, names the commands a misplaced flag goes with.
func friendlyFlagError(err error, flags []cli.Flag, app *cli.App) error {
	msg := err.Error()
	if m := reUndefined.FindStringSubmatch(msg); m != nil {
		name := strings.SplitN(m[1], "=", 2)[0]
		if findFlag(name, flags) != nil { // a command's flag, but no command followed
			return usagef("%s goes with a command: blprobe COMMAND %s … (commands that take it: %s)", dashed(name), dashed(name), commandsWith(app, name))
		}
		s := fmt.Sprintf("unknown flag %s", dashed(name))
		if best := closestFlag(name, flags); best != "" {
			s += fmt.Sprintf(" (did you mean %s?)", dashed(best))
		}
		return usagef("%s; see --help", s)
	}
	if m := reBadValue.FindStringSubmatch(msg); m != nil {
		return usagef("invalid %s %q: %s", dashed(m[2]), m[1], accepted(m[2], flags))
	}
	if m := reBadEnv.FindStringSubmatch(msg); m != nil {
		return usagef("invalid %s=%q (for %s): %s", m[3], m[1], dashed(m[4]), accepted(m[4], flags))
	}
	if m := reNeedsArg.FindStringSubmatch(msg); m != nil {
		return usagef("%s needs a value: %s", dashed(m[1]), accepted(m[1], flags))
	}
	return &usageError{err}
}

// dashed is a flag name as typed: "--zone", or "-4" for one letter.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// accepted says what a flag takes, from its type.
func accepted(name string, flags []cli.Flag) string {
	switch findFlag(name, flags).(type) {
	case *cli.DurationFlag:
		return "use a duration such as 5s, 500ms or 1m"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag:
		return "use a whole number such as 16"
	case *cli.Float64Flag:
		return "use a number such as 10 or 2.5"
	case *cli.BoolFlag:
		return "use true or false"
	}
	return "see --help for the accepted values"
}

func findFlag(name string, flags []cli.Flag) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// closestFlag is the flag name nearest to name by edit distance, if close
// enough to be a typo, or one that name is a prefix of.
func closestFlag(name string, flags []cli.Flag) string {
	best, bestD := "", 0
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) < 2 {
				continue
			}
			d := editDistance(name, n)
			if strings.HasPrefix(n, name) && len(name) >= 3 {
				d = min(d, 1)
			}
			if best == "" || d < bestD {
				best, bestD = n, d
			}
		}
	}
	if best == "" || bestD > max(2, len(name)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// commandsWith lists the commands (and subcommands) that take the flag
// name, in the order of the app's help.
func commandsWith(app *cli.App, name string) string {
	var out []string
	var walk func(prefix string, cs []*cli.Command)
	walk = func(prefix string, cs []*cli.Command) {
		for _, c := range cs {
			if findFlag(name, c.Flags) != nil {
				out = append(out, prefix+c.Name)
			}
			walk(prefix+c.Name+" ", c.Subcommands)
		}
	}
	if app != nil {
		walk("", app.Commands)
	}
	if len(out) == 0 {
		return "see blprobe --help"
	}
	return strings.Join(out, ", ")
}
