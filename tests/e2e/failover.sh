#!/bin/sh
# Failover scenarios of the end-to-end tests (sourced by tests/e2e/scenarios.sh after
# the lab is up): BFD on every tunnel, routes that leave a dead tunnel and come back
# after the hold time. The demo network: spoke1 and spoke2 reach each other through
# hub1 (metric 200) and hub2 (201). A "dead hub" is a dead machine: charon and agent
# killed, underlay link down; it comes back with an empty SAD, as after a reboot.
# Bounds on times here are generous functional limits (failover happens at all, and
# by itself); the measured figures are in make bench (tests/bench/failover.sh).

now_ms() { date +%s%3N; }
# The tunnel interface NS routes DST through (from its LAN address).
hostaddr() { host_of "$1"; }
via() { route_dev "$1" "$(hostaddr "$1")" "$(hostaddr "$2")"; }
is_via() { [ "$(via "$1" "$2")" = "$3" ]; }
# Liveness of tunnel T as the agent of SITE reports it: "state forwarding".
live() {
	jq -r --arg t "$2" '.tunnels[] | select(.id == $t) | "\(.liveness.state) \(.liveness.forwarding)"' \
		"$L/$1/state/status.json" 2>/dev/null
}
is_live() { [ "$(live "$1" "$2")" = "$3" ]; }
# probe NS DST SECONDS FILE: a ping every 10 ms with timestamps, in the background of
# this shell (so that `wait $PROBE` waits for it); its pid in PROBE.
probe() {
	ip netns exec "$1" ping -D -n -i 0.01 -W 1 -w "$3" -I "$(hostaddr "$1")" "$(hostaddr "$2")" \
		> "$4" 2>&1 &
	PROBE=$!
}
# The longest time without a reply in a probe's output, in ms.
outage() {
	sed -n 's/^\[\([0-9.]*\)\].*icmp_seq=.*/\1/p' "$1" |
		awk 'NR > 1 { g = ($1 - p) * 1000; if (g > m) m = g } { p = $1 } END { printf "%d\n", m }'
}
# Pings lost in a probe's output. ping -w stops at its deadline with the last
# replies still on their way (a few hundred ms of RTT under UML makes that a dozen
# packets at 10 ms), so missing sequence numbers at the very end are forgiven up to
# 1.5 x the slowest RTT seen; a path that died before the end loses more than that.
lost() {
	awk '/icmp_seq=/ { s = $0; sub(/.*icmp_seq=/, "", s); sub(/ .*/, "", s); if (s + 0 > last) last = s + 0 }
	     /packets transmitted/ { tx = $1; rx = $4; t = $10; sub(/ms.*/, "", t) }
	     /^rtt / { split($4, r, "/"); max = r[3] }
	     END { tail = tx - last; iv = tx ? t / tx : 0; f = iv > 0 ? int(1.5 * max / iv) + 1 : 0
		   if (f > tail) f = tail
		   n = tx - rx - f; print n < 0 ? 0 : n }' "$1"
}
hub_kill() {
	kill -KILL "$(cat "$L/$1/agent.pid")" 2>/dev/null
	wait "$(cat "$L/$1/agent.pid")" 2>/dev/null
	charon_kill "$1"
	ip -n "$1" link set ul0 down
}
hub_revive() {
	ip -n "$1" xfrm state flush
	ip -n "$1" link set ul0 up
	charon_start "$1"
	charon_wait "$1"
	agent_start "$1"
}
# Both spokes' traffic to each other through hub1, SAs up on the way.
warm_once() {
	ping_from spoke1 "$(hostaddr spoke1)" "$(hostaddr spoke2)" 1 &&
		ping_from spoke2 "$(hostaddr spoke2)" "$(hostaddr spoke1)" 1
}
warm() { wait_for 20 warm_once; }

FO_H1=; FO_H2=; FO_S2H1=
fo_ids() {
	FO_H1=$(tid spoke1 hub1); FO_H2=$(tid spoke1 hub2); FO_S2H1=$(tid spoke2 hub1)
}

# 9. Dual hub: hub1 dies; spoke-to-spoke traffic moves to hub2 by itself; the controller
# shows the tunnel down; hub1 comes back and traffic returns to it after the hold time
# without loss.
sc_dualhub() {
	fo_ids
	warm || { fail "dualhub: spoke1 <-> spoke2 does not work to begin with"; return; }
	wait_for 10 is_live spoke1 "$FO_H1" "up true" && wait_for 10 is_live spoke2 "$FO_S2H1" "up true" ||
		{ fail "dualhub: hub1's tunnels not up: spoke1's $FO_H1 $(live spoke1 "$FO_H1"), spoke2's $FO_S2H1 $(live spoke2 "$FO_S2H1")"; return; }
	is_via spoke1 spoke2 "$FO_H1" || fail "dualhub: spoke1 -> spoke2 via $(via spoke1 spoke2), not hub1's $FO_H1"
	probe spoke1 spoke2 8 "$L/fo1.ping"; p=$PROBE
	sleep 1
	t0=$(now_ms)
	hub_kill hub1
	wait_for 5 is_via spoke1 spoke2 "$FO_H2" &&
		pass "dualhub: hub1 killed; spoke1 routes spoke2 via hub2's $FO_H2 after $(($(now_ms) - t0)) ms" ||
		fail "dualhub: spoke1 still routes spoke2 via $(via spoke1 spoke2)"
	is_down() { [ "$(state_of "$FO_H1")" = down ]; }
	wait_for 10 is_down && pass "dualhub: controller shows $FO_H1 down $(($(now_ms) - t0)) ms after the kill" ||
		fail "dualhub: controller shows $FO_H1 $(state_of "$FO_H1")"
	wait "$p"
	o=$(outage "$L/fo1.ping")
	[ "$o" -gt 0 ] && [ "$o" -lt 3000 ] && pass "dualhub: spoke1 -> spoke2 interrupted for $o ms" ||
		fail "dualhub: spoke1 -> spoke2 outage $o ms ($(tail -n 2 "$L/fo1.ping" | head -n 1))"
	reason=$(jq -r --arg t "$FO_H1" '.tunnels[] | select(.id == $t) | .liveness.reason' "$L/spoke1/state/status.json")
	[ "$reason" = bfd-timeout ] && pass "dualhub: spoke1 says $FO_H1 went down for $reason" ||
		fail "dualhub: spoke1's reason for $FO_H1: $reason"
	fo_return hub1 dualhub
}

# fo_return HUB NAME: revive HUB under a probe; traffic returns to it, nothing lost.
fo_return() {
	probe spoke1 spoke2 60 "$L/fo2.ping"; p=$PROBE
	t0=$(now_ms)
	hub_revive "$1"
	wait_for 45 is_via spoke1 spoke2 "$FO_H1" && wait_for 20 is_via spoke2 spoke1 "$FO_S2H1" &&
		pass "$2: $1 back; spoke1 and spoke2 route through it again $(($(now_ms) - t0)) ms later" ||
		{ fail "$2: $1 back, but spoke1 routes via $(via spoke1 spoke2), spoke2 via $(via spoke2 spoke1) ($(live spoke1 "$FO_H1"))"; kill "$p"; return; }
	kill -INT "$p"; wait "$p"
	n=$(lost "$L/fo2.ping")
	[ "$n" = 0 ] && pass "$2: no ping lost while traffic returned to $1 ($(grep -o '[0-9]* received' "$L/fo2.ping"))" ||
		fail "$2: $n pings lost while traffic returned to $1 (longest gap $(outage "$L/fo2.ping") ms)"
}

# 10. The same failure with the controller stopped: the agents need no round trip.
sc_noctl() {
	fo_ids
	kill -TERM "$(cat "$L/ctl/pid")"; wait "$(cat "$L/ctl/pid")" 2>/dev/null
	warm || { fail "noctl: spoke1 <-> spoke2 does not work to begin with"; return; }
	wait_for 15 is_live spoke1 "$FO_H1" "up true" || fail "noctl: $FO_H1 not up at spoke1: $(live spoke1 "$FO_H1")"
	t0=$(now_ms)
	hub_kill hub1
	wait_for 5 is_via spoke1 spoke2 "$FO_H2" && wait_for 5 ping_from spoke1 "$(hostaddr spoke1)" "$(hostaddr spoke2)" 1 &&
		pass "noctl: controller stopped, hub1 killed: spoke1 reaches spoke2 via hub2 after $(($(now_ms) - t0)) ms" ||
		fail "noctl: spoke1 routes spoke2 via $(via spoke1 spoke2)"
	fo_return hub1 noctl
	lab_controller
}

# 11. ECMP: with the star's profile set to ecmp, the spokes hold one route with a path
# per hub; a dead hub's path leaves it and comes back.
nexthops() { ip -n "$1" route show "$2" | grep -o 'dev gs[0-9a-z-]*' | sed 's/dev //' | sort | tr '\n' ' '; }
sc_ecmp() {
	fo_ids
	pfx=10.12.0.0/24
	api -X PATCH -H 'Content-Type: application/merge-patch+json' "$CTL_URL/v1/profiles/on-demand" \
		-d '{"ecmp": true}' > /dev/null || { fail "ecmp: PATCH on-demand ecmp"; return; }
	both="$(printf '%s\n%s\n' "$FO_H1" "$FO_H2" | sort | tr '\n' ' ')"
	has_paths() { [ "$(nexthops spoke1 $pfx)" = "$1" ]; }
	wait_for 15 has_paths "$both" && pass "ecmp: spoke1 routes $pfx over both hubs ($both)" ||
		{ fail "ecmp: spoke1's $pfx: $(ip -n spoke1 route show $pfx | tr '\n' ' ')"; return; }
	warm
	t0=$(now_ms)
	hub_kill hub1
	wait_for 5 has_paths "$FO_H2 " && pass "ecmp: hub1's path left the route after $(($(now_ms) - t0)) ms" ||
		fail "ecmp: spoke1's $pfx after the kill: $(ip -n spoke1 route show $pfx | tr '\n' ' ')"
	ping_from spoke1 "$(hostaddr spoke1)" "$(hostaddr spoke2)" 3 || fail "ecmp: spoke1 -> spoke2 broken with one path"
	hub_revive hub1
	wait_for 45 has_paths "$both" && pass "ecmp: hub1's path is back after $(($(now_ms) - t0)) ms" ||
		fail "ecmp: spoke1's $pfx after hub1 came back: $(ip -n spoke1 route show $pfx | tr '\n' ' ')"
	api -X PATCH -H 'Content-Type: application/merge-patch+json' "$CTL_URL/v1/profiles/on-demand" \
		-d '{"ecmp": false}' > /dev/null || fail "ecmp: PATCH back"
	single() { ! ip -n spoke1 route show $pfx | grep -q nexthop && ip -n spoke1 route show $pfx | grep -q "dev $FO_H1 .*metric 200"; }
	wait_for 15 single || fail "ecmp: not back to one path per metric: $(ip -n spoke1 route show $pfx | tr '\n' ' ')"
}

# 12. A dead direct tunnel while a hub path exists: traffic takes the hub path.
sc_direct() {
	fo_ids
	api -X POST -H 'Content-Type: application/json' "$CTL_URL/v1/tunnels" -d '{"name": "s1-s2",
		"a": "spoke1", "b": "spoke2", "profile": "always-on"}' > /dev/null || { fail "direct: cannot create s1-s2"; return; }
	set -- $(named s1-s2); d=$1
	wait_for 25 is_live spoke1 "$d" "up true" && wait_for 5 is_via spoke1 spoke2 "$d" &&
		pass "direct: spoke1 -> spoke2 over the direct tunnel $d" ||
		{ fail "direct: $d: $(live spoke1 "$d"), spoke1 routes via $(via spoke1 spoke2)"; return; }
	u2=$(awk '$1 == "spoke2" { print $2 }' "$L/sites")
	ip netns exec spoke1 iptables-legacy -I INPUT -s "$u2" -j DROP
	ip netns exec spoke1 iptables-legacy -I OUTPUT -d "$u2" -j DROP
	t0=$(now_ms)
	wait_for 5 is_via spoke1 spoke2 "$FO_H1" && ping_from spoke1 "$(hostaddr spoke1)" "$(hostaddr spoke2)" 3 &&
		pass "direct: path spoke1-spoke2 cut; traffic takes hub1 after $(($(now_ms) - t0)) ms" ||
		fail "direct: after the cut spoke1 routes via $(via spoke1 spoke2) ($(live spoke1 "$d"))"
	ip netns exec spoke1 iptables-legacy -D INPUT -s "$u2" -j DROP
	ip netns exec spoke1 iptables-legacy -D OUTPUT -d "$u2" -j DROP
	wait_for 30 is_via spoke1 spoke2 "$d" && pass "direct: path restored; back on $d after $(($(now_ms) - t0)) ms" ||
		fail "direct: spoke1 routes via $(via spoke1 spoke2) after the path came back ($(live spoke1 "$d"))"
	api -X DELETE "$CTL_URL/v1/tunnels/s1-s2" > /dev/null || fail "direct: cleanup"
}

# 13. A flapping underlay (down and up every 0.5 s for 10 s): dampened; route changes
# bounded (one withdrawal, one return once stable: see docs/operations.md).
sc_flap() {
	fo_ids
	warm
	wait_for 15 is_live spoke1 "$FO_H1" "up true" || { fail "flap: $FO_H1 not up to begin with: $(live spoke1 "$FO_H1")"; return; }
	ip -n spoke1 monitor route > "$L/flap.mon" 2>&1 &
	m=$!
	t0=$(now_ms)
	i=0
	while [ $i -lt 10 ]; do
		ip -n hub1 link set ul0 down; sleep 0.5
		ip -n hub1 link set ul0 up; sleep 0.5
		i=$((i + 1))
	done
	flaps=$(jq -r --arg t "$FO_H1" '.tunnels[] | select(.id == $t) | .liveness.flaps' "$L/spoke1/state/status.json")
	wait_for 40 is_live spoke1 "$FO_H1" "up true" ||
		fail "flap: $FO_H1 not back after the flapping stopped: $(live spoke1 "$FO_H1")"
	back=$(($(now_ms) - t0))
	kill "$m"
	changes=$(grep -c "10.12.0.0/24" "$L/flap.mon")
	[ "$changes" -ge 2 ] && [ "$changes" -le 4 ] &&
		pass "flap: 10 flaps of hub1's underlay in 10 s: $flaps downs seen, $changes changes of spoke1's route to spoke2, back through hub1 after $back ms" ||
		fail "flap: $changes changes of spoke1's route to spoke2 ($flaps downs): $(grep 10.12.0.0/24 "$L/flap.mon" | tr '\n' '|')"
}

# 14. Agent restart with a peer dead: live tunnels lose nothing, the dead one stays out.
sc_agentrestart() {
	fo_ids
	warm
	# BFD up on both spokes' tunnels to hub1 first, or its death is found only by the
	# 3 s grace for a BFD that never answered (what dualhub measures is not this).
	wait_for 15 is_live spoke1 "$FO_H1" "up true" && wait_for 15 is_live spoke2 "$FO_S2H1" "up true" ||
		{ fail "agentrestart: hub1's tunnels not up to begin with: $(live spoke1 "$FO_H1") / $(live spoke2 "$FO_S2H1")"; return; }
	hub_kill hub1
	# Both directions on hub2 first: what is measured is the restart, not the failover.
	wait_for 5 is_via spoke1 spoke2 "$FO_H2" && wait_for 10 is_via spoke2 spoke1 "$(tid spoke2 hub2)" &&
		warm || { fail "agentrestart: no failover to begin with: spoke1 via $(via spoke1 spoke2), spoke2 via $(via spoke2 spoke1)"; return; }
	sleep 1
	ip -n spoke1 monitor route > "$L/ar.mon" 2>&1 &
	m=$!
	probe spoke1 spoke2 6 "$L/ar.ping"; p=$PROBE
	sleep 1
	downs=$(grep -c "tunnel $FO_H2: BFD up -> down" "$L/hub2/agent.log")
	agent_stop spoke1
	agent_start spoke1
	wait "$p"
	kill "$m"
	n=$(lost "$L/ar.ping")
	[ "$n" = 0 ] && pass "agentrestart: spoke1's agent restarted with hub1 dead: no ping lost to spoke2 ($(grep -o '[0-9]* received' "$L/ar.ping"))" ||
		fail "agentrestart: $n pings lost across spoke1's agent restart ($(tail -n 2 "$L/ar.ping" | head -n 1); longest gap $(outage "$L/ar.ping") ms)"
	# The stop asked hub2 to wait and the new agent took the session over: hub2's BFD
	# to spoke1 never went down (with the 300 ms detection time it would have).
	[ "$(grep -c "tunnel $FO_H2: BFD up -> down" "$L/hub2/agent.log")" = "$downs" ] &&
		grep -q "asked 1 BFD peer(s) to wait 10 s for the next agent; 0 did not answer" "$L/spoke1/agent.log" &&
		grep -q "resuming 1 BFD session(s) handed over by the previous agent" "$L/spoke1/agent.log" &&
		pass "agentrestart: BFD session handed over: hub2 never saw $FO_H2 go down" ||
		fail "agentrestart: BFD hand-over: hub2 saw $FO_H2 go down $(($(grep -c "tunnel $FO_H2: BFD up -> down" "$L/hub2/agent.log") - downs)) time(s); spoke1: $(grep -h 'BFD peer\|BFD session' "$L/spoke1/agent.log" | tr '\n' '|')"
	sleep 6	# past the start grace
	! grep -q "dev $FO_H1" "$L/ar.mon" && is_via spoke1 spoke2 "$FO_H2" &&
		pass "agentrestart: no route through dead hub1's $FO_H1 reappeared" ||
		fail "agentrestart: routes through $FO_H1 came back: $(grep "dev $FO_H1" "$L/ar.mon" | head -n 2 | tr '\n' '|')"
	hub_revive hub1
	wait_for 45 is_via spoke1 spoke2 "$FO_H1" || fail "agentrestart: hub1 back, not used again"
}

# 15. Interop: the agent's BFD against FRR's bfdd configured by hand at the far end of a
# GRE tunnel (its own two namespaces; plain GRE, no IPsec on this tunnel: the agent runs
# with --allow-cleartext-gre, its guard refuses an SPD-less GRE tunnel otherwise). Both must
# bring the session up, and both must see it go down when the path is cut.
FRR=/usr/lib/frr
frr_intent() {
	cat <<J
{"format": 1, "site": "fa", "revision": 1, "tunnels": [{"id": "frr", "ifname": "gsfrr",
 "kind": "gre", "local": "192.0.2.201", "remote": "192.0.2.202", "key": 777, "mtu": 1400,
 "overlay": {"local": "169.254.77.0/31", "peer": "169.254.77.1/31"}, "reqid": 65600,
 "security": {"mode": "transport", "protocol": "esp", "ike_proposals": ["aes128gcm16-prfsha256-ecp256"],
  "child_proposals": ["aes128gcm16"], "start": "always"},
 "bfd": {"enabled": true, "interval_ms": 100, "multiplier": 3}, "psk": "not-used-no-spd-0123"}],
 "routes": [], "spd": []}
J
}
frr_conf() {
	cat <<C
frr defaults traditional
log file $1/bfdd.log
!
bfd
 peer 169.254.77.0 local-address 169.254.77.1 interface gsfrr
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 !
!
C
}
frr_peer() {	# bfdd's view: "status"
	ip netns exec frr-b vtysh --vty_socket "$L/frr" -c 'show bfd peers json' 2>/dev/null |
		jq -r '.[] | select(.peer == "169.254.77.0") | .status'
}
agent_bfd() {
	jq -r '.tunnels[0].liveness | "\(.bfd) \(.state)"' "$L/frr/state/status.json" 2>/dev/null
}
both() { [ "$(frr_peer)" = "$1" ] && [ "$(agent_bfd)" = "$2" ]; }
sc_frr() {
	F=$L/frr
	mkdir -p "$F/state"
	ip netns add frr-a && ip netns add frr-b || { fail "frr: namespaces"; return; }
	ip link add fa netns frr-a type veth peer name fb netns frr-b
	ip -n frr-a addr add 192.0.2.201/24 dev fa; ip -n frr-a link set fa up; ip -n frr-a link set lo up
	ip -n frr-b addr add 192.0.2.202/24 dev fb; ip -n frr-b link set fb up; ip -n frr-b link set lo up
	ip -n frr-b link add gsfrr type gre local 192.0.2.202 remote 192.0.2.201 key 777 ttl 64
	ip -n frr-b addr add 169.254.77.1/31 dev gsfrr; ip -n frr-b link set gsfrr up
	frr_intent > "$F/fa.json"
	frr_conf "$F" > "$F/frr.conf"
	chown -R frr:frr "$F"
	ip netns exec frr-b "$FRR/zebra" -d -f /dev/null -i "$F/zebra.pid" -z "$F/zserv.api" \
		--vty_socket "$F" -u frr -g frr --log "file:$F/zebra.log" > "$F/frr.out" 2>&1 &&
		ip netns exec frr-b "$FRR/bfdd" -d -f "$F/frr.conf" -i "$F/bfdd.pid" -z "$F/zserv.api" \
		--vty_socket "$F" --bfdctl "$F/bfdd.sock" -u frr -g frr >> "$F/frr.out" 2>&1 ||
		{ fail "frr: zebra/bfdd did not start: $(cat "$F/frr.out")"; return; }
	ip netns exec frr-a "$LAB_BUILD/gresec-agent" --intent "$F/fa.json" --state-dir "$F/state" \
		--vici "$F/no-charon.vici" --resync 2 --log-level debug --allow-cleartext-gre \
		> "$F/agent.log" 2>&1 &
	a=$!
	wait_for 15 both up "up up" && pass "frr: the agent and FRR's bfdd bring a session up over GRE (bfdd: $(frr_peer), agent: $(agent_bfd))" ||
		fail "frr: no session: bfdd says '$(frr_peer)', the agent '$(agent_bfd)'"
	ip -n frr-b link set fb down
	wait_for 5 both down "down down" && pass "frr: path cut; both see the session down (bfdd: $(frr_peer), agent: $(agent_bfd), $(jq -r '.tunnels[0].liveness.reason' "$F/state/status.json"))" ||
		fail "frr: path cut, but bfdd says '$(frr_peer)', the agent '$(agent_bfd)'"
	ip -n frr-b link set fb up
	wait_for 10 both up "up up" && pass "frr: path back; the session is up again on both" ||
		fail "frr: path back, but bfdd says '$(frr_peer)', the agent '$(agent_bfd)'"
	kill -TERM "$a"; wait "$a"
	kill "$(cat "$F/bfdd.pid")" "$(cat "$F/zebra.pid")" 2>/dev/null
	cp "$F/agent.log" "$L/frr-agent.log" 2>/dev/null
	ip netns del frr-a; ip netns del frr-b
}
