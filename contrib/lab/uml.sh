#!/bin/sh
# Starts Debian's user-mode Linux (/usr/bin/linux.uml) with its arguments, the xstate
# shim preloaded (contrib/lab/uml-xstate.c: UML 6.1 cannot switch processes on hosts
# with AMX without it; elsewhere it changes nothing). The shim is built on first use
# into $UML_SHIM_DIR (default: the build directory).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${UML_SHIM_DIR:-${BUILD:-$ROOT/build}}
SRC=$ROOT/contrib/lab/uml-xstate.c
SHIM=$DIR/uml-xstate.so
if [ ! -f "$SHIM" ] || [ "$SRC" -nt "$SHIM" ]; then
	mkdir -p "$DIR"
	${CC:-cc} -O2 -Wall -Werror -shared -fPIC -o "$SHIM.tmp" "$SRC" -ldl
	mv "$SHIM.tmp" "$SHIM"
fi
LD_PRELOAD=$SHIM exec /usr/bin/linux.uml "$@"
