package zonefile

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample4 = `# comment
; comment
$SOA 0 ns.example. hostmaster.example. 0 600 300 86400 300
$1 See http://bl.example/lookup
:127.0.0.2:Listed: $1?ip=$
10.0.0.1
10.0.1 :3:Net $ in block
10.0.2.0/25 :127.0.0.4:
10.0.3.0-10.0.3.9 :5
10.0.4.10-20 custom text for $ costs $$5
10.1/16
!10.1.2.3
10.1.2.0/24 :6:inner
10.2.0.7 ; just a comment
`

func TestLookup4(t *testing.T) {
	d, err := Parse(strings.NewReader(sample4), "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Format() != IP4Set {
		t.Fatalf("format %s", d.Format())
	}
	for _, tc := range []struct {
		ip, a, txt string
		hasTXT     bool
	}{
		{"10.0.0.1", "127.0.0.2", "Listed: See http://bl.example/lookup?ip=10.0.0.1", true},
		{"10.0.0.2", "", "", false},
		{"10.0.1.200", "127.0.0.3", "Net 10.0.1.200 in block", true},
		{"10.0.2.127", "127.0.0.4", "", false},
		{"10.0.2.128", "", "", false},
		{"10.0.3.9", "127.0.0.5", "Listed: See http://bl.example/lookup?ip=10.0.3.9", true},
		{"10.0.3.10", "", "", false},
		{"10.0.4.9", "", "", false},
		{"10.0.4.15", "127.0.0.2", "custom text for 10.0.4.15 costs $5", true},
		{"10.0.4.21", "", "", false},
		{"10.1.200.1", "127.0.0.2", "Listed: See http://bl.example/lookup?ip=10.1.200.1", true},
		{"10.1.2.3", "", "", false},
		{"10.1.2.4", "127.0.0.6", "inner", true},
		{"10.2.0.7", "127.0.0.2", "Listed: See http://bl.example/lookup?ip=10.2.0.7", true},
	} {
		ans, ok := d.Lookup(netip.MustParseAddr(tc.ip))
		if ok != (tc.a != "") {
			t.Errorf("%s: listed %v, want %v", tc.ip, ok, tc.a != "")
			continue
		}
		if ok && (ans.A.String() != tc.a || ans.TXT != tc.txt || ans.HasTXT != tc.hasTXT) {
			t.Errorf("%s: %+v, want %s %q %v", tc.ip, ans, tc.a, tc.txt, tc.hasTXT)
		}
	}
}

func TestRanges(t *testing.T) {
	for _, tc := range []struct{ spec, lo, hi string }{
		{"127.0.0.0/24", "127.0.0.0", "127.0.0.255"},
		{"127.0.0", "127.0.0.0", "127.0.0.255"},
		{"127/24", "127.0.0.0", "127.0.0.255"},
		{"127-127.0.0", "127.0.0.0", "127.0.0.255"},
		{"127.0.0.1-255", "127.0.0.1", "127.0.0.255"},
		{"127.16.0.0-127.31.255.255", "127.16.0.0", "127.31.255.255"},
		{"127.16-127.31", "127.16.0.0", "127.31.255.255"},
		{"127.16-31", "127.16.0.0", "127.31.255.255"},
		{"127.16.0-31", "127.16.0.0", "127.16.31.255"},
		{"127.16/12", "127.16.0.0", "127.31.255.255"},
	} {
		lo, hi, err := parse4(tc.spec)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if u2s(lo) != tc.lo || u2s(hi) != tc.hi {
			t.Errorf("%s: %s-%s, want %s-%s", tc.spec, u2s(lo), u2s(hi), tc.lo, tc.hi)
		}
	}
	for _, bad := range []string{"1.2.3.4.5", "256.1", "1.2.3.4/33", "1.2.3.9-1.2.3.1", "a.b", "1..2", "1.2/+8"} {
		if _, _, err := parse4(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func u2s(u uint32) string {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}).String()
}

func TestLookup6(t *testing.T) {
	const data = `:127.0.1.2: Listed, see http://example.com/lookup?$
2001:21ab:c000/36
2001:21ab:def7:4242 :127.0.1.3: This one smells funny
2605:6001:42::/52
::1
!2605:6001:42::bead
`
	d, err := Parse(strings.NewReader(data), IP6Trie)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ip, a, txt string }{
		{"2001:21ab:c000::1", "127.0.1.2", " Listed, see http://example.com/lookup?2001:21ab:c000::1"},
		{"2001:21ab:d000::", "", ""},
		{"2001:21ab:def7:4242::5", "127.0.1.3", " This one smells funny"},
		{"2605:6001:42:fff::1", "127.0.1.2", " Listed, see http://example.com/lookup?2605:6001:42:fff::1"},
		{"2605:6001:42::bead", "", ""},
		{"::1", "127.0.1.2", " Listed, see http://example.com/lookup?::1"},
	} {
		ans, ok := d.Lookup(netip.MustParseAddr(tc.ip))
		if ok != (tc.a != "") || ok && (ans.A.String() != tc.a || ans.TXT != tc.txt) {
			t.Errorf("%s: %v %+v, want %s %q", tc.ip, ok, ans, tc.a, tc.txt)
		}
	}
	ts, err := Parse(strings.NewReader("2001:20fe:23:41ed\n!2001:20fe:23:41ed::2\n"), IP6TSet)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ts.Lookup(netip.MustParseAddr("2001:20fe:23:41ed::1")); !ok {
		t.Error("ip6tset: /64 not listed")
	}
	if _, ok := ts.Lookup(netip.MustParseAddr("2001:20fe:23:41ed::2")); ok {
		t.Error("ip6tset: exclusion listed")
	}
	if _, err := Parse(strings.NewReader("2001:20fe::/48\n"), IP6TSet); err == nil {
		t.Error("ip6tset accepted a /48")
	}
}

func TestLookupName(t *testing.T) {
	const data = `$= See http://bl.example/?$= ($) for details
:127.0.1.2:
example.com r1
*.wild.example
.both.example :127.0.1.4:=Own text about $
!ok.wild.example
`
	d, err := Parse(strings.NewReader(data), DNSet)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, a, txt string }{
		{"example.com", "127.0.1.2", "See http://bl.example/?r1 (example.com) for details"},
		{"sub.example.com", "", ""},
		{"wild.example", "", ""},
		{"a.b.wild.example", "127.0.1.2", "See http://bl.example/?wild.example (wild.example) for details"}, // the base applies to every listing
		{"ok.wild.example", "", ""},
		{"both.example", "127.0.1.4", "Own text about both.example"},
		{"x.Both.Example.", "127.0.1.4", "Own text about both.example"},
	} {
		ans, ok := d.LookupName(tc.name)
		if ok != (tc.a != "") || ok && (ans.A.String() != tc.a || ans.TXT != tc.txt) {
			t.Errorf("%s: %v %+v, want %s %q", tc.name, ok, ans, tc.a, tc.txt)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		data string
		f    Format
		want string
	}{
		{"10.0.0.1 :300:x\n", IP4Set, "line 1"},
		{"ok\nbad!name\n", DNSet, "line 2"},
		{"10.0.0.0/24\n", IP4TSet, "range"},
		{"$BOGUS x\n", IP4Set, "unknown special entry"},
		{"1.2.3.4\n", "ip5set", "dataset type"},
		{"zz::1::2\n", IP6Trie, "IPv6"},
	} {
		_, err := Parse(strings.NewReader(tc.data), tc.f)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.data, err, tc.want)
		}
	}
}

// FuzzParse checks that no input makes Parse or a lookup panic, and that a
// parsed file answers consistently.
func FuzzParse(f *testing.F) {
	f.Add(sample4, "")
	f.Add("2001:db8::/32 :3:x $\n!2001:db8::1\n", "ip6trie")
	f.Add(".example.com\n!a.example.com\n", "dnset")
	f.Add("$1 a\n$= b $= $1\n1.2.3-4 =c\n", "ip4set")
	f.Fuzz(func(t *testing.T, data, format string) {
		d, err := Parse(strings.NewReader(data), Format(format))
		if err != nil {
			return
		}
		for _, a := range []string{"1.2.3.4", "10.0.0.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::"} {
			x, ok1 := d.Lookup(netip.MustParseAddr(a))
			y, ok2 := d.Lookup(netip.MustParseAddr(a))
			if ok1 != ok2 || x != y {
				t.Fatalf("%s: inconsistent answers", a)
			}
		}
		d.LookupName("a.example.com")
	})
}

func TestLoadGzip(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(sample4))
	zw.Close()
	for name, data := range map[string][]byte{"plain.txt": []byte(sample4), "packed.gz": buf.Bytes()} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := Load(p, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ans, ok := d.Lookup(netip.MustParseAddr("10.0.0.1")); !ok || ans.A.String() != "127.0.0.2" {
			t.Errorf("%s: 10.0.0.1 → %v %+v", name, ok, ans)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing"), ""); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

func TestMaxRange4(t *testing.T) {
	d, err := Parse(strings.NewReader("10.0.0.0/16\n$MAXRANGE4 /24\n10.1.0.0/23\n10.2.0.0/24\n$MAXRANGE4 1024\n10.3.0.0/25\n"), IP4Set)
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{"10.0.5.5": true, "10.1.0.1": false, "10.2.0.1": true, "10.3.0.1": true} {
		if _, ok := d.Lookup(netip.MustParseAddr(ip)); ok != want {
			t.Errorf("%s listed %v, want %v ($MAXRANGE4 only lowers the limit)", ip, ok, want)
		}
	}
	for _, bad := range []string{"$MAXRANGE4 /33\n", "$MAXRANGE4 lots\n", "$MAXRANGE4 0\n"} {
		if _, err := Parse(strings.NewReader(bad), IP4Set); err == nil || !strings.Contains(err.Error(), "MAXRANGE4") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}
