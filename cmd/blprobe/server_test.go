package main

import (
	"strings"
	"testing"
)

func TestParseServer(t *testing.T) {
	for _, tc := range []struct {
		in, host string
		port     int
		ok       bool
	}{
		{"mx.example.com", "mx.example.com", 0, true},
		{"MX.Example.com:2525", "mx.example.com", 2525, true},
		{"192.0.2.1", "192.0.2.1", 0, true},
		{"[192.0.2.1]", "192.0.2.1", 0, true},
		{"192.0.2.1:587", "192.0.2.1", 587, true},
		{"2001:db8::1", "2001:db8::1", 0, true},
		{"[2001:db8::1]:25", "2001:db8::1", 25, true},
		{"[IPv6:2001:db8::1]", "2001:db8::1", 0, true},
		{"bücher.example", "xn--bcher-kva.example", 0, true},
		{"", "", 0, false},
		{"mx.example.com:0", "", 0, false},
		{"mx.example.com:http", "", 0, false},
		{"bad host", "", 0, false},
	} {
		sv, err := parseServer(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseServer(%q) error %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (sv.host != tc.host || sv.port != tc.port) {
			t.Errorf("parseServer(%q) = %s port %d, want %s port %d", tc.in, sv.host, sv.port, tc.host, tc.port)
		}
	}
}

func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"mx.example.com:25", "[2001:db8::1]:25", "192.0.2.1", "bücher.example", "[", ":", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sv, err := parseServer(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid --server") {
				t.Errorf("error %q does not name --server", err)
			}
			return
		}
		if sv.host == "" || sv.port < 0 || sv.port > 65535 || strings.ContainsAny(sv.host, " \r\n") {
			t.Errorf("parseServer(%q) = %+v", s, sv)
		}
	})
}
