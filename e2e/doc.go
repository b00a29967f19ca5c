// Package e2e holds blprobe's end-to-end test: the real blprobe binary
// against a real Postfix that rejects DNSBL-listed clients
// (reject_rbl_client) and a real DNSBL server (rbldnsd), all inside a
// private network namespace set up by scripts/e2e-postfix.sh.
//
// The test only runs with BLPROBE_E2E=1 (the script sets it); otherwise it
// skips, so `go test ./...` stays green on any machine.
package e2e
