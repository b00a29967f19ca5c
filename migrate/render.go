package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/blprobe/blprobe/internal/textsafe"
	"github.com/blprobe/blprobe/report"
)

// WriteJSON writes the report as indented JSON and a newline.
func WriteJSON(w io.Writer, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("marshalling migrate report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func itemName(row Row) string { return ItemName(row.Item, row.Subject) }

// ItemName is how reports name a readiness item: "SPF example.test",
// "PTR / FCrDNS", not the JSON identifier ("spf", "rdns").
func ItemName(item, subject string) string {
	names := map[string]string{
		ItemListings: "Listings", ItemRDNS: "PTR / FCrDNS", ItemGeneric: "Generic PTR", ItemHELO: "HELO",
		ItemSPF: "SPF", ItemDMARC: "DMARC", ItemSMTP: "SMTP", ItemPort25: "Port 25",
	}
	n := names[item]
	if n == "" {
		n = item
	}
	if subject != "" {
		n += " " + subject
	}
	return n
}

func blockerName(bl Blocker) string {
	return itemName(Row{Item: bl.Item, Subject: bl.Subject})
}

func statusWord(c *Cell) string {
	if c == nil {
		return "-"
	}
	return strings.ToUpper(strings.ReplaceAll(string(c.Status), "_", " "))
}

// WriteText writes the report for a terminal: the verdict, a table of the
// rows (old | new), the details and fixes of every cell that did not pass
// (every cell with verbose), blockers, the range counts and warnings.
// Remote text is stripped of control characters.
func WriteText(w io.Writer, r *Report, verbose bool) error {
	var b bytes.Buffer
	cl := textsafe.Clean
	fmt.Fprintf(&b, "blprobe migrate: %s → %s: %s (exit %d)\n\n", r.From, cl(r.To), strings.ToUpper(r.Verdict), r.ExitCode)
	width := len("ITEM")
	for _, row := range r.Rows {
		width = max(width, len(cl(itemName(row))))
	}
	oldH, newH := "OLD "+r.From, "NEW "+cl(r.To)
	colw := max(len(oldH), len("NOT CHECKED"))
	fmt.Fprintf(&b, "%-*s  %-*s  %s\n", width, "ITEM", colw, oldH, newH)
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "%-*s  %-*s  %s\n", width, cl(itemName(row)), colw, statusWord(row.Old), statusWord(row.New))
	}
	var det bytes.Buffer // the heading is written only above some detail
	for _, row := range r.Rows {
		for _, side := range []struct {
			name string
			c    *Cell
		}{{"old", row.Old}, {"new", row.New}} {
			if side.c == nil || (side.c.Status == Pass && !verbose) {
				continue
			}
			fmt.Fprintf(&det, "  %s, %s: %s: %s\n", cl(itemName(row)), side.name, statusWord(side.c), cl(side.c.Detail))
			if side.c.Fix != "" {
				fmt.Fprintf(&det, "      fix: %s\n", cl(side.c.Fix))
			}
		}
	}
	if det.Len() > 0 {
		b.WriteString("\nDETAILS\n")
		b.Write(det.Bytes())
	}
	if len(r.Blockers) > 0 {
		fmt.Fprintf(&b, "\nBLOCKERS (%d)\n", len(r.Blockers))
		for _, bl := range r.Blockers {
			fmt.Fprintf(&b, "  %s %s: %s\n", cl(bl.Address), cl(blockerName(bl)), cl(bl.Detail))
			if bl.Fix != "" {
				fmt.Fprintf(&b, "      fix: %s\n", cl(bl.Fix))
			}
		}
	}
	if a := r.Aggregate; a != nil {
		fmt.Fprintf(&b, "\nRANGE %s: %d addresses, %d checked: %d listed (%d by policy), %d with PTR, %d forward-confirmed, %d blocker addresses\n",
			cl(r.To), a.Addresses, a.Checked, a.Listed, a.PolicyListed, a.WithPTR, a.ForwardConfirmed, len(a.BlockerAddresses))
		for _, d := range r.Domains {
			fmt.Fprintf(&b, "  SPF %s authorises %d of %d\n", d, a.SPFAuthorised[d], a.Checked)
		}
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\nWARNINGS\n")
		for _, wn := range r.Warnings {
			fmt.Fprintf(&b, "  %s\n", cl(wn))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func md(s string) string { return report.EscapeMarkdown(s) }

func mdCell(c *Cell) string {
	if c == nil {
		return "-"
	}
	s := "**" + statusWord(c) + "** " + md(c.Detail)
	if c.Fix != "" {
		s += "<br>fix: " + md(c.Fix)
	}
	return s
}

// WriteMarkdown writes the report as GitHub-flavoured Markdown: the
// verdict, one table row per item with both columns, blockers and counts.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# blprobe migrate: %s → %s\n\n**Verdict: %s** (exit %d)\n\n", md(r.From), md(r.To), r.Verdict, r.ExitCode)
	fmt.Fprintf(&b, "| Item | Old %s | New %s |\n|---|---|---|\n", md(r.From), md(r.To))
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", md(itemName(row)), mdCell(row.Old), mdCell(row.New))
	}
	if len(r.Blockers) > 0 {
		b.WriteString("\n## Blockers\n\n")
		for _, bl := range r.Blockers {
			fmt.Fprintf(&b, "- %s %s: %s", md(bl.Address), md(blockerName(bl)), md(bl.Detail))
			if bl.Fix != "" {
				fmt.Fprintf(&b, " — fix: %s", md(bl.Fix))
			}
			b.WriteString("\n")
		}
	}
	if a := r.Aggregate; a != nil {
		fmt.Fprintf(&b, "\n## Range\n\n%d addresses, %d checked: %d listed (%d by policy), %d with PTR, %d forward-confirmed, %d blocker addresses.\n",
			a.Addresses, a.Checked, a.Listed, a.PolicyListed, a.WithPTR, a.ForwardConfirmed, len(a.BlockerAddresses))
		for _, d := range r.Domains {
			fmt.Fprintf(&b, "\n- SPF %s authorises %d of %d", md(d), a.SPFAuthorised[d], a.Checked)
		}
		b.WriteString("\n")
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, wn := range r.Warnings {
			fmt.Fprintf(&b, "- %s\n", md(wn))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
