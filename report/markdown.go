package report

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/textsafe"
)

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// WriteMarkdown writes the report as a ticket-ready Markdown document: the
// verdict and summary first, next steps, then tables (egress, DNSBL, zone
// health, reverse DNS, SMTP), each probe's transcript in a collapsible
// <details> block, and a footer with the tool version, command line, times
// and resolvers. Remote text is stripped of control characters and escaped
// so that it cannot break a table cell, a code span or a code fence.
func WriteMarkdown(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("writing Markdown report: nil report")
	}
	m := &mdWriter{renderer: renderer{r: r, secrets: r.secrets}}
	m.render()
	out := m.buf.Bytes()
	if len(r.secrets) > 0 {
		out = []byte(Redact(string(out), r.secrets...))
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("writing Markdown report: %w", err)
	}
	return nil
}

type mdWriter struct {
	renderer
	buf bytes.Buffer
}

func (m *mdWriter) printf(format string, args ...any) { fmt.Fprintf(&m.buf, format, args...) }

// mdEscaper backslash-escapes the characters that Markdown (CommonMark and
// GitHub's tables, strikethrough and autolinks) gives a meaning inline.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `|`, `\|`, `&`, `\&`, `#`, `\#`, `~`, `\~`, `!`, `\!`,
)

// EscapeMarkdown makes remote or user text safe as inline Markdown text (a
// table cell, a list item): control characters removed, every character
// Markdown gives a meaning inline backslash-escaped. The migrate and diff
// renderers use it too. It does not redact secrets.
func EscapeMarkdown(s string) string { return mdEscaper.Replace(textsafe.Clean(s)) }

// text makes s safe as inline Markdown text, e.g. in a table cell.
func (m *mdWriter) text(s string) string {
	return mdEscaper.Replace(m.safe(s))
}

// para is text that starts a line (a paragraph or a list item's content):
// a leading "-", "+", "=" or "1." would otherwise start a list, a nested
// list or a setext heading.
func (m *mdWriter) para(s string) string {
	s = m.text(s)
	if len(s) > 0 && strings.ContainsRune("-+=", rune(s[0])) {
		s = `\` + s
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i > 0 && (s[i] == '.' || s[i] == ')') &&
		(i+1 == len(s) || s[i+1] == ' ') {
		s = s[:i] + `\` + s[i:]
	}
	return s
}

// code makes s an inline code span for a table cell: safe against
// backticks in s and against "|" (escaped as \|, which GFM tables honour
// inside code spans). Empty s renders as "-".
func (m *mdWriter) code(s string) string {
	return m.inline(strings.ReplaceAll(m.safe(s), "|", `\|`))
}

// inline makes s an inline code span outside tables, safe against backticks.
func (m *mdWriter) inline(s string) string {
	s = m.safe(s)
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// cell is text for a table cell: "-" when empty.
func (m *mdWriter) cell(s string) string {
	if t := m.text(s); t != "" {
		return t
	}
	return "-"
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			if n > best {
				best = n
			}
		} else {
			n = 0
		}
	}
	return best
}

// table writes a GFM table; cells must already be escaped.
func (m *mdWriter) table(header []string, rows [][]string) {
	m.printf("| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, row := range rows {
		m.printf("| %s |\n", strings.Join(row, " | "))
	}
	m.printf("\n")
}

func (m *mdWriter) render() {
	r := m.r
	verdict := orDefault(string(r.Verdict), "not decided")
	if egressOnly(r) && r.Verdict == VerdictClean {
		// Finding the egress address is not a verdict on it.
		m.printf("# blprobe report: %s\n\n", m.text(egressHeadline(r.Egress)))
		m.printf("**Egress found** (exit code %d)", r.ExitCode)
	} else {
		m.printf("# blprobe report: %s\n\n", m.text(strings.ToUpper(verdict)))
		m.printf("**Verdict:** %s (exit code %d)", m.inline(verdict), r.ExitCode)
	}
	if r.Interrupted {
		m.printf(" **interrupted**: unfinished checks are `not_done`")
	}
	m.printf("\n\n")
	if r.Summary != "" {
		m.printf("%s\n\n", m.para(r.Summary))
	}
	if ps := r.Problems(); len(ps) > 0 {
		m.printf("## Problems\n\n")
		for i, p := range ps {
			if i == maxProblems {
				m.printf("- … and %d more\n", len(ps)-maxProblems)
				break
			}
			m.printf("- **%s**: %s\n", p.Verdict, m.text(p.Message))
		}
		m.printf("\n")
	}
	if len(r.NextSteps) > 0 {
		m.printf("## Next steps\n\n")
		for i, s := range r.NextSteps {
			m.printf("%d. %s\n", i+1, m.para(s))
		}
		m.printf("\n")
	}
	if r.Egress != nil {
		m.egress()
	}
	if r.DNSBL != nil {
		m.dnsbl()
	}
	if r.RDNS != nil {
		m.rdns()
	}
	if r.SMTP != nil {
		m.smtp()
	}
	if hasShownCorrelations(r) {
		m.printf("## Correlations\n\n")
		for _, c := range r.Correlations {
			if c.Kind == "zone_unhealthy" {
				continue // said once, under Problems and Zone health
			}
			m.printf("- **%s** (%s): %s\n", m.text(c.Severity), m.code(c.Kind), m.text(c.Message))
			for _, e := range evidenceItems(c.Evidence) {
				label, value, _ := strings.Cut(e, ": ")
				m.printf("  - %s: %s\n", m.text(capitalize(label)), m.inline(value))
			}
		}
		m.printf("\n")
	}
	if len(r.Warnings) > 0 {
		m.printf("## Warnings\n\n")
		for _, w := range r.Warnings {
			m.printf("- %s\n", m.para(w))
		}
		m.printf("\n")
	}
	if r.SMTP != nil {
		m.transcripts()
	}
	m.footer()
}

func (m *mdWriter) egress() {
	e := m.r.Egress
	m.printf("## Egress\n\n")
	if len(e.Answers) > 0 {
		rows := make([][]string, 0, len(e.Answers))
		for _, a := range e.Answers {
			rows = append(rows, []string{m.cell(a.Source), m.cell(a.Family), m.code(a.Server), m.code(a.Query), m.cell(answerText(a)), rtt(a.RTTms)})
		}
		m.table([]string{"Source", "Family", "Server", "Query", "Answer", "RTT"}, rows)
	}
	m.printf("- **IPv4:** %s\n- **IPv6:** %s\n\n", m.text(familyLine(e.IPv4)), m.text(familyLine(e.IPv6)))
}

func (m *mdWriter) dnsbl() {
	v := newDNSBLView(m.r.DNSBL)
	m.printf("## DNSBL\n\n%s\n\n", m.text(v.countLine()))
	if len(v.listed) > 0 {
		m.printf("### Listed\n\n")
		rows := make([][]string, 0, len(v.listed))
		for _, res := range v.listed {
			rows = append(rows, []string{m.code(res.IP), m.code(res.Zone), m.code(strings.Join(res.Codes, ", ")),
				m.cell(strings.Join(res.Meanings, ", ")), m.cell(res.Reason), m.cell(v.delist[res.Zone])})
		}
		m.table([]string{"Address", "Zone", "Codes", "Meaning", "Reason", "Delist"}, rows)
	}
	if len(v.allowed) > 0 {
		m.printf("### Allowed (allow-list hits, never blocks)\n\n")
		rows := make([][]string, 0, len(v.allowed))
		for _, res := range v.allowed {
			rows = append(rows, []string{m.code(res.IP), m.code(res.Zone), m.code(strings.Join(res.Codes, ", ")), m.cell(strings.Join(res.Meanings, ", "))})
		}
		m.table([]string{"Address", "Zone", "Codes", "Meaning"}, rows)
	}
	refusal, refused := ResolverRefusal(m.r)
	if refused {
		m.printf("### Could not check\n\n%s.\n\n", m.para(capitalize(refusal)))
	}
	var rows [][]string
	for _, g := range v.errGroups {
		if g.kind == string(dnsbl.ErrZoneUnhealthy) || refused {
			continue // said once, under zone health or in the diagnosis
		}
		rows = append(rows, []string{m.code(g.zone), m.code(g.kind), strconv.Itoa(g.n), m.cell(g.ipList()), m.cell(g.example)})
	}
	if len(rows) > 0 {
		m.printf("### Could not check\n\n")
		m.table([]string{"Zone", "Kind", "Lookups", "Addresses", "Error"}, rows)
	}
	if l := v.omittedLine(m.r.DNSBL.Only); l != "" {
		m.printf("%s\n\n", m.text(l))
	}
	if len(m.r.DNSBL.Zones) > 0 {
		m.printf("### Zone health\n\n")
		if len(v.zoneProblems) == 0 && !v.healthReport {
			m.printf("All %s passed their RFC 5782 test entries.\n\n", plural(len(m.r.DNSBL.Zones), "zone"))
			return
		}
		rows := make([][]string, 0, len(v.zoneProblems))
		for _, z := range v.zoneProblems {
			var ev []string
			for _, e := range z.Evidence {
				ev = append(ev, evidenceLine(e))
			}
			rows = append(rows, []string{m.code(z.Zone), m.cell(z.Name), m.cell(string(z.Type)), m.code(string(z.Health)), m.cell(z.Problem), m.cell(strings.Join(ev, "; "))})
		}
		m.table([]string{"Zone", "Name", "Type", "Health", "Problem", "Evidence"}, rows)
		if !v.healthReport {
			m.printf("%s healthy.\n\n", plural(v.zoneCounts["healthy"], "other zone"))
		}
	}
}

func (m *mdWriter) rdns() {
	m.printf("## Reverse DNS\n\n")
	if len(m.r.RDNS) == 0 {
		m.printf("No address checked.\n\n")
		return
	}
	if len(m.r.RDNS) > maxRDNSLines {
		rows := [][]string{}
		for _, g := range rdnsGroups(m.r.RDNS) {
			rows = append(rows, []string{m.cell(capitalize(g.label)), strconv.Itoa(len(g.ips)), m.cell(AddrRanges(g.ips))})
		}
		m.table([]string{"Reverse DNS", "Count", "Addresses"}, rows)
		return
	}
	rows := make([][]string, 0, len(m.r.RDNS))
	for _, x := range m.r.RDNS {
		helo := "-"
		if x.HELO != nil {
			helo = m.text(heloLine(x.HELO))
		}
		problems := x.Problems
		if _, rest := ptrLookupError(x); rest != "" {
			problems = append([]string{"error: " + rest}, problems...)
		}
		ptr := ptrLine(x)
		if e, _ := ptrLookupError(x); e != "" {
			ptr = "PTR " + ptr
		}
		rows = append(rows, []string{m.code(x.IP), m.cell(ptr), m.cell(genericText(x)), helo, m.cell(strings.Join(problems, "; "))})
	}
	m.table([]string{"IP", "PTR", "Generic", "HELO", "Problems"}, rows)
}

func (m *mdWriter) smtp() {
	s := m.r.SMTP
	m.printf("## SMTP\n\n")
	rcpts := rcptHeader(s)
	m.printf("HELO %s, MAIL FROM %s, RCPT TO %s, port %d, TLS %s. %s.\n\n",
		m.inline(s.HELO), m.inline(s.From), m.inline(rcpts), s.Port, m.inline(s.TLSMode), m.text(smtpCounts(s)))
	if s.Port25Blocked {
		m.printf("**Outbound port 25 appears blocked on this network:** every probe timed out at connect.\n\n")
	}
	multi := smtpSources(s) > 1
	for _, d := range s.Domains {
		m.printf("### %s\n\n", m.text(d.Domain))
		m.printf("%s.\n\n", m.para(capitalize(strings.TrimPrefix(domainLine(d), d.Domain+": "))))
		var rows [][]string
		for _, row := range smtpRows(d, multi) {
			c := row.cells
			cells := []string{m.code(c[0]), c[1], m.code(c[2]), m.code(c[3]), m.cell(c[4]), m.cell(c[5]), m.code(c[6]), m.code(c[7]), m.cell(c[8])}
			if multi {
				cells = append([]string{m.cell(row.sourceCell())}, cells...)
			}
			rows = append(rows, cells)
		}
		header := []string{"MX", "Pref", "IP", "Status", "Stage", "TLS", "Echoed IP", "Cited list", "Reply"}
		if multi {
			header = append([]string{"From"}, header...)
		}
		if len(rows) > 0 {
			m.table(header, rows)
		}
	}
	for _, n := range s.Notes {
		m.printf("- Note: %s\n", m.text(n))
	}
	if len(s.Notes) > 0 {
		m.printf("\n")
	}
}

// transcripts writes each probe's conversation in a collapsible block with
// a fence longer than any backtick run in the transcript.
func (m *mdWriter) transcripts() {
	started := false
	for _, d := range m.r.SMTP.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				if len(p.Transcript) == 0 {
					continue
				}
				if !started {
					m.printf("## SMTP transcripts\n\n")
					started = true
				}
				var body strings.Builder
				for _, l := range p.Transcript {
					body.WriteString(m.safe(l.Dir) + ": " + m.safe(l.Line) + "\n")
				}
				fence := strings.Repeat("`", max(3, longestRun(body.String(), '`')+1))
				summary := fmt.Sprintf("%s:%d (%s) %s", probeName(mx.Host, p), p.Port, d.Domain, statusClass(p))
				why := ""
				if p.Cause != "" {
					why = fmt.Sprintf("Cause: %s (class %s)", p.Cause, p.Class)
					if p.CauseWhy != "" {
						why += ": " + p.CauseWhy
					}
					why = m.text(why) + "\n\n"
				}
				m.printf("<details><summary>%s</summary>\n\n%s%s\n%s%s\n\n</details>\n\n",
					html.EscapeString(m.safe(summary)), why, fence, body.String(), fence)
			}
		}
	}
}

func (m *mdWriter) footer() {
	r := m.r
	m.printf("---\n\n")
	m.printf("Generated by %s %s, %s.", m.text(orDefault(r.Tool.Name, "blprobe")), m.text(r.Tool.Version), m.text(timeRange(r)))
	if len(r.Command) > 0 {
		m.printf(" Command: %s.", m.inline(strings.Join(r.Command, " ")))
	}
	if len(r.Resolvers) > 0 {
		m.printf(" Resolvers: %s.", m.inline(strings.Join(r.Resolvers, ", ")))
	}
	m.printf(" Schema `%s`.\n", SchemaV1)
}

// hasShownCorrelations reports whether any correlation gets a line of its
// own (zone health is said under Problems and Zone health).
func hasShownCorrelations(r *Report) bool {
	for _, c := range r.Correlations {
		if c.Kind != "zone_unhealthy" {
			return true
		}
	}
	return false
}
