#!/usr/bin/env bash
# Reproduces the real-MTA part of smtpcheck/testdata/corpus_mta.tsv: runs
# Exim, OpenSMTPD and Haraka with the rejection rules admins use, in a
# private network namespace (loopback only, no route out), probes every
# configured case with the blprobe binary and prints one TSV line per reply
# (code, stage, -, -, source, text): the expected cause and list are judged
# by hand when lines go into the corpus. Not run by CI; needs root.
#
# Inside the netns "blprobe-mtas" (loopback only, no route out):
#   - rbldnsd on 127.0.0.53:53 (and 198.18.0.1:53) serves bl.test (127.0.0.2,
#     127.0.0.10 and 198.18.0.7 listed; 127.0.0.2 is the RFC 5782 §5 test
#     point), the MX/A records of the probed domains, probe.test (a sender
#     domain that exists), and NXDOMAIN in in-addr.arpa (no client has a PTR)
#     and nowhere.test (a sender domain that does not exist);
#   - Exim (Debian exim4-daemon-light) on 127.0.0.25 with ACL rules keyed on
#     the client address, OpenSMTPD on 127.0.0.26 and 127.0.0.31-35 (one
#     listener per builtin filter); /etc/resolv.conf in the netns is
#     /etc/netns/blprobe-mtas/resolv.conf (nameserver 127.0.0.53);
#   - Haraka on 198.18.0.1-3 (one instance per plugin set), reached from a
#     second netns "blprobe-mtas-c" over a veth pair (see up()).
# The Debian MTA packages conflict with each other and with Postfix, so they
# are unpacked with `apt-get download` + `dpkg-deb -x` into $WORK instead of
# being installed; nothing is enabled as a system service. The unpacked
# daemons need their system users (Debian-exim, opensmtpd, opensmtpq) and
# OpenSMTPD its compiled-in /var/lib/opensmtpd/empty and /var/spool/smtpd;
# those are created once and left in place.
#
# Usage: scripts/mta-corpus.sh [run|up|down]   (default: run)
# Environment: MTAS_WORK (default /var/tmp/blprobe-mtas), BLPROBE (binary,
# default: built from this checkout into $MTAS_WORK/blprobe).
set -euo pipefail

NS=blprobe-mtas
WORK=${MTAS_WORK:-/var/tmp/blprobe-mtas}
case "$(basename "$WORK")" in
blprobe-mtas*) ;;
*) echo "MTAS_WORK must end in a directory named blprobe-mtas*" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DNS=127.0.0.53 EXIM=127.0.0.25 OSMTPD=127.0.0.26

log() { printf '[mtas] %s\n' "$*" >&2; }
nsx() { ip netns exec "$NS" "$@"; }

down() {
	ip netns del "$NS-c" 2>/dev/null || true
	if ip netns list 2>/dev/null | grep -qw "^$NS"; then
		local pids
		pids=$(ip netns pids "$NS" 2>/dev/null || true)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill $pids 2>/dev/null || true
		sleep 0.5
		pids=$(ip netns pids "$NS" 2>/dev/null || true)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
		ip netns del "$NS" || true
	fi
	rm -rf "/etc/netns/$NS"
}

install_mtas() {
	command -v rbldnsd >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rbldnsd; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libidn12 >/dev/null
	mkdir -p "$WORK/deb"
	if [ ! -x "$WORK/root/usr/sbin/exim4" ] || [ ! -x "$WORK/root/usr/sbin/smtpd" ]; then
		(cd "$WORK/deb" && apt-get download exim4-daemon-light exim4-config opensmtpd)
		for f in "$WORK"/deb/*.deb; do dpkg-deb -x "$f" "$WORK/root"; done
	fi
	if [ ! -d "$WORK/haraka/node_modules/Haraka" ]; then
		mkdir -p "$WORK/haraka"
		(cd "$WORK/haraka" && npm install --no-audit --no-fund Haraka >/dev/null)
	fi
	# The unpacked daemons look their users up by name.
	id Debian-exim >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin Debian-exim
	id opensmtpd >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin opensmtpd
	id opensmtpq >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin opensmtpq
	mkdir -p /var/lib/opensmtpd/empty # smtpd(8) chroots here (compiled-in path)
}

zones() {
	mkdir -p "$WORK/dns"
	cat >"$WORK/dns/bl.test" <<'Z'
:127.0.0.2:Listed in bl.test, see http://bl.test/lookup?ip=$
127.0.0.2
127.0.0.10
127.0.0.47
198.18.0.7
Z
	printf '@ 300 MX 10 mx.haraka.test\n' >"$WORK/dns/haraka.test"
	for d in exim:$EXIM smtpd:$OSMTPD; do
		cat >"$WORK/dns/${d%%:*}.test" <<Z
@ 300 MX 10 mx.${d%%:*}.test
mx 300 A ${d#*:}
Z
	done
	i=31
	for d in rdns fcrdns helo from listed; do
		printf '@ 300 MX 10 mx.%s.smtpd.test\nmx 300 A 127.0.0.%s\n' "$d" "$i" >"$WORK/dns/$d.smtpd.test"
		i=$((i + 1))
	done
	printf '@ 300 MX 10 mx.exim.test\n' >"$WORK/dns/relay.test"
	printf '@ 300 MX 10 mx.smtpd.test\n' >"$WORK/dns/virt.smtpd.test"
	printf '@ 300 MX 10 mx2.haraka.test\n' >"$WORK/dns/helo.haraka.test"
	printf '@ 300 MX 10 mx3.haraka.test\n' >"$WORK/dns/fcrdns.haraka.test"
	printf '@ 300 MX 10 mx.haraka.test\n' >"$WORK/dns/relay3.test"
	printf 'mx 300 A 198.18.0.1\nmx2 300 A 198.18.0.2\nmx3 300 A 198.18.0.3\n' >>"$WORK/dns/haraka.test"
	printf '@ 300 MX 10 mx.smtpd.test\n' >"$WORK/dns/relay2.test"
	cat >"$WORK/dns/probe.test" <<'Z'
@ 300 MX 10 mx.exim.test
@ 300 A 127.0.0.25
Z
	: >"$WORK/dns/empty"
}

exim_conf() {
	mkdir -p "$WORK/exim/spool" "$WORK/exim/log"
	chown -R Debian-exim "$WORK/exim"
	cat >"$WORK/exim/configure" <<EOC
# Exim 4.96: the example configuration's ACL checks (configure.default) and
# the rules admins add, keyed on the client address so one daemon shows all.
primary_hostname = mx.exim.test
spool_directory = $WORK/exim/spool
log_file_path = $WORK/exim/log/%slog
pid_file_path = $WORK/exim/exim.pid
exim_user = Debian-exim
local_interfaces = $EXIM
daemon_smtp_ports = 25
domainlist local_domains = exim.test : probe.test
domainlist relay_to_domains =
hostlist relay_from_hosts =
host_lookup = *
rfc1413_hosts =
helo_verify_hosts = 127.0.0.13
helo_try_verify_hosts = 127.0.0.42
host_reject_connection = 127.0.0.41
acl_smtp_helo = acl_check_helo
acl_smtp_mail = acl_check_mail
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_connect = acl_check_connect

begin acl
acl_check_connect:
  # ratelimit on connections (Exim spec ch. 42.38)
  deny hosts = 127.0.0.20
       ratelimit = 0 / 1h / strict / per_conn
       message = Too many connections from \$sender_host_address, try again later
  defer hosts = 127.0.0.21
       ratelimit = 0 / 1h / strict / per_conn
  deny hosts = 127.0.0.40
  accept

acl_check_helo:
  # HELO checks admins add (Exim wiki / spec 42.x): a bare IP, our own name.
  deny hosts = 127.0.0.12
       condition = \${if isip{\$sender_helo_name}}
       message = Access denied - Invalid HELO name (See RFC2821 4.1.3)
  deny hosts = 127.0.0.12
       condition = \${if eq{\$sender_helo_name}{mx.exim.test}}
       message = Bad HELO - Host impersonating [\$sender_helo_name]
  deny hosts = 127.0.0.12
       condition = \${if !match{\$sender_helo_name}{\N\.\N}}
       message = HELO/EHLO name must be a FQDN
  deny hosts = 127.0.0.42
       !verify = helo
  accept

acl_check_mail:
  deny hosts = 127.0.0.14
       senders = *@probe.test
       message = sender envelope address \$sender_address is locally blacklisted here. If you think this is wrong, get in touch with postmaster
  accept

acl_check_rcpt:
  accept hosts = :
  deny domains = +local_domains
       local_parts = ^[.] : ^.*[@%!/|]
       message = Restricted characters in address
  # configure.default: deny message = rejected because \$sender_host_address
  # is in a black list at \$dnslist_domain\n\$dnslist_text
  deny hosts = 127.0.0.2
       dnslists = bl.test
       message = rejected because \$sender_host_address is in a black list at \$dnslist_domain\n\$dnslist_text
  deny hosts = 127.0.0.10
       dnslists = bl.test
  # Debian exim4-config's log_message for CHECK_RCPT_IP_DNSBLS used as message
  deny hosts = 127.0.0.47
       dnslists = bl.test
       message = \$sender_host_address is listed at \$dnslist_domain (\$dnslist_value: \$dnslist_text)
  deny hosts = 127.0.0.11
       !verify = reverse_host_lookup
  deny hosts = 127.0.0.15
       !verify = reverse_host_lookup
       message = Reverse DNS lookup failed for host \$sender_host_address
  deny hosts = 127.0.0.16 : 127.0.0.17
       !verify = sender
  deny hosts = 127.0.0.18
       ratelimit = 0 / 1h / strict
       message = Sender rate \$sender_rate / \$sender_rate_period
  deny hosts = 127.0.0.19
       ratelimit = 0 / 1h / strict
  defer hosts = 127.0.0.22
       message = \$sender_host_address is not yet authorized to deliver mail from <\$sender_address> to <\$local_part@\$domain>. Please try later.
  defer hosts = 127.0.0.23
       message = Greylisted - please try again later
  deny hosts = 127.0.0.24
       message = sender IP address \$sender_host_address is locally blacklisted here. If you think this is wrong, get in touch with postmaster
  # relay denial without a message (Exim's default text)
  deny !domains = +local_domains
  deny !verify = recipient
  accept

begin routers
local_user:
  driver = accept
  domains = +local_domains
  local_parts = postmaster : abuse : user
  transport = devnull
begin transports
devnull:
  driver = appendfile
  file = /dev/null
EOC
	chown root:root "$WORK/exim/configure"; chmod 644 "$WORK/exim/configure"
}

osmtpd_conf() {
	mkdir -p "$WORK/smtpd"
	: >"$WORK/smtpd/users"
	for d in smtpd virt.smtpd rdns.smtpd fcrdns.smtpd helo.smtpd from.smtpd listed.smtpd; do
		printf 'postmaster@%s.test root\nuser@%s.test root\n' "$d" "$d" >>"$WORK/smtpd/users"
	done
	cut -d' ' -f1 "$WORK/smtpd/users" >"$WORK/smtpd/rcpts"
	cat >"$WORK/smtpd/smtpd.conf" <<EOC
# OpenSMTPD 6.8: builtin filters as in smtpd.conf(5) (MAIL FILTERING: one
# condition per filter), one listener per filter, a virtual-user table
# (unknown users refused) and no relaying.
table vusers file:$WORK/smtpd/users
table rcpts file:$WORK/smtpd/rcpts
table domains { "smtpd.test", "rdns.smtpd.test", "fcrdns.smtpd.test", "helo.smtpd.test", "from.smtpd.test", "listed.smtpd.test" }
table badhelo { "localhost", "mx.smtpd.test" }
table badsenders { "spammer@probe.test" }
table listed { 127.0.0.2 }
filter "rdns" phase connect match !rdns disconnect "550 DNS error"
filter "fcrdns" phase connect match !fcrdns disconnect "550 no FCrDNS"
filter "helo" phase ehlo match helo <badhelo> reject "550 Invalid HELO"
filter "mailfrom" phase mail-from match mail-from <badsenders> reject "550 sender rejected"
filter "listed" phase connect match src <listed> disconnect "554 5.7.1 Listed in bl.test"
listen on $OSMTPD
listen on 127.0.0.31 filter "rdns"
listen on 127.0.0.32 filter "fcrdns"
listen on 127.0.0.33 filter "helo"
listen on 127.0.0.34 filter "mailfrom"
listen on 127.0.0.35 filter "listed"
action "local" mbox virtual <vusers>
# virt.smtpd.test has no rcpt-to table: the virtual expansion refuses unknown users
match from any for domain "virt.smtpd.test" action "local"
match from any for domain <domains> rcpt-to <rcpts> action "local"
EOC
	chmod 600 "$WORK/smtpd/smtpd.conf"
}

haraka_conf() { # haraka_conf DIR LISTEN PLUGIN...
	local h=$1 ip=$2
	shift 2
	rm -rf "$h"
	mkdir -p "$h/config"
	cp -r "$WORK/haraka/node_modules/Haraka/config/." "$h/config/"
	printf '%s\n' "$@" >"$h/config/plugins"
	printf '[main]\nlisten=%s:25\nnodes=0\n' "$ip" >"$h/config/smtp.ini"
	echo mx.haraka.test >"$h/config/me"
	printf 'haraka.test\nhelo.haraka.test\nfcrdns.haraka.test\n' >"$h/config/host_list"
	printf '[main]\nreject_no_mx=deny\n' >"$h/config/mail_from.is_resolvable.ini"
	cat >"$h/config/dns-list.ini" <<'EOC'
zones=bl.test
[main]
reject=true
[bl.test]
type=block
reject=true
EOC
	cat >"$h/config/fcrdns.ini" <<'EOC'
[reject]
no_rdns=true
no_fcrdns=true
invalid_tld=true
generic_rdns=true
EOC
	cat >"$h/config/helo.checks.ini" <<'EOC'
[check]
valid_hostname=true
bare_ip=true
dynamic=true
big_company=true
literal_mismatch=1
match_re=true
forward_dns=true
rdns_match=true
host_mismatch=true
proto_mismatch=true
[reject]
valid_hostname=true
bare_ip=true
dynamic=true
big_company=true
literal_mismatch=true
match_re=true
forward_dns=true
rdns_match=false
host_mismatch=false
proto_mismatch=false
[skip]
private_ip=false
relaying=false
EOC
}

probe() { # probe SOURCE TARGET [flags...]: prints the deciding reply as TSV
	local src=$1 target=$2 ns=$NS dns=$DNS; shift 2
	case $src in 198.18.*) ns=$NS-c dns=198.18.0.1 ;; esac
	ip netns exec "$ns" "$BLPROBE" smtp --resolver "$dns" --source-ip "$src" --tls off --format json "$@" "$target" 2>/dev/null |
		python3 -c '
import json,sys
try: d=json.load(sys.stdin)
except ValueError: sys.exit(0)
def walk(o):
    if isinstance(o,dict):
        if "stage" in o and "reply" in o: yield o
        for v in o.values(): yield from walk(v)
    elif isinstance(o,list):
        for v in o: yield from walk(v)
for p in walk(d):
    r=p["reply"] or {}
    txt=r.get("text","")
    if r.get("enhanced") and not txt.startswith(r["enhanced"]): txt=r["enhanced"]+" "+txt
    print("%s\t%s\t-\t-\t%s\t%s" % (r.get("code",""), p["stage"], sys.argv[1], txt.replace("\r","").replace("\n","\\n")))
' "$SRCTAG" || true # blprobe exits 1 on a rejection
}

up() {
	down
	install_mtas
	[ -n "${BLPROBE:-}" ] || { BLPROBE=$WORK/blprobe; (cd "$ROOT" && go build -o "$BLPROBE" ./cmd/blprobe); }
	zones; exim_conf; osmtpd_conf
	haraka_conf "$WORK/haraka/cfg" 198.18.0.1 dns-list mail_from.is_resolvable rcpt_to.in_host_list
	haraka_conf "$WORK/haraka/cfg2" 198.18.0.2 helo.checks rcpt_to.in_host_list
	haraka_conf "$WORK/haraka/cfg3" 198.18.0.3 fcrdns rcpt_to.in_host_list
	ip netns add "$NS"
	nsx ip link set lo up
	# Haraka's clients sit in a second namespace behind a veth pair: Haraka
	# skips its IP checks for private, TEST-NET and locally bound addresses
	# (haraka-net-utils lib/ip.js, on_local_interface), so they use 198.18.0.0/15
	# (RFC 2544 benchmarking) addresses that exist only in these namespaces.
	ip netns add "$NS-c"
	ip link add mtas0 netns "$NS" type veth peer name mtas1 netns "$NS-c"
	nsx ip addr add 198.18.0.1/24 dev mtas0
	nsx ip addr add 198.18.0.2/24 dev mtas0
	nsx ip addr add 198.18.0.3/24 dev mtas0
	nsx ip link set mtas0 up
	ip netns exec "$NS-c" ip link set lo up
	ip netns exec "$NS-c" ip addr add 198.18.0.7/24 dev mtas1
	ip netns exec "$NS-c" ip addr add 198.18.0.8/24 dev mtas1
	ip netns exec "$NS-c" ip link set mtas1 up
	mkdir -p "/etc/netns/$NS"
	echo "nameserver $DNS" >"/etc/netns/$NS/resolv.conf"
	printf '127.0.0.1 localhost\n' >"/etc/netns/$NS/hosts"
	chmod -R a+rX "$WORK/dns"
	nsx rbldnsd -u nobody -b "$DNS/53" -b 198.18.0.1/53 -p "$WORK/rbldnsd.pid" -w "$WORK/dns" \
		bl.test:ip4set:bl.test \
		exim.test:generic:exim.test smtpd.test:generic:smtpd.test haraka.test:generic:haraka.test \
		rdns.smtpd.test:generic:rdns.smtpd.test fcrdns.smtpd.test:generic:fcrdns.smtpd.test helo.smtpd.test:generic:helo.smtpd.test from.smtpd.test:generic:from.smtpd.test listed.smtpd.test:generic:listed.smtpd.test \
		relay.test:generic:relay.test virt.smtpd.test:generic:virt.smtpd.test relay3.test:generic:relay3.test helo.haraka.test:generic:helo.haraka.test fcrdns.haraka.test:generic:fcrdns.haraka.test relay2.test:generic:relay2.test probe.test:generic:probe.test nowhere.test:generic:empty in-addr.arpa:generic:empty >&2
	nsx "$WORK/root/usr/sbin/exim4" -C "$WORK/exim/configure" -bd
	nsx "$WORK/root/usr/sbin/smtpd" -f "$WORK/smtpd/smtpd.conf"
	for c in cfg cfg2 cfg3; do
		(cd "$WORK/haraka/$c" && nsx "$WORK/haraka/node_modules/.bin/haraka" -c "$WORK/haraka/$c" </dev/null >"$WORK/haraka/$c.log" 2>&1 &)
	done
	sleep 3
}

cases() { # SRCTAG names the MTA, version and rule of each case
	local ex="exim-4.96" os="opensmtpd-6.8.0p2" hk="haraka-3.3.4"
	SRCTAG="$ex deny dnslists+message" probe 127.0.0.2 user@exim.test
	SRCTAG="$ex deny dnslists (no message)" probe 127.0.0.10 user@exim.test
	SRCTAG="$ex require verify=reverse_host_lookup" probe 127.0.0.11 user@exim.test
	SRCTAG="$ex require verify=reverse_host_lookup+message" probe 127.0.0.15 user@exim.test
	SRCTAG="$ex helo_verify_hosts" probe 127.0.0.13 user@exim.test --helo mail.nowhere.test
	SRCTAG="$ex acl_smtp_helo own name" probe 127.0.0.12 user@exim.test --helo mx.exim.test
	SRCTAG="$ex acl_smtp_helo not FQDN" probe 127.0.0.12 user@exim.test --helo mailhost
	SRCTAG="$ex acl_smtp_mail senders locally blacklisted" probe 127.0.0.14 user@exim.test --from x@probe.test
	SRCTAG="$ex verify=sender (no such domain)" probe 127.0.0.16 user@exim.test --from x@nowhere.test
	SRCTAG="$ex verify=sender (unknown local part)" probe 127.0.0.17 user@exim.test --from nobody@probe.test
	SRCTAG="$ex verify=recipient" probe 127.0.0.100 nobody@exim.test
	SRCTAG="$ex local_parts restricted characters" probe 127.0.0.100 .dot@exim.test
	SRCTAG="$ex ratelimit+message" probe 127.0.0.18 user@exim.test
	SRCTAG="$ex ratelimit (no message)" probe 127.0.0.19 user@exim.test
	SRCTAG="$ex connect ratelimit deny+message" probe 127.0.0.20 user@exim.test
	SRCTAG="$ex connect ratelimit defer (no message)" probe 127.0.0.21 user@exim.test
	SRCTAG="$ex greylist defer (milter-greylist wording)" probe 127.0.0.22 user@exim.test
	SRCTAG="$ex greylist defer" probe 127.0.0.23 user@exim.test
	SRCTAG="$ex deny hosts locally blacklisted" probe 127.0.0.24 user@exim.test
	SRCTAG="$ex acl_smtp_connect deny (no message)" probe 127.0.0.40 user@exim.test
	SRCTAG="$ex host_reject_connection" probe 127.0.0.41 user@exim.test
	SRCTAG="$ex acl_smtp_helo !verify=helo (no message)" probe 127.0.0.42 user@exim.test --helo mail.nowhere.test
	SRCTAG="$ex deny dnslists (Debian log_message as message)" probe 127.0.0.47 user@exim.test
	SRCTAG="$ex relay denial (no message)" probe 127.0.0.100 user@relay.test
	SRCTAG="$ex accepted" probe 127.0.0.100 user@exim.test
	SRCTAG="$os unknown user (virtual table)" probe 127.0.0.100 nobody@smtpd.test
	SRCTAG="$os unknown user (virtual expansion)" probe 127.0.0.100 nobody@virt.smtpd.test
	SRCTAG="$os relay denial" probe 127.0.0.100 user@relay2.test
	SRCTAG="$os accepted" probe 127.0.0.100 user@smtpd.test
	SRCTAG="$os filter !rdns disconnect" probe 127.0.0.100 user@rdns.smtpd.test
	SRCTAG="$os filter !fcrdns disconnect" probe 127.0.0.100 user@fcrdns.smtpd.test
	SRCTAG="$os filter mail-from reject" probe 127.0.0.100 user@from.smtpd.test --from spammer@probe.test
	SRCTAG="$os filter src disconnect" probe 127.0.0.2 user@listed.smtpd.test
	SRCTAG="$hk dns-list" probe 198.18.0.7 user@haraka.test
	SRCTAG="$hk fcrdns no rDNS" probe 198.18.0.8 user@fcrdns.haraka.test
	SRCTAG="$hk helo.checks valid_hostname" probe 198.18.0.8 user@helo.haraka.test --helo mailhost
	SRCTAG="$hk helo.checks forward_dns" probe 198.18.0.8 user@helo.haraka.test --helo mail.nowhere.test
	SRCTAG="$hk mail_from.is_resolvable" probe 198.18.0.8 user@haraka.test --from x@nowhere.test
	SRCTAG="$hk rcpt_to.in_host_list" probe 198.18.0.8 user@relay3.test
	SRCTAG="$hk accepted" probe 198.18.0.8 user@haraka.test
}

case "${1:-run}" in
up) up ;;
down) down ;;
run) trap down EXIT; up; cases ;;
*) echo "usage: $0 [run|up|down]" >&2; exit 2 ;;
esac
