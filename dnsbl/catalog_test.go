package dnsbl

import (
	"strings"
	"testing"
	"time"
)

// TestBuiltinCatalogue is the catalogue contract: every zone has codes, a
// delisting URL or a stated reason for none, a source and a verification
// date; no two zones share a name; every default zone answers IPv4 and says
// (with a source) whether it answers IPv6; dead lists are kept for the
// record but can never be selected.
func TestBuiltinCatalogue(t *testing.T) {
	zs := Builtin()
	if len(zs) == 0 {
		t.Fatal("empty catalogue")
	}
	byZone := map[string]Zone{}
	for _, z := range zs {
		if _, dup := byZone[z.Zone]; dup {
			t.Errorf("%s: two entries", z.Zone)
		}
		byZone[z.Zone] = z
		if len(z.Codes) == 0 {
			t.Errorf("%s: no return codes", z.Zone)
		}
		if z.DelistURL == "" && z.NoDelistReason == "" {
			t.Errorf("%s: neither a delist URL nor a reason for none", z.Zone)
		}
		if len(z.Sources) == 0 {
			t.Errorf("%s: no source", z.Zone)
		}
		if _, err := time.Parse(time.DateOnly, z.Verified); err != nil {
			t.Errorf("%s: verification date %q: %v", z.Zone, z.Verified, err)
		}
		if z.Group == "" {
			t.Errorf("%s: no group", z.Zone)
		}
		if z.Group == GroupDead {
			if z.DeadSince == "" || z.Default {
				t.Errorf("%s: dead zone without a date or in the default set", z.Zone)
			}
			continue
		}
		if z.Terms == "" || z.CommercialUse == "" {
			t.Errorf("%s: usage terms missing (terms %q, commercial_use %q)", z.Zone, z.Terms, z.CommercialUse)
		}
		if z.Kind != KindDomain && (z.IPv6Source == "" || len(z.TestEntries) == 0) {
			t.Errorf("%s: IP zone without an IPv6 source or test entries", z.Zone)
		}
		if z.NeedsKey && z.Group != GroupAll {
			t.Errorf("%s needs a key but is in group %s", z.Zone, z.Group)
		}
	}
	for _, z := range zs {
		if !z.Default {
			continue
		}
		if z.Group != GroupDefault {
			t.Errorf("%s: default but group %s", z.Zone, z.Group)
		}
		if z.Kind != KindDomain && z.Kind != KindIP4 && z.Kind != KindIP46 {
			t.Errorf("%s: default IP zone does not answer IPv4 (kind %s)", z.Zone, z.Kind)
		}
	}

	// Spamhaus answers RFC 5782 IPv6 queries on its IP zones (statement S012).
	zen := byZone["zen.spamhaus.org"]
	if !zen.Default || zen.Kind != KindIP46 || zen.DQS != "zen.dq.spamhaus.net" || zen.Codes["127.0.0.10"] == "" || zen.Codes["127.0.0.30"] == "" || zen.DailyLimit != 300000 || zen.CommercialUse != CommercialPaid {
		t.Errorf("zen entry incomplete: %+v", zen)
	}
	if !strings.Contains(zen.IPv6Source, "spamhaus.org") {
		t.Errorf("zen IPv6 source = %q, want the Spamhaus statement", zen.IPv6Source)
	}
	for _, k := range []string{"127.255.255.252", "127.255.255.254", "127.255.255.255", "127.255.255.0/24"} {
		if zen.ErrorCodes[k] == "" {
			t.Errorf("zen lacks error code %s", k)
		}
	}
	if strings.Join(zen.RefusedCodes, ",") != "127.255.255.254,127.255.255.255" {
		t.Errorf("zen refused codes = %v", zen.RefusedCodes)
	}
	if d := byZone["dbl.spamhaus.org"]; d.Kind != KindDomain || d.ErrorCodes["127.0.1.255"] == "" || d.TestName != "dbltest.com" {
		t.Errorf("dbl entry wrong: %+v", d)
	}
	if w := byZone["list.dnswl.org"]; w.Type != TypeAllow || w.ErrorCodes["127.0.0.255"] == "" || !w.Default {
		t.Errorf("dnswl entry wrong: %+v", w)
	}
	if u := byZone["multi.uribl.com"]; u.ErrorCodes["127.0.0.1"] == "" || len(u.RefusedCodes) != 1 {
		t.Errorf("uribl: 127.0.0.1 (query refused) must be an error and a refusal: %+v", u)
	}
	for _, optIn := range []string{"dnsbl-2.uceprotect.net", "dnsbl-3.uceprotect.net", "bl.0spam.org", "combined.mail.abusix.zone", "zrd.dq.spamhaus.net", "authbl.dq.spamhaus.net"} {
		if z, ok := byZone[optIn]; !ok || z.Group != GroupAll {
			t.Errorf("%s: want an opt-in (group all) entry, got %+v (present %v)", optIn, z, ok)
		}
	}

	// Groups nest and have the sizes the issue asks for.
	def, _ := Resolve(zs, nil)
	ext, _ := Resolve(zs, []string{"extended"})
	all, _ := Resolve(zs, []string{"all"})
	if len(def) < 10 || len(ext) < 30 || len(all) <= len(ext) {
		t.Errorf("group sizes: default %d, extended %d, all %d; want >= 10, >= 30, > extended", len(def), len(ext), len(all))
	}
	for _, z := range ext {
		if z.NeedsKey || z.Group == GroupDead {
			t.Errorf("extended has %s (needs key %v, group %s)", z.Zone, z.NeedsKey, z.Group)
		}
	}

	// Dead lists: SORBS with its source, never selectable.
	sorbs := byZone["dnsbl.sorbs.net"]
	if sorbs.Group != GroupDead || !strings.HasPrefix(sorbs.DeadSince, "2024") || len(sorbs.Sources) == 0 {
		t.Errorf("sorbs: want a dead entry since 2024 with a source, got %+v", sorbs)
	}
	for _, sel := range [][]string{nil, {"extended"}, {"all"}} {
		got, _ := Resolve(zs, sel)
		for _, z := range got {
			if z.Group == GroupDead {
				t.Errorf("selection %v contains dead zone %s", sel, z.Zone)
			}
		}
	}
	for _, name := range []string{"dnsbl.sorbs.net", "spam.dnsbl.sorbs.net", "ix.dnsbl.manitu.net"} {
		if _, err := Resolve(zs, []string{name}); err == nil || !strings.Contains(err.Error(), "dead") {
			t.Errorf("Resolve(%s) = %v, want a dead-zone error", name, err)
		}
	}
	// Lists known dead or dangerous before 2024 are not in the catalogue at all.
	for _, z := range zs {
		for _, dead := range []string{"ahbl.org", "njabl.org", "spamcannibal.org", "cyberlogic.net", "drand.net"} {
			if strings.HasSuffix(z.Zone, dead) {
				t.Errorf("dead list %s in catalogue", z.Zone)
			}
		}
	}

	// Builtin returns a copy.
	zs[0].Codes["127.9.9.9"] = "x"
	zs[0].Zone = "changed"
	zs[0].Sources[0] = "changed"
	if again := Builtin(); again[0].Zone == "changed" || again[0].Codes["127.9.9.9"] != "" || again[0].Sources[0] == "changed" {
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
		{"bad group", `[{"zone":"a.example","kind":"ip4","type":"block","group":"best"}]`, "want one of default, extended, all, dead"},
		{"default not in default group", `[{"zone":"a.example","kind":"ip4","type":"block","group":"all","default":true}]`, "a default zone is in group default"},
		{"keyed default", `[{"zone":"a.example","kind":"ip4","type":"block","group":"default","needs_key":true}]`, "needs a key"},
		{"bad commercial", `[{"zone":"a.example","kind":"ip4","type":"block","commercial_use":"maybe"}]`, "want one of free, paid, unstated"},
		{"bad date", `[{"zone":"a.example","kind":"ip4","type":"block","verified":"29/11/2026"}]`, "want a date"},
		{"bad source", `[{"zone":"a.example","kind":"ip4","type":"block","sources":["ftp://x"]}]`, "http or https"},
		{"bad refused", `[{"zone":"a.example","kind":"ip4","type":"block","refused_codes":["x"]}]`, "refused_codes"},
		{"negative limit", `[{"zone":"a.example","kind":"ip4","type":"block","daily_limit":-1}]`, "daily_limit"},
		{"dup", `[{"zone":"a.example","kind":"ip4","type":"block"},{"zone":"A.example.","kind":"ip4","type":"block"}]`, "duplicate of entry 1"},
		{"unknown field", `[{"zone":"a.example","kind":"ip4","type":"block","codez":{}}]`, "unknown field"},
		{"object, not array", `{"zone":"a.example"}`, "the document is a JSON object there"},
		{"field of wrong type", `[{"zone":"a.example","kind":"ip4","type":"block","daily_limit":"many"}]`, "daily_limit is a JSON string there"},
		{"code outside 127/8", `[{"zone":"a.example","kind":"ip4","type":"block","codes":{"8.8.8.8":"x"}}]`, "inside 127.0.0.0/8"},
		{"code range wider than 127/8", `[{"zone":"a.example","kind":"ip4","type":"block","codes":{"0.0.0.0/0":"x"}}]`, "inside 127.0.0.0/8"},
		{"refused code is a listing", `[{"zone":"a.example","kind":"ip4","type":"block","codes":{"127.0.0.2":"x"},"refused_codes":["127.0.0.2"]}]`, "both a listing and a refusal"},
		{"negative test entry", `[{"zone":"a.example","kind":"ip4","type":"block","test_entries":["127.0.0.1"]}]`, "negative test entry"},
		{"mapped negative test entry", `[{"zone":"a.example","kind":"ip4+ip6","type":"block","test_entries":["::ffff:7f00:1"]}]`, "negative test entry"},
		{"v6 test entry of a v4 zone", `[{"zone":"a.example","kind":"ip4","type":"block","test_entries":["::ffff:7f00:2"]}]`, "zone's kind is ip4"},
		{"junk test entry", `[{"zone":"a.example","kind":"ip4","type":"block","test_entries":["banana"]}]`, "want an address"},
		{"invalid as a domain test entry", `[{"zone":"a.example","kind":"domain","type":"block","test_entries":["invalid"]}]`, "want a listed test name"},
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

func TestResolve(t *testing.T) {
	cat := Builtin()
	tests := []struct {
		name  string
		specs []string
		want  []string // first zones, in order
		n     int      // total, or -1 to skip
	}{
		{"comma list and dedup", []string{"zen.spamhaus.org, ZEN.spamhaus.org.", "bl.example.net"}, []string{"zen.spamhaus.org", "bl.example.net"}, 2},
		{"group then zone", []string{"default,multi.uribl.com"}, []string{"zen.spamhaus.org"}, -1},
		{"empty parts ignored", []string{" , "}, []string{"zen.spamhaus.org"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(cat, tt.specs)
			if err != nil {
				t.Fatal(err)
			}
			if tt.n >= 0 && len(got) != tt.n {
				t.Fatalf("got %d zones, want %d", len(got), tt.n)
			}
			for i, w := range tt.want {
				if got[i].Zone != w {
					t.Errorf("zone %d = %s, want %s", i, got[i].Zone, w)
				}
			}
		})
	}
	// A mistyped group or a name that is no DNS zone is refused, never
	// queried with the generic rules.
	for _, bad := range []string{"extendd", "nope", "default,Extnded", "bad zone", "a..example", "zen.spamhaus.org,192.0.2.1"} {
		if zs, err := Resolve(cat, []string{bad}); err == nil {
			t.Errorf("Resolve(%q) = %d zones, want an error", bad, len(zs))
		} else if !strings.Contains(err.Error(), "want default, extended, all or a DNS zone") {
			t.Errorf("Resolve(%q) error %q does not say what is accepted", bad, err)
		}
	}
	def, _ := Resolve(cat, nil)
	mixed, _ := Resolve(cat, []string{"default,multi.uribl.com"})
	if len(mixed) != len(def)+1 || mixed[len(mixed)-1].Zone != "multi.uribl.com" {
		t.Errorf("default,multi.uribl.com gave %d zones, want %d ending with multi.uribl.com", len(mixed), len(def)+1)
	}
	g, _ := Resolve(cat, []string{"bl.example.net"})
	if g[0].Kind != KindIP46 || g[0].Type != TypeBlock || g[0].ErrorCodes["127.255.255.0/24"] == "" {
		t.Errorf("generic zone = %+v", g[0])
	}

	// A catalogue written before groups existed still works: default true
	// means group default, false means group all.
	old, err := LoadCatalog(strings.NewReader(`[{"zone":"a.example","kind":"ip4","type":"block","default":true},{"zone":"b.example","kind":"ip4","type":"block"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if old[0].Group != GroupDefault || old[1].Group != GroupAll {
		t.Errorf("legacy groups = %s, %s", old[0].Group, old[1].Group)
	}
	if d, _ := Resolve(old, nil); len(d) != 1 || d[0].Zone != "a.example" {
		t.Errorf("legacy default selection = %+v", d)
	}
	if e, _ := Resolve(old, []string{"extended"}); len(e) != 1 {
		t.Errorf("legacy extended selection = %d zones, want 1", len(e))
	}
}

// FuzzLoadCatalog: any input is either refused with an error or yields
// zones that pass validation and select without panicking.
func FuzzLoadCatalog(f *testing.F) {
	f.Add(string(catalogJSON))
	f.Add(`[{"zone":"a.example","kind":"ip4","type":"block","group":"dead","dead_since":"2024-06-05"}]`)
	f.Add(`[{"zone":"a.example","kind":"ip4+ip6","type":"allow","codes":{"127.0.0.0/8":"x"},"refused_codes":["127.0.0.255"]}]`)
	f.Fuzz(func(t *testing.T, in string) {
		zs, err := LoadCatalog(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, z := range zs {
			if err := validateZone(z); err != nil {
				t.Fatalf("loaded zone fails validation: %v", err)
			}
		}
		for _, g := range Groups {
			Resolve(zs, []string{string(g)})
		}
	})
}
