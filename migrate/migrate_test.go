package migrate

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/mailauth"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

var (
	oldIP = netip.MustParseAddr("192.0.2.1")
	newIP = netip.MustParseAddr("198.51.100.7")
)

var catalog = []dnsbl.Zone{
	{Zone: "zen.spamhaus.org", Name: "Spamhaus ZEN", Type: dnsbl.TypeBlock, PolicyCodes: []string{"127.0.0.10", "127.0.0.11"}, DelistURL: "https://check.spamhaus.org/"},
	{Zone: "bl.example", Name: "Example BL", Type: dnsbl.TypeBlock, DelistURL: "https://bl.example/remove"},
	{Zone: "wl.example", Name: "Example WL", Type: dnsbl.TypeAllow},
}

var zones = []dnsbl.ZoneHealth{
	{Zone: "zen.spamhaus.org", Type: dnsbl.TypeBlock, Health: dnsbl.HealthHealthy},
	{Zone: "bl.example", Type: dnsbl.TypeBlock, Health: dnsbl.HealthHealthy},
	{Zone: "wl.example", Type: dnsbl.TypeAllow, Health: dnsbl.HealthHealthy},
}

func clean(a netip.Addr) []dnsbl.Result {
	var out []dnsbl.Result
	for _, z := range zones {
		out = append(out, dnsbl.Result{IP: a.String(), Zone: z.Zone, Status: dnsbl.StatusClean})
	}
	return out
}

func listed(a netip.Addr, zone string, codes ...string) []dnsbl.Result {
	out := clean(a)
	for i := range out {
		if out[i].Zone == zone {
			out[i].Status, out[i].Codes = dnsbl.StatusListed, codes
		}
	}
	return out
}

func goodRDNS(a netip.Addr, name string) *report.RDNS {
	return &report.RDNS{IP: a.String(), PTR: []string{name}, ForwardConfirmed: true,
		HELO: &report.HELOCheck{Name: "mail.example.test", FQDN: true, Resolves: []string{a.String()}, ResolvesToIP: true, MatchesPTR: name == "mail.example.test"}}
}

func spfRes(a netip.Addr, r mailauth.Result) []mailauth.SPF {
	return []mailauth.SPF{{Domain: "example.test", IP: a.String(), Result: r, Record: "v=spf1 ip4:192.0.2.0/24 -all", Lookups: 0, LookupLimit: 10, VoidLimit: 2, Problems: []string{}}}
}

func accepted(src netip.Addr) *smtpcheck.Result {
	return &smtpcheck.Result{Port: 25, Domains: []smtpcheck.Domain{{Domain: "dest.test", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{{Host: "mx.dest.test", Addresses: []smtpcheck.Probe{
		{IP: "127.0.0.1", SourceIP: src.String(), Status: smtpcheck.StatusAccepted, Class: smtpcheck.ClassAccepted, Stage: smtpcheck.StageRcpt}}}}}}}
}

func rejected(src netip.Addr) *smtpcheck.Result {
	r := accepted(src)
	p := &r.Domains[0].MX[0].Addresses[0]
	p.Status, p.Class = smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted
	p.Reply = &smtpcheck.Reply{Code: 554, Enhanced: "5.7.1", Text: "Service unavailable; client host blocked using zen.spamhaus.org"}
	return r
}

func base() Inputs {
	return Inputs{
		Tool:    report.Tool{Name: "blprobe", Version: "test"},
		Catalog: catalog, Zones: zones,
		Old:       Side{Addr: oldIP, DNSBL: clean(oldIP), RDNS: goodRDNS(oldIP, "mail.example.test"), SPF: spfRes(oldIP, mailauth.Pass), SMTP: accepted(oldIP)},
		New:       []Side{{Addr: newIP, DNSBL: clean(newIP), RDNS: goodRDNS(newIP, "mail.example.test"), SPF: spfRes(newIP, mailauth.Pass), SMTP: accepted(newIP)}},
		NewTarget: newIP.String(), RangeSize: 1,
		Domains:     []string{"example.test"},
		DMARC:       []mailauth.DMARC{{Domain: "example.test", Query: "_dmarc.example.test", Record: "v=DMARC1; p=reject", Policy: "reject", Percent: 100, Problems: []string{}}},
		Suggestions: []*mailauth.Suggestion{nil},
		SMTPDomains: []string{"dest.test"},
		HELO:        "mail.example.test",
	}
}

func findRow(t *testing.T, r *Report, item, subject string) Row {
	t.Helper()
	for _, row := range r.Rows {
		if row.Item == item && row.Subject == subject {
			return row
		}
	}
	t.Fatalf("no row %s %s in %+v", item, subject, r.Rows)
	return Row{}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Inputs)
		verdict string
		exit    int
		item    string // a row whose new cell is checked
		subject string
		status  Status
		detail  string // substring of that cell's detail or fix
	}{
		{"ready", func(*Inputs) {}, VerdictReady, 0, ItemListings, "", Pass, "not listed on 3 zones"},
		{"new in PBL", func(in *Inputs) { in.New[0].DNSBL = listed(newIP, "zen.spamhaus.org", "127.0.0.10") },
			VerdictBlocked, 1, ItemListings, "", Fail, PBLFix},
		{"new in PBL 11", func(in *Inputs) { in.New[0].DNSBL = listed(newIP, "zen.spamhaus.org", "127.0.0.11") },
			VerdictBlocked, 1, ItemListings, "", Fail, PBLFix},
		{"new in SBL", func(in *Inputs) { in.New[0].DNSBL = listed(newIP, "zen.spamhaus.org", "127.0.0.2") },
			VerdictBlocked, 1, ItemListings, "", Fail, "request removal from zen.spamhaus.org at https://check.spamhaus.org/"},
		{"allow list hit is no listing", func(in *Inputs) { in.New[0].DNSBL = listed(newIP, "wl.example", "127.0.0.2") },
			VerdictReady, 0, ItemListings, "", Pass, "not listed"},
		{"old listed only", func(in *Inputs) { in.Old.DNSBL = listed(oldIP, "bl.example", "127.0.0.2") },
			VerdictReady, 0, ItemListings, "", Pass, ""},
		{"lookup error", func(in *Inputs) {
			in.New[0].DNSBL[1].Status, in.New[0].DNSBL[1].ErrorKind = dnsbl.StatusError, dnsbl.ErrTimeout
		}, VerdictInconclusive, 3, ItemListings, "", NotChecked, "could not be checked"},
		{"no PTR", func(in *Inputs) { in.New[0].RDNS = &report.RDNS{IP: newIP.String(), PTR: []string{}} },
			VerdictBlocked, 1, ItemRDNS, "", Fail, "ask the owner of 198.51.100.7"},
		{"PTR not confirmed", func(in *Inputs) { in.New[0].RDNS.ForwardConfirmed = false },
			VerdictBlocked, 1, ItemRDNS, "", Fail, "does not resolve back"},
		{"generic PTR", func(in *Inputs) {
			in.New[0].RDNS.Generic, in.New[0].RDNS.GenericWhy = true, "embeds the IP"
		}, VerdictReady, 0, ItemGeneric, "", Warn, "generic"},
		{"HELO elsewhere", func(in *Inputs) {
			in.New[0].RDNS.HELO.ResolvesToIP, in.New[0].RDNS.HELO.Resolves = false, []string{oldIP.String()}
		}, VerdictBlocked, 1, ItemHELO, "", Fail, "resolves to 192.0.2.1"},
		{"SPF fail, DMARC reject", func(in *Inputs) {
			in.New[0].SPF = spfRes(newIP, mailauth.Fail)
			in.Suggestions = []*mailauth.Suggestion{{Domain: "example.test", Record: "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 -all", Verified: mailauth.Pass, Warnings: []string{}}}
		}, VerdictBlocked, 1, ItemSPF, "example.test", Fail, `publish at example.test: "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 -all"`},
		{"DMARC reject after SPF fail", func(in *Inputs) { in.New[0].SPF = spfRes(newIP, mailauth.SoftFail) },
			VerdictBlocked, 1, ItemDMARC, "example.test", Fail, "DKIM is not bound to the IP"},
		{"DMARC none after SPF fail", func(in *Inputs) {
			in.New[0].SPF = spfRes(newIP, mailauth.Neutral)
			in.DMARC[0].Policy = "none"
		}, VerdictBlocked, 1, ItemDMARC, "example.test", Warn, "p=none"},
		{"SPF temperror", func(in *Inputs) { in.New[0].SPF = spfRes(newIP, mailauth.TempError) },
			VerdictInconclusive, 3, ItemSPF, "example.test", NotChecked, "temperror"},
		{"SMTP not from new", func(in *Inputs) { in.New[0].SMTP = nil },
			VerdictInconclusive, 3, ItemSMTP, "dest.test", NotChecked, "run `blprobe check --to dest.test` from the new network after cut-over"},
		{"SMTP rejected", func(in *Inputs) { in.New[0].SMTP = rejected(newIP) },
			VerdictBlocked, 1, ItemSMTP, "dest.test", Fail, "554 5.7.1 Service unavailable"},
		{"MX saw another client IP", func(in *Inputs) {
			in.New[0].SMTP.Domains[0].MX[0].Addresses[0].EchoedClientIP = "203.0.113.9"
		}, VerdictInconclusive, 3, ItemSMTP, "dest.test", NotChecked, "saw the client as 203.0.113.9, not 198.51.100.7"},
		{"MX echoed the new address", func(in *Inputs) {
			in.New[0].SMTP.Domains[0].MX[0].Addresses[0].EchoedClientIP = "::ffff:198.51.100.7"
		}, VerdictReady, 0, ItemSMTP, "dest.test", Pass, "accepted"},
		{"banner 554 without a list", func(in *Inputs) {
			p := &in.New[0].SMTP.Domains[0].MX[0].Addresses[0]
			p.Status, p.Class, p.Stage = smtpcheck.StatusRejected, smtpcheck.ClassRejected, smtpcheck.StageBanner
			p.Reply = &smtpcheck.Reply{Code: 554, Text: "No SMTP service here"}
		}, VerdictBlocked, 1, ItemSMTP, "dest.test", Fail, "554 No SMTP service here"},
		{"sender domain rejected at RCPT", func(in *Inputs) {
			p := &in.New[0].SMTP.Domains[0].MX[0].Addresses[0]
			p.Status, p.Class, p.Stage = smtpcheck.StatusRejected, smtpcheck.ClassRejected, smtpcheck.StageRcpt
			p.Reply = &smtpcheck.Reply{Code: 553, Enhanced: "5.1.8", Text: "Sender address rejected: Domain not found"}
			p.Cause = smtpcheck.CauseSenderRejected
		}, VerdictBlocked, 1, ItemSMTP, "dest.test", Fail, smtpcheck.CauseSenderRejected.NextStep("", "")},
		{"postmaster mailbox unavailable is no verdict", func(in *Inputs) {
			p := &in.New[0].SMTP.Domains[0].MX[0].Addresses[0]
			p.Status, p.Class, p.Stage = smtpcheck.StatusRejected, smtpcheck.ClassUnknownRecipient, smtpcheck.StageRcpt
			p.Cause = smtpcheck.CauseMailboxUnavailable
			p.Reply = &smtpcheck.Reply{Code: 550, Enhanced: "5.2.1", Text: "Mailbox unavailable"}
		}, VerdictInconclusive, 3, ItemSMTP, "dest.test", NotChecked, "5.2.1"},
		{"null MX destination", func(in *Inputs) {
			d := &in.New[0].SMTP.Domains[0]
			d.Status, d.MX = smtpcheck.DomainNullMX, nil
		}, VerdictInconclusive, 3, ItemSMTP, "dest.test", NotChecked, "accepts no mail"},
		{"no MX of the new address's family", func(in *Inputs) {
			in.New[0].SMTP.Domains[0].MX[0].Addresses = nil
			in.New[0].SMTP.Domains[0].MX[0].Error = "no address of the source addresses' family"
		}, VerdictInconclusive, 3, ItemPort25, "", NotChecked, "no connection was tried from 198.51.100.7: no MX address could be probed (dest.test: no address of the source addresses' family)"},
		{"port 25 blocked", func(in *Inputs) {
			in.New[0].SMTP.Port25Blocked = true
			p := &in.New[0].SMTP.Domains[0].MX[0].Addresses[0]
			p.Status, p.Class, p.Stage = smtpcheck.StatusError, smtpcheck.ClassConnectTimeout, smtpcheck.StageConnect
		}, VerdictBlocked, 1, ItemPort25, "", Fail, "ask the ISP to open outbound port 25"},
		{"v6 address, v4-only zones", func(in *Inputs) {
			for i := range in.New[0].DNSBL {
				in.New[0].DNSBL[i].Status, in.New[0].DNSBL[i].ErrorKind = dnsbl.StatusError, dnsbl.ErrNotApplicable
			}
		}, VerdictInconclusive, 3, ItemListings, "", NotChecked, "select a zone that lists this address family"},
		{"one zone not applicable", func(in *Inputs) {
			in.New[0].DNSBL[0].Status, in.New[0].DNSBL[0].ErrorKind = dnsbl.StatusError, dnsbl.ErrNotApplicable
		}, VerdictReady, 0, ItemListings, "", Pass, "not listed on 2 zones"},
		{"interrupted", func(in *Inputs) { in.Interrupted = true }, VerdictInconclusive, 3, ItemListings, "", Pass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.mod(&in)
			r := Build(in)
			if r.Verdict != tt.verdict || r.ExitCode != tt.exit {
				t.Errorf("verdict %s/%d, want %s/%d; rows %+v", r.Verdict, r.ExitCode, tt.verdict, tt.exit, r.Rows)
			}
			row := findRow(t, r, tt.item, tt.subject)
			if row.New == nil || row.New.Status != tt.status {
				t.Fatalf("new cell %+v, want %s", row.New, tt.status)
			}
			if !strings.Contains(row.New.Detail+" fix: "+row.New.Fix, tt.detail) {
				t.Errorf("new cell %+v lacks %q", row.New, tt.detail)
			}
			// Every failed new cell is a blocker; nothing else is.
			fails := 0
			for _, row := range r.Rows {
				if row.New != nil && row.New.Status == Fail {
					fails++
				}
			}
			if len(r.Blockers) != fails {
				t.Errorf("%d blockers for %d failed cells", len(r.Blockers), fails)
			}
			checkRenderings(t, r)
		})
	}
}

func TestOldColumn(t *testing.T) {
	in := base()
	in.Old.DNSBL = listed(oldIP, "bl.example", "127.0.0.2")
	in.Old.SPF = spfRes(oldIP, mailauth.Fail)
	r := Build(in)
	if row := findRow(t, r, ItemListings, ""); row.Old.Status != Fail || row.New.Status != Pass {
		t.Errorf("listings row %+v %+v", row.Old, row.New)
	}
	if row := findRow(t, r, ItemSPF, "example.test"); row.Old.Status != Fail || !strings.Contains(row.Old.Fix, "not authorised either") {
		t.Errorf("spf old %+v", row.Old)
	}
	if len(r.Blockers) != 0 || r.ExitCode != 0 {
		t.Errorf("old-column failures are not blockers: %+v", r.Blockers)
	}
	if row := findRow(t, r, ItemHELO, ""); row.Old != nil || row.New.Status != Pass {
		t.Errorf("the HELO name after the move concerns the new address only: %+v %+v", row.Old, row.New)
	}
}

func TestRange(t *testing.T) {
	in := base()
	in.New = nil
	in.NewTarget, in.RangeSize = "198.51.100.0/30", 4
	p := netip.MustParsePrefix(in.NewTarget)
	for a := p.Addr(); p.Contains(a); a = a.Next() {
		s := Side{Addr: a, DNSBL: clean(a), RDNS: goodRDNS(a, "mail.example.test"), SPF: spfRes(a, mailauth.Pass)}
		switch a.As4()[3] {
		case 2:
			s.DNSBL = listed(a, "zen.spamhaus.org", "127.0.0.10")
		case 3:
			s.RDNS = &report.RDNS{IP: a.String(), PTR: []string{}}
			s.SPF = spfRes(a, mailauth.Fail)
		}
		in.New = append(in.New, s)
	}
	in.SMTPDomains = nil
	r := Build(in)
	a := r.Aggregate
	if a == nil || a.Addresses != 4 || a.Checked != 4 || a.Listed != 1 || a.PolicyListed != 1 || a.WithPTR != 3 || a.ForwardConfirmed != 3 || a.SPFAuthorised["example.test"] != 3 {
		t.Fatalf("aggregate %+v", a)
	}
	if strings.Join(a.BlockerAddresses, ",") != "198.51.100.2,198.51.100.3" {
		t.Errorf("blocker addresses %v", a.BlockerAddresses)
	}
	row := findRow(t, r, ItemListings, "")
	if row.New.Status != Fail || !strings.HasPrefix(row.New.Detail, "1 fail, 3 pass of 4 addresses; e.g. 198.51.100.2") {
		t.Errorf("listings %+v", row.New)
	}
	if r.ExitCode != 1 {
		t.Errorf("exit %d", r.ExitCode)
	}
	checkRenderings(t, r)
	var b bytes.Buffer
	WriteText(&b, r, false)
	if !strings.Contains(b.String(), "RANGE 198.51.100.0/30: 4 addresses, 4 checked: 1 listed (1 by policy), 3 with PTR") {
		t.Errorf("text:\n%s", b.String())
	}
}

func checkRenderings(t *testing.T, r *Report) {
	t.Helper()
	var j, tx, m bytes.Buffer
	if err := WriteJSON(&j, r); err != nil {
		t.Fatal(err)
	}
	if err := Validate(j.Bytes()); err != nil {
		t.Errorf("schema: %v\n%s", err, j.String())
	}
	if err := WriteText(&tx, r, true); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&m, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{tx.String(), m.String()} {
		if !strings.Contains(s, r.From) || !strings.Contains(strings.ToLower(s), r.Verdict) {
			t.Errorf("rendering lacks the addresses or verdict:\n%s", s)
		}
		for _, bl := range r.Blockers {
			if !strings.Contains(strings.ReplaceAll(s, `\`, ""), bl.Address) {
				t.Errorf("rendering lacks blocker %s", bl.Address)
			}
		}
	}
}

func TestTextStripsControl(t *testing.T) {
	in := base()
	in.New[0].SMTP = rejected(newIP)
	in.New[0].SMTP.Domains[0].MX[0].Addresses[0].Reply.Text = "blocked \x1b[2Jnow"
	var b bytes.Buffer
	WriteText(&b, Build(in), false)
	if strings.Contains(b.String(), "\x1b") {
		t.Errorf("control characters in text output: %q", b.String())
	}
}

// Every list of the JSON document is [] (the README's contract), also in the
// evidence: a clean DNSBL result, a zone's evidence and an SMTP probe that
// failed at connect carry nil slices in memory.
func TestEvidenceListsNeverNull(t *testing.T) {
	in := base()
	in.Zones = []dnsbl.ZoneHealth{{Zone: "zen.spamhaus.org", Type: dnsbl.TypeBlock, Health: dnsbl.HealthHealthy,
		Evidence: []dnsbl.Evidence{{Query: "2.0.0.127.zen.spamhaus.org", Expect: "listed"}}}}
	in.New[0].RDNS = &report.RDNS{IP: newIP.String()}
	p := &in.New[0].SMTP.Domains[0].MX[0].Addresses[0]
	p.Status, p.Class, p.Stage = smtpcheck.StatusError, smtpcheck.ClassConnectRefused, smtpcheck.StageConnect
	r := Build(in)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := Validate(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Evidence any `json:"evidence"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// Objects that may be null: a probe's tls and reply, an rDNS helo.
	objects := map[string]bool{"tls": true, "reply": true, "helo": true}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if x == nil && !objects[k] {
					t.Errorf("%s.%s is null", path, k)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("evidence", doc.Evidence)
	if in.New[0].DNSBL[0].Codes != nil {
		t.Error("marshalling wrote to the report")
	}
}

// A ready report has no empty DETAILS heading; -v lists every cell under it.
func TestTextDetailsHeading(t *testing.T) {
	r := Build(base())
	var quiet, verbose bytes.Buffer
	if err := WriteText(&quiet, r, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(quiet.String(), "DETAILS") {
		t.Errorf("empty DETAILS heading:\n%s", quiet.String())
	}
	if err := WriteText(&verbose, r, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(verbose.String(), "DETAILS\n  Listings, old: PASS") {
		t.Errorf("-v lacks the details:\n%s", verbose.String())
	}
}

// The addresses of an IPv6 range are looked up per /64: the /64's result
// is theirs (not "no blocklist result").
func TestIPv6RangeListingPer64(t *testing.T) {
	in := base()
	net := netip.MustParseAddr("2001:db8::")
	var news []Side
	for _, a := range []string{"2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8::3"} {
		addr := netip.MustParseAddr(a)
		sd := Side{Addr: addr, RDNS: goodRDNS(addr, "mail.example.test"), SPF: spfRes(addr, mailauth.Pass), SMTP: accepted(addr)}
		if addr == net {
			sd.DNSBL = listed(net, "bl.example", "127.0.0.2")
		}
		news = append(news, sd)
	}
	in.New, in.NewTarget, in.RangeSize = news, "2001:db8::/126", 4
	r := Build(in)
	row := findRow(t, r, ItemListings, "")
	if row.New.Status != Fail || !strings.Contains(row.New.Detail, "all 4 addresses fail") {
		t.Errorf("listings %+v: every address of the listed /64 is listed", row.New)
	}
	if r.Aggregate == nil || r.Aggregate.Listed != 4 {
		t.Errorf("aggregate %+v", r.Aggregate)
	}
}

// Blockers read as the table does ("SPF example.test", not "spf"), a
// blocker without a fix prints no empty "fix:", and one MX address is not
// "all 1 MX addresses".
func TestBlockerLines(t *testing.T) {
	in := base()
	in.New[0].SPF = spfRes(newIP, mailauth.Fail) // no suggestion: no fix
	in.New[0].RDNS = &report.RDNS{IP: newIP.String(), PTR: []string{}}
	r := Build(in)
	var tx, mdb bytes.Buffer
	if err := WriteText(&tx, r, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&mdb, r); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{tx.String(), mdb.String()} {
		if !strings.Contains(out, newIP.String()+" SPF example.test: fail") || !strings.Contains(out, newIP.String()+" PTR / FCrDNS: no PTR") {
			t.Errorf("blockers not named as the table names them:\n%s", out)
		}
		if regexp.MustCompile(`fix: *(\n|$)`).MatchString(out) {
			t.Errorf("empty fix:\n%s", out)
		}
	}
	if row := findRow(t, r, ItemSMTP, "dest.test"); row.Old.Detail != "the only MX address accepted the recipient at RCPT" {
		t.Errorf("SMTP old: %q", row.Old.Detail)
	}
}
