#!/bin/sh
# confine.sh UNIT DIR... -- COMMAND [ARG...]
# Runs COMMAND as close to how systemd runs UNIT's ExecStart as a lab without systemd
# (user-mode Linux, init a shell script) allows, so the lab's agents prove the unit's
# sandbox leaves them working:
#   CapabilityBoundingSet=  read from UNIT: uid 0 keeps exactly those capabilities
#                           (bounding set; inheritable set emptied), nothing else
#   NoNewPrivileges=yes     no_new_privs
#   ProtectSystem=strict    every mount read-only but /proc, /sys, /dev and each DIR
#                           (StateDirectory=)
#   ProtectHome=yes, PrivateTmp=yes   an empty inaccessible /home and /root, a private /tmp
#                           (holding COMMAND's directory when that is under /tmp)
# Not reproduced: the seccomp filter (SystemCallFilter=) and the other Protect*= of the
# unit, which need systemd itself; docs/operations.md says what was verified where.
set -eu
unit=$1; shift
rw=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do rw="$rw $1"; shift; done
[ $# -gt 1 ] || { echo "usage: confine.sh UNIT DIR... -- COMMAND [ARG...]" >&2; exit 2; }
shift
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' '\n' | grep . |
	tr 'A-Z' 'a-z' | sed 's/^cap_/+/' | paste -sd, -)
[ -n "$caps" ] || { echo "confine.sh: no CapabilityBoundingSet= in $unit" >&2; exit 2; }
export CONFINE_RW="$rw" CONFINE_CAPS="-all,$caps"
exec unshare --mount --propagation private sh -c '
	set -eu
	for d in $CONFINE_RW; do mount --bind "$d" "$d"; done
	# PrivateTmp=; a build tree under /tmp (the lab run from a scratch checkout) is put
	# back into it from the old /tmp, still reachable as the working directory.
	bin=$(dirname "$(readlink -f "$1")")
	cd "$bin"
	mount -t tmpfs -o mode=0755 none /tmp
	case "$bin" in /tmp/*) mkdir -p "$bin"; mount --no-canonicalize --bind . "$bin";; esac
	cd /
	for d in /home /root; do [ -d "$d" ] && mount -t tmpfs -o ro,mode=0 none "$d"; done
	# A flag change of each mount on its own (the order does not matter); /tmp is the
	# private one just made.
	awk "{ print \$5 }" /proc/self/mountinfo | while read -r m; do
		case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/tmp) continue;; esac
		case " $CONFINE_RW " in *" $m "*) continue;; esac
		mount -o remount,bind,ro "$m" 2>/dev/null || mount -o remount,ro "$m"
	done
	exec setpriv --bounding-set "$CONFINE_CAPS" --inh-caps=-all --no-new-privs -- "$@"
' confine "$@"
