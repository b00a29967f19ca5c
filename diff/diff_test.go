package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/mailauth"
	"github.com/blprobe/blprobe/migrate"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

var tool = report.Tool{Name: "blprobe", Version: "test"}

func doc(t testing.TB, mod func(*report.Report)) []byte {
	t.Helper()
	r := report.New(tool, []string{"blprobe", "check"})
	r.Started = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.Finished = r.Started
	r.DNSBL = &report.DNSBL{
		Zones:   []dnsbl.ZoneHealth{{Zone: "zen.test", Name: "zen", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP4, Health: dnsbl.HealthHealthy}},
		Results: []dnsbl.Result{{Target: "192.0.2.1", IP: "192.0.2.1", Zone: "zen.test", Query: "1.2.0.192.zen.test", Status: dnsbl.StatusClean}},
	}
	r.RDNS = []report.RDNS{{IP: "192.0.2.1", PTR: []string{"mail.example.test"}, ForwardConfirmed: true, Problems: []string{}}}
	mod(r)
	r.Finalize()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Validate(b); err != nil {
		t.Fatalf("test report invalid: %v", err)
	}
	return b
}

func probe(status smtpcheck.Status, class smtpcheck.Class, reply string) smtpcheck.Probe {
	p := smtpcheck.Probe{IP: "198.51.100.25", Port: 25, SourceIP: "192.0.2.1", Status: status, Class: class, Stage: smtpcheck.StageRcpt,
		Extensions: []string{}, TimingsMs: map[string]float64{}, Transcript: []smtpcheck.Line{}}
	if reply != "" {
		p.Reply = &smtpcheck.Reply{Code: 554, Enhanced: "5.7.1", Text: reply}
	}
	return p
}

// at sets the MX address a probe went to.
func at(p smtpcheck.Probe, ip string) smtpcheck.Probe {
	p.IP = ip
	return p
}

// cited sets the list a reply names, as the classifier does.
func cited(p smtpcheck.Probe, list string) smtpcheck.Probe {
	p.CitedList = list
	return p
}

func withSMTP(ps ...smtpcheck.Probe) func(*report.Report) {
	return func(r *report.Report) {
		r.SMTP = &smtpcheck.Result{Port: 25, Rcpts: []string{}, Domains: []smtpcheck.Domain{{Domain: "example.test", Status: smtpcheck.DomainOK,
			MX: []smtpcheck.MX{{Host: "mx.example.test", Addresses: ps}}}}}
	}
}

func TestCompare(t *testing.T) {
	none := func(*report.Report) {}
	listed := func(codes ...string) func(*report.Report) {
		return func(r *report.Report) {
			r.DNSBL.Results[0].Status, r.DNSBL.Results[0].Codes = dnsbl.StatusListed, codes
		}
	}
	tests := []struct {
		name          string
		before, after func(*report.Report)
		kinds         []string
		worse         bool
		newProblem    bool
		newN, goneN   int
	}{
		{"same", none, none, nil, false, false, 0, 0},
		{"listing added", none, listed("127.0.0.2"), []string{ListingAdded, VerdictChanged}, true, true, 1, 0},
		{"listing removed", listed("127.0.0.2"), none, []string{ListingRemoved, VerdictChanged}, false, false, 0, 1},
		{"listing codes changed", listed("127.0.0.2"), listed("127.0.0.4"), []string{ListingChanged}, false, true, 1, 1},
		// Resolvers rotate the A records of an answer: the same listing in
		// another order is no change.
		{"listing codes reordered", listed("127.0.0.2", "127.0.0.4"), listed("127.0.0.4", "127.0.0.2"), nil, false, false, 0, 0},
		{"listing code added", listed("127.0.0.4"), listed("127.0.0.4", "127.0.0.2"), []string{ListingChanged}, false, true, 1, 1},
		{"PTR lost", none, func(r *report.Report) { r.RDNS[0].PTR, r.RDNS[0].ForwardConfirmed = []string{}, false }, []string{PTRChanged}, true, false, 0, 0},
		{"FCrDNS lost", none, func(r *report.Report) { r.RDNS[0].ForwardConfirmed = false }, []string{PTRChanged}, true, false, 0, 0},
		{"PTR gained", func(r *report.Report) { r.RDNS[0].PTR, r.RDNS[0].ForwardConfirmed = []string{}, false }, none, []string{PTRChanged}, false, false, 0, 0},
		{"MX rejected", withSMTP(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "")), withSMTP(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "blocked using zen.test")),
			[]string{MXChanged, VerdictChanged}, true, true, 1, 0},
		{"MX now cites another list", withSMTP(cited(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "blocked using zen.test"), "zen.test")),
			withSMTP(cited(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "blocked using bl.test"), "bl.test")),
			[]string{MXChanged}, false, true, 1, 1},
		// The same refusal with another session ID in its text (Gmail ends
		// every reply with one) is no new problem: cron must not page on it.
		{"MX reply ID changed", withSMTP(cited(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "Client host blocked using zen.test a1b2c3d4.5 - gsmtp"), "zen.test")),
			withSMTP(cited(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "Client host blocked using zen.test e6f7g8h9.2 - gsmtp"), "zen.test")),
			[]string{MXChanged}, false, false, 0, 0},
		{"long MX reply ID changed", withSMTP(probe(smtpcheck.StatusRejected, smtpcheck.ClassPolicy, "id=1 "+strings.Repeat("é", 120))),
			withSMTP(probe(smtpcheck.StatusRejected, smtpcheck.ClassPolicy, "id=2 "+strings.Repeat("é", 120))),
			[]string{MXChanged}, false, false, 0, 0},
		{"MX timeout is not a new problem", withSMTP(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "")), withSMTP(probe(smtpcheck.StatusError, smtpcheck.ClassConnectTimeout, "")),
			[]string{MXChanged, VerdictChanged}, true, false, 1, 0},
		// Gmail answers its MX name with another address on every lookup:
		// the same MX host refusing from another address is no new problem.
		{"MX host refuses from another address", withSMTP(cited(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "blocked using zen.test"), "zen.test")),
			withSMTP(at(cited(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "blocked using zen.test"), "zen.test"), "198.51.100.26")),
			[]string{MXAdded, MXRemoved}, false, false, 0, 0},
		{"MX host refuses, accepted before from another address", withSMTP(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "")),
			withSMTP(at(cited(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "blocked using zen.test"), "zen.test"), "198.51.100.26")),
			[]string{MXAdded, MXRemoved, VerdictChanged}, true, true, 1, 0},
		{"MX address added", withSMTP(), withSMTP(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "")), []string{MXAdded, VerdictChanged}, false, false, 0, 1},
		{"MX address gone", withSMTP(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "")), withSMTP(), []string{MXRemoved, VerdictChanged}, false, false, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Compare(tool, "b.json", doc(t, tt.before), "a.json", doc(t, tt.after))
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			worse := false
			for _, c := range d.Changes {
				kinds = append(kinds, c.Kind)
				worse = worse || c.Worse && c.Kind != VerdictChanged
			}
			if strings.Join(kinds, ",") != strings.Join(tt.kinds, ",") || worse != tt.worse {
				t.Errorf("changes %+v, want kinds %v worse %v", d.Changes, tt.kinds, tt.worse)
			}
			if d.NewProblem != tt.newProblem || len(d.NewProblems) != tt.newN || len(d.GoneProblems) != tt.goneN {
				t.Errorf("new problem %v, new %+v, gone %+v", d.NewProblem, d.NewProblems, d.GoneProblems)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.newProblem]; d.ExitCode != want {
				t.Errorf("exit %d", d.ExitCode)
			}
			var j, tx, md bytes.Buffer
			WriteJSON(&j, d)
			if err := Validate(j.Bytes()); err != nil {
				t.Errorf("schema: %v\n%s", err, j.String())
			}
			WriteText(&tx, d)
			WriteMarkdown(&md, d)
			for _, c := range d.Changes {
				if !strings.Contains(tx.String(), c.After) {
					t.Errorf("text lacks %q:\n%s", c.After, tx.String())
				}
			}
		})
	}
}

func TestCompareStripsControl(t *testing.T) {
	d, err := Compare(tool, "b.json", doc(t, withSMTP(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, ""))),
		"a.json", doc(t, withSMTP(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "no\x1b[2J\x07 way"))))
	if err != nil {
		t.Fatal(err)
	}
	var tx, md bytes.Buffer
	WriteText(&tx, d)
	WriteMarkdown(&md, d)
	if strings.ContainsAny(tx.String()+md.String(), "\x1b\x07") {
		t.Errorf("control characters:\n%q", tx.String())
	}
}

func TestCompareRefuses(t *testing.T) {
	good := doc(t, func(*report.Report) {})
	v2 := bytes.Replace(good, []byte(`"blprobe.report/v1"`), []byte(`"blprobe.report/v2"`), 1)
	for _, tc := range []struct {
		b, a []byte
		want string
	}{
		{good, v2, `a.json has schema "blprobe.report/v2"`},
		{[]byte(`[]`), good, "b.json is not a blprobe JSON report: it holds a JSON array, not an object"},
		{good, []byte(`{"schema": 1}`), `a.json is not a blprobe JSON report: its "schema" is a JSON number`},
		{good, []byte(`"blprobe.report/v1"`), "a.json is not a blprobe JSON report: it holds a JSON string"},
		{[]byte(`{}`), good, `no "schema" field`},
		{good, []byte(`{"schema": "blprobe.report/v1"}`), "not a valid blprobe.report/v1 document"},
	} {
		_, err := Compare(tool, "b.json", tc.b, "a.json", tc.a)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "Go ") {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
}

// FuzzCompare: any input gives a diff or an InputError, never a panic.
func FuzzCompare(f *testing.F) {
	good := doc(f, func(*report.Report) {})
	f.Add(good, good)
	f.Add(good, []byte(`{"schema":"blprobe.migrate/v1"}`))
	f.Add([]byte(`{"schema":null}`), good)
	f.Fuzz(func(t *testing.T, b, a []byte) {
		d, err := Compare(tool, "b", b, "a", a)
		var ie *InputError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("error %v is not an InputError", err)
		}
		if err == nil && d == nil {
			t.Fatal("nil diff without error")
		}
	})
}

// migrateDoc is a migrate report whose new address fails SPF; detail is the
// SPF record's lookup count, which varies between runs.
func migrateDoc(t *testing.T, newIP string, lookups int) []byte {
	t.Helper()
	spf := func(ip string, r mailauth.Result) []mailauth.SPF {
		return []mailauth.SPF{{Domain: "example.test", IP: ip, Result: r, Record: "v=spf1 include:_spf.example.test -all", Lookups: lookups, LookupLimit: 10, VoidLimit: 2, Problems: []string{}}}
	}
	in := migrate.Inputs{Tool: tool, Command: []string{"blprobe", "migrate"}, Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Old:       migrate.Side{Addr: netip.MustParseAddr("192.0.2.1"), SPF: spf("192.0.2.1", mailauth.Pass)},
		New:       []migrate.Side{{Addr: netip.MustParseAddr(newIP), SPF: spf(newIP, mailauth.Fail)}},
		NewTarget: newIP, RangeSize: 1, Domains: []string{"example.test"},
		DMARC: []mailauth.DMARC{{Domain: "example.test", Problems: []string{}}}, Suggestions: []*mailauth.Suggestion{nil}}
	var b bytes.Buffer
	if err := migrate.WriteJSON(&b, migrate.Build(in)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A migrate blocker that persists is no new problem when only its detail
// changed; a blocker of another address is.
func TestCompareMigrateBlockers(t *testing.T) {
	d, err := Compare(tool, "b.json", migrateDoc(t, "198.51.100.7", 1), "a.json", migrateDoc(t, "198.51.100.7", 2))
	if err != nil {
		t.Fatal(err)
	}
	if d.NewProblem || len(d.NewProblems) != 0 || len(d.GoneProblems) != 0 {
		t.Errorf("same blocker, other detail: new problem %v, new %+v, gone %+v", d.NewProblem, d.NewProblems, d.GoneProblems)
	}
	d, err = Compare(tool, "b.json", migrateDoc(t, "198.51.100.7", 1), "a.json", migrateDoc(t, "198.51.100.8", 1))
	if err != nil {
		t.Fatal(err)
	}
	if !d.NewProblem || d.ExitCode != ExitNewProblem || len(d.NewProblems) == 0 {
		t.Errorf("blocker of a new address: new problem %v, new %+v", d.NewProblem, d.NewProblems)
	}
}

// A readiness row that the after report no longer has is listed, not
// silently dropped.
func TestCompareMigrateRowGone(t *testing.T) {
	before := migrateDoc(t, "198.51.100.7", 1)
	var m map[string]any
	if err := json.Unmarshal(migrateDoc(t, "198.51.100.7", 1), &m); err != nil {
		t.Fatal(err)
	}
	var rows []any
	for _, r := range m["rows"].([]any) {
		if r.(map[string]any)["item"] != "dmarc" {
			rows = append(rows, r)
		}
	}
	m["rows"] = rows
	after, _ := json.Marshal(m)
	d, err := Compare(tool, "b.json", before, "a.json", after)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range d.Changes {
		found = found || c.Kind == RowChanged && c.Item == "dmarc" && c.After == "-" && !c.Worse
	}
	if !found {
		t.Errorf("the dmarc row that went away is not listed: %+v", d.Changes)
	}
}

// The headline counts what is there: no "0 new unchecked", no "1 changes".
func TestSummary(t *testing.T) {
	p := Problem{Verdict: "inconclusive", Message: "x"}
	tests := []struct {
		d    Diff
		want string
	}{
		{Diff{}, "NO CHANGE"},
		{Diff{NewProblem: true, NewProblems: []Problem{p}, Changes: []Change{{}}}, "NEW PROBLEM (1 new, 0 gone, 1 change)"},
		{Diff{GoneProblems: []Problem{p, p}, Changes: []Change{{}, {}}}, "no new problem (2 gone, 2 changes)"},
		{Diff{NewProblems: []Problem{p}, Changes: []Change{{}}}, "no new problem (1 new could not be checked, 0 gone, 1 change)"},
	}
	for _, tt := range tests {
		if got := summary(&tt.d); got != tt.want {
			t.Errorf("summary %q, want %q", got, tt.want)
		}
	}
}

// A readiness change is named as the migrate table names the row.
func TestWhereNamesReadinessRow(t *testing.T) {
	if got := where(Change{Kind: RowChanged, Item: migrate.ItemSPF, Domain: "sender.test"}); got != "SPF sender.test" {
		t.Errorf("where %q", got)
	}
	if got := where(Change{Kind: RowChanged, Item: migrate.ItemRDNS}); got != "PTR / FCrDNS" {
		t.Errorf("where %q", got)
	}
}
