#!/bin/sh
# PID 1 inside user-mode Linux: a private /run (hostfs shares the host's, where
# `ip netns` would otherwise leave files), a tmpfs for the VICI sockets, then the test.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs none /run
mkdir -p "$IKE_WORK/s"
mount -t tmpfs none "$IKE_WORK/s"
sh "$IKE_SRC/ike_test.sh" >"$IKE_WORK/log" 2>&1
echo $? >"$IKE_WORK/rc.tmp"
cat "$IKE_WORK/log"
umount "$IKE_WORK/s" 2>/dev/null
mv "$IKE_WORK/rc.tmp" "$IKE_WORK/rc"
sync
halt -f
