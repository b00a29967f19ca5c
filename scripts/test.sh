#!/usr/bin/env bash
# The test command: unit/integration tests of the whole module with the race
# detector, then the end-to-end test against real Postfix + rbldnsd in a
# network namespace (scripts/e2e-postfix.sh), and blprobe serve scraped by a
# real Prometheus on loopback (scripts/e2e-prometheus.sh).
#
# As root it installs what the tests need (postfix, rbldnsd, iproute2; gcc
# and libc6-dev for -race) from Debian if missing. Without root or network-namespace support the e2e
# test is skipped with a message for developers, but is a failure in CI
# (CI=true). Environment: SKIP_E2E=1 skips the e2e test outside CI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

CI=${CI:-}
in_ci() { [ "$CI" = true ] || [ "$CI" = 1 ]; }
say() { printf '==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || fail "go not found (need Go $(sed -n 's/^go //p' go.mod), e.g. in /usr/local/go/bin)"

# e2e_blocker prints why the e2e test cannot run here, if it cannot.
e2e_blocker() {
	if [ "$(id -u)" != 0 ]; then
		echo "not root (network namespaces and Postfix need root: sudo scripts/e2e-postfix.sh)"
	elif ! command -v unshare >/dev/null || ! unshare --net true 2>/dev/null; then
		echo "no network namespace support here (unshare --net failed)"
	elif [ "${SKIP_E2E:-}" = 1 ] && ! in_ci; then
		echo "SKIP_E2E=1"
	fi
}

install_deps() {
	local missing=()
	# go test -race needs cgo, hence a C compiler.
	command -v "$(go env CC)" >/dev/null || missing+=(gcc libc6-dev)
	command -v postfix >/dev/null || missing+=(postfix)
	command -v rbldnsd >/dev/null || missing+=(rbldnsd)
	command -v ip >/dev/null && command -v ss >/dev/null || missing+=(iproute2)
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null || fail "need ${missing[*]} and apt-get is not available"
	if [ "$(id -u)" != 0 ]; then
		in_ci && fail "not root: cannot install ${missing[*]}"
		say "missing ${missing[*]} (not root: not installing)"
		return 0
	fi
	say "installing ${missing[*]}"
	# Keep the postfix package from asking questions or writing a main.cf:
	# the e2e test uses its own private Postfix configuration.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" </dev/null >/dev/null
}

install_deps
blocker=$(e2e_blocker)

say "go test -race -count=1 ./..."
start=$SECONDS
go test -race -count=1 ./... || fail "go test ./... failed"
say "go test ./... passed in $((SECONDS - start))s"

if [ -n "$blocker" ]; then
	if in_ci; then
		fail "e2e test cannot run in CI: $blocker"
	fi
	say "SKIPPING the e2e test with real Postfix: $blocker"
	exit 0
fi

say "e2e: blprobe vs real Postfix + rbldnsd (scripts/e2e-postfix.sh)"
start=$SECONDS
scripts/e2e-postfix.sh run
say "e2e passed in $((SECONDS - start))s"

say "e2e: blprobe serve scraped by a real Prometheus (scripts/e2e-prometheus.sh)"
start=$SECONDS
scripts/e2e-prometheus.sh run
say "e2e (Prometheus) passed in $((SECONDS - start))s"
