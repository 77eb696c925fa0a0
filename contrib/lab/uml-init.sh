#!/bin/sh
# PID 1 inside user-mode Linux for the lab (contrib/lab/lab.sh): private /run (hostfs
# shares the host's, where `ip netns` would leave files) and a tmpfs for everything the
# lab writes (controller database, charon and agent state), then the lab's script.
# Its stdout is the console the host shows as progress.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LC_ALL=C
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs none /run
mount -t tmpfs -o size=256m none /mnt
mkdir -p /mnt/lab
ip link set lo up
sh "$LAB_ROOT/$LAB_MAIN" $LAB_ARGS 2>&1 | tee "$LAB_OUT/console"
# The pipeline's status is tee's: the script leaves its own in $LAB_OUT/rc.
sync
halt -f
