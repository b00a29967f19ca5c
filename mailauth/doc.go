// Package mailauth checks the sender authentication that depends on a
// sending address: whether a domain's SPF record (RFC 7208) authorises an IP,
// what record to publish when it does not, and the domain's DMARC policy
// (RFC 7489), which says what receivers do with mail that fails SPF.
//
// SPF is evaluated by blitiri.com.ar/go/spf and DMARC records are parsed by
// github.com/emersion/go-msgauth/dmarc; every DNS query goes through blprobe's
// DNS client, so the configured resolver answers (a loopback one in tests).
// The package owns its result types and knows nothing of reports.
package mailauth
