#!/bin/sh
# init (pid 1) inside user-mode Linux: prepare, run the scenarios, power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
# hostfs shares the host's /run: a private one keeps `ip netns` away from the host's.
mount -t tmpfs none /run
echo "$GRESEC_KT/modprobe" > /proc/sys/kernel/modprobe
ok=1
for m in ip_gre ip_vti esp4 xfrm_user veth dummy gcm; do
	modprobe -d "$GRESEC_KT/kmod" "$m" || { echo "FAIL modules: cannot load $m" >> "$GRESEC_KT/results"; ok=0; }
done
ip link set lo up
if [ $ok = 1 ]; then
	sh "$GRESEC_ROOT/tests/kernel/scenarios.sh" > "$GRESEC_KT/log" 2>&1
fi
echo DONE >> "$GRESEC_KT/results"
sync
halt -f
