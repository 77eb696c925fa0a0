#!/bin/sh
# init (pid 1) of the IKE benchmark's user-mode Linux (tests/bench/ike.sh): private /run
# (hostfs shares the host's) and a tmpfs for charon's sockets and logs, then inside.sh.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LC_ALL=C
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs none /run
mount -t tmpfs -o size=128m none /mnt
echo "$GRESEC_BT/modprobe" > /proc/sys/kernel/modprobe
ip link set lo up
bash "$GRESEC_ROOT/tests/bench/ike/inside.sh" > "$GRESEC_BT/log" 2>&1
echo DONE >> "$GRESEC_BT/results"
sync
halt -f
