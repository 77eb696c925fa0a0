#!/bin/sh
# tests/units/deb_check.sh DEB_DIR: the packages `make deb` left in DEB_DIR.
#   - lintian: no error (warnings are printed)
#   - each package holds what docs/operations.md ("Debian packages") says it does
#   - the units as packaged pass `systemd-analyze verify` against the packaged binaries
# Exit status: the number of failed checks.
set -u
DEB=$1
V=$(dpkg-parsechangelog -l "$(dirname "$0")/../../debian/changelog" -S Version)
FAILED=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

if lintian --fail-on error "$DEB/gresec_${V}_$(dpkg --print-architecture).changes"; then
	pass "lintian: no error in gresec-controller, gresec-agent, gresec $V"
else
	fail "lintian reports errors"
fi

has() {	# has PACKAGE PATH...
	p=$1; shift
	list=$(dpkg-deb -c "$DEB/${p}_${V}_$(dpkg --print-architecture).deb" | awk '{ print $6 }')
	for f; do
		echo "$list" | grep -qx "./$f" || { fail "$p lacks /$f"; return; }
	done
	pass "$p: $*"
}
has gresec-controller usr/bin/gresec-controller lib/systemd/system/gresec-controller.service \
	usr/lib/sysusers.d/gresec-controller.conf usr/lib/tmpfiles.d/gresec-controller.conf \
	usr/share/gresec/openapi.yaml usr/share/doc/gresec-controller/operations.md \
	usr/share/man/man8/gresec-controller.8.gz
has gresec-agent usr/bin/gresec-agent lib/systemd/system/gresec-agent.service \
	usr/lib/tmpfiles.d/gresec-agent.conf etc/iproute2/rt_protos.d/gresec.conf \
	etc/default/gresec-agent usr/share/doc/gresec-agent/operations.md \
	usr/share/man/man8/gresec-agent.8.gz
has gresec usr/bin/gresec usr/share/doc/gresec/cli.md usr/share/man/man1/gresec.1.gz

R=$DEB/root
rm -rf "$R" && mkdir -p "$R/units"
for p in gresec-controller gresec-agent gresec; do
	dpkg-deb -x "$DEB/${p}_${V}_$(dpkg --print-architecture).deb" "$R"
done
for u in "$R"/lib/systemd/system/*.service; do
	sed "s|/usr/bin/|$(cd "$R" && pwd)/usr/bin/|g" "$u" > "$R/units/$(basename "$u")"
done
if out=$(systemd-analyze verify --man=no "$R"/units/*.service 2>&1) && [ -z "$out" ]; then
	pass "systemd-analyze verify: the packaged units"
else
	echo "$out"
	fail "systemd-analyze verify: the packaged units"
fi
"$R/usr/bin/gresec-controller" --help > /dev/null && "$R/usr/bin/gresec-agent" --help > /dev/null &&
	"$R/usr/bin/gresec" --help > /dev/null && pass "the packaged binaries run" ||
	fail "a packaged binary does not run"
exit "$FAILED"
