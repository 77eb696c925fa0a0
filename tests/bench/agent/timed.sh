#!/bin/bash
# timed.sh OUT LABEL CMD...: runs CMD (inside whatever namespace this was started in) and
# appends "LABEL <wall microseconds> <exit status> <peak RSS kB>" to OUT. The clock is read
# here, after `ip netns exec` has set the namespace up, so both contenders are timed alike.
out=$1 label=$2
shift 2
rss=$(mktemp)
t0=${EPOCHREALTIME/./}
/usr/bin/time -f %M -o "$rss" "$@"
rc=$?
t1=${EPOCHREALTIME/./}
echo "$label $((t1 - t0)) $rc $(tail -n 1 "$rss")" >> "$out"
rm -f "$rss"
exit $rc
