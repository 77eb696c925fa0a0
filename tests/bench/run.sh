#!/bin/sh
# `make bench`: runs every tests/bench/*.sh but this one, in name order, each bounded in
# time (BENCH_TIMEOUT seconds, 600, or what its "# bench-timeout: S" line asks), then
# prints one summary line per benchmark: its "RESULT:" line, or how it failed.
# Benchmarks are not tests: the exit status is 1 only when a benchmark could not run
# (or, with BENCH_STRICT=1, missed a target).
set -u
here=$(cd "$(dirname "$0")" && pwd)
limit=${BENCH_TIMEOUT:-600}
out=$(mktemp -d /tmp/gresec-benchrun.XXXXXX)
trap 'rm -rf "$out"' EXIT
status=0

for b in "$here"/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run ] && continue
	echo "== bench: $name"
	t=$(sed -n 's/^# bench-timeout: \([0-9]*\)$/\1/p' "$b")
	# No pipefail in sh: the benchmark's own status goes through a file.
	{ timeout --kill-after=10 "${t:-$limit}" bash "$b"; echo $? >"$out/$name.rc"; } 2>&1 |
		tee "$out/$name.log"
	echo
done

echo "== bench summary"
for rcf in "$out"/*.rc; do
	[ -e "$rcf" ] || { echo "  (no benchmarks found)"; break; }
	name=$(basename "$rcf" .rc)
	rc=$(cat "$rcf")
	result=$(sed -n 's/^RESULT: //p' "$out/$name.log" | tail -n 1)
	case $rc in
	0) line=${result:-ran} ;;
	124|137) line="timed out"; status=1 ;;
	*) line="failed (exit $rc)${result:+: $result}"; status=1 ;;
	esac
	printf '  %-20s %s\n' "$name" "$line"
done
exit $status
