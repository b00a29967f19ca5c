#!/bin/sh
# Out-of-process DNSBL benchmark: the blprobe binary against bench/dnsdelay (a
# loopback UDP server that delays every answer and counts every query it
# receives), measured with /usr/bin/time -v; bench/bareclient is the
# reference. Nothing leaves loopback. See bench/README.md.
#
#   bench/run.sh            all three workloads
#   BENCH=wire bench/run.sh only the /24 and /22 wire runs
#   BENCH=mem bench/run.sh  only the /16 memory run
set -eu
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
tmp=$(mktemp -d)
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
go build -o "$tmp/blprobe" ./cmd/blprobe
go build -o "$tmp/dnsdelay" ./bench/dnsdelay
go build -o "$tmp/bareclient" ./bench/bareclient
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)  $(go version | cut -d' ' -f3)"

# start_server LATENCY ZONES: starts dnsdelay, sets $addr.
start_server() {
	"$tmp/dnsdelay" -addr 127.0.0.1:0 -latency "$1" -zones "$2" >"$tmp/srv.out" &
	srv_pid=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		addr=$(head -n1 "$tmp/srv.out" 2>/dev/null || true)
		[ -n "$addr" ] && return 0
		sleep 0.2
	done
	echo "bench: dnsdelay did not start" >&2
	exit 1
}

# stop_server: stops dnsdelay, sets $queries (every query it received).
stop_server() {
	kill "$srv_pid"
	wait "$srv_pid" || true
	srv_pid=
	queries=$(awk '/^queries/ {print $2}' "$tmp/srv.out")
}

# timed CMD...: runs CMD under /usr/bin/time -v; sets $wall $cpu $rss_mb.
timed() {
	/usr/bin/time -v -o "$tmp/time.txt" "$@" >"$tmp/cmd.out" 2>"$tmp/cmd.err" || true
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$tmp/time.txt")
	cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$tmp/time.txt")
	rss_mb=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$tmp/time.txt")
}

zone_flags() { i=0; while [ "$i" -lt "$1" ]; do printf -- '--zone bl%d.bench.test ' "$i"; i=$((i + 1)); done; }

# blprobe_run PREFIX ZONES CONCURRENCY FORMAT
blprobe_run() {
	# shellcheck disable=SC2046
	timed "$tmp/blprobe" dnsbl --resolver "$addr" --timeout 5s --concurrency "$3" --format "$4" \
		-o "$tmp/report.$4" $(zone_flags "$2") "$1"
	if ! grep -q 'report written' "$tmp/cmd.err"; then
		echo "bench: blprobe failed:" >&2
		cat "$tmp/cmd.err" >&2
		exit 1
	fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }

if [ "${BENCH:-all}" != mem ]; then
	# 1. /24 x 40 zones at concurrency 64, 20 ms: latency-bound.
	start_server 20ms 40
	blprobe_run 10.1.0.0/24 40 64 json
	stop_server
	bound=$(awk -v q="$queries" 'BEGIN {printf "%.3f", int((q + 63) / 64) * 0.020}')
	cpu10k=$(awk -v c="$cpu" -v q="$queries" 'BEGIN {printf "%.3f", c / q * 10000}')
	# The round trip blprobe saw (rtt_ms of the results): above 20 ms, the
	# machine (not the engine) stretched every slot.
	rtt=$(awk -F': ' '/"rtt_ms"/ {s+=$2; n++} END {if (n) printf "%.2f", s/n}' "$tmp/report.json")
	bound_rtt=$(awk -v q="$queries" -v r="$rtt" 'BEGIN {printf "%.3f", int((q + 63) / 64) * r / 1000}')
	echo "/24 x 40 zones, c=64, 20 ms: $queries queries, ${wall}s (bound ${bound}s) ratio $(ratio "$wall" "$bound") (target <= 1.08); CPU ${cpu}s = ${cpu10k}s per 10k queries (target <= 0.5); max RSS ${rss_mb} MB"
	echo "  mean RTT seen ${rtt} ms: wall / (ceil(queries/64) x RTT seen) = $(ratio "$wall" "$bound_rtt")"

	# 2. /22 x 40 zones at concurrency 1024, 20 ms: CPU-bound; bare client first.
	start_server 20ms 40
	timed "$tmp/bareclient" -server "$addr" -prefix 10.4.0.0/22 -zones 40 -concurrency 1024
	stop_server
	bare_wall=$wall bare_q=$queries bare_cpu=$cpu
	start_server 20ms 40
	blprobe_run 10.4.0.0/22 40 1024 json
	stop_server
	echo "/22 x 40 zones, c=1024, 20 ms: bare client $bare_q queries ${bare_wall}s (CPU ${bare_cpu}s); blprobe $queries queries ${wall}s (CPU ${cpu}s, max RSS ${rss_mb} MB); ratio $(ratio "$wall" "$bare_wall") (target <= 1.15)"
fi

if [ "${BENCH:-all}" != wire ]; then
	# 3. /16 x 10 zones, JSON report to a file: memory.
	start_server 0s 10
	blprobe_run 10.8.0.0/16 10 1024 json
	stop_server
	echo "/16 x 10 zones, c=1024, --format json -o FILE: $queries queries, ${wall}s, CPU ${cpu}s, max RSS ${rss_mb} MB (target <= 150 MB), report $(wc -c <"$tmp/report.json") bytes"
fi
