#!/bin/bash
# The agent benchmark proper, inside user-mode Linux (see tests/bench/agent.sh). Each
# contender starts from a fresh namespace; results go to $GRESEC_BT/results as lines
# "LABEL microseconds status peak-RSS-kB", plus "messages LABEL N" and "same yes|no".
BT=$GRESEC_BT
HERE=$GRESEC_ROOT/tests/bench/agent
AGENT=$GRESEC_AGENT
ROUNDS=${GRESEC_BENCH_ROUNDS:-3}
RES=$BT/results
NS=bench
PY=/usr/bin/python3

log() { echo "$(date +%T.%N | cut -c1-12) $*"; }
inns() { ip netns exec "$NS" "$@"; }
timed() { inns bash "$HERE/timed.sh" "$RES" "$@"; }
# msgs LABEL ERRFILE: from the agent's summary and debug lines, its changing messages
# and the time, sendmsg calls and read requests of its reconcile pass, to the results.
msgs() {
	local line
	echo "messages $1 $(sed -n 's/^gresec-agent: actions=[0-9]* messages=\([0-9]*\).*/\1/p' "$2")" >> "$RES"
	line=$(grep -h ': pass [0-9.]* ms:' "$2" | tail -n 1)
	echo "  $1: ${line#*debug: }"
	echo "$line" | sed -n 's/.*: pass \([0-9.]*\) ms:.* in \([0-9]*\) sendmsg, \([0-9]*\) read requests.*/pass '"$1"' \1 \2 \3/p' >> "$RES"
}

fresh() {
	ip netns del "$NS" 2>/dev/null
	ip netns add "$NS" && ip -n "$NS" link set lo up
}

# Removes what either contender made without timing it, then lets the kernel finish
# tearing the namespace down before the next contender starts.
reset() {
	inns "$AGENT" --purge 2> /dev/null
	ip netns del "$NS"
	sleep 1
}

run_ip() {	# run_ip ROUND
	fresh
	log "round $1: ip -batch"
	timed ip_batch ip -force -batch "$BT/b500/ip.batch" || log "ip -batch failed"
	timed ip_sysctl sysctl -q -w $(cat "$BT/b500/sysctl.args") || log "sysctl failed"
	[ "$1" = 1 ] && inns $PY "$HERE/snapshot.py" > "$BT/snap.ip"
	reset
}

run_agent() {	# run_agent ROUND
	fresh
	# The process alone: start, read an empty kernel, plan nothing, exit.
	timed agent_start "$AGENT" --purge 2> /dev/null
	log "round $1: agent cold apply"
	timed agent_cold "$AGENT" --intent "$BT/i500/a.json" --once --log-level debug 2> "$BT/cold.err" ||
		{ log "agent cold apply failed"; cat "$BT/cold.err"; }
	msgs agent_cold "$BT/cold.err"
	[ "$1" = 1 ] && inns $PY "$HERE/snapshot.py" > "$BT/snap.agent"
	log "round $1: agent restart, unchanged intent"
	timed agent_noop "$AGENT" --intent "$BT/i500/a.json" --once --log-level debug 2> "$BT/noop.err" ||
		{ log "agent no-op failed"; cat "$BT/noop.err"; }
	msgs agent_noop "$BT/noop.err"
	log "round $1: agent adds one tunnel to 500"
	timed agent_add1 "$AGENT" --intent "$BT/i501/a.json" --once --log-level debug 2> "$BT/add1.err" ||
		{ log "agent add-one failed"; cat "$BT/add1.err"; }
	msgs agent_add1 "$BT/add1.err"
	timed agent_purge "$AGENT" --purge 2> "$BT/purge.err" || log "agent purge failed"
	reset
}

# Warm-up, not timed: module state, the binaries and libraries in the page cache.
fresh
inns ip link add gs-warm type gre local 192.0.2.1 remote 192.0.2.9 key 1
inns "$AGENT" --purge 2> /dev/null
inns ip -force -batch /dev/null
reset

for r in $(seq 1 "$ROUNDS"); do
	# Alternate who goes first, so neither always runs on a freshly settled kernel.
	if [ $((r % 2)) = 1 ]; then run_ip "$r"; run_agent "$r"; else run_agent "$r"; run_ip "$r"; fi
done
if [ -s "$BT/snap.ip" ] && cmp -s "$BT/snap.ip" "$BT/snap.agent"; then
	echo "same yes $(wc -l < "$BT/snap.ip")" >> "$RES"
else
	echo "same no $(wc -l < "$BT/snap.ip" 2>/dev/null)" >> "$RES"
	diff "$BT/snap.ip" "$BT/snap.agent" | head -n 20
fi
log done
