#!/bin/sh
# `make demo`, inside user-mode Linux (started by contrib/demo.sh through lab.sh): the
# whole of contrib/examples/demo.json (or the network file LAB_JSON names, e.g.
# contrib/examples/ipv6.json) as a live GRE-over-IPsec network, checked end to end.
# Exit status in $LAB_OUT/rc: 0 only when every check passed.
set -u
T0=${LAB_T0:-$(date +%s)}
. "$LAB_ROOT/contrib/lab/lib.sh"
FAILS=""
flunk() { FAILS="$FAILS
  - $*"; log "FAIL: $*"; }

all_up() {	# all_up FILE: every tunnel listed in FILE reports up
	lab_states > "$L/states"
	awk 'NR == FNR { up[$1] = ($2 == "up"); next } !up[$1] { bad = 1 } END { exit bad }' \
		"$L/states" "$1"
}

not_up() {
	lab_states > "$L/states"
	awk 'NR == FNR { st[$1] = $2; next } st[$1] != "up" { printf "%s (%s-%s): %s; ", $1, $2, $3, st[$1] }' \
		"$L/states" "$1"
}

# The initiator of tunnel ID at site A, from A's applied intent: true or false.
initiator() { jq -r --arg i "$2" '.tunnels[] | select(.id == $i) | .security.initiator' "$L/$1/state/intent.json"; }

# pings LIST: every tunnel of LIST, both ways, for each prefix family both ends have,
# in parallel; results in $L/ping.*
pings() {
	pids=""
	while read -r id a b kind ia ib st _ _; do
		for fam in 4 6; do
			ha=$(lab_host "$a" $fam); hb=$(lab_host "$b" $fam)
			[ -n "$ha" ] && [ -n "$hb" ] || continue
			for dir in "$a $ha $hb $ia $b" "$b $hb $ha $ib $a"; do
				set -- $dir
				(
					dev=$(route_dev "$1" "$2" "$3")
					if [ "$dev" != "$4" ]; then
						echo "FAIL $1 -> $5 (IPv$fam): routed via '$dev', not tunnel $4"
					elif ping_from "$1" "$2" "$3" 5; then
						echo "ok   $1 -> $5 over $4 ($kind, IPv$fam)"
					else
						echo "FAIL $1 -> $5 over $4 ($kind, IPv$fam): ping lost packets"
					fi
				) > "$L/ping.$1.$4.$fam" &
				pids="$pids $!"
			done
		done
	done < "$1"
	wait $pids
}

main() {
	lab_up
	lab_tunnels > "$L/tunnels"
	awk '$7 == "always"' "$L/tunnels" > "$L/always"
	awk '$7 != "always"' "$L/tunnels" > "$L/ondemand"
	log "$(wc -l < "$L/tunnels") tunnels: $(wc -l < "$L/always") always-on, $(wc -l < "$L/ondemand") on-demand ($(awk '$4 == "vti"' "$L/tunnels" | wc -l) VTI)"

	log "waiting for the always-on tunnels to come up by themselves (no traffic sent)"
	if wait_for 30 all_up "$L/always"; then
		log "always-on tunnels up: $(cut -d' ' -f1 "$L/always" | tr '\n' ' ')"
	else
		flunk "always-on tunnels not up after 30 s: $(not_up "$L/always")"
	fi

	log "on-demand tunnels: sending the first packets across each (the initiator's side)"
	pids=""
	while read -r id a b kind ia ib st ha hb; do
		if [ "$(initiator "$a" "$id")" = true ]; then
			ping_from "$a" "$ha" "$hb" 3 &
		else
			ping_from "$b" "$hb" "$ha" 3 &
		fi
		pids="$pids $!"
	done < "$L/ondemand"
	wait $pids
	if wait_for 20 all_up "$L/ondemand"; then
		log "on-demand tunnels up: $(cut -d' ' -f1 "$L/ondemand" | tr '\n' ' ')"
	else
		flunk "on-demand tunnels not up after traffic: $(not_up "$L/ondemand")"
	fi

	log "ping across every tunnel, site prefix to site prefix, both ways (5 each)"
	pings "$L/tunnels"
	for f in "$L"/ping.*; do
		r=$(cat "$f")
		case $r in
		ok*) log "  $r" ;;
		*) flunk "${r#FAIL }" ;;
		esac
	done

	# Counters come from charon's list-sas at the agents' next refresh (2 s).
	sleep 3
	log "status from the controller's API (GET /v1/tunnels):"
	lab_table | sed 's/^/    /'
	lab_psk_check && log "no PSK in any agent or controller log" || flunk "a PSK appeared in a log"
}

main
if [ -z "$FAILS" ]; then
	log "demo PASSED: every tunnel up and carrying traffic"
	rc=0
else
	log "demo FAILED:$FAILS"
	rc=1
fi
lab_collect
echo "$rc" > "$LAB_OUT/rc"
