package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

// TextOptions controls the terminal rendering.
type TextOptions struct {
	Color   bool // ANSI colour for the verdict and problems (only when writing to a terminal)
	Verbose bool // list every clean result, zone evidence and the SMTP transcripts
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
	t.buf.WriteString("\n" + t.color(ansiBold, s) + "\n")
}

// table writes aligned rows; every cell is made safe, empty cells are "-".
func (t *textWriter) table(indent string, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(&t.buf, 0, 8, 2, ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			c = t.safe(c)
			if c == "" {
				c = "-"
			}
			cells[i] = c
		}
		fmt.Fprintln(tw, indent+strings.Join(cells, "\t"))
	}
	if header != nil {
		line(append([]string(nil), header...))
	}
	for _, row := range rows {
		line(row)
	}
	_ = tw.Flush() // into a bytes.Buffer: cannot fail
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

func (t *textWriter) render() {
	r := t.r
	v := strings.ToUpper(t.safe(string(r.Verdict)))
	if v == "" {
		v = "NOT DECIDED"
	}
	line := fmt.Sprintf("Verdict: %s (exit code %d)", v, r.ExitCode)
	if r.Interrupted {
		line += " - interrupted"
	}
	t.buf.WriteString(t.color(verdictColor(r.Verdict), line) + "\n")
	if r.Summary != "" {
		t.buf.WriteString(t.safe(r.Summary) + "\n")
	}
	if ps := r.Problems(); len(ps) > 0 {
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
			t.printf("  %s %s\n", t.color(verdictColor(p.Verdict), mark), t.safe(p.Message))
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
	if len(r.Correlations) > 0 {
		t.heading("Correlations")
		for _, c := range r.Correlations {
			t.printf("  [%s] %s: %s\n", t.safe(c.Severity), t.safe(c.Kind), t.safe(c.Message))
			if t.o.Verbose && len(c.Evidence) > 0 {
				t.printf("      %s\n", t.safe(evidenceMap(c.Evidence)))
			}
		}
	}
	if len(r.NextSteps) > 0 {
		t.heading("Next steps")
		for i, s := range r.NextSteps {
			t.printf("  %d. %s\n", i+1, t.safe(s))
		}
	}
	if len(r.Warnings) > 0 {
		t.heading("Warnings")
		for _, w := range r.Warnings {
			t.printf("  - %s\n", t.safe(w))
		}
	}
	t.counts()
	t.heading("Run")
	t.printf("  %s %s, %s\n", t.safe(orDefault(r.Tool.Name, "blprobe")), t.safe(r.Tool.Version), t.safe(timeRange(r)))
	if len(r.Resolvers) > 0 {
		t.printf("  resolvers: %s\n", t.safe(strings.Join(r.Resolvers, ", ")))
	}
	if t.o.Verbose && len(r.Command) > 0 {
		t.printf("  command: %s\n", t.safe(strings.Join(r.Command, " ")))
	}
}

func (t *textWriter) egress() {
	e := t.r.Egress
	t.heading("Egress")
	rows := make([][]string, 0, len(e.Answers))
	for _, a := range e.Answers {
		rows = append(rows, []string{a.Source, a.Family, a.Server, a.Query, rtt(a.RTTms), answerText(a)})
	}
	if len(rows) > 0 {
		t.table("  ", []string{"SOURCE", "FAMILY", "SERVER", "QUERY", "RTT", "ANSWER"}, rows)
	}
	t.printf("  IPv4: %s\n", t.safe(familyLine(e.IPv4)))
	t.printf("  IPv6: %s\n", t.safe(familyLine(e.IPv6)))
}

func (t *textWriter) dnsbl() {
	v := newDNSBLView(t.r.DNSBL)
	t.heading("DNSBL: " + v.countLine())
	if len(v.listed) > 0 {
		t.printf("  Listed:\n")
		rows := make([][]string, 0, len(v.listed))
		for _, res := range v.listed {
			rows = append(rows, []string{res.IP, res.Zone, strings.Join(res.Codes, ","), strings.Join(res.Meanings, ", "), v.delist[res.Zone], res.Reason})
		}
		t.table("    ", []string{"ADDRESS", "ZONE", "CODES", "MEANING", "DELIST", "REASON"}, rows)
	}
	if len(v.allowed) > 0 {
		t.printf("  Allowed (allow-list hits: good signs, never blocks):\n")
		rows := make([][]string, 0, len(v.allowed))
		for _, res := range v.allowed {
			rows = append(rows, []string{res.IP, res.Zone, strings.Join(res.Codes, ","), strings.Join(res.Meanings, ", ")})
		}
		t.table("    ", []string{"ADDRESS", "ZONE", "CODES", "MEANING"}, rows)
	}
	if len(v.errGroups) > 0 {
		t.printf("  Could not check:\n")
		rows := make([][]string, 0, len(v.errGroups))
		for _, g := range v.errGroups {
			rows = append(rows, []string{g.zone, g.kind, strconv.Itoa(g.n), g.ipList(), g.example})
		}
		t.table("    ", []string{"ZONE", "KIND", "LOOKUPS", "ADDRESSES", "ERROR"}, rows)
		if t.o.Verbose {
			rows = rows[:0]
			t.r.DNSBL.each(func(res *dnsbl.Result) bool {
				if res.Status != "listed" && res.Status != "clean" && res.Status != "allowed" && t.r.DNSBL.Shown(res.Status) {
					rows = append(rows, []string{res.IP, res.Zone, res.Query, string(res.Status), string(res.ErrorKind), rtt(res.RTTms), res.Error})
				}
				return true
			})
			t.table("    ", []string{"ADDRESS", "ZONE", "QUERY", "STATUS", "KIND", "RTT", "ERROR"}, rows)
		}
	}
	if v.nClean > 0 {
		if t.o.Verbose {
			t.printf("  Clean:\n")
			rows := make([][]string, 0, v.nClean)
			t.r.DNSBL.each(func(res *dnsbl.Result) bool {
				if res.Status == dnsbl.StatusClean {
					rows = append(rows, []string{res.IP, res.Zone, res.Query, rtt(res.RTTms)})
				}
				return true
			})
			t.table("    ", []string{"ADDRESS", "ZONE", "QUERY", "RTT"}, rows)
		} else {
			t.printf("  Clean: %s", plural(v.nClean, "lookup"))
			if n := v.cleanIPs; n <= 5 {
				var parts []string
				for _, ip := range v.cleanOrder {
					parts = append(parts, fmt.Sprintf("%s on %s", t.safe(ip), plural(len(v.cleanZones[ip]), "zone")))
				}
				t.printf(" (%s)", strings.Join(parts, ", "))
			} else {
				t.printf(" for %d addresses", n)
			}
			t.printf(" (-v lists them)\n")
		}
	}
	if l := v.omittedLine(t.r.DNSBL.Only); l != "" {
		t.printf("  %s\n", t.safe(l))
	}
	if len(v.zoneProblems) > 0 {
		if v.healthReport {
			t.printf("  Zone health (RFC 5782 §5 test entries):\n")
		} else {
			t.printf("  Zone health problems:\n")
		}
		for _, z := range v.zoneProblems {
			t.printf("    %s (%s, %s): %s", t.safe(z.Zone), t.safe(orDash(z.Name)), t.safe(string(z.Type)), t.safe(string(z.Health)))
			if z.Problem != "" {
				t.printf(": %s", t.safe(z.Problem))
			}
			if strings.HasPrefix(z.Path, dnsbl.PathDirect) {
				t.printf(" (asked at its own nameservers: %s)", t.safe(z.Path))
			}
			t.printf("\n")
			for _, e := range z.Evidence {
				t.printf("      %s\n", t.safe(evidenceLine(e)))
			}
		}
	}
	if t.o.Verbose && len(t.r.DNSBL.Zones) > 0 {
		t.printf("  Zones:\n")
		rows := make([][]string, 0, len(t.r.DNSBL.Zones))
		for _, z := range t.r.DNSBL.Zones {
			rows = append(rows, []string{z.Zone, z.Name, string(z.Type), string(z.Kind), string(z.Health), z.DelistURL})
		}
		t.table("    ", []string{"ZONE", "NAME", "TYPE", "KIND", "HEALTH", "DELIST"}, rows)
	}
}

func (t *textWriter) rdns() {
	t.heading("Reverse DNS")
	if len(t.r.RDNS) == 0 {
		t.printf("  (no address checked)\n")
	}
	for _, x := range t.r.RDNS {
		t.printf("  %s: PTR %s\n", t.safe(x.IP), t.safe(ptrLine(x)))
		if t.o.Verbose {
			for _, name := range sortedKeys(x.Forward) {
				t.printf("    %s resolves to %s\n", t.safe(name), t.safe(orDash(strings.Join(x.Forward[name], ", "))))
			}
		}
		t.printf("    generic-looking: %s\n", t.safe(genericText(x)))
		if x.HELO != nil {
			t.printf("    %s\n", t.safe(heloLine(x.HELO)))
		}
		if x.Error != "" {
			t.printf("    error: %s\n", t.safe(x.Error))
		}
		for _, p := range x.Problems {
			t.printf("    problem: %s\n", t.safe(p))
		}
	}
}

func (t *textWriter) smtp() {
	s := t.r.SMTP
	rcpts := "postmaster@DOMAIN"
	if len(s.Rcpts) > 0 {
		rcpts = strings.Join(s.Rcpts, ", ")
	}
	t.heading(fmt.Sprintf("SMTP (HELO %s, MAIL FROM %s, RCPT TO %s, port %d, TLS %s)",
		t.safe(orDash(s.HELO)), t.safe(orDash(s.From)), t.safe(rcpts), s.Port, t.safe(orDash(s.TLSMode))))
	if s.Port25Blocked {
		t.printf("  ! outbound port 25 appears blocked on this network: every probe timed out at connect\n")
	}
	for _, d := range s.Domains {
		t.printf("  %s (%s)", t.safe(d.Domain), t.safe(string(d.Status)))
		if d.Error != "" {
			t.printf(": %s", t.safe(d.Error))
		}
		t.printf("\n")
		var rows [][]string
		for _, mx := range d.MX {
			host := mx.Host
			if mx.Implicit {
				host += " (implicit)"
			}
			if mx.Error != "" {
				rows = append(rows, []string{host, strconv.Itoa(int(mx.Preference)), "-", "error", "-", "-", "-", "-", mx.Error})
			}
			for _, p := range mx.Addresses {
				rows = append(rows, []string{host, strconv.Itoa(int(mx.Preference)), p.IP, statusClass(p), string(p.Stage),
					tlsShort(p.TLS), p.EchoedClientIP, p.CitedList, replyLine(p.Reply, p.Error)})
			}
		}
		if len(rows) > 0 {
			t.table("    ", []string{"MX", "PREF", "IP", "STATUS", "STAGE", "TLS", "ECHOED IP", "CITED LIST", "REPLY"}, rows)
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
		t.printf("  note: %s\n", t.safe(n))
	}
}

// probeDetail writes a probe's TLS, extensions and telnet-style transcript.
func (t *textWriter) probeDetail(host string, p smtpcheck.Probe) {
	t.printf("\n    %s:%d from %s\n", t.safe(probeName(host, p)), p.Port, t.safe(orDash(p.SourceIP)))
	if p.TLS != nil {
		x := p.TLS
		t.printf("      TLS: %s %s, subject %s, issuer %s, expires %s, verified %s",
			t.safe(x.Version), t.safe(x.Cipher), t.safe(x.Subject), t.safe(x.Issuer), x.NotAfter.UTC().Format("2006-01-02"), yesNo(x.Verified))
		if x.VerifyError != "" {
			t.printf(" (%s)", t.safe(x.VerifyError))
		}
		t.printf("\n")
	}
	if len(p.Extensions) > 0 {
		t.printf("      extensions: %s\n", t.safe(strings.Join(p.Extensions, " ")))
	}
	for _, rc := range p.Rcpts {
		t.printf("      RCPT %s: %s (%s)\n", t.safe(rc.Rcpt), t.safe(replyLine(&rc.Reply, "")), t.safe(string(rc.Class)))
	}
	for _, l := range p.Transcript {
		t.printf("      %s: %s\n", t.safe(l.Dir), t.safe(l.Line))
	}
}

func (t *textWriter) counts() {
	r := t.r
	if r.DNSBL == nil && r.SMTP == nil {
		return
	}
	t.heading("Counts")
	if r.DNSBL != nil {
		t.printf("  DNSBL: %s\n", newDNSBLView(r.DNSBL).countLine())
	}
	if r.SMTP != nil {
		t.printf("  SMTP: %s\n", smtpCounts(r.SMTP))
	}
}
