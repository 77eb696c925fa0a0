#!/bin/bash
# BFD engine benchmark: the agent's BFD code (agent/bfd.c, agent/bfd_set.c, driven by
# tests/bfd/bfd_pair.c in one poll loop as the agent's daemon drives it) with
# BENCH_BFD_SESSIONS (500) sessions at 100 ms x 3, against as many at the other end of
# a veth pair between two network namespaces, on the host kernel. Measured over
# BENCH_BFD_SECONDS (30) once every session is Up: CPU of one end (user + system, % of
# one core) and its RSS growth. Baseline in the same run: the same with one session.
# Targets: <= 5 % of one core, RSS growth <= 2 MB, no session lost on the way.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
pair=${GRESEC_BUILD:-$top/build}/tests/bfd_pair
n=${BENCH_BFD_SESSIONS:-500}
secs=${BENCH_BFD_SECONDS:-30}
A=gsbenchA-$$ B=gsbenchB-$$
work=$(mktemp -d /tmp/gresec-bench-bfd.XXXXXX)

die() { echo "bfd: $*" >&2; exit 2; }
cleanup() {
	pkill -f "bfd_pair --many" 2>/dev/null
	ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null
	[ -n "${BENCH_BFD_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
[ -x "$pair" ] || die "$pair not built (make bench builds it)"
ticks=$(getconf CLK_TCK)

# run COUNT: both ends up, then CPU% and RSS growth of end A: "cpu_pct rss_kb_growth ups downs"
run() {
	local cnt=$1
	: > "$work/a.batch"; : > "$work/b.batch"
	ip netns add "$A" && ip netns add "$B" || die "netns"
	ip link add va netns "$A" type veth peer name vb netns "$B" || die "veth"
	for ((i = 0; i < cnt; i++)); do
		echo "addr add 169.254.$((i / 128)).$((2 * (i % 128)))/31 dev va" >> "$work/a.batch"
		echo "addr add 169.254.$((i / 128)).$((2 * (i % 128) + 1))/31 dev vb" >> "$work/b.batch"
	done
	printf 'link set va up\nlink set lo up\n' >> "$work/a.batch"
	printf 'link set vb up\nlink set lo up\n' >> "$work/b.batch"
	ip -n "$A" -batch "$work/a.batch" && ip -n "$B" -batch "$work/b.batch" || die "addresses"
	ip netns exec "$B" "$pair" --many "$cnt,vb,1,100,3" > "$work/b.out" 2>&1 &
	ip netns exec "$A" "$pair" --many "$cnt,va,0,100,3" > "$work/a.out" 2>&1 &
	local pa=$!
	local t=0
	ups() { awk '$2 == "state" && $5 == "up"' "$work/a.out" | wc -l; }
	while [ "$(ups)" -lt "$cnt" ]; do
		sleep 0.2; t=$((t + 1))
		[ $t -lt 150 ] || die "only $(ups) of $cnt sessions up after 30 s"
	done
	sleep 2
	local c0 r0 c1 r1
	c0=$(awk '{ print $14 + $15 }' "/proc/$pa/stat"); r0=$(awk '/VmRSS/ { print $2 }' "/proc/$pa/status")
	sleep "$secs"
	c1=$(awk '{ print $14 + $15 }' "/proc/$pa/stat"); r1=$(awk '/VmRSS/ { print $2 }' "/proc/$pa/status")
	local downs; downs=$(awk '$2 == "state" && $4 == "up"' "$work/a.out" | wc -l)
	pkill -f "bfd_pair --many" ; wait 2>/dev/null
	ip netns del "$A"; ip netns del "$B"
	awk -v c=$((c1 - c0)) -v hz="$ticks" -v s="$secs" -v r=$((r1 - r0)) -v d="$downs" \
		'BEGIN { printf "%.2f %d %d\n", 100 * c / hz / s, r, d }'
}

read -r base_cpu base_rss base_down < <(run 1)
read -r cpu rss down < <(run "$n")
verdict=met
awk -v c="$cpu" 'BEGIN { exit !(c <= 5.0) }' && [ "$rss" -le 2048 ] && [ "$down" = 0 ] || verdict=MISSED
echo "baseline, 1 session: ${base_cpu} % of one core, RSS growth ${base_rss} kB over ${secs} s"
echo "${n} sessions at 100 ms x 3: ${cpu} % of one core ($(awk -v a="$cpu" -v b="$base_cpu" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }') x the baseline), RSS growth ${rss} kB, ${down} sessions went down"
echo "RESULT: bfd ${n} sessions ${cpu}% CPU (target <= 5%), RSS +${rss} kB (<= 2048), ${down} downs ($verdict)"
[ "$verdict" = met ] || [ "${BENCH_STRICT:-0}" != 1 ]
