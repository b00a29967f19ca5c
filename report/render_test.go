package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func render(t testing.TB, r *Report, format string) string {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "text":
		err = WriteText(&b, r, TextOptions{})
	case "verbose":
		err = WriteText(&b, r, TextOptions{Verbose: true})
	case "color":
		err = WriteText(&b, r, TextOptions{Color: true, Verbose: true})
	case "markdown":
		err = WriteMarkdown(&b, r)
	case "json":
		err = WriteJSON(&b, r)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct{ file, format string }{
		{"full.text.golden", "text"},
		{"full.verbose.golden", "verbose"},
		{"full.md.golden", "markdown"},
		{"full.json.golden", "json"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := render(t, fullReport(), tc.format)
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (go test ./report -update rewrites it); got:\n%s", tc.file, got)
			}
		})
	}
}

func TestTextContent(t *testing.T) {
	text := render(t, fullReport(), "text")
	if !strings.HasPrefix(text, "Verdict: REJECTED (exit code 1)\n203.0.113.7 is listed") {
		t.Errorf("text does not start with the verdict and summary:\n%s", text)
	}
	for _, want := range []string{"Problems", "mx1.example.com [192.0.2.10] rejected at rcpt (blocklisted, citing zen.spamhaus.org)",
		"Clean: 1 lookup", "Zone health problems", "Next steps", "Counts"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if strings.Contains(text, "S: 220") {
		t.Error("transcript printed without Verbose")
	}
	if !strings.Contains(render(t, fullReport(), "verbose"), "      S: 220 mx1.example.com ESMTP Postfix\n      C: EHLO mail.example.org\n") {
		t.Error("verbose text lacks the telnet-style transcript")
	}
	// Order: problems before sections, next steps after them.
	iP, iD, iN := strings.Index(text, "Problems"), strings.Index(text, "DNSBL:"), strings.Index(text, "Next steps")
	if !(iP < iD && iD < iN) {
		t.Errorf("section order problems %d, dnsbl %d, next steps %d", iP, iD, iN)
	}
}

func TestTextColor(t *testing.T) {
	for _, tc := range []struct {
		r    *Report
		code string
	}{
		{fullReport(), ansiRed},
		{&Report{Verdict: VerdictInconclusive}, ansiYellow},
		{&Report{Verdict: VerdictClean}, ansiGreen},
	} {
		out := render(t, tc.r, "color")
		if !strings.HasPrefix(out, tc.code+"Verdict: ") {
			t.Errorf("verdict %s not coloured %q: %q", tc.r.Verdict, tc.code, out[:min(40, len(out))])
		}
	}
	if strings.Contains(render(t, fullReport(), "text"), "\x1b") {
		t.Error("escape sequence without Color")
	}
}

// TestCleanResultsCollapsed: thousands of clean results are counted, not
// listed, unless Verbose.
func TestCleanResultsCollapsed(t *testing.T) {
	r := &Report{Verdict: VerdictClean, DNSBL: &DNSBL{}}
	for i := 0; i < 5000; i++ {
		r.DNSBL.Results = append(r.DNSBL.Results, dnsbl.Result{IP: "10.0.0.1", Zone: "zen.example", Query: "q", Status: dnsbl.StatusClean})
	}
	text := render(t, r, "text")
	if n := strings.Count(text, "\n"); n > 40 {
		t.Errorf("%d lines for 5000 clean results", n)
	}
	if !strings.Contains(text, "Clean: 5000 lookups") {
		t.Errorf("no clean count:\n%s", text)
	}
	if n := strings.Count(render(t, r, "verbose"), "zen.example"); n < 5000 {
		t.Errorf("verbose lists %d clean results", n)
	}
}

// hostile is remote text an attacker controls: ANSI escapes, OSC title
// sequences, CR/LF, bidi overrides, Markdown and HTML.
const hostile = "\x1b[2J\x1b]0;pwned\x07evil\r\n| x | `code` ``` </details> <script>alert(1)</script>\u202e\x9b31m\x00end"

// hostileReport puts hostile text in every remote field.
func hostileReport() *Report {
	r := fullReport()
	r.Summary = hostile
	r.Warnings = append(r.Warnings, hostile)
	r.NextSteps = append(r.NextSteps, hostile)
	r.Egress.Answers[0].IPs = []string{hostile}
	r.Egress.Answers[2].Error = hostile
	r.Egress.IPv6.Problem = hostile
	res := &r.DNSBL.Results[0]
	res.Reason, res.Meanings = hostile, []string{hostile}
	r.DNSBL.Results[3].Error = hostile
	r.DNSBL.Zones[3].Problem = hostile
	r.DNSBL.Zones[3].Evidence[0].Error = hostile
	r.RDNS[0].PTR = []string{hostile}
	r.RDNS[0].Problems = []string{hostile}
	r.RDNS[0].HELO.Name = hostile
	r.RDNS[0].Error = hostile
	p := &r.SMTP.Domains[0].MX[0].Addresses[0]
	p.Reply.Text = hostile
	p.Error = hostile
	p.CitedList = hostile
	p.EchoedClientIP = hostile
	p.TLS.Subject = hostile
	p.Extensions = []string{hostile}
	p.Transcript = append(p.Transcript, smtpcheck.Line{Dir: "S", Line: hostile})
	r.SMTP.Domains[0].MX[0].Host = hostile
	r.Correlations[0].Message = hostile
	r.Correlations[0].Evidence["reply"] = hostile
	r.Finalize()
	return r
}

// badRune reports a character that must never reach a terminal or a ticket.
func badRune(r rune, allowTab bool) bool {
	if r == '\n' || (allowTab && r == '\t') {
		return false
	}
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func TestHostileTextNeverReachesOutput(t *testing.T) {
	r := hostileReport()
	for _, f := range []string{"text", "verbose", "markdown"} {
		out := render(t, r, f)
		for i, c := range out {
			if badRune(c, f != "markdown") {
				t.Errorf("%s: control character %U at %d: %q", f, c, i, out[max(0, i-20):min(len(out), i+20)])
				break
			}
		}
		if !strings.Contains(out, "evil") {
			t.Errorf("%s: the remote text itself was lost", f)
		}
	}
	if md := stripCodeSpans(outsideFences(render(t, r, "markdown"))); strings.Contains(md, "<script>") || strings.Contains(md, "</details> ") {
		t.Errorf("raw HTML from remote text in Markdown:\n%s", md)
	}
	// JSON keeps the remote text exactly (escaped), for scripts.
	if !strings.Contains(render(t, r, "json"), `\u001b[2J`) {
		t.Error("JSON lost the raw remote text")
	}
}

// outsideFences drops fenced code blocks (opened by a line of 3+ backticks,
// closed by the same line) from Markdown.
func outsideFences(md string) string {
	var out []string
	fence := ""
	for _, l := range strings.Split(md, "\n") {
		switch {
		case fence == "" && strings.HasPrefix(l, "```"):
			fence = l
		case fence != "" && l == fence:
			fence = ""
		case fence == "":
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// stripCodeSpans drops CommonMark code spans: a run of n backticks up to
// the next run of exactly n backticks (backslash escapes do not open one).
func stripCodeSpans(md string) string {
	var b strings.Builder
	run := func(i int) int {
		j := i
		for j < len(md) && md[j] == '`' {
			j++
		}
		return j - i
	}
	for i := 0; i < len(md); {
		switch {
		case md[i] == '\\' && i+1 < len(md):
			b.WriteString(md[i : i+2])
			i += 2
		case md[i] == '`':
			n := run(i)
			end := -1
			for j := i + n; j < len(md); {
				if md[j] == '`' {
					m := run(j)
					if m == n {
						end = j + m
						break
					}
					j += m
				} else {
					j++
				}
			}
			if end < 0 {
				b.WriteString(md[i : i+n])
				i += n
			} else {
				b.WriteString("CODE")
				i = end
			}
		default:
			b.WriteByte(md[i])
			i++
		}
	}
	return b.String()
}

// splitCells splits a GFM table row on unescaped pipes.
func splitCells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row):
			cur.WriteByte(row[i])
			cur.WriteByte(row[i+1])
			i++
		case row[i] == '|':
			cells = append(cells, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(cells, cur.String())
}

// TestMarkdownTablesKeepTheirShape: every row of every table has as many
// cells as its header, whatever the remote text contains.
func TestMarkdownTablesKeepTheirShape(t *testing.T) {
	out := render(t, hostileReport(), "markdown")
	lines := strings.Split(out, "\n")
	tables := 0
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "| ") || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "|---") {
			continue
		}
		tables++
		n := len(splitCells(lines[i]))
		for j := i + 2; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
			if got := len(splitCells(lines[j])); got != n {
				t.Errorf("row has %d cells, header %d: %s", got, n, lines[j])
			}
		}
	}
	if tables < 6 {
		t.Errorf("only %d tables found", tables)
	}
}

// TestMarkdownFencesHold: a transcript with backtick runs cannot close its
// fence early.
func TestMarkdownFencesHold(t *testing.T) {
	out := render(t, hostileReport(), "markdown")
	i := strings.Index(out, "<details><summary>")
	if i < 0 {
		t.Fatal("no transcript block")
	}
	block := out[i:]
	block = block[:strings.Index(block, "</details>\n")]
	lines := strings.Split(block, "\n")
	var fence string
	for _, l := range lines {
		if strings.HasPrefix(l, "```") {
			fence = l
			break
		}
	}
	if len(fence) < 4 {
		t.Fatalf("fence %q is not longer than the ``` in the transcript", fence)
	}
	if n := strings.Count(block, "\n"+fence+"\n"); n != 2 || !strings.HasSuffix(block, "\n"+fence+"\n\n") {
		t.Errorf("fence %q opened/closed wrongly:\n%s", fence, block)
	}
	if strings.Contains(lines[0], "<script>") || strings.Contains(lines[0], "</details> ") {
		t.Errorf("summary not HTML-escaped: %s", lines[0])
	}
}

func TestMarkdownStructure(t *testing.T) {
	md := render(t, fullReport(), "markdown")
	order := []string{"# blprobe report: REJECTED", "**Verdict:** `rejected` (exit code 1)", "## Problems", "## Next steps", "## Egress",
		"## DNSBL", "### Listed", "### Zone health", "## Reverse DNS", "## SMTP", "## Correlations", "## SMTP transcripts",
		"<details><summary>mx1.example.com [192.0.2.10]:25 (example.com) rejected/blocklisted</summary>", "Generated by blprobe 1.0.0"}
	last := -1
	for _, s := range order {
		i := strings.Index(md, s)
		if i < 0 {
			t.Errorf("Markdown lacks %q", s)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", s)
		}
		last = i
	}
	if !strings.Contains(md, "2025-03-14 09:26:53Z") || !strings.Contains(md, "`127.0.0.53:53`") {
		t.Error("footer lacks times or resolvers")
	}
}

// TestSecretNeverRendered: the DQS key given to New never appears in any
// output, even if another package leaked it into a zone, a query or an error.
func TestSecretNeverRendered(t *testing.T) {
	r := fullReport()
	leaked := "7.113.0.203." + testKey + ".zen.dq.spamhaus.net"
	r.DNSBL.Results[0].Query = leaked
	r.DNSBL.Results[3].Error = "lookup " + leaked + ": i/o timeout"
	r.DNSBL.Zones[0].Evidence[0].Query = "2.0.0.127." + testKey + ".zen.dq.spamhaus.net"
	r.DNSBL.Zones = append(r.DNSBL.Zones, dnsbl.ZoneHealth{Zone: testKey + ".zen.dq.spamhaus.net", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP4, Health: dnsbl.HealthUnknown, Problem: "key " + testKey + " rejected"})
	r.SMTP.Domains[0].MX[0].Addresses[0].Transcript[0].Line = "220 " + testKey
	r.Warnings = append(r.Warnings, "--dqs-key="+testKey)
	r.Finalize()
	if strings.Join(r.Command, " ") != "blprobe check --dqs-key REDACTED --domain example.com --format text 203.0.113.7" {
		t.Errorf("command = %q", r.Command)
	}
	for _, f := range []string{"text", "verbose", "color", "markdown", "json"} {
		out := render(t, r, f)
		if strings.Contains(out, testKey) {
			t.Errorf("%s output contains the DQS key", f)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s output does not show the redaction", f)
		}
	}
	if err := Validate([]byte(render(t, r, "json"))); err != nil {
		t.Error(err)
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		in      string
		secrets []string
		want    string
	}{
		{"KEY", []string{"KEY"}, "REDACTED"},
		{"--dqs-key=KEY", []string{"KEY"}, "--dqs-key=REDACTED"},
		{"7.0.0.127.KEY.zen.dq.spamhaus.net", []string{"KEY"}, "7.0.0.127.REDACTED.zen.dq.spamhaus.net"},
		{"abcKEYabcKEY", []string{"KEY"}, "abcREDACTEDabcREDACTED"},
		{"secret-longer", []string{"secret", "secret-longer"}, "REDACTED"},
		{"nothing here", []string{""}, "nothing here"},
		{"nothing here", nil, "nothing here"},
	} {
		if got := Redact(tc.in, tc.secrets...); got != tc.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tc.in, tc.secrets, got, tc.want)
		}
	}
}

func TestNewRedactsCommand(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		secrets []string
		want    string
	}{
		{[]string{"blprobe", "dnsbl", "--dqs-key", "K3Y", "192.0.2.1"}, []string{"K3Y"}, "blprobe dnsbl --dqs-key REDACTED 192.0.2.1"},
		{[]string{"blprobe", "dnsbl", "--dqs-key=K3Y", "192.0.2.1"}, []string{"K3Y"}, "blprobe dnsbl --dqs-key=REDACTED 192.0.2.1"},
		{[]string{"blprobe", "dnsbl", "--zone=K3Y.zen.dq.spamhaus.net", "192.0.2.1"}, []string{"K3Y"}, "blprobe dnsbl --zone=REDACTED.zen.dq.spamhaus.net 192.0.2.1"},
		// Secret-looking flags are redacted even when the caller forgot the secret.
		{[]string{"blprobe", "dnsbl", "--dqs-key", "forgot", "--api-token=t0k", "192.0.2.1"}, nil, "blprobe dnsbl --dqs-key REDACTED --api-token=REDACTED 192.0.2.1"},
		{[]string{"blprobe", "dnsbl", "--monkey", "192.0.2.1", "-v"}, nil, "blprobe dnsbl --monkey 192.0.2.1 -v"},
	} {
		r := New(Tool{Name: "blprobe"}, tc.args, tc.secrets...)
		if got := strings.Join(r.Command, " "); got != tc.want {
			t.Errorf("New(%q).Command = %q, want %q", tc.args, got, tc.want)
		}
	}
	args := []string{"blprobe", "--dqs-key", "K3Y"}
	New(Tool{}, args, "K3Y")
	if args[2] != "K3Y" {
		t.Error("New modified the caller's argv")
	}
}

func TestRenderersNoSections(t *testing.T) {
	r := New(Tool{Name: "blprobe", Version: "dev"}, []string{"blprobe", "zones"})
	r.Started, r.Finished = t0, t1
	r.Finalize()
	for _, f := range []string{"text", "verbose", "markdown", "json"} {
		if out := render(t, r, f); !strings.Contains(strings.ToLower(out), "clean") {
			t.Errorf("%s: %q", f, out)
		}
	}
	for name, err := range map[string]error{
		"text": WriteText(&bytes.Buffer{}, nil, TextOptions{}), "md": WriteMarkdown(&bytes.Buffer{}, nil), "json": WriteJSON(&bytes.Buffer{}, nil),
	} {
		if err == nil {
			t.Errorf("%s: nil report accepted", name)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriteErrors(t *testing.T) {
	r := fullReport()
	for name, err := range map[string]error{
		"text": WriteText(failWriter{}, r, TextOptions{}), "md": WriteMarkdown(failWriter{}, r), "json": WriteJSON(failWriter{}, r),
	} {
		if err == nil || !strings.Contains(err.Error(), "report") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func fuzzReport(s string) *Report {
	r := fullReport()
	r.Summary = s
	r.DNSBL.Results[0].Reason = s
	r.DNSBL.Results[0].Meanings = []string{s}
	r.DNSBL.Results[3].Error = s
	r.DNSBL.Zones[3].Problem = s
	r.RDNS[0].PTR = []string{s}
	r.Egress.Answers[0].IPs = []string{s}
	p := &r.SMTP.Domains[0].MX[0].Addresses[0]
	p.Reply.Text = s
	p.CitedList = s
	p.Transcript = append(p.Transcript, smtpcheck.Line{Dir: s, Line: s})
	r.SMTP.Domains[0].MX[1].Host = s
	r.Correlations[0].Message = s
	r.Warnings = append(r.Warnings, s)
	r.Finalize()
	return r
}

func fuzzCheck(t *testing.T, out string, allowTab bool) {
	for _, c := range out {
		if badRune(c, allowTab) {
			t.Fatalf("control character %U in output", c)
		}
	}
}

func FuzzWriteText(f *testing.F) {
	f.Add(hostile)
	f.Add("550 5.7.1 \x1b[31mred\x1b[0m")
	f.Add("\xff\xfe\t\v\f")
	f.Fuzz(func(t *testing.T, s string) {
		r := fuzzReport(s)
		fuzzCheck(t, render(t, r, "text"), true)
		fuzzCheck(t, render(t, r, "verbose"), true)
	})
}

func FuzzWriteMarkdown(f *testing.F) {
	f.Add(hostile)
	f.Add("a | b ` c ``` d")
	f.Add("1. # - > <details>")
	f.Fuzz(func(t *testing.T, s string) {
		out := render(t, fuzzReport(s), "markdown")
		fuzzCheck(t, out, false)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "|---") {
				if cells := splitCells(line); len(cells) < 2 {
					t.Fatalf("broken table row %q", line)
				}
			}
		}
	})
}

func TestMarkdownLineStarts(t *testing.T) {
	m := &mdWriter{}
	for in, want := range map[string]string{
		"203.0.113.7 is listed": "203.0.113.7 is listed",
		"1. not a list":         `1\. not a list`,
		"2) not a list":         `2\) not a list`,
		"- not an item":         `\- not an item`,
		"# not a heading":       `\# not a heading`,
		"a | b":                 `a \| b`,
		"<b>x</b> & `y`":        "\\<b\\>x\\</b\\> \\& \\`y\\`",
	} {
		if got := m.para(in); got != want {
			t.Errorf("para(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"a`b": "``a`b``", "`x": "`` `x ``", "": "-", "a|b": "`a\\|b`"} {
		if got := m.code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
}

// A dnsbl section without results is a health report ("zones test"): every
// zone is shown with its evidence, and the counts stay right.
func TestHealthReportShowsEveryZone(t *testing.T) {
	r := New(Tool{Name: "blprobe", Version: "test"}, []string{"blprobe", "zones", "test"})
	r.DNSBL = &DNSBL{Results: []dnsbl.Result{}, Zones: []dnsbl.ZoneHealth{
		{Zone: "ok.example", Name: "OK", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP4, Health: dnsbl.HealthHealthy,
			Evidence: []dnsbl.Evidence{{Query: "2.0.0.127.ok.example", Expect: "listed", Rcode: "NOERROR", Codes: []string{"127.0.0.2"}, OK: true}}},
		{Zone: "dead.example", Name: "Dead", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP4, Health: dnsbl.HealthUnhealthy, Problem: "lists everything",
			Evidence: []dnsbl.Evidence{{Query: "1.0.0.127.dead.example", Expect: "not_listed", Rcode: "NOERROR", Codes: []string{"127.0.0.2"}}}},
	}}
	r.Finalize()
	var text, md strings.Builder
	if err := WriteText(&text, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		for _, want := range []string{"2.0.0.127.ok.example", "1.0.0.127.dead.example", "1 healthy, 1 unhealthy/unknown"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, out)
			}
		}
	}
}
