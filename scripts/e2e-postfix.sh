#!/usr/bin/env bash
# End-to-end test of blprobe against a real Postfix that rejects listed
# clients with reject_rbl_client, in a private network namespace.
#
# Inside the netns "blprobe-e2e" (loopback only, no route out):
#   - rbldnsd on 127.0.0.1:53 serves the test DNSBL zone zen.test
#     (127.0.0.2, the RFC 5782 §5 test point, and 127.0.0.10 are listed);
#   - rbldnsd also answers, with NXDOMAIN for every name, the zones
#     sender.test (so the sender domain nowhere.sender.test does not exist)
#     and 0.0.127.in-addr.arpa (so no probe source address has a PTR);
#   - Postfix listens on 127.0.0.1:25 with
#     smtpd_client_restrictions = reject_rbl_client zen.test, and
#     reject_unknown_client_hostname for the source 127.0.0.30 only, and
#     reject_unknown_sender_domain for senders in nowhere.sender.test only
#     (both with reject code 550 instead of Postfix's default 450);
#     /etc/resolv.conf seen by processes in the netns is
#     /etc/netns/blprobe-e2e/resolv.conf (nameserver 127.0.0.1), so Postfix
#     resolves through rbldnsd only; the machine's own resolv.conf is untouched;
#   - `go test ./e2e/` runs with BLPROBE_E2E=1 and drives the blprobe binary.
#
# Usage: scripts/e2e-postfix.sh [run|up|down]   (default: run)
#   run   set up, run the Go e2e test inside the netns, tear down (always)
#   up    set up and leave running (explore with: ip netns exec blprobe-e2e ...)
#   down  tear everything down (safe to run at any time)
# Needs root, iproute2, postfix and rbldnsd (scripts/test.sh installs them).
# Environment: E2E_WORK (state dir, default /var/tmp/blprobe-e2e),
# E2E_GOTEST_FLAGS (extra flags for go test, e.g. "-v").
set -euo pipefail

NS=blprobe-e2e
E2E_TLS=0
WORK=${E2E_WORK:-/var/tmp/blprobe-e2e}
PFDIR=$WORK/postfix
case "$(basename "$WORK")" in
blprobe-e2e*) ;; # "down" removes $WORK: never let it point at anything else
*) echo "E2E_WORK must end in a directory named blprobe-e2e*" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '[e2e] %s\n' "$*" >&2; }
die() { printf '[e2e] FAIL: %s\n' "$*" >&2; exit 1; }
nsx() { ip netns exec "$NS" "$@"; }

kill_pidfile() { # kill_pidfile FILE COMM
	local pid
	[ -s "$1" ] || return 0
	pid=$(tr -dc 0-9 <"$1")
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; then
		kill "$pid" 2>/dev/null || true
	fi
}

down() {
	if ip netns list 2>/dev/null | grep -qw "^$NS"; then
		if [ -f "$PFDIR/main.cf" ]; then
			nsx postfix -c "$PFDIR" stop >/dev/null 2>&1 || true
		fi
		if [ -s "$WORK/rbldnsd.pid" ]; then
			kill "$(cat "$WORK/rbldnsd.pid")" 2>/dev/null || true
		fi
		sleep 0.3
		# Anything still running in our namespace was started by this script.
		local pids
		pids=$(ip netns pids "$NS" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill $pids 2>/dev/null || true
			sleep 0.5
			pids=$(ip netns pids "$NS" 2>/dev/null || true)
			# shellcheck disable=SC2086
			[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
		fi
		ip netns del "$NS" || true
	fi
	# Daemons of an earlier run whose netns is already gone: stop them by
	# their pid files, if the pid still belongs to that daemon.
	kill_pidfile "$WORK/spool/pid/master.pid" master
	kill_pidfile "$WORK/rbldnsd.pid" rbldnsd
	rm -rf "/etc/netns/$NS"
	rm -rf "$WORK"
}

write_zone() {
	mkdir -p "$WORK/rbldnsd"
	# ip4set: default A value and TXT template ($ = the queried address).
	cat >"$WORK/rbldnsd/zen.test" <<'EOF'
:127.0.0.2:Listed in zen.test, see http://zen.test/q?ip=$
# RFC 5782 section 5 test point; 127.0.0.1 must NOT be listed.
127.0.0.2
# The "listed" source address of the e2e test. 127.0.0.20 is clean.
127.0.0.10
EOF
	# Empty zones: every name in them is NXDOMAIN (a permanent "not found",
	# unlike the REFUSED rbldnsd gives for names outside its zones, which
	# Postfix treats as temporary and answers with 450).
	echo '# no records: every name is NXDOMAIN' >"$WORK/rbldnsd/empty"
	chmod 755 "$WORK" "$WORK/rbldnsd"
	chmod 644 "$WORK/rbldnsd/zen.test" "$WORK/rbldnsd/empty"
}

write_postfix() {
	mkdir -p "$PFDIR" "$WORK/spool" "$WORK/data"
	cp /usr/share/postfix/master.cf.dist "$PFDIR/master.cf" 2>/dev/null ||
		cp /etc/postfix/master.cf "$PFDIR/master.cf"
	# A private instance: its own config, queue, data dir and log, so the
	# machine's own Postfix (if any) is neither used nor disturbed.
	cat >"$PFDIR/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $WORK/spool
data_directory = $WORK/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination = example.test, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# Only 127.0.0.1 is trusted: the probe sources 127.0.0.10/.20 are not.
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
local_recipient_maps = inline:{ postmaster=ok }
smtpd_banner = \$myhostname ESMTP blprobe-e2e
smtpd_delay_reject = yes
smtpd_client_restrictions = reject_rbl_client zen.test, check_client_access cidr:$PFDIR/client_access.cidr
smtpd_sender_restrictions = check_sender_access inline:{ nowhere.sender.test=reject_unknown_sender_domain }
# Permanent rejections for the two cases above (defaults are 450):
# https://www.postfix.org/postconf.5.html#unknown_client_reject_code
unknown_client_reject_code = 550
unknown_address_reject_code = 550
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
maillog_file = $WORK/postfix.log
maillog_file_prefixes = $WORK
EOF
	# The source 127.0.0.30 (no PTR, as every 127.0.0.x here) meets
	# reject_unknown_client_hostname; the others do not.
	echo '127.0.0.30/32 reject_unknown_client_hostname' >"$PFDIR/client_access.cidr"
	# STARTTLS with Debian's self-signed snakeoil certificate (package
	# ssl-cert, a dependency of postfix), so the probe's TLS path meets a
	# real server; verification must fail (self-signed, wrong name).
	if [ -r /etc/ssl/certs/ssl-cert-snakeoil.pem ] && [ -r /etc/ssl/private/ssl-cert-snakeoil.key ]; then
		postconf -c "$PFDIR" -e smtpd_tls_security_level=may \
			smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem \
			smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key
		E2E_TLS=1
	else
		log "no snakeoil certificate: Postfix runs without STARTTLS"
		postconf -c "$PFDIR" -e smtpd_tls_security_level=none
		E2E_TLS=0
	fi
	# No chroot: a chrooted smtpd would read the chroot's etc/resolv.conf
	# instead of the netns one.
	postconf -c "$PFDIR" -F '*/*/chroot = n'
	postfix -c "$PFDIR" set-permissions >/dev/null 2>&1 || true
	postfix -c "$PFDIR" check
}

wait_port() { # wait_port PROTO PORT
	for _ in $(seq 1 100); do
		if nsx ss -Hln"${1:0:1}" "sport = :$2" | grep -q .; then return 0; fi
		sleep 0.1
	done
	return 1
}

up() {
	[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, Postfix)"
	for c in ip postfix postconf rbldnsd; do
		command -v "$c" >/dev/null || die "$c not installed (scripts/test.sh installs it)"
	done
	down # leftovers of an earlier run must not break this one
	log "creating netns $NS"
	ip netns add "$NS" || die "cannot create a network namespace"
	ip -n "$NS" link set lo up
	mkdir -p "/etc/netns/$NS"
	echo "nameserver 127.0.0.1" >"/etc/netns/$NS/resolv.conf"
	printf '127.0.0.1\tlocalhost\n' >"/etc/netns/$NS/hosts"

	write_zone
	log "starting rbldnsd on 127.0.0.1:53 (zones zen.test, sender.test, 0.0.127.in-addr.arpa)"
	# -l +FILE: unbuffered query log, so the test can show Postfix asked here.
	touch "$WORK/rbldnsd/queries.log"
	chown rbldns "$WORK/rbldnsd/queries.log"
	nsx rbldnsd -u rbldns -w "$WORK/rbldnsd" -b 127.0.0.1/53 -p "$WORK/rbldnsd.pid" \
		-l +queries.log -a zen.test:ip4set:zen.test sender.test:generic:empty \
		0.0.127.in-addr.arpa:generic:empty >"$WORK/rbldnsd.err" 2>&1 ||
		{ cat "$WORK/rbldnsd.err" >&2; die "rbldnsd failed"; }
	wait_port udp 53 || die "rbldnsd did not start"

	write_postfix
	log "starting Postfix on 127.0.0.1:25 (config $PFDIR)"
	nsx postfix -c "$PFDIR" start
	wait_port tcp 25 || { cat "$WORK/postfix.log" >&2 || true; die "Postfix did not start"; }
	log "up: netns $NS, rbldnsd 127.0.0.1:53, Postfix 127.0.0.1:25, log $WORK/postfix.log"
}

run() {
	trap down EXIT
	trap 'exit 130' INT TERM # so that the EXIT trap tears down
	up
	log "go test ./e2e/ inside netns $NS"
	local rc=0
	# shellcheck disable=SC2086
	(cd "$ROOT" && nsx env BLPROBE_E2E=1 E2E_POSTFIX_LOG="$WORK/postfix.log" \
		E2E_RBLDNSD_LOG="$WORK/rbldnsd/queries.log" E2E_TLS="$E2E_TLS" \
		go test -race -count=1 ${E2E_GOTEST_FLAGS:-} ./e2e/...) || rc=$?
	if [ "$rc" != 0 ]; then
		log "Postfix log ($WORK/postfix.log):"
		tail -n 50 "$WORK/postfix.log" >&2 || true
		die "e2e test failed (exit $rc)"
	fi
	log "PASS"
}

case "${1:-run}" in
run) run ;;
up) up ;;
down) down ;;
*) die "usage: $0 [run|up|down]" ;;
esac
