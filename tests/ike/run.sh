#!/bin/sh
# The IKE suite: boots user-mode Linux (a real kernel with GRE/ESP, see
# docs/../shared kernel-lab facts) with the host's root file system and runs
# tests/ike/ike_test.sh as its init. Fails, never skips, when something it needs is
# missing. Usage: run.sh /abs/path/to/ike_driver
set -u
DRIVER=${1:?usage: run.sh IKE_DRIVER}
HERE=$(cd "$(dirname "$0")" && pwd)
LIMIT=${IKE_TIME_LIMIT:-170}

need() {
	if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
		echo "ike: FAIL: $1 not found ($2); run 'make deps'" >&2
		exit 1
	fi
}
need /usr/bin/linux.uml "package user-mode-linux"
need /usr/lib/ipsec/charon "package strongswan-charon"
need swanctl "package strongswan-swanctl"
need modprobe "package kmod"
need tcpdump "package tcpdump"
need timeout "coreutils"
[ -x "$DRIVER" ] || { echo "ike: FAIL: driver $DRIVER not built" >&2; exit 1; }
ls -d /usr/lib/uml/modules/*/ >/dev/null 2>&1 ||
	{ echo "ike: FAIL: no UML modules under /usr/lib/uml/modules" >&2; exit 1; }

WORK=$(mktemp -d /tmp/gresec-ike.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "== ike: user-mode Linux, work dir $WORK"
start=$(date +%s)
# UML hands unknown key=value boot parameters to init as environment.
timeout -k 5 "$LIMIT" sh "$HERE/../../contrib/lab/uml.sh" mem=512M rootfstype=hostfs rootflags=/ rw \
	init="$HERE/uml_init.sh" IKE_WORK="$WORK" IKE_DRIVER="$DRIVER" IKE_SRC="$HERE" \
	con=null con0=fd:0,fd:1 </dev/null 2>&1 |
	grep -v -e '^\[' -e 'Checking' -e 'Linux version' -e 'Kernel command line' || :
end=$(date +%s)
if [ ! -f "$WORK/rc" ]; then
	echo "ike: FAIL: the UML run ended without a result (boot failure or over ${LIMIT}s)"
	[ -f "$WORK/log" ] && tail -n 40 "$WORK/log"
	exit 1
fi
rc=$(cat "$WORK/rc")
if [ "$rc" != 0 ]; then
	echo "ike: FAIL ($((end - start)) s); charon logs:"
	for f in "$WORK"/charon-*.log; do echo "--- $f"; tail -n 30 "$f"; done
	exit 1
fi
echo "ike: all passed ($((end - start)) s)"
