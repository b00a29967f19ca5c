// Package e2e holds blprobe's end-to-end tests:
//
//   - the real blprobe binary against a real Postfix that rejects
//     DNSBL-listed clients (reject_rbl_client) and a real DNSBL server
//     (rbldnsd), all inside a private network namespace set up by
//     scripts/e2e-postfix.sh; it only runs with BLPROBE_E2E=1;
//   - blprobe serve scraped by a real Prometheus, with rbldnsd as the DNSBL,
//     on loopback addresses set up by scripts/e2e-prometheus.sh; it only
//     runs with BLPROBE_E2E_PROM=1.
//
// Otherwise they skip, so `go test ./...` stays green on any machine.
package e2e
