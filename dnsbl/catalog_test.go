package dnsbl

import (
	"strings"
	"testing"
)

func TestBuiltinCatalogue(t *testing.T) {
	zs := Builtin()
	if len(zs) == 0 {
		t.Fatal("empty catalogue")
	}
	byZone := map[string]Zone{}
	for _, z := range zs {
		byZone[z.Zone] = z
	}
	// Dead or dangerous lists (FACTS §3) must never be shipped.
	for _, z := range zs {
		for _, dead := range []string{"sorbs.net", "ahbl.org", "njabl.org", "spamcannibal.org", "cyberlogic.net", "drand.net"} {
			if strings.HasSuffix(z.Zone, dead) {
				t.Errorf("dead list %s in catalogue", z.Zone)
			}
		}
		if z.DelistURL == "" {
			t.Errorf("%s: no delist URL", z.Zone)
		}
		if z.NeedsKey && z.Default {
			t.Errorf("%s needs a key but is default", z.Zone)
		}
	}
	zen := byZone["zen.spamhaus.org"]
	if !zen.Default || zen.DQS != "zen.dq.spamhaus.net" || zen.Codes["127.0.0.10"] == "" || zen.Codes["127.0.0.11"] == "" {
		t.Errorf("zen entry incomplete: %+v", zen)
	}
	for _, k := range []string{"127.255.255.252", "127.255.255.254", "127.255.255.255", "127.255.255.0/24"} {
		if zen.ErrorCodes[k] == "" {
			t.Errorf("zen lacks error code %s", k)
		}
	}
	if d := byZone["dbl.spamhaus.org"]; d.Kind != KindDomain || d.ErrorCodes["127.0.1.255"] == "" {
		t.Errorf("dbl entry wrong: %+v", d)
	}
	if w := byZone["list.dnswl.org"]; w.Type != TypeAllow || w.ErrorCodes["127.0.0.255"] == "" || !w.Default {
		t.Errorf("dnswl entry wrong: %+v", w)
	}
	for _, optIn := range []string{"dnsbl-2.uceprotect.net", "dnsbl-3.uceprotect.net", "bl.0spam.org", "rep.mailspike.net", "wl.mailspike.net", "combined.mail.abusix.zone", "zrd.dq.spamhaus.net"} {
		z, ok := byZone[optIn]
		if !ok || z.Default {
			t.Errorf("%s: want an opt-in entry, got %+v (present %v)", optIn, z, ok)
		}
	}
	// Builtin returns a copy.
	zs[0].Codes["127.9.9.9"] = "x"
	zs[0].Zone = "changed"
	if again := Builtin(); again[0].Zone == "changed" || again[0].Codes["127.9.9.9"] != "" {
		t.Error("Builtin does not return a copy")
	}
}

func TestLoadCatalogErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not json", `{`, "JSON array"},
		{"bad zone", `[{"zone":"bad zone","kind":"ip4","type":"block"}]`, `entry 1 ("bad zone")`},
		{"ip zone", `[{"zone":"127.0.0.1","kind":"ip4","type":"block"}]`, "IP address"},
		{"bad kind", `[{"zone":"a.example","kind":"ip5","type":"block"}]`, "want one of ip4, ip6, ip4+ip6, domain"},
		{"bad type", `[{"zone":"a.example","kind":"ip4","type":"deny"}]`, "want one of block, allow, info"},
		{"bad code", `[{"zone":"a.example","kind":"ip4","type":"block","codes":{"x":"y"}}]`, `code "x": want an IPv4 address`},
		{"v6 code", `[{"zone":"a.example","kind":"ip4","type":"block","error_codes":{"::1":"y"}}]`, `code "::1"`},
		{"bad url", `[{"zone":"a.example","kind":"ip4","type":"block","delist_url":"ftp://x"}]`, "http or https"},
		{"dup", `[{"zone":"a.example","kind":"ip4","type":"block"},{"zone":"A.example.","kind":"ip4","type":"block"}]`, "duplicate of entry 1"},
		{"unknown field", `[{"zone":"a.example","kind":"ip4","type":"block","codez":{}}]`, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadCatalog(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
	zs, err := LoadCatalog(strings.NewReader(`[{"zone":"BL.Example.","kind":"ip4","type":"block","codes":{"127.0.0.0/24":"x"}}]`))
	if err != nil || len(zs) != 1 || zs[0].Zone != "bl.example" || zs[0].Name != "bl.example" {
		t.Fatalf("got %+v, %v", zs, err)
	}
}

func TestSelect(t *testing.T) {
	cat := Builtin()
	def := Select(cat, nil)
	nDefault := 0
	for _, z := range cat {
		if z.Default {
			nDefault++
		}
	}
	if len(def) != nDefault || nDefault == 0 {
		t.Fatalf("default selection: %d zones, want %d", len(def), nDefault)
	}
	got := Select(cat, []string{"ZEN.spamhaus.org.", "bl.example.net", "zen.spamhaus.org"})
	if len(got) != 2 {
		t.Fatalf("got %d zones, want 2 (duplicates dropped)", len(got))
	}
	if got[0].Name != "Spamhaus ZEN" || got[0].Codes["127.0.0.2"] == "" {
		t.Errorf("catalogue entry not used: %+v", got[0])
	}
	want := Zone{Zone: "bl.example.net", Name: "bl.example.net", Kind: KindIP46, Type: TypeBlock}
	if g := got[1]; g.Zone != want.Zone || g.Kind != want.Kind || g.Type != want.Type || g.Default || len(g.Codes) != 0 {
		t.Errorf("generic zone = %+v", g)
	}
}
