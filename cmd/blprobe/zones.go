package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/correlate"
	"github.com/blprobe/blprobe/report"
)

func zonesCommand(st *streams) *cli.Command {
	// Listing the catalogue asks nobody: only the flags that apply.
	listFlags := []cli.Flag{
		&cli.StringFlag{Name: "catalog", Category: catDNSBL, EnvVars: []string{"BLPROBE_CATALOG"}, Usage: "load the zone catalogue from `FILE`", TakesFile: true},
		&cli.BoolFlag{Name: "all", Category: catDNSBL, Usage: "list every zone, not only the default set"},
		&cli.StringFlag{Name: "format", Category: catOutput, EnvVars: []string{"BLPROBE_FORMAT"}, Value: "text", Usage: "`FORMAT`: text, json or markdown (md); any case"},
	}
	return &cli.Command{
		Name:        "zones",
		Usage:       "list the DNSBL catalogue; \"zones test\" checks the zones' health",
		Description: "Lists the built-in (or --catalog) zones: zone, name, kind, type, whether it is checked by default.",
		Flags:       listFlags,
		Action: func(c *cli.Context) error {
			format, err := parseFormat(c.String("format"))
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("unknown zones subcommand %q (accepted: test)", c.Args().First())
			}
			cat, err := loadCatalog(c)
			if err != nil {
				return err
			}
			if !c.Bool("all") {
				cat = dnsbl.Select(cat, nil)
			}
			w := st.stdout
			if format == "json" {
				return writeCatalogJSON(w, cat)
			}
			return writeCatalogTable(w, cat, format == "markdown")
		},
		Subcommands: []*cli.Command{{
			Name:  "test",
			Usage: "check the zones' RFC 5782 test entries through the resolver and show the evidence",
			Flags: append(dnsblFlags(), commonFlags()...),
			Action: func(c *cli.Context) error {
				cm, err := parseCommon(c, st)
				if err != nil {
					return err
				}
				if c.NArg() > 0 {
					return usagef("zones test takes no arguments; select zones with --zone")
				}
				dc, err := newDNSBLRun(c, cm)
				if err != nil {
					return err
				}
				if err := cm.checkOutput(); err != nil {
					return err
				}
				r := cm.newReport(st.args, dc.key)
				r.DNSBL = &report.DNSBL{Zones: dc.checker.CheckHealth(c.Context, dc.zones), Results: []dnsbl.Result{}}
				return cm.finish(c.Context, r, func(r *report.Report) { correlate.Analyze(r, dc.catalog, nil) })
			},
		}},
	}
}

// catalogSchema names the JSON document "blprobe zones --format json" writes.
const catalogSchema = "blprobe.catalog/v1"

func writeCatalogJSON(w io.Writer, cat []dnsbl.Zone) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Schema string       `json:"schema"`
		Zones  []dnsbl.Zone `json:"zones"`
	}{catalogSchema, cat})
}

func writeCatalogTable(w io.Writer, cat []dnsbl.Zone, markdown bool) error {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	if markdown {
		fmt.Fprintln(w, "| Zone | Name | Kind | Type | Default | Key | Delist |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
		for _, z := range cat {
			fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s | %s |\n", z.Zone, mdCell(z.Name), z.Kind, z.Type, yn(z.Default), yn(z.NeedsKey), mdCell(z.DelistURL))
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tNAME\tKIND\tTYPE\tDEFAULT\tKEY\tDELIST")
	for _, z := range cat {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", z.Zone, z.Name, z.Kind, z.Type, yn(z.Default), yn(z.NeedsKey), z.DelistURL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d zones\n", len(cat))
	return nil
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
