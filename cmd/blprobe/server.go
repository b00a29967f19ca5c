package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/net/idna"

	"github.com/blprobe/blprobe/serve"
	"github.com/blprobe/blprobe/smtpcheck"
)

// serverFlag is --server, its value written to dst.
func serverFlag(dst *string) cli.Flag {
	return &cli.StringFlag{Name: "server", Category: catTarget, EnvVars: []string{"BLPROBE_SERVER"}, Destination: dst,
		Usage: "probe this server for the domains instead of their MX, like swaks --server: `HOST[:PORT]`, an IP or [IP]"}
}

// server is a --server target or an address-literal argument.
type server struct {
	host string       // as shown: the name, or the address
	addr netip.Addr   // set for an address
	port int          // 0: --port
	lit  bool         // given as an address literal argument "[192.0.2.1]"
	ips  []netip.Addr // resolved addresses
}

// parseServer parses HOST, HOST:PORT, IP, [IP] and [IP]:PORT.
func parseServer(s string) (*server, error) {
	bad := func(why string) error {
		return usagef("invalid --server %q: %s (want HOST[:PORT], e.g. mx.example.com, mx.example.com:2525, 192.0.2.1 or [2001:db8::1]:25)", s, why)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, bad("empty")
	}
	host, port := s, ""
	if a, err := netip.ParseAddr(s); err == nil { // a bare IPv6 address has colons
		return &server{host: a.String(), addr: a.Unmap()}, nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	} else if strings.Contains(s, ":") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return nil, bad("cannot split host and port")
		}
		host, port = h, p
	}
	sv := &server{host: host}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad("the port must be 1 to 65535")
		}
		sv.port = n
	}
	host = strings.TrimPrefix(host, "IPv6:")
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
		sv.host, sv.addr = a.Unmap().String(), a.Unmap()
		return sv, nil
	}
	ascii, err := idna.Lookup.ToASCII(strings.TrimSuffix(host, "."))
	if err != nil || !serve.ValidDomain(strings.ToLower(ascii)) {
		return nil, bad("not a host name or an IP address")
	}
	sv.host = strings.ToLower(ascii)
	return sv, nil
}

// addressLiteral parses an smtp argument "[192.0.2.1]" or
// "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3), a server to probe directly.
func addressLiteral(arg string) (*server, bool) {
	if !strings.HasPrefix(arg, "[") || !strings.HasSuffix(arg, "]") {
		return nil, false
	}
	a, err := netip.ParseAddr(strings.TrimPrefix(arg[1:len(arg)-1], "IPv6:"))
	if err != nil || a.Zone() != "" {
		return nil, false
	}
	return &server{host: a.Unmap().String(), addr: a.Unmap(), lit: true}, true
}

// literalDomain is the domain part of postmaster@[…] for an address.
func literalDomain(a netip.Addr) string {
	if a.Is6() {
		return "[IPv6:" + a.String() + "]"
	}
	return "[" + a.String() + "]"
}

// resolve finds the server's addresses (the address itself for an IP).
func (sv *server) resolve(ctx context.Context, cm *common, o smtpcheck.Options) error {
	if sv.addr.IsValid() {
		sv.ips = []netip.Addr{sv.addr}
		return nil
	}
	ips, err := cm.dns.LookupAddrs(ctx, sv.host, !o.IPv6Only, !o.IPv4Only)
	if err != nil {
		return &failure{fmt.Errorf("resolving --server %s: %w", sv.host, err)}
	}
	if len(ips) == 0 {
		return usagef("--server %s has no address (no A/AAAA record)", sv.host)
	}
	sv.ips = ips
	return nil
}

// probeServer asks sv about each domain (RCPT TO postmaster@DOMAIN unless
// --rcpt) in place of the domain's MX, and returns a result shaped like a
// normal run: one MX (the server) per domain.
func probeServer(ctx context.Context, sv *server, domains []string, o smtpcheck.Options) *smtpcheck.Result {
	if sv.port != 0 {
		o.Port = sv.port
	}
	res := smtpcheck.Run(ctx, nil, o) // the settings and notes of a run, no domain
	res.Port = o.Port
	res.Notes = append(res.Notes, fmt.Sprintf("probed %s directly instead of the domains' MX (--server or an address literal)", sv.host))
	total := len(domains) * len(sv.ips)
	done := 0
	if o.Progress != nil {
		o.Progress(0, total)
	}
	for _, d := range domains {
		dom := smtpcheck.Domain{Domain: d, Status: smtpcheck.DomainOK}
		mx := smtpcheck.MX{Host: sv.host}
		for _, ip := range sv.ips {
			mx.Addresses = append(mx.Addresses, smtpcheck.ProbeAddress(ctx, sv.host, ip, d, o))
			done++
			if o.Progress != nil {
				o.Progress(done, total)
			}
		}
		dom.MX = []smtpcheck.MX{mx}
		res.Domains = append(res.Domains, dom)
	}
	return res
}

// toASCII converts an internationalized domain name to its ASCII form
// (IDNA 2008 via golang.org/x/net/idna, RFC 5891), as DNS and SMTP need it.
func toASCII(d string) (string, error) {
	return idna.Lookup.ToASCII(d)
}
