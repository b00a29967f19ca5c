package dnsclient

import (
	"net"
	"net/netip"
)

// publicResolvers are the well-known open recursive resolvers. Spamhaus and
// other DNSBLs refuse or answer falsely through them: Google gets a silent
// NXDOMAIN, Cloudflare and others get 127.255.255.254
// (https://www.spamhaus.org/news/article/788/).
var publicResolvers = map[string]string{
	"8.8.8.8": "Google Public DNS", "8.8.4.4": "Google Public DNS",
	"2001:4860:4860::8888": "Google Public DNS", "2001:4860:4860::8844": "Google Public DNS",
	"1.1.1.1": "Cloudflare", "1.0.0.1": "Cloudflare",
	"2606:4700:4700::1111": "Cloudflare", "2606:4700:4700::1001": "Cloudflare",
	"9.9.9.9": "Quad9", "149.112.112.112": "Quad9", "2620:fe::fe": "Quad9", "2620:fe::9": "Quad9",
	"208.67.222.222": "OpenDNS", "208.67.220.220": "OpenDNS",
	"2620:119:35::35": "OpenDNS", "2620:119:53::53": "OpenDNS",
	"94.140.14.14": "AdGuard DNS", "94.140.15.15": "AdGuard DNS",
	"185.228.168.9": "CleanBrowsing", "76.76.2.0": "Control D", "76.76.19.19": "Alternate DNS",
	"64.6.64.6": "Verisign Public DNS", "64.6.65.6": "Verisign Public DNS",
}

// PublicResolver returns the operator's name when server (host or host:port)
// is a well-known public resolver, else "".
func PublicResolver(server string) string {
	host := server
	if h, _, err := net.SplitHostPort(server); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	return publicResolvers[a.Unmap().String()]
}
