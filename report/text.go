package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

// TextOptions controls the terminal rendering.
type TextOptions struct {
	Color   bool // ANSI colour for the verdict and problems (only when writing to a terminal)
	Verbose bool // list every clean result, zone evidence and the SMTP transcripts
	// Width is the line width in terminal columns: prose is wrapped at
	// word boundaries and table cells that do not fit are cut with "…"
	// (the full text stays in -v transcripts and in JSON). 0: no limit.
	Width int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[1;31m"
	ansiYellow = "\x1b[1;33m"
	ansiGreen  = "\x1b[1;32m"
)

// textWriter renders one report as terminal text into a buffer.
type textWriter struct {
	renderer
	o   TextOptions
	buf bytes.Buffer
}

// WriteText writes the report for a terminal: the verdict first, then the
// summary and the problems, then every section present, next steps,
// warnings and counts. Remote text is stripped of control characters;
// clean DNSBL results are collapsed into counts unless o.Verbose.
func WriteText(w io.Writer, r *Report, o TextOptions) error {
	if r == nil {
		return fmt.Errorf("writing text report: nil report")
	}
	t := &textWriter{renderer: renderer{r: r, secrets: r.secrets}, o: o}
	t.render()
	out := t.buf.Bytes()
	if len(r.secrets) > 0 { // belt and braces: nothing printed may carry a secret
		out = []byte(Redact(string(out), r.secrets...))
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("writing text report: %w", err)
	}
	return nil
}

func (t *textWriter) color(code, s string) string {
	if !t.o.Color {
		return s
	}
	return code + s + ansiReset
}

func (t *textWriter) printf(format string, args ...any) { fmt.Fprintf(&t.buf, format, args...) }

func (t *textWriter) heading(s string) {
	t.buf.WriteString("\n")
	for _, l := range wrap(s, t.o.Width, "", "  ") {
		t.buf.WriteString(t.color(ansiBold, l) + "\n")
	}
}

// table writes aligned rows fitted to the width; every cell is made safe,
// empty cells are "-". flex is the column that shrinks first (-1: none).
func (t *textWriter) table(indent string, header []string, rows [][]string, flex int) {
	clean := func(cells []string) []string {
		out := make([]string, len(cells))
		for i, c := range cells {
			if c = t.safe(c); c == "" {
				c = "-"
			}
			out[i] = c
		}
		return out
	}
	all := make([][]string, 0, len(rows))
	for _, r := range rows {
		all = append(all, clean(r))
	}
	// Columns without a value in any row ("-" throughout) say nothing.
	keep := make([]bool, len(header))
	for i := range header {
		keep[i] = i == 0
		for _, r := range all {
			keep[i] = keep[i] || i < len(r) && r[i] != "-"
		}
	}
	pick := func(cells []string) []string {
		var out []string
		for i, c := range cells {
			if i < len(keep) && keep[i] {
				out = append(out, c)
			}
		}
		return out
	}
	newFlex := -1
	for i := 0; i <= flex && i < len(keep); i++ {
		if keep[i] {
			newFlex++
		}
	}
	if flex < 0 || flex >= len(keep) || !keep[flex] {
		newFlex = -1
	}
	for i := range all {
		all[i] = pick(all[i])
	}
	hdr := pick(clean(header))
	if !fitsAsTable(indent, hdr, all, t.o.Width, newFlex) {
		t.records(indent, hdr, all, newFlex)
		return
	}
	for _, l := range table(indent, hdr, all, t.o.Width, newFlex) {
		t.buf.WriteString(l + "\n")
	}
}

// records writes rows that do not fit as a table one record each: the
// first cell, then "header value" pairs wrapped at the width, and the flex
// cell (a reply, a reason) on a line of its own, cut to the width.
func (t *textWriter) records(indent string, header []string, rows [][]string, flex int) {
	for _, r := range rows {
		var parts []string
		for i := 1; i < len(r) && i < len(header); i++ {
			if i != flex && r[i] != "-" {
				parts = append(parts, strings.ToLower(header[i])+" "+r[i])
			}
		}
		first := r[0]
		if len(parts) > 0 {
			first += ": " + strings.Join(parts, ", ")
		}
		for _, l := range wrap(first, t.o.Width, indent, indent+"    ") {
			t.buf.WriteString(l + "\n")
		}
		if flex > 0 && flex < len(r) && r[flex] != "-" {
			t.buf.WriteString(fit(indent+"  "+strings.ToLower(header[flex])+": "+r[flex], t.o.Width) + "\n")
		}
	}
}

// para writes s wrapped to the width: the first line starts with first,
// the others with rest.
func (t *textWriter) para(first, rest, s string) {
	for _, l := range wrap(t.safe(s), t.o.Width, first, rest) {
		t.buf.WriteString(l + "\n")
	}
}

// mark writes a problem-like line: indent, a coloured mark, wrapped text.
func (t *textWriter) mark(indent, mark, code, s string) {
	lines := wrap(t.safe(s), t.o.Width, indent+mark+" ", indent+strings.Repeat(" ", len(mark)+1))
	lines[0] = indent + t.color(code, mark) + lines[0][len(indent)+len(mark):]
	for _, l := range lines {
		t.buf.WriteString(l + "\n")
	}
}

func verdictColor(v Verdict) string {
	switch v {
	case VerdictListed, VerdictRejected:
		return ansiRed
	case VerdictInconclusive:
		return ansiYellow
	case VerdictClean:
		return ansiGreen
	}
	return ""
}

// verdictLine is the one-line verdict, first and last line of the report.
func (t *textWriter) verdictLine() string {
	r := t.r
	if egressOnly(r) && r.Verdict == VerdictClean {
		return t.safe(egressHeadline(r.Egress)) + fmt.Sprintf(" (exit code %d)", r.ExitCode)
	}
	v := strings.ToUpper(t.safe(string(r.Verdict)))
	if v == "" {
		v = "NOT DECIDED"
	}
	line := fmt.Sprintf("Verdict: %s (exit code %d)", v, r.ExitCode)
	if r.Interrupted {
		line += " - interrupted"
	}
	return line
}

func (t *textWriter) render() {
	r := t.r
	vl := t.verdictLine()
	t.buf.WriteString(t.color(verdictColor(r.Verdict), fit(vl, t.o.Width)) + "\n")
	if r.Summary != "" {
		t.para("", "", r.Summary)
	}
	ps := r.Problems()
	if len(ps) > 0 {
		t.heading("Problems")
		for i, p := range ps {
			if i == maxProblems {
				t.printf("  … and %d more\n", len(ps)-maxProblems)
				break
			}
			mark := "!"
			if p.Verdict == VerdictInconclusive {
				mark = "?"
			}
			t.mark("  ", mark, verdictColor(p.Verdict), p.Message)
		}
	}
	if r.Egress != nil {
		t.egress()
	}
	if r.DNSBL != nil {
		t.dnsbl()
	}
	if r.RDNS != nil {
		t.rdns()
	}
	if r.SMTP != nil {
		t.smtp()
	}
	if cs := t.correlations(); len(cs) > 0 {
		t.heading("Correlations")
		for _, c := range cs {
			t.para("  ", "      ", fmt.Sprintf("[%s] %s: %s", c.Severity, c.Kind, c.Message))
			if t.o.Verbose && len(c.Evidence) > 0 {
				for _, e := range evidenceItems(c.Evidence) {
					t.para("      - ", "        ", e)
				}
			}
		}
	}
	if len(r.NextSteps) > 0 {
		t.heading("Next steps")
		for i, s := range r.NextSteps {
			n := fmt.Sprintf("  %d. ", i+1)
			t.para(n, strings.Repeat(" ", len(n)), s)
		}
	}
	if len(r.Warnings) > 0 {
		t.heading("Warnings")
		for _, w := range r.Warnings {
			t.para("  - ", "    ", w)
		}
	}
	t.counts()
	t.heading("Run")
	t.para("  ", "    ", fmt.Sprintf("%s %s, %s", orDefault(r.Tool.Name, "blprobe"), r.Tool.Version, timeRange(r)))
	if len(r.Resolvers) > 0 {
		t.para("  ", "    ", "resolvers: "+strings.Join(r.Resolvers, ", "))
	}
	if t.o.Verbose && len(r.Command) > 0 {
		t.para("  ", "    ", "command: "+strings.Join(r.Command, " "))
	}
	// The verdict again, so it does not scroll away.
	last := vl
	if len(ps) > 0 && !(egressOnly(r) && r.Verdict == VerdictClean) {
		last += ": " + t.safe(ps[0].Message)
		if len(ps) > 1 {
			last += fmt.Sprintf(" (+%d more)", len(ps)-1)
		}
	}
	w := t.o.Width
	if w <= 0 {
		w = lastLineWidth
	}
	t.buf.WriteString("\n" + t.color(verdictColor(r.Verdict), fit(last, w)) + "\n")
}

// lastLineWidth caps the closing verdict line when there is no width.
const lastLineWidth = 120

// correlations are those worth a line of their own: a zone's health is
// said once, under Problems and the zone health list.
func (t *textWriter) correlations() []Correlation {
	var out []Correlation
	for _, c := range t.r.Correlations {
		if c.Kind == "zone_unhealthy" {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (t *textWriter) egress() {
	e := t.r.Egress
	t.heading("Egress")
	rows := make([][]string, 0, len(e.Answers))
	for _, a := range e.Answers {
		rows = append(rows, []string{a.Source, a.Family, a.Server, a.Query, rtt(a.RTTms), answerText(a)})
	}
	if len(rows) > 0 {
		t.table("  ", []string{"SOURCE", "FAMILY", "SERVER", "QUERY", "RTT", "ANSWER"}, rows, 5)
	}
	t.para("  ", "        ", "IPv4: "+familyLine(e.IPv4))
	t.para("  ", "        ", "IPv6: "+familyLine(e.IPv6))
}

func (t *textWriter) dnsbl() {
	v := newDNSBLView(t.r.DNSBL)
	_, refused := ResolverRefusal(t.r)
	t.heading("DNSBL: " + v.countLine())
	if len(v.listed) > 0 {
		t.printf("  Listed:\n")
		rows := make([][]string, 0, len(v.listed))
		for _, res := range v.listed {
			rows = append(rows, []string{res.IP, res.Zone, strings.Join(res.Codes, ","), strings.Join(res.Meanings, ", "), v.delist[res.Zone], res.Reason})
		}
		t.table("    ", []string{"ADDRESS", "ZONE", "CODES", "MEANING", "DELIST", "REASON"}, rows, 5)
	}
	if len(v.allowed) > 0 {
		t.printf("  Allowed (allow-list hits: good signs, never blocks):\n")
		rows := make([][]string, 0, len(v.allowed))
		for _, res := range v.allowed {
			rows = append(rows, []string{res.IP, res.Zone, strings.Join(res.Codes, ","), strings.Join(res.Meanings, ", ")})
		}
		t.table("    ", []string{"ADDRESS", "ZONE", "CODES", "MEANING"}, rows, 3)
	}
	var groups []errGroup
	for _, g := range v.errGroups {
		if g.kind != string(dnsbl.ErrZoneUnhealthy) && !refused { // said once, under zone health
			groups = append(groups, g)
		}
	}
	if refused {
		t.para("  Could not check: ", "    ", fmt.Sprintf("%s on every zone: the resolver refused them (see Problems)", plural(len(t.r.DNSBL.Results), "lookup")))
	}
	if len(groups) > 0 {
		t.printf("  Could not check:\n")
		rows := make([][]string, 0, len(groups))
		for _, g := range groups {
			rows = append(rows, []string{g.zone, g.kind, strconv.Itoa(g.n), g.ipList(), g.example})
		}
		t.table("    ", []string{"ZONE", "KIND", "LOOKUPS", "ADDRESSES", "ERROR"}, rows, 4)
	}
	if t.o.Verbose && len(v.errGroups) > 0 {
		var rows [][]string
		t.r.DNSBL.each(func(res *dnsbl.Result) bool {
			if res.Status != "listed" && res.Status != "clean" && res.Status != "allowed" && t.r.DNSBL.Shown(res.Status) {
				rows = append(rows, []string{res.IP, res.Zone, res.Query, string(res.Status), string(res.ErrorKind), rtt(res.RTTms), res.Error})
			}
			return true
		})
		t.printf("  Not checked (every lookup):\n")
		t.table("    ", []string{"ADDRESS", "ZONE", "QUERY", "STATUS", "KIND", "RTT", "ERROR"}, rows, 6)
	}
	if v.nClean > 0 {
		if t.o.Verbose {
			t.printf("  Clean:\n")
			rows := make([][]string, 0, v.nClean)
			t.r.DNSBL.each(func(res *dnsbl.Result) bool {
				if res.Status == dnsbl.StatusClean && t.r.DNSBL.Shown(res.Status) {
					rows = append(rows, []string{res.IP, res.Zone, res.Query, rtt(res.RTTms)})
				}
				return true
			})
			t.table("    ", []string{"ADDRESS", "ZONE", "QUERY", "RTT"}, rows, 2)
		} else {
			line := "Clean: " + plural(v.nClean, "lookup")
			if n := v.cleanIPs; n <= 5 {
				var parts []string
				for _, ip := range v.cleanOrder {
					parts = append(parts, fmt.Sprintf("%s on %s", ip, plural(len(v.cleanZones[ip]), "zone")))
				}
				line += " (" + strings.Join(parts, ", ") + ")"
			} else {
				line += fmt.Sprintf(" for %s: %s", AddrCount(n), AddrRanges(v.cleanOrder))
			}
			t.para("  ", "    ", line+" (-v lists them)")
		}
	}
	if l := v.omittedLine(t.r.DNSBL.Only); l != "" {
		t.para("  ", "    ", l)
	}
	if len(v.zoneProblems) > 0 && !(refused && !t.o.Verbose) {
		if v.healthReport {
			t.printf("  Zone health (RFC 5782 §5 test entries):\n")
		} else {
			t.printf("  Zone health problems:\n")
		}
		for _, z := range v.zoneProblems {
			line := fmt.Sprintf("%s (%s, %s): %s", z.Zone, orDash(z.Name), z.Type, z.Health)
			if z.Problem != "" {
				line += ": " + z.Problem
			}
			if strings.HasPrefix(z.Path, dnsbl.PathDirect) {
				line += fmt.Sprintf(" (asked at its own nameservers: %s)", z.Path)
			}
			t.para("    ", "      ", line)
			for _, e := range z.Evidence {
				t.para("      ", "        ", evidenceLine(e))
			}
		}
	}
	if t.o.Verbose && len(t.r.DNSBL.Zones) > 0 {
		t.printf("  Zones:\n")
		rows := make([][]string, 0, len(t.r.DNSBL.Zones))
		for _, z := range t.r.DNSBL.Zones {
			rows = append(rows, []string{z.Zone, z.Name, string(z.Type), string(z.Kind), string(z.Health), z.DelistURL})
		}
		t.table("    ", []string{"ZONE", "NAME", "TYPE", "KIND", "HEALTH", "DELIST"}, rows, 5)
	}
}

// maxRDNSLines caps the per-address reverse-DNS entries; more are grouped.
const maxRDNSLines = 8

func (t *textWriter) rdns() {
	t.heading("Reverse DNS")
	if len(t.r.RDNS) == 0 {
		t.printf("  (no address checked)\n")
	}
	if len(t.r.RDNS) > maxRDNSLines && !t.o.Verbose {
		t.rdnsGrouped()
		return
	}
	for _, x := range t.r.RDNS {
		if x.Error == RDNSNotDone {
			t.para("  ", "    ", x.IP+": not done (interrupted)")
			continue
		}
		t.para("  ", "    ", x.IP+": PTR "+ptrLine(x))
		if t.o.Verbose {
			for _, name := range sortedKeys(x.Forward) {
				t.para("    ", "      ", fmt.Sprintf("%s resolves to %s", name, orDash(strings.Join(x.Forward[name], ", "))))
			}
		}
		t.para("    ", "      ", "generic-looking: "+genericText(x))
		if x.HELO != nil {
			t.para("    ", "      ", heloLine(x.HELO))
		}
		if _, rest := ptrLookupError(x); rest != "" {
			t.para("    ", "      ", "error: "+rest)
		}
		for _, p := range x.Problems {
			t.para("    ", "      ", "problem: "+p)
		}
	}
}

// rdnsGrouped writes one line per outcome for many addresses.
func (t *textWriter) rdnsGrouped() {
	for _, g := range rdnsGroups(t.r.RDNS) {
		t.para("  ", "    ", fmt.Sprintf("%s: %s", g.label, AddrRanges(g.ips)))
	}
	t.printf("  (-v lists every address)\n")
}

func (t *textWriter) smtp() {
	s := t.r.SMTP
	rcpts := rcptHeader(s)
	t.heading(t.safe(fmt.Sprintf("SMTP (HELO %s, MAIL FROM %s, RCPT TO %s, port %d, TLS %s)",
		orDash(s.HELO), orDash(s.From), rcpts, s.Port, orDash(s.TLSMode))))
	if s.Port25Blocked {
		t.para("  ! ", "    ", "outbound port 25 appears blocked on this network: every probe timed out at connect")
	}
	multi := smtpSources(s) > 1
	header := []string{"MX", "PREF", "IP", "STATUS", "STAGE", "TLS", "ECHOED IP", "CITED LIST", "REPLY"}
	for _, d := range s.Domains {
		t.para("  ", "    ", domainLine(d))
		rows := smtpRows(d, multi)
		if !multi {
			var cells [][]string
			for _, row := range rows {
				cells = append(cells, row.cells)
			}
			if len(cells) > 0 {
				t.table("    ", header, cells, 8)
			}
		} else {
			// One table per set of sources: probes from many addresses
			// with the same outcome share a row under "from …".
			var order []string
			bySrc := map[string][][]string{}
			for _, row := range rows {
				k := row.sourceCell()
				if _, ok := bySrc[k]; !ok {
					order = append(order, k)
				}
				bySrc[k] = append(bySrc[k], row.cells)
			}
			for _, k := range order {
				t.para("    from ", "      ", k+":")
				t.table("      ", header, bySrc[k], 8)
			}
		}
		if t.o.Verbose {
			for _, mx := range d.MX {
				for _, p := range mx.Addresses {
					t.probeDetail(mx.Host, p)
				}
			}
		}
	}
	for _, n := range s.Notes {
		t.para("  note: ", "    ", n)
	}
}

// probeDetail writes a probe's TLS, extensions and telnet-style transcript,
// in full (wrapped, never cut).
func (t *textWriter) probeDetail(host string, p smtpcheck.Probe) {
	t.printf("\n")
	t.para("    ", "      ", fmt.Sprintf("%s:%d from %s", probeName(host, p), p.Port, orDash(p.SourceIP)))
	if p.TLS != nil {
		x := p.TLS
		line := fmt.Sprintf("TLS: %s %s, subject %s, issuer %s, expires %s, verified %s",
			x.Version, x.Cipher, x.Subject, x.Issuer, x.NotAfter.UTC().Format("2006-01-02"), yesNo(x.Verified))
		if x.VerifyError != "" {
			line += " (" + x.VerifyError + ")"
		}
		t.para("      ", "        ", line)
	}
	if len(p.Extensions) > 0 {
		t.para("      ", "        ", "extensions: "+strings.Join(p.Extensions, " "))
	}
	if p.Cause != "" {
		line := fmt.Sprintf("cause: %s (class %s)", p.Cause, p.Class)
		if p.CauseWhy != "" {
			line += ": " + p.CauseWhy
		}
		t.para("      ", "        ", line)
	}
	for _, rc := range p.Rcpts {
		t.para("      ", "        ", fmt.Sprintf("RCPT %s: %s (%s)", rc.Rcpt, replyLine(&rc.Reply, ""), rc.Class))
	}
	for _, l := range p.Transcript {
		t.para("      ", "         ", l.Dir+": "+l.Line)
	}
}

func (t *textWriter) counts() {
	r := t.r
	if r.DNSBL == nil && r.SMTP == nil {
		return
	}
	t.heading("Counts")
	if r.DNSBL != nil {
		t.para("  ", "    ", "DNSBL: "+newDNSBLView(r.DNSBL).countLine())
	}
	if r.SMTP != nil {
		t.para("  ", "    ", "SMTP: "+smtpCounts(r.SMTP))
	}
}
