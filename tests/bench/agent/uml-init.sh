#!/bin/sh
# init (pid 1) of the agent benchmark's user-mode Linux: prepare, run inside.sh, power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
# hostfs shares the host's /run: a private one keeps `ip netns` away from the host's.
mount -t tmpfs none /run
echo "$GRESEC_BT/modprobe" > /proc/sys/kernel/modprobe
ok=1
for m in ip_gre xfrm_user; do
	modprobe -d "$GRESEC_BT/kmod" "$m" || { echo "ERROR cannot load $m" >> "$GRESEC_BT/results"; ok=0; }
done
ip link set lo up
[ $ok = 1 ] && bash "$GRESEC_ROOT/tests/bench/agent/inside.sh" > "$GRESEC_BT/log" 2>&1
echo DONE >> "$GRESEC_BT/results"
sync
halt -f
