#!/bin/sh
# Runs the dnsbl engine benchmark against an in-process loopback DNS server
# (no external traffic). See bench/README.md for how to read the output.
set -eu
cd "$(dirname "$0")/.."
uptime || true
exec go test -run '^$' -bench Check -benchtime 3x ./dnsbl
