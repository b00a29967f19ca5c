package main

import (
	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/egress"
)

// egressArgs are the values of the egress flags (egress, check).
type egressArgs struct {
	servers cli.StringSlice
	fam     *familyArgs // -4/-6: the egress command's own, or check's shared with SMTP
}

// flags is the table of the egress flags.
func (a *egressArgs) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "egress-server", Category: catEgress, EnvVars: []string{"BLPROBE_EGRESS_SERVER"}, Destination: &a.servers, Usage: "ask this egress source instead of the defaults: `NAME=HOST:PORT`, NAME one of opendns, google, akamai, cloudflare (repeatable)"},
	}
}

func egressCommand(st *streams) *cli.Command {
	var (
		ca  commonArgs
		fam familyArgs
		ea  = egressArgs{fam: &fam}
	)
	return &cli.Command{
		Name:        "egress",
		Usage:       "find this network's egress IPv4 and IPv6 addresses over DNS (OpenDNS, Google, Akamai, Cloudflare)",
		Description: "Asks several independent DNS services which address the query came from, and says whether they agree.",
		Flags:       append(append(ea.flags(), fam.flags(catEgress, "detect the egress of")...), ca.flags()...),
		Action: func(c *cli.Context) error {
			cm, err := ca.setup(st)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("egress takes no arguments (got %q)", c.Args().First())
			}
			o := cm.options()
			if o.Egress, err = ea.options(cm); err != nil {
				return err
			}
			if err := cm.checkOutput(); err != nil {
				return err
			}
			cm.progress.Phase("egress detection", "")
			return cm.run(c.Context, check.RunEgress, o)
		},
	}
}

// options validates the egress flags (egress.Detect asks its default
// sources when none is given).
func (a *egressArgs) options(cm *common) (egress.Options, error) {
	o := egress.Options{
		Resolver: cm.dns,
		Timeout:  cm.timeout,
		Retries:  cm.dns.Retries,
		IPv4:     !a.fam.v6,
		IPv6:     !a.fam.v4,
	}
	if err := a.fam.validate(); err != nil {
		return o, err
	}
	for _, f := range a.servers.Value() {
		s, err := egress.ParseSource(f)
		if err != nil {
			return o, &usageError{err}
		}
		o.Sources = append(o.Sources, s)
	}
	return o, nil
}
