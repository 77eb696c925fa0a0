#!/bin/sh
# Runs a script of the lab inside user-mode Linux with the host's root through hostfs
# (the host kernel of these machines has no GRE, VTI or ESP; UML is a real 6.1 kernel).
#   contrib/lab/lab.sh SCRIPT [ARGS...]   SCRIPT relative to the repository
# Prints the script's progress as it goes; exits with the script's status. Writes
# nothing outside a temporary results directory (removed afterwards unless
# LAB_KEEP=DIR, where the logs are copied).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${BUILD:-$ROOT/build}" 2>/dev/null && pwd) || { echo "lab: build directory missing: run make" >&2; exit 1; }
MAIN=${1:?usage: lab.sh SCRIPT [ARGS...]}
shift
LIMIT=${LAB_TIME_LIMIT:-300}
MEM=${LAB_MEM:-1024M}

fail() { echo "lab: FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || fail "$1 not found ($2): run contrib/install-deps.sh"; }
[ "$(id -u)" = 0 ] || fail "run as root (UML boots the host's root file system read-write)"
need /usr/bin/linux.uml user-mode-linux
need /usr/lib/ipsec/charon strongswan-charon
need swanctl strongswan-swanctl
need modprobe kmod
need iptables-legacy iptables
need tcpdump tcpdump
need jq jq
need curl curl
need column bsdextrautils
for b in gresec-controller gresec-agent; do
	[ -x "$BUILD/$b" ] && [ -s "$BUILD/$b" ] || fail "$BUILD/$b not built: run make"
done
ls -d /usr/lib/uml/modules/*/ >/dev/null 2>&1 || fail "no UML modules under /usr/lib/uml/modules"

# The network file may be given relative to where the lab was started from.
case ${LAB_JSON:-} in
""|/*) ;;
*) [ -f "$LAB_JSON" ] || fail "LAB_JSON=$LAB_JSON: no such file"; LAB_JSON=$(pwd)/$LAB_JSON ;;
esac
OUT=$(mktemp -d /tmp/gresec-lab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT INT TERM
# UML hands unknown NAME=value boot parameters to init as its environment; `quiet`
# keeps the kernel's own messages off the console.
timeout -k 5 "$LIMIT" sh "$ROOT/contrib/lab/uml.sh" mem="$MEM" rootfstype=hostfs rootflags=/ rw quiet \
	init="$ROOT/contrib/lab/uml-init.sh" con=null con0=fd:0,fd:1 \
	LAB_ROOT="$ROOT" LAB_BUILD="$BUILD" LAB_OUT="$OUT" LAB_MAIN="$MAIN" \
	LAB_ARGS="$(echo "$*" | tr ' ' ,)" LAB_T0="$(date +%s)" \
	LAB_JSON="${LAB_JSON:-}" </dev/null 2>&1 |
	grep --line-buffered -v -e '^\[ *[0-9.]*\]' -e '^Checking' -e '^Linux version' \
		-e '^Kernel command line' -e '^random: ' -e 'ip_tables: ' -e '^SELinux: ' \
		-e '^mmapper_init' -e 'ubd device' -e '^Halting' -e '^reboot: ' -e '^$' || :
if [ -n "${LAB_KEEP:-}" ]; then
	mkdir -p "$LAB_KEEP" && cp -r "$OUT"/. "$LAB_KEEP"/ && echo "lab: logs kept in $LAB_KEEP"
fi
[ -f "$OUT/rc" ] || fail "the UML run ended without a result (boot failure, or over ${LIMIT}s)"
exit "$(cat "$OUT/rc")"
