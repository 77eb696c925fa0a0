#!/bin/sh
# End-to-end tests inside user-mode Linux (tests/e2e/run.sh): the lab of
# contrib/lab/lib.sh (real kernel, real charons, real controller and agents; the demo
# network), then the scenarios in priority order. Never skips: a scenario that cannot
# run fails. Results: PASS/FAIL lines; exit status in $LAB_OUT/rc.
set -u
T0=${LAB_T0:-$(date +%s)}
. "$LAB_ROOT/contrib/lab/lib.sh"
FAILED=0
ONLY=$(echo "${1:-}" | tr , ' ')
pass() { log "PASS: $*"; }
fail() { log "FAIL: $*"; FAILED=1; }
check() { if "$@"; then return 0; fi; return 1; }

nstates() { ip -n "$1" xfrm state | grep -c "reqid $2 " || true; }
has_sa() { [ "$(nstates "$1" "$2")" -ge 2 ]; }
no_sa() { [ "$(nstates "$1" "$2")" -eq 0 ]; }
reqid() { jq -r --arg i "$2" '.tunnels[] | select(.id == $i) | .reqid' "$L/$1/state/intent.json"; }
conns() { swanctl --list-conns --uri "unix://$L/$1/charon.vici" 2>/dev/null | grep -E '^[A-Za-z0-9._-]+:' | cut -d: -f1 | sort | tr '\n' ' '; }
state_of() { lab_states | awk -v t="$1" '$1 == t { print $2 }'; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
# The site's own report of a tunnel: "ike child".
report() {
	api "$CTL_URL/v1/tunnels?limit=1000" |
		jq -r --arg s "$1" --arg t "$2" '.items[] | select(.interfaces[.a] == $t) | .state[$s] | "\(.ike) \(.child)"'
}
# tunnel id between two sites
tid() { awk -v a="$1" -v b="$2" '($2 == a && $3 == b) || ($2 == b && $3 == a) { print $1 }' "$L/tunnels"; }
hostaddr() { host_of "$1"; }
spis() { ip -n "$1" xfrm state | grep -o 'spi 0x[0-9a-f]*' | sort | tr '\n' ' '; }
capture() {	# capture NS IF SECONDS FILE FILTER
	ip netns exec "$1" timeout "$3" tcpdump -U -n -i "$2" -w "$4" "$5" > /dev/null 2>&1 &
	echo $!
}
count() { tcpdump -n -r "$1" "$2" 2>/dev/null | wc -l; }
want() { [ -z "$ONLY" ] || echo " $ONLY " | grep -q " $1 "; }

# 1. On demand: no SA before traffic, the first traffic starts IKE, the SA carries the
# intent's reqid, and the wire shows ESP only.
sc_ondemand() {
	t=$(tid spoke1 hub1); r=$(reqid spoke1 "$t")
	no_sa spoke1 "$r" && no_sa hub1 "$r" && pass "ondemand: $t has no SA before traffic" ||
		fail "ondemand: $t has SAs before any traffic"
	is_state "$t" up && fail "ondemand: controller says $t up before traffic"
	cpid=$(capture spoke1 ul0 10 "$L/od.pcap" "host $(awk '$1 == "hub1" { print $2 }' "$L/sites")")
	sleep 1
	ping_from spoke1 "$(hostaddr spoke1)" "$(hostaddr hub1)" 6 && pass "ondemand: 6/6 pings, none lost while IKE negotiated" ||
		fail "ondemand: pings lost"
	has_sa spoke1 "$r" && has_sa hub1 "$r" && pass "ondemand: SAs with reqid $r on both sides" ||
		fail "ondemand: no SA with reqid $r: $(ip -n spoke1 xfrm state | grep reqid)"
	ping_from spoke1 "$(hostaddr spoke1)" "$(hostaddr hub1)" 5
	wait "$cpid" 2>/dev/null
	esp=$(count "$L/od.pcap" 'ip proto 50'); gre=$(count "$L/od.pcap" 'ip proto 47')
	ike=$(count "$L/od.pcap" 'udp port 500')
	[ "$esp" -ge 12 ] && [ "$gre" -eq 0 ] && [ "$ike" -ge 2 ] &&
		pass "ondemand: on the wire $ike IKE, $esp ESP, $gre cleartext GRE" ||
		fail "ondemand: on the wire $ike IKE, $esp ESP, $gre cleartext GRE"
	wait_for 10 is_state "$t" up && pass "ondemand: controller reports $t up ($(report spoke1 "$t"))" ||
		fail "ondemand: controller state of $t: $(state_of "$t")"
}

# 2. Always-on: SAs without traffic.
sc_always() {
	ok=1
	while read -r id a b kind ia ib st ha hb; do
		[ "$st" = always ] || continue
		r=$(reqid "$a" "$id")
		if ! wait_for 20 has_sa "$a" "$r" || ! has_sa "$b" "$r"; then ok=0; fail "always: $id ($a-$b) has no SA"; fi
		wait_for 10 is_state "$id" up || { ok=0; fail "always: controller: $id $(state_of "$id")"; }
		[ "$(ip -n "$a" -s xfrm state | grep -c 'packets')" -ge 0 ] || :
	done < "$L/tunnels"
	[ $ok = 1 ] && pass "always: every always-on tunnel has SAs and reports up, no traffic sent"
}

# 3. NAT: the NAT'd site initiates; ESP in UDP on the wire.
sc_nat() {
	s=$(awk '$3 == "true" { print $1; exit }' "$L/sites")
	[ -n "$s" ] || { fail "nat: no site behind NAT in the demo"; return; }
	t=$(tid "$s" hub1); r=$(reqid "$s" "$t")
	cpid=$(capture "nat-$s" ul0 10 "$L/nat.pcap" "host 203.0.113.1")
	sleep 1
	ping_from "$s" "$(hostaddr "$s")" "$(hostaddr hub1)" 5 && pass "nat: $s -> hub1 over $t" ||
		fail "nat: $s -> hub1 over $t: pings lost ($(grep -i 'no IKE config\|NO_PROP' "$L/hub1/charon.log" | tail -n1))"
	ping_from hub1 "$(hostaddr hub1)" "$(hostaddr "$s")" 3 && pass "nat: hub1 -> $s over $t" ||
		fail "nat: hub1 -> $s over $t: pings lost"
	wait "$cpid" 2>/dev/null
	u=$(count "$L/nat.pcap" 'udp port 4500'); e=$(count "$L/nat.pcap" 'ip proto 50'); g=$(count "$L/nat.pcap" 'ip proto 47')
	[ "$u" -ge 10 ] && [ "$e" -eq 0 ] && [ "$g" -eq 0 ] && pass "nat: $u UDP-encapsulated packets, no bare ESP, no GRE" ||
		fail "nat: on the NAT's outside: $u UDP/4500, $e bare ESP, $g GRE"
	ip -n "$s" xfrm state | grep -q 'encap type espinudp' && pass "nat: $s's SA is UDP-encapsulated" ||
		fail "nat: $s has no UDP-encapsulated SA"
}

# 4. Removing a tunnel in the controller removes it from charon and the kernel on both sides.
sc_remove() {
	t=$(tid mesh1 hub1); r=$(reqid mesh1 "$t"); ifn=$t
	api -X DELETE "$CTL_URL/v1/tunnels/mesh1-hub1" > /dev/null || { fail "remove: DELETE failed"; return; }
	gone() {
		! conns "$1" | grep -qw "$t" && no_sa "$1" "$r" &&
			! ip -n "$1" link show "$ifn" > /dev/null 2>&1 &&
			! ip -n "$1" xfrm policy | grep -q "reqid $r "
	}
	wait_for 15 gone mesh1 && wait_for 5 gone hub1 && pass "remove: $t gone from charon (conn, SAs) and kernel (link, SPD) on mesh1 and hub1" ||
		fail "remove: left: mesh1 conns $(conns mesh1), hub1 conns $(conns hub1), SAs $(nstates mesh1 "$r")/$(nstates hub1 "$r")"
	wait_for 10 is_state "$(tid mesh1 mesh2)" up && pass "remove: the other tunnels stay up" || fail "remove: mesh1-mesh2 disturbed"
}

# 5. Agent restart while traffic flows: nothing reloaded, no loss.
sc_restart() {
	t=$(tid spoke2 hub2)
	ping_from spoke2 "$(hostaddr spoke2)" "$(hostaddr hub2)" 2
	wait_for 10 is_state "$t" up || fail "restart: $t not up before the restart"
	before=$(spis spoke2); loads=$(grep -c 'added vici connection\|replaced vici connection' "$L/spoke2/charon.log")
	ip netns exec spoke2 ping -q -c 40 -i 0.1 -I "$(hostaddr spoke2)" "$(hostaddr hub2)" > "$L/restart.ping" 2>&1 &
	p=$!
	sleep 1
	agent_stop spoke2
	agent_start spoke2
	wait $p
	sleep 3
	grep -q ' 0% packet loss' "$L/restart.ping" && pass "restart: steady ping, $(grep -o '[0-9]* received' "$L/restart.ping") of 40, no loss" ||
		fail "restart: $(grep 'packet loss' "$L/restart.ping")"
	[ "$before" = "$(spis spoke2)" ] && pass "restart: same SAs (SPIs unchanged)" || fail "restart: SAs changed"
	[ "$loads" = "$(grep -c 'added vici connection\|replaced vici connection' "$L/spoke2/charon.log")" ] &&
		pass "restart: charon loaded no connection again" || fail "restart: connections reloaded"
}

# 6. DPD: kill a site's charon; the peer reports the tunnel down within the DPD window;
# restart it; the tunnel comes back up.
sc_dpd() {
	t=$(tid mesh2 mesh3)
	wait_for 10 is_state "$t" up || fail "dpd: $t not up before"
	charon_kill mesh3
	t0=$(date +%s)
	down() { [ "$(report mesh2 "$t")" != "established installed" ] && [ "$(report mesh2 "$t" | cut -d' ' -f2)" != installed ]; }
	if wait_for 40 down; then
		pass "dpd: mesh2 reported $t '$(report mesh2 "$t")' $(($(date +%s) - t0)) s after mesh3's charon died (dpd 10 s + 3 retransmits)"
	else
		fail "dpd: mesh2 still reports $t '$(report mesh2 "$t")'"
	fi
	charon_start mesh3
	charon_wait mesh3
	t0=$(date +%s)
	both_up() { is_state "$t" up && [ "$(report mesh2 "$t")" = "established installed" ]; }
	wait_for 40 both_up &&
		pass "dpd: charon restarted, $t back up in $(($(date +%s) - t0)) s" ||
		fail "dpd: $t after charon restart: $(state_of "$t"), mesh2 says $(report mesh2 "$t")"
}

lab_up
wait_for 20 sh -c "ls $L/*/state/intent.json | wc -l | grep -qx $(wc -l < "$L/sites")" || fail "not every agent got its intent"
lab_tunnels > "$L/tunnels"
for sc in always ondemand nat remove restart dpd; do
	want "$sc" || continue
	log "=== $sc"
	"sc_$sc"
done
lab_psk_check && pass "no PSK in any agent or controller log (agents at --log-level debug)" || fail "a PSK appeared in a log"
lab_collect
log "e2e: $([ $FAILED = 0 ] && echo 'all passed' || echo 'FAILED')"
echo "$FAILED" > "$LAB_OUT/rc"
