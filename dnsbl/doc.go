// Package dnsbl checks IP addresses and domains against DNS blocklists and
// allow lists (RFC 5782).
//
// It holds the built-in catalogue of lists (catalog.json: groups default,
// extended and all, with each list's codes, families, usage terms and
// sources; dead lists on record but never queried), parses and expands
// targets (addresses, CIDRs, hostnames), builds RFC 5782 query names, checks
// every zone's test entries before trusting it (RFC 5782 §5), and runs the
// (address, zone) lookups concurrently with per-zone rate limits. A zone
// whose test entries show the resolver is refused is asked at its own
// authoritative nameservers instead (direct.go, Options.Direct). Every
// outcome is explicit: "listed", "clean" (NXDOMAIN from a healthy zone),
// "allowed", "error" (could not check, with a reason) or "not_done"; a
// failure is never reported as clean.
package dnsbl
