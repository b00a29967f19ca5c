#!/usr/bin/env bash
# End-to-end test of "blprobe serve" with a real Prometheus, on loopback
# addresses of its own (no network namespace, so it never collides with
# scripts/e2e-postfix.sh and its netns blprobe-e2e):
#   - rbldnsd on 127.0.97.53:10053 serves the test DNSBL zone bl.e2e.test
#     (127.0.0.2, the RFC 5782 §5 test point, and 192.0.2.99 are listed;
#     192.0.2.1 is clean);
#   - blprobe serve on 127.0.97.1:19745 checks both addresses every minute
#     through rbldnsd, and allows /probe for 192.0.2.0/24 on bl.e2e.test;
#   - Prometheus (Debian's package) on 127.0.97.2:19090 scrapes /metrics and
#     /probe (blackbox-style relabelling) every 2 s and evaluates the shipped
#     alert rules examples/blprobe-alerts.yml;
#   - promtool checks the generated and the shipped configs and runs the
#     shipped rule tests; then `go test ./e2e/ -run TestPrometheus` (with
#     BLPROBE_E2E_PROM=1) queries Prometheus's HTTP API: the listed series is
#     1 for the listed address and 0 for the clean one, BlprobeListed fires;
#   - SIGTERM must stop blprobe serve gracefully with exit 0.
#
# Usage: scripts/e2e-prometheus.sh [run|up|down]   (default: run)
# Needs prometheus, promtool and rbldnsd; as root it installs them from
# Debian when missing. Environment: E2E_PROM_WORK (state dir, default
# /var/tmp/blprobe-e2e-prom), E2E_GOTEST_FLAGS (e.g. "-v").
set -euo pipefail

WORK=${E2E_PROM_WORK:-/var/tmp/blprobe-e2e-prom}
case "$(basename "$WORK")" in
blprobe-e2e-prom*) ;; # "down" removes $WORK: never let it point at anything else
*) echo "E2E_PROM_WORK must end in a directory named blprobe-e2e-prom*" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

DNS_IP=127.0.97.53 DNS_PORT=10053
BLPROBE_ADDR=127.0.97.1:19745
PROM_ADDR=127.0.97.2:19090
ZONE=bl.e2e.test
LISTED=192.0.2.99 CLEAN=192.0.2.1

log() { printf '[e2e-prom] %s\n' "$*" >&2; }
die() { printf '[e2e-prom] FAIL: %s\n' "$*" >&2; exit 1; }

kill_pidfile() { # kill_pidfile FILE COMM: only if the pid still runs COMM
	local pid
	[ -s "$1" ] || return 0
	pid=$(tr -dc 0-9 <"$1")
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			[ -e "/proc/$pid" ] || break
			sleep 0.1
		done
	fi
}

down() {
	kill_pidfile "$WORK/prometheus.pid" prometheus
	kill_pidfile "$WORK/blprobe.pid" blprobe
	kill_pidfile "$WORK/rbldnsd.pid" rbldnsd
	rm -rf "$WORK"
}

install_deps() {
	local missing=()
	command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
	command -v rbldnsd >/dev/null || missing+=(rbldnsd)
	command -v curl >/dev/null || missing+=(curl)
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "need ${missing[*]}: run as root to install them, or apt-get install ${missing[*]}"
	command -v apt-get >/dev/null || die "need ${missing[*]} and apt-get is not available"
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
}

wait_http() { # wait_http URL: until it answers 200
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	return 1
}

write_files() {
	mkdir -p "$WORK/rbldnsd" "$WORK/tsdb"
	# ip4set: default A value and TXT template ($ = the queried address).
	cat >"$WORK/rbldnsd/$ZONE" <<EOF
:127.0.0.2:Listed in $ZONE, see http://$ZONE/q?ip=\$
# RFC 5782 section 5 test point; 127.0.0.1 must NOT be listed.
127.0.0.2
# The listed address of the test; $CLEAN is clean.
$LISTED
EOF
	# The reverse zone of the test addresses, without records: their PTR
	# lookups get a definite NXDOMAIN ("no PTR") instead of rbldnsd's
	# REFUSED for names outside its zones, which would make the reverse-DNS
	# check (and so the verdict) inconclusive.
	echo '# no records: every name is NXDOMAIN' >"$WORK/rbldnsd/empty"
	chmod 755 "$WORK" "$WORK/rbldnsd"
	chmod 644 "$WORK/rbldnsd/$ZONE" "$WORK/rbldnsd/empty"

	cat >"$WORK/serve.yaml" <<EOF
resolvers: ["$DNS_IP:$DNS_PORT"]
timeout: 2s
retries: 1
custom_zones: [$ZONE]
zones: [$ZONE]
intervals:
  dnsbl: 1m
jitter: 0s
targets: [$LISTED, $CLEAN]
probe:
  allow_targets: [192.0.2.0/24]
EOF

	cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files:
  - $ROOT/examples/blprobe-alerts.yml
scrape_configs:
  - job_name: blprobe
    static_configs:
      - targets: ['$BLPROBE_ADDR']
  - job_name: blprobe_probe
    metrics_path: /probe
    # A /probe run must finish within the scrape timeout (blprobe reads it
    # from the X-Prometheus-Scrape-Timeout-Seconds header).
    scrape_interval: 10s
    scrape_timeout: 10s
    params:
      zones: [$ZONE]
    static_configs:
      - targets: [$LISTED, $CLEAN]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: $BLPROBE_ADDR
EOF
}

BLPROBE_PID=

up() {
	install_deps
	down # leftovers of an earlier run must not break this one
	write_files

	log "promtool: shipped and generated configs, shipped rules and their tests"
	promtool check rules "$ROOT/examples/blprobe-alerts.yml" >/dev/null || die "promtool check rules examples/blprobe-alerts.yml"
	promtool check config "$ROOT/examples/prometheus.yml" >/dev/null || die "promtool check config examples/prometheus.yml"
	promtool check config "$WORK/prometheus.yml" >/dev/null || die "promtool check config (generated)"
	(cd "$ROOT/examples" && promtool test rules blprobe-alerts.test.yml >/dev/null) || die "promtool test rules examples/blprobe-alerts.test.yml"

	log "starting rbldnsd on $DNS_IP:$DNS_PORT (zone $ZONE)"
	local user=()
	if [ "$(id -u)" = 0 ]; then user=(-u rbldns); fi
	rbldnsd "${user[@]}" -w "$WORK/rbldnsd" -b "$DNS_IP/$DNS_PORT" -p "$WORK/rbldnsd.pid" \
		-a "$ZONE:ip4set:$ZONE" 2.0.192.in-addr.arpa:generic:empty >"$WORK/rbldnsd.err" 2>&1 ||
		{ cat "$WORK/rbldnsd.err" >&2; die "rbldnsd failed"; }

	log "building blprobe (-race)"
	(cd "$ROOT" && go build -race -o "$WORK/blprobe" ./cmd/blprobe) || die "go build"
	"$WORK/blprobe" serve --check-config "$WORK/serve.yaml" >/dev/null || die "blprobe serve --check-config"
	log "starting blprobe serve on $BLPROBE_ADDR"
	GORACE=atexit_sleep_ms=0 "$WORK/blprobe" serve --config "$WORK/serve.yaml" --listen "$BLPROBE_ADDR" \
		</dev/null >"$WORK/blprobe.log" 2>&1 &
	BLPROBE_PID=$!
	echo "$BLPROBE_PID" >"$WORK/blprobe.pid"
	wait_http "http://$BLPROBE_ADDR/healthz" || { cat "$WORK/blprobe.log" >&2; die "blprobe serve did not start"; }

	log "starting Prometheus on $PROM_ADDR"
	prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
		--web.listen-address="$PROM_ADDR" --log.level=warn </dev/null >"$WORK/prometheus.log" 2>&1 &
	echo $! >"$WORK/prometheus.pid"
	wait_http "http://$PROM_ADDR/-/ready" || { cat "$WORK/prometheus.log" >&2; die "Prometheus did not start"; }
	log "up: rbldnsd $DNS_IP:$DNS_PORT, blprobe http://$BLPROBE_ADDR, Prometheus http://$PROM_ADDR (state $WORK)"
}

run() {
	trap down EXIT
	trap 'exit 130' INT TERM # so that the EXIT trap tears down
	up
	log "go test ./e2e/ -run TestPrometheus"
	local rc=0
	# shellcheck disable=SC2086
	(cd "$ROOT" && env BLPROBE_E2E_PROM=1 E2E_PROM_URL="http://$PROM_ADDR" E2E_BLPROBE_URL="http://$BLPROBE_ADDR" \
		E2E_ZONE="$ZONE" E2E_LISTED="$LISTED" E2E_CLEAN="$CLEAN" \
		go test -count=1 ${E2E_GOTEST_FLAGS:-} -run TestPrometheus ./e2e/) || rc=$?
	if [ "$rc" != 0 ]; then
		log "blprobe log:"; tail -n 30 "$WORK/blprobe.log" >&2 || true
		log "Prometheus log:"; tail -n 30 "$WORK/prometheus.log" >&2 || true
		die "e2e test failed (exit $rc)"
	fi

	log "SIGTERM: blprobe serve must stop gracefully with exit 0"
	kill -TERM "$BLPROBE_PID"
	rc=0
	wait "$BLPROBE_PID" || rc=$?
	[ "$rc" = 0 ] || { tail -n 20 "$WORK/blprobe.log" >&2; die "blprobe serve exited $rc after SIGTERM"; }
	grep -q 'msg=stopped' "$WORK/blprobe.log" || die "blprobe serve did not log its shutdown"
	log "PASS"
}

case "${1:-run}" in
run) run ;;
up) up ;;
down) down ;;
*) die "usage: $0 [run|up|down]" ;;
esac
