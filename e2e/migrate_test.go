package e2e

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/migrate"
)

// forwardTo answers a query by asking the DNS server at addr (here the lab's
// rbldnsd), so one resolver address serves the test domains from the
// in-process server and the DNSBL zone from rbldnsd.
func forwardTo(t *testing.T, addr string) dnstest.Behavior {
	c := &dns.Client{Timeout: 2 * time.Second}
	return func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		in, _, err := c.Exchange(req, addr)
		if err != nil {
			t.Logf("forwarding %s to %s: %v", req.Question[0].Name, addr, err)
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeServerFailure)
			return m
		}
		return in
	}
}

// TestPostfixMigrate runs `blprobe migrate` from a clean old address to a
// new address that the lab's rbldnsd lists: the new column must show the
// listing and the real Postfix's RCPT rejection, the old column must pass,
// and the verdict is "blocked" (exit 1).
func TestPostfixMigrate(t *testing.T) {
	requireLab(t)
	bin := blprobeBin(t)
	dnsSrv := dnstest.StartOn(t, "127.0.0.1", `
example.test. 300 IN MX 10 mx.example.test.
mx.example.test. 300 IN A `+mtaAddr+`
sender.test. 300 IN TXT "v=spf1 ip4:`+cleanIP+` ip4:`+listedIP+` -all"
_dmarc.sender.test. 300 IN TXT "v=DMARC1; p=reject"
`)
	dnsSrv.Handle(zone, forwardTo(t, rbldnsdAddr))

	out, code := run(t, bin, "migrate", "--resolver", dnsSrv.Addr, "--zone", zone, "--port", "25",
		"--from", cleanIP, "--domain", "sender.test", "--to", domain,
		"--helo", helo, "--mail-from", from, "--format", "json",
		"--connect-timeout", "5s", "--command-timeout", "10s", listedIP)
	if code != 1 {
		t.Errorf("exit code = %d, want 1 (blocked)\n%s", code, head(out, 8000))
	}
	if err := migrate.Validate(out); err != nil {
		t.Fatalf("migrate report does not validate: %v\n%s", err, head(out, 8000))
	}
	var r migrate.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.Verdict != migrate.VerdictBlocked {
		t.Errorf("verdict = %q, want %q", r.Verdict, migrate.VerdictBlocked)
	}
	row := func(item, subject string) migrate.Row {
		t.Helper()
		for _, x := range r.Rows {
			if x.Item == item && (subject == "" || x.Subject == subject) {
				return x
			}
		}
		t.Fatalf("no %s row for %q in %+v", item, subject, r.Rows)
		return migrate.Row{}
	}
	cell := func(c *migrate.Cell) string {
		if c == nil {
			return "<nil>"
		}
		return string(c.Status) + ": " + c.Detail
	}
	listings := row(migrate.ItemListings, "")
	if listings.Old == nil || listings.Old.Status != migrate.Pass {
		t.Errorf("old listings cell = %s, want pass", cell(listings.Old))
	}
	if listings.New == nil || listings.New.Status != migrate.Fail || !strings.Contains(listings.New.Detail, zone) {
		t.Errorf("new listings cell = %s, want fail naming %s", cell(listings.New), zone)
	}
	smtp := row(migrate.ItemSMTP, domain)
	if smtp.Old == nil || smtp.Old.Status != migrate.Pass {
		t.Errorf("old smtp cell = %s, want pass (Postfix accepts %s)", cell(smtp.Old), cleanIP)
	}
	if smtp.New == nil || smtp.New.Status != migrate.Fail || !strings.Contains(smtp.New.Detail, "554") {
		t.Errorf("new smtp cell = %s, want fail with Postfix's 554", cell(smtp.New))
	}
	spf := row(migrate.ItemSPF, "sender.test")
	if spf.Old == nil || spf.Old.Status != migrate.Pass || spf.New == nil || spf.New.Status != migrate.Pass {
		t.Errorf("spf cells = %s / %s, want pass / pass", cell(spf.Old), cell(spf.New))
	}
}
