package dnsbl

import (
	"net/netip"
	"testing"
)

func TestQueryName(t *testing.T) {
	tests := []struct{ addr, zone, want string }{
		{"192.0.2.99", "zen.spamhaus.org", "99.2.0.192.zen.spamhaus.org"},
		{"127.0.0.2", "bl.example.", "2.0.0.127.bl.example"},
		{"0.0.0.0", "z", "0.0.0.0.z"},
		{"255.10.1.200", "z", "200.1.10.255.z"},
		// RFC 5782 §2.4 example.
		{"2001:db8:1:2:3:4:567:89ab", "ugly.example.com", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com"},
		{"2001:db8::1", "z", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.z"},
		// IPv4-mapped IPv6 is an IPv6 query (RFC 5782 §2.4, §5), not 2.0.0.127.
		{"::ffff:7f00:2", "z", "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.z"},
	}
	for _, tt := range tests {
		if got := QueryName(netip.MustParseAddr(tt.addr), tt.zone); got != tt.want {
			t.Errorf("QueryName(%s, %s) = %s, want %s", tt.addr, tt.zone, got, tt.want)
		}
	}
}

func TestDomainQueryName(t *testing.T) {
	tests := []struct{ d, zone, want string }{
		{"example.com", "dbl.spamhaus.org", "example.com.dbl.spamhaus.org"},
		{"example.com.", "dbl.spamhaus.org.", "example.com.dbl.spamhaus.org"},
		{"test", "dbl.example", "test.dbl.example"},
	}
	for _, tt := range tests {
		if got := DomainQueryName(tt.d, tt.zone); got != tt.want {
			t.Errorf("DomainQueryName(%s, %s) = %s, want %s", tt.d, tt.zone, got, tt.want)
		}
	}
}
