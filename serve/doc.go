// Package serve is blprobe's monitoring daemon ("blprobe serve"): it reads a
// YAML config of what to watch, runs DNSBL and SMTP checks on a schedule
// through an injected [Runner], keeps the latest report of every check, and
// exposes them over HTTP for Prometheus (/metrics, and /probe in the style
// of the blackbox exporter), as JSON (/report) and for liveness and
// readiness probes (/healthz, /readyz).
//
// The package never queries anything itself: the Runner does (in the CLI an
// adapter over the check pipeline). The scheduler keeps every check within
// its interval, never lets a check overlap itself, bounds the number of runs
// in flight and splits each zone's query rate between them, so that a fleet
// of blprobe instances stays within the lists' usage terms.
package serve
