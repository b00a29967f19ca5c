package migrate

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/mailauth"
)

// TestSPFRule: a domain without SPF gives "none" before and after the move,
// so the move does not change SPF's outcome (a warning with the record to
// publish); an SPF record that authorises the old address and not the new one
// blocks the move, and so does a sender domain that does not exist.
func TestSPFRule(t *testing.T) {
	srv := dnstest.Start(t, "nospf.test. 60 IN TXT \"google-site-verification=x\"\nnospf.test. 60 IN MX 10 mx.nospf.test.\n")
	c, err := dnsclient.New([]string{srv.Addr}, time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	live := func(domain string) func(*Inputs) {
		return func(in *Inputs) {
			in.Domains = []string{domain}
			in.DMARC = []mailauth.DMARC{{Domain: domain, Query: "_dmarc." + domain, Problems: []string{}}}
			in.Old.SPF = []mailauth.SPF{mailauth.CheckSPF(ctx, c, domain, oldIP)}
			in.New[0].SPF = []mailauth.SPF{mailauth.CheckSPF(ctx, c, domain, newIP)}
			in.Suggestions = []*mailauth.Suggestion{mailauth.Suggest(ctx, c, in.New[0].SPF[0], netip.PrefixFrom(newIP, newIP.BitLen()), oldIP)}
		}
	}
	tests := []struct {
		name    string
		mod     func(*Inputs)
		subject string
		verdict string
		old     Status
		new     Status
		want    []string // substrings of the new cell's detail and fix
	}{
		{"no SPF record, before and after", live("nospf.test"), "nospf.test", VerdictReady, Warn, Warn,
			[]string{"none for 198.51.100.7", "publishes no SPF record", "publish an SPF record at nospf.test authorising 198.51.100.7 (and 192.0.2.1 during the move)", `"v=spf1 ip4:192.0.2.1 ip4:198.51.100.7 ~all"`}},
		{"sender domain does not exist", live("typo.test"), "typo.test", VerdictBlocked, Fail, Fail,
			[]string{"typo.test does not exist (NXDOMAIN)"}},
		{"SPF authorises old, not new", func(in *Inputs) {
			in.New[0].SPF = spfRes(newIP, mailauth.Fail)
			in.DMARC[0].Policy, in.DMARC[0].Record = "", ""
		}, "example.test", VerdictBlocked, Pass, Fail, []string{"fail for 198.51.100.7"}},
		{"SPF none new, old not checked", func(in *Inputs) {
			in.Old.SPF = nil
			in.New[0].SPF = spfRes(newIP, mailauth.None)
			in.DMARC[0].Policy, in.DMARC[0].Record = "", ""
		}, "example.test", VerdictBlocked, NotChecked, Fail, []string{"none for 198.51.100.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.mod(&in)
			r := Build(in)
			row := findRow(t, r, ItemSPF, tt.subject)
			if r.Verdict != tt.verdict || row.Old.Status != tt.old || row.New.Status != tt.new {
				t.Errorf("verdict %s, SPF old %+v new %+v; want %s, %s, %s", r.Verdict, row.Old, row.New, tt.verdict, tt.old, tt.new)
			}
			got := row.New.Detail + " fix: " + row.New.Fix
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("new cell %q lacks %q", got, w)
				}
			}
			for _, b := range r.Blockers {
				if b.Item == ItemSPF && tt.new != Fail {
					t.Errorf("SPF blocker %+v", b)
				}
			}
			checkRenderings(t, r)
		})
	}
}
