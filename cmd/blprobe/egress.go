package main

import (
	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/internal/egress"
	"github.com/blprobe/blprobe/report"
)

func egressFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "egress-server", Category: catEgress, EnvVars: []string{"BLPROBE_EGRESS_SERVER"}, Usage: "ask this egress source instead of the defaults: `NAME=HOST:PORT`, NAME one of opendns, google, akamai, cloudflare (repeatable)"},
	}
}

func egressCommand(st *streams) *cli.Command {
	return &cli.Command{
		Name:        "egress",
		Usage:       "find this network's egress IPv4 and IPv6 addresses over DNS (OpenDNS, Google, Akamai, Cloudflare)",
		Description: "Asks several independent DNS services which address the query came from, and says whether they agree.",
		Flags: append(append(egressFlags(),
			&cli.BoolFlag{Name: "4", Category: catEgress, Usage: "detect the IPv4 egress only"},
			&cli.BoolFlag{Name: "6", Category: catEgress, Usage: "detect the IPv6 egress only"}), commonFlags()...),
		Action: func(c *cli.Context) error {
			cm, err := parseCommon(c, st)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("egress takes no arguments (got %q)", c.Args().First())
			}
			opts, err := egressOptions(c, cm)
			if err != nil {
				return err
			}
			if err := cm.checkOutput(); err != nil {
				return err
			}
			r := cm.newReport(st.args)
			r.Warnings = append(r.Warnings, egressWarnings(opts)...)
			cm.progress.Phase("egress detection", "")
			r.Egress = egress.Detect(c.Context, opts)
			r.Egress.IPSource = true // the answer is the point of this command
			return cm.finish(c.Context, r, nil)
		},
	}
}

func egressOptions(c *cli.Context, cm *common) (egress.Options, error) {
	o := egress.Options{
		Resolver: cm.dns,
		Timeout:  c.Duration("timeout"),
		Retries:  c.Int("retries"),
		IPv4:     !c.Bool("6"),
		IPv6:     !c.Bool("4"),
	}
	if c.Bool("4") && c.Bool("6") {
		return o, usagef("-4 and -6 exclude each other")
	}
	for _, f := range c.StringSlice("egress-server") {
		s, err := egress.ParseSource(f)
		if err != nil {
			return o, &usageError{err}
		}
		o.Sources = append(o.Sources, s)
	}
	if len(o.Sources) == 0 {
		o.Sources = egress.DefaultSources()
	}
	return o, nil
}

// egressWarnings says when the sources cannot be cross-checked.
func egressWarnings(o egress.Options) []string {
	names := map[string]bool{}
	for _, s := range o.Sources {
		names[s.Name] = true
	}
	if len(names) < 2 {
		return []string{"only one egress source is asked: whether independent sources agree on the egress IP cannot be checked (give two or more --egress-server)"}
	}
	return nil
}

// egressIPs are the agreed egress addresses of a report section.
func egressIPs(e *report.Egress) []string {
	var out []string
	for _, f := range []report.EgressFamily{e.IPv4, e.IPv6} {
		if f.IP != "" && f.Agree {
			out = append(out, f.IP)
		}
	}
	return out
}
