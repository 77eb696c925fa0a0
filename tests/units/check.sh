#!/bin/sh
# tests/units/check.sh BUILD: the systemd units of contrib/systemd, as shipped.
#   - `systemd-analyze security --offline=true`: overall exposure at most 2.5 for each
#     (docs/operations.md, "Least privilege"); the table is printed when it is not
#   - `systemd-analyze verify`, the binaries of BUILD in place of the installed ones
#   - the agent keeps exactly CAP_NET_ADMIN and CAP_NET_BIND_SERVICE; the controller none
# Exit status: the number of failed checks.
set -u
cd "$(dirname "$0")/../.."
BUILD=$1
MAX=25				# --threshold is ten times the printed exposure
FAILED=0
TMP=$(mktemp -d /tmp/gresec-units.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

for u in contrib/systemd/*.service; do
	n=$(basename "$u")
	if out=$(systemd-analyze security --offline=true --threshold=$MAX "$u" 2>&1); then
		pass "$n: exposure $(echo "$out" | tail -n 1 | sed 's/.*: //')"
	else
		echo "$out"
		fail "$n: exposure over $MAX/10"
	fi
	sed "s|/usr/local/bin/|$(cd "$BUILD" && pwd)/|g" "$u" > "$TMP/$n"
done
# /etc/default/gresec-agent need not exist for verify; the binaries must.
if out=$(systemd-analyze verify --man=no "$TMP"/*.service 2>&1) && [ -z "$out" ]; then
	pass "systemd-analyze verify: $(cd contrib/systemd && ls *.service | tr '\n' ' ')"
else
	echo "$out"
	fail "systemd-analyze verify"
fi

caps() { sed -n "s/^$2=//p" "contrib/systemd/$1"; }
for k in CapabilityBoundingSet AmbientCapabilities; do
	[ "$(caps gresec-agent.service $k)" = "CAP_NET_ADMIN CAP_NET_BIND_SERVICE" ] &&
		pass "agent: $k=CAP_NET_ADMIN CAP_NET_BIND_SERVICE" ||
		fail "agent: $k=$(caps gresec-agent.service $k)"
	[ -z "$(caps gresec-controller.service $k)" ] && pass "controller: $k= (none)" ||
		fail "controller: $k=$(caps gresec-controller.service $k)"
done
[ "$(caps gresec-controller.service User)" = gresec ] && pass "controller: User=gresec" ||
	fail "controller: User=$(caps gresec-controller.service User)"
exit "$FAILED"
