#!/bin/sh
# Kernel tests: boots user-mode Linux (a real 6.1 kernel with GRE, VTI, ESP) with the
# host's root through hostfs, runs tests/kernel/scenarios.sh inside as init, and fails
# loudly when UML cannot boot or a scenario fails. Never skips.
#   tests/kernel/run.sh [SCENARIO...]      (default: all)
#   GRESEC_UPDATE_GOLDEN=1 tests/kernel/run.sh dryrun   rewrites the golden plans
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UML=${GRESEC_UML:-$ROOT/contrib/lab/uml.sh}
AGENT=${GRESEC_AGENT:-$ROOT/build/gresec-agent}
LIMIT=${GRESEC_KT_TIMEOUT:-240}

die() { echo "kernel tests: FAIL: $*" >&2; exit 1; }
[ -x "$UML" ] || die "$UML missing: install user-mode-linux (contrib/install-deps.sh)"
command -v modprobe >/dev/null || [ -x /usr/sbin/modprobe ] || die "modprobe missing: install kmod"
[ -x "$AGENT" ] && [ -s "$AGENT" ] || die "$AGENT not built"
mods=$(ls -d /usr/lib/uml/modules/* 2>/dev/null | head -n1)
[ -n "$mods" ] || die "no UML modules under /usr/lib/uml/modules"

KT=$(mktemp -d /tmp/gresec-kt.XXXXXX)
trap 'rm -rf "$KT"' EXIT
mkdir -p "$KT/kmod/lib"
ln -s /usr/lib/uml/modules "$KT/kmod/lib/modules"
# The kernel runs this for modules it requests itself (crypto templates).
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d %s "$@"\n' "$KT/kmod" > "$KT/modprobe"
chmod +x "$KT/modprobe"
: > "$KT/results"

start=$(date +%s)
# Kernel parameters of the form NAME=value reach init as environment variables.
set +e
timeout "$LIMIT" "$UML" mem=768M rootfstype=hostfs rootflags=/ rw \
	init="$ROOT/tests/kernel/uml-init.sh" con=null con0=fd:0,fd:1 \
	GRESEC_KT="$KT" GRESEC_ROOT="$ROOT" GRESEC_AGENT="$AGENT" \
	GRESEC_UPDATE_GOLDEN="${GRESEC_UPDATE_GOLDEN:-}" GRESEC_ONLY="$(echo "$*" | tr ' ' ,)" </dev/null > "$KT/console" 2>&1
rc=$?
set -e
end=$(date +%s)

cat "$KT/results"
[ -n "${GRESEC_KT_KEEP:-}" ] && cp "$KT/log" "$KT/console" "$GRESEC_KT_KEEP/" 2>/dev/null
if ! grep -q '^DONE$' "$KT/results"; then
	echo "---- UML console (tail) ----" >&2
	tail -n 60 "$KT/console" >&2
	[ $rc -eq 124 ] && die "UML run exceeded ${LIMIT}s"
	die "UML did not complete the suite (exit $rc)"
fi
if grep -q '^FAIL' "$KT/results"; then
	echo "---- scenario log (tail) ----" >&2
	tail -n 80 "$KT/log" >&2
	die "$(grep -c '^FAIL' "$KT/results") scenario(s) failed"
fi
n=$(grep -c '^PASS' "$KT/results")
[ "$n" -gt 0 ] || die "no scenario ran"
echo "kernel tests: $n scenario(s) passed in $((end - start))s"
