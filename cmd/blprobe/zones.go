package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/textsafe"
)

func zonesCommand(st *streams) *cli.Command {
	var (
		listDA dnsblArgs
		all    bool
		format string
		test   commonArgs
		testDA dnsblArgs
	)
	// Listing the catalogue asks nobody: only the flags that apply.
	listFlags := []cli.Flag{
		&cli.StringFlag{Name: "catalog", Category: catDNSBL, EnvVars: []string{"BLPROBE_CATALOG"}, Destination: &listDA.catalog, Usage: "load the zone catalogue from `FILE`", TakesFile: true},
		listDA.zonesFlag(),
		&cli.BoolFlag{Name: "all", Category: catDNSBL, Destination: &all, Usage: "list every zone (same as --zones all), and the dead lists"},
		&cli.StringFlag{Name: "format", Category: catOutput, EnvVars: []string{"BLPROBE_FORMAT"}, Destination: &format, Value: "text", Usage: "`FORMAT`: text, json or markdown (md); any case"},
	}
	return &cli.Command{
		Name:  "zones",
		Usage: "list the DNSBL catalogue; \"zones test\" checks the zones' health",
		Description: "Lists the built-in (or --catalog) zones of a group (default, extended, all) with the families they " +
			"answer, their type, usage terms and the date their entry was verified; --zones all also lists the dead lists.\n" +
			"Example: blprobe zones --zones extended",
		Flags: listFlags,
		Action: func(c *cli.Context) error {
			format, err := parseFormat(format)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("unknown zones subcommand %q (accepted: test)", c.Args().First())
			}
			cat, err := listDA.loadCatalog()
			if err != nil {
				return err
			}
			var dead []dnsbl.Zone
			for _, z := range cat {
				if z.Group == dnsbl.GroupDead {
					dead = append(dead, z)
				}
			}
			spec := listDA.zones.Value()
			if all {
				spec = []string{string(dnsbl.GroupAll)}
			}
			sel, err := listDA.selectZones(cat)
			if err != nil {
				return err
			}
			if len(spec) != 1 || spec[0] != string(dnsbl.GroupAll) {
				dead = nil // the dead lists come with the full listing only
			}
			if all {
				sel, _ = dnsbl.Resolve(cat, spec)
			}
			w := st.stdout
			if format == "json" {
				return writeCatalogJSON(w, sel, dead)
			}
			return writeCatalogTable(w, sel, dead, format == "markdown")
		},
		Subcommands: []*cli.Command{{
			Name:        "test",
			Usage:       "check which zones answer their RFC 5782 test entries from here, and show the evidence",
			Description: "Example: blprobe zones test --zones extended --resolver 127.0.0.1",
			Flags:       append(testDA.flags(), test.flags()...),
			Action: func(c *cli.Context) error {
				cm, err := test.setup(st)
				if err != nil {
					return err
				}
				if c.NArg() > 0 {
					return usagef("zones test takes no arguments; select zones with --zones (default, extended, all, or a comma list)")
				}
				o, err := testDA.options(cm)
				if err != nil {
					return err
				}
				if err := cm.checkOutput(); err != nil {
					return err
				}
				return cm.run(c.Context, check.ZoneHealth, o)
			},
		}},
	}
}

// catalogSchema names the JSON document "blprobe zones --format json" writes.
const catalogSchema = "blprobe.catalog/v1"

func writeCatalogJSON(w io.Writer, cat, dead []dnsbl.Zone) error {
	if dead == nil {
		dead = []dnsbl.Zone{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Schema string       `json:"schema"`
		Zones  []dnsbl.Zone `json:"zones"`
		Dead   []dnsbl.Zone `json:"dead"` // lists that stopped, with their sources; never queried
	}{catalogSchema, cat, dead})
}

// families says in words which targets a zone answers.
func families(z dnsbl.Zone) string {
	switch z.Kind {
	case dnsbl.KindIP4:
		return "IPv4"
	case dnsbl.KindIP6:
		return "IPv6"
	case dnsbl.KindIP46:
		return "IPv4+IPv6"
	case dnsbl.KindDomain:
		return "domains"
	}
	return string(z.Kind)
}

// termsSummary condenses a zone's usage terms for one table cell.
func termsSummary(z dnsbl.Zone) string {
	var parts []string
	if z.NeedsKey {
		parts = append(parts, "key needed")
	}
	if z.Registration {
		parts = append(parts, "register resolver")
	}
	if z.DailyLimit > 0 {
		parts = append(parts, fmt.Sprintf("free < %d/day", z.DailyLimit))
	}
	switch z.CommercialUse {
	case dnsbl.CommercialPaid:
		parts = append(parts, "commercial: paid")
	case dnsbl.CommercialFree:
		parts = append(parts, "commercial: free")
	}
	if len(parts) == 0 {
		return "no limit published"
	}
	return strings.Join(parts, ", ")
}

func writeCatalogTable(w io.Writer, cat, dead []dnsbl.Zone, markdown bool) error {
	clean := textsafe.Clean
	if markdown {
		fmt.Fprintln(w, "| Zone | Name | Group | Families | Type | Terms | Verified | Delist |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for _, z := range cat {
			fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", z.Zone, mdCell(clean(z.Name)), z.Group, families(z), z.Type,
				mdCell(termsSummary(z)), mdCell(z.Verified), mdCell(clean(delistCell(z))))
		}
		if len(dead) > 0 {
			fmt.Fprint(w, "\nDead lists (never queried):\n\n")
			for _, z := range dead {
				fmt.Fprintf(w, "- `%s` (%s): dead since %s; %s\n", z.Zone, mdCell(clean(z.Name)), z.DeadSince, mdCell(clean(strings.Join(z.Sources, " "))))
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tNAME\tGROUP\tFAMILIES\tTYPE\tTERMS\tVERIFIED\tDELIST")
	for _, z := range cat {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", z.Zone, clean(z.Name), z.Group, families(z), z.Type, termsSummary(z), dash(z.Verified), clean(delistCell(z)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d zones\n", len(cat))
	if len(dead) > 0 {
		fmt.Fprintf(w, "\nDead lists (never queried):\n")
		for _, z := range dead {
			fmt.Fprintf(w, "  %s (%s): dead since %s; source %s\n", z.Zone, clean(z.Name), z.DeadSince, clean(strings.Join(z.Sources, " ")))
		}
	}
	return nil
}

func delistCell(z dnsbl.Zone) string {
	if z.DelistURL != "" {
		return z.DelistURL
	}
	if z.NoDelistReason != "" {
		return "none: " + z.NoDelistReason
	}
	return "-"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
