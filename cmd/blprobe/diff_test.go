package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/diff"
	"github.com/blprobe/blprobe/internal/smtptest"
)

// write runs blprobe with -o FILE --format json and returns FILE.
func writeReport(t *testing.T, dir, name string, wantCode int, args ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	res := runCLI(t, "", append(args, "--format", "json", "-o", path)...)
	if res.code != wantCode {
		t.Fatalf("%v: exit %d, want %d: %s", args, res.code, wantCode, res.stderr)
	}
	return path
}

// diffRun runs blprobe diff in every format; the JSON must validate against
// the diff schema and carry the process's exit code.
func diffRun(t *testing.T, dir, before, after string, wantCode int) (text, md string, d *diff.Diff) {
	t.Helper()
	norm := func(s string) string { return normalise(s, map[string]string{dir + string(filepath.Separator): ""}) }
	res := runCLI(t, "", "diff", before, after)
	if res.code != wantCode {
		t.Fatalf("diff exit %d, want %d: %s%s", res.code, wantCode, res.stdout, res.stderr)
	}
	js := runCLI(t, "", "diff", "--format", "json", before, after)
	if err := diff.Validate([]byte(js.stdout)); err != nil {
		t.Fatalf("diff JSON does not validate: %v\n%s", err, js.stdout)
	}
	d = &diff.Diff{}
	if err := json.Unmarshal([]byte(js.stdout), d); err != nil {
		t.Fatal(err)
	}
	if d.ExitCode != wantCode || js.code != wantCode {
		t.Errorf("JSON exit_code %d, process %d, want %d", d.ExitCode, js.code, wantCode)
	}
	m := runCLI(t, "", "diff", "--format", "markdown", before, after)
	return norm(res.stdout), norm(m.stdout), d
}

func TestDiffListingGolden(t *testing.T) {
	l := newLab(t)
	dir := t.TempDir()
	args := []string{"dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--zone", "clean.test", "127.0.0.30", "127.0.0.31"}
	before := writeReport(t, dir, "before.json", 0, args...)
	l.add(listed("127.0.0.30", "zen.test", "Listed in zen.test: see http://zen.test/q?ip=127.0.0.30", "127.0.0.2"))
	after := writeReport(t, dir, "after.json", 1, args...)

	text, md, d := diffRun(t, dir, before, after, 1)
	golden(t, "diff_listing_added.txt.golden", text)
	golden(t, "diff_listing_added.md.golden", md)
	if len(d.Changes) != 2 || d.Changes[0].Kind != diff.ListingAdded || d.Changes[0].Address != "127.0.0.30" || d.Changes[0].Zone != "zen.test" || !d.Changes[0].Worse ||
		d.Changes[1].Kind != diff.VerdictChanged || len(d.NewProblems) != 1 || !d.NewProblem {
		t.Errorf("diff %+v", d)
	}

	text, _, d = diffRun(t, dir, after, before, 0)
	golden(t, "diff_listing_removed.txt.golden", text)
	if len(d.Changes) != 2 || d.Changes[0].Kind != diff.ListingRemoved || len(d.GoneProblems) != 1 || d.NewProblem {
		t.Errorf("diff %+v", d)
	}

	// AFTER from stdin.
	data, _ := os.ReadFile(after)
	if res := runCLI(t, string(data), "diff", before, "-"); res.code != 1 || !strings.Contains(res.stdout, "new listing: 127.0.0.30 on zen.test") {
		t.Errorf("stdin: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// The same report twice: nothing changed.
	text, _, d = diffRun(t, dir, before, before, 0)
	if len(d.Changes) != 0 || !strings.Contains(text, "NO CHANGE") {
		t.Errorf("self diff %+v\n%s", d, text)
	}
}

func TestDiffMXChangedGolden(t *testing.T) {
	l := newLab(t)
	l.mx("example.test", "127.0.0.1")
	_, accPort := l.smtp("127.0.0.1", smtptest.Config{})
	_, rejPort := l.smtp("127.0.0.1", smtptest.Config{Rcpt: spamhausReject})
	dir := t.TempDir()
	args := []string{"smtp", "--resolver", l.resolver(), "--helo", "probe.example.test", "--source-ip", "127.0.0.1", "--connect-timeout", "1s", "--command-timeout", "2s", "example.test"}
	before := writeReport(t, dir, "before.json", 0, append(args, "--port", accPort)...)
	after := writeReport(t, dir, "after.json", 1, append(args, "--port", rejPort)...)
	text, md, d := diffRun(t, dir, before, after, 1)
	golden(t, "diff_mx_changed.txt.golden", text)
	golden(t, "diff_mx_changed.md.golden", md)
	c := d.Changes[0]
	if c.Kind != diff.MXChanged || c.Before != "accepted" || !strings.Contains(c.After, "rejected (blocklisted at rcpt): 554 5.7.1") || !c.Worse {
		t.Errorf("change %+v", c)
	}
}

func TestDiffMigrateReports(t *testing.T) {
	l, _, args := migrateLab(t)
	dir := t.TempDir()
	args = append(args, "127.0.0.21", "--domain", "sender.test")
	before := writeReport(t, dir, "before.json", 1, args...)
	// sender.test now authorises the new address too.
	rr, err := dns.NewRR(`sender.test. 60 IN TXT "v=spf1 ip4:127.0.0.20 ip4:127.0.0.21 -all"`)
	if err != nil {
		t.Fatal(err)
	}
	l.dns.Handle("sender.test", func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		if q := req.Question[0]; strings.EqualFold(q.Name, "sender.test.") && q.Qtype == dns.TypeTXT {
			m := new(dns.Msg)
			m.SetReply(req)
			m.Answer = []dns.RR{rr}
			return m
		}
		return l.dns.Lookup(req)
	})
	after := writeReport(t, dir, "after.json", 0, args...)
	text, _, d := diffRun(t, dir, before, after, 0)
	golden(t, "diff_migrate_fixed.txt.golden", text)
	kinds := map[string]int{}
	for _, c := range d.Changes {
		kinds[c.Kind]++
	}
	if kinds[diff.SPFChanged] != 2 || kinds[diff.RowChanged] != 2 || kinds[diff.VerdictChanged] != 1 || len(d.GoneProblems) != 2 || len(d.NewProblems) != 0 {
		t.Errorf("changes %v, gone %+v, new %+v", kinds, d.GoneProblems, d.NewProblems)
	}
	// Backwards, the blockers are new problems: exit 1.
	if _, _, d := diffRun(t, dir, after, before, 1); len(d.NewProblems) != 2 || d.NewProblems[0].Verdict != "blocked" {
		t.Errorf("reverse: %+v", d.NewProblems)
	}
}

func TestDiffRefusals(t *testing.T) {
	l := newLab(t)
	dir := t.TempDir()
	good := writeReport(t, dir, "good.json", 0, "dnsbl", "--resolver", l.resolver(), "--zone", "clean.test", "127.0.0.30")
	data, _ := os.ReadFile(good)
	v2 := filepath.Join(dir, "v2.json")
	os.WriteFile(v2, []byte(strings.Replace(string(data), `"blprobe.report/v1"`, `"blprobe.report/v2"`, 1)), 0o644)
	noschema := filepath.Join(dir, "none.json")
	os.WriteFile(noschema, []byte(`{"verdict": "clean"}`), 0o644)
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte("not json\x1b[2J"), 0o644)
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(strings.Replace(string(data), `"verdict": "clean"`, `"verdict": "great"`, 1)), 0o644)
	_, _, margs := migrateLab(t)
	mig := writeReport(t, dir, "mig.json", 0, append(margs, "127.0.0.21", "--domain", "wide.test")...)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{good, v2}, `has schema "blprobe.report/v2", which this blprobe does not know`},
		{[]string{noschema, good}, `has no "schema" field`},
		{[]string{junk, good}, "is not a blprobe JSON report"},
		{[]string{good, broken}, "is not a valid blprobe.report/v1 document"},
		{[]string{good, mig}, "both must be of the same kind"},
		{[]string{good, filepath.Join(dir, "missing.json")}, "cannot read"},
		{[]string{good}, "diff takes two reports"},
		{[]string{"--format", "yaml", good, good}, "invalid --format"},
	} {
		res := runCLI(t, "", append([]string{"diff"}, tc.args...)...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || strings.Contains(res.stderr, "\x1b") || res.stdout != "" {
			t.Errorf("%v: exit %d stdout %q stderr %q, want exit 2 and %q", tc.args, res.code, res.stdout, res.stderr, tc.want)
		}
	}
}
