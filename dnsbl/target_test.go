package dnsbl

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in     string
		addr   string
		prefix string
		host   string
		err    string
	}{
		{in: "192.0.2.1", addr: "192.0.2.1"},
		{in: "2001:db8::1", addr: "2001:db8::1"},
		{in: "::ffff:127.0.0.2", addr: "::ffff:127.0.0.2"},
		{in: "192.0.2.77/24", prefix: "192.0.2.0/24"},
		{in: "2001:db8:1:2::5/48", prefix: "2001:db8:1::/48"},
		{in: "Mail.Example.COM.", host: "mail.example.com"},
		{in: "_dmarc.example.com", host: "_dmarc.example.com"},
		{in: "127.1", err: `invalid target "127.1": want an IPv4 or IPv6 address`},
		{in: "1.2.3", err: `invalid target "1.2.3": want an IPv4 or IPv6 address, a CIDR such as 192.0.2.0/24, or a hostname`},
		{in: "300.1.1.1", err: "want an IPv4"},
		{in: "::g", err: "want an IPv4"},
		{in: "1.2.3.4/33", err: `bad prefix length "33" (want 0-32 for an IPv4 CIDR)`},
		{in: "2001:db8::/129", err: "want 0-128"},
		{in: "", err: `invalid target ""`},
		{in: " 1.2.3.4", err: "want an IPv4"},
		{in: "a b.com", err: "want an IPv4"},
		{in: "localhost", err: "want an IPv4"},
		{in: "-bad.example", err: "want an IPv4"},
		{in: "fe80::1%eth0", err: "zone suffixes"},
		{in: "exa\x1bmple.com", err: `"exa\x1bmple.com"`},
		{in: "ex\u00e4mple.com", err: "want an IPv4"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTarget(tt.in)
			if tt.err != "" {
				var te *TargetError
				if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want *TargetError containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Input != tt.in {
				t.Errorf("Input = %q", got.Input)
			}
			set := 0
			if got.Addr.IsValid() {
				set++
				if got.Addr != netip.MustParseAddr(tt.addr) || tt.addr == "" {
					t.Errorf("Addr = %v, want %q", got.Addr, tt.addr)
				}
			}
			if got.Prefix.IsValid() {
				set++
				if got.Prefix.String() != tt.prefix {
					t.Errorf("Prefix = %v, want %q", got.Prefix, tt.prefix)
				}
			}
			if got.Host != "" {
				set++
				if got.Host != tt.host {
					t.Errorf("Host = %q, want %q", got.Host, tt.host)
				}
			}
			if set != 1 {
				t.Errorf("%d of Addr/Prefix/Host set: %+v", set, got)
			}
		})
	}
}

func TestReadTargets(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("# mail hosts\n192.0.2.1\n\n  mx.example.com   # primary\n2001:db8::/64\n"), 0o600)
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("192.0.2.1\n# c\n1.2.3\n"), 0o600)
	long := filepath.Join(dir, "long.txt")
	os.WriteFile(long, []byte(strings.Repeat("a", maxLine+10)+"\n"), 0o600)

	got, err := ReadTargets([]string{"198.51.100.7", "@" + good, "-"}, strings.NewReader("203.0.113.9\n# x\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ins []string
	for _, tg := range got {
		ins = append(ins, tg.Input)
	}
	if w := "198.51.100.7,192.0.2.1,mx.example.com,2001:db8::/64,203.0.113.9"; strings.Join(ins, ",") != w {
		t.Errorf("got %v, want %s", ins, w)
	}

	errTests := []struct {
		args []string
		want string
	}{
		{[]string{"@" + bad}, bad + `:3: invalid target "1.2.3": want an IPv4 or IPv6 address`},
		{[]string{"@" + filepath.Join(dir, "missing")}, "cannot read target file"},
		{[]string{"@"}, "want @FILE"},
		{[]string{"@" + long}, "line longer than"},
		{[]string{"1.2.3.4", "nope"}, `invalid target "nope"`},
	}
	for _, tt := range errTests {
		_, err := ReadTargets(tt.args, nil)
		var te *TargetError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadTargets(%v) err = %v, want one-line *TargetError containing %q", tt.args, err, tt.want)
		}
	}
	_, err = ReadTargets([]string{"-"}, strings.NewReader("ok.example\nbad target\n"))
	if err == nil || !strings.Contains(err.Error(), `-:2: invalid target "bad target"`) {
		t.Errorf("stdin error = %v", err)
	}
}
