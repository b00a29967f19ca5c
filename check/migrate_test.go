package check

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/mailauth"
)

// Migrate gathers both sides: listings, rDNS, SPF and SMTP from the local
// addresses (the old one here is not local: its column says where SMTP
// really ran from).
func TestMigrate(t *testing.T) {
	w := newWorld(t)
	port := w.mx("example.test", "127.0.0.1", smtptest.Config{})
	w.ptr("127.0.0.10", "mail.probe.test")
	w.dns.AddZone(t, "sender.test. 60 IN TXT \"v=spf1 ip4:192.0.2.7 -all\"\n_dmarc.sender.test. 60 IN TXT \"v=DMARC1; p=reject\"\n")
	o := w.options(port, "example.test")
	o.IsLocal = func(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 127 }
	newT, _ := dnsbl.ParseTarget("127.0.0.10")
	m := Move{Old: netip.MustParseAddr("192.0.2.7"), New: newT, Prefix: netip.MustParsePrefix("127.0.0.10/32"), Senders: []string{"sender.test"}, HELO: "mail.probe.test"}
	in, err := Migrate(context.Background(), o, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.New) != 1 || in.New[0].Addr != netip.MustParseAddr("127.0.0.10") || len(in.Old.DNSBL) != 2 || len(in.New[0].DNSBL) != 2 {
		t.Fatalf("sides %+v / %+v", in.Old, in.New)
	}
	nw := in.New[0]
	if nw.RDNS == nil || !nw.RDNS.ForwardConfirmed || len(nw.SPF) != 1 || nw.SPF[0].Result != mailauth.Fail {
		t.Errorf("new side rdns %+v spf %+v", nw.RDNS, nw.SPF)
	}
	if in.Old.SPF[0].Result != mailauth.Pass || len(in.DMARC) != 1 || len(in.Suggestions) != 1 || in.Suggestions[0] == nil {
		t.Errorf("old SPF %+v, DMARC %+v, suggestions %+v", in.Old.SPF, in.DMARC, in.Suggestions)
	}
	if nw.SMTP == nil || nw.SMTP.Domains[0].MX[0].Addresses[0].SourceIP != "127.0.0.10" {
		t.Errorf("SMTP from the new, local address: %+v", nw.SMTP)
	}
	if in.Old.SMTP == nil || in.Old.SMTPNote == "" {
		t.Errorf("old side SMTP %+v note %q: want a run from this machine's address, said so", in.Old.SMTP, in.Old.SMTPNote)
	}

	// Zones that apply to neither address are bad input.
	o.Zones = dnsbl.Select(dnsbl.Builtin(), []string{"dbl.spamhaus.org"})
	var ie *InputError
	if _, err := Migrate(context.Background(), o, m); !errors.As(err, &ie) {
		t.Errorf("no zone applies: %v, want an InputError", err)
	}
}
