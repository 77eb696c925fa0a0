#!/bin/sh
# `make demo`, inside user-mode Linux (started by contrib/demo.sh through lab.sh): the
# whole of contrib/examples/demo.json as a live GRE-over-IPsec network, checked end to
# end. Exit status in $LAB_OUT/rc: 0 only when every check passed.
set -u
T0=${LAB_T0:-$(date +%s)}
. "$LAB_ROOT/contrib/lab/lib.sh"
FAILS=""
flunk() { FAILS="$FAILS
  - $*"; log "FAIL: $*"; }

finish() {
	rc=$1
	lab_collect
	echo "$rc" > "$LAB_OUT/rc"
}

start_of() { jq -r --arg p "$1" '.profiles[] | select(.name == $p) | .start' "$DEMO_JSON"; }

all_up() {	# all_up FILE: every tunnel listed in FILE reports up
	lab_states > "$L/states"
	awk 'NR == FNR { up[$1] = ($2 == "up"); next } !up[$1] { bad = 1 } END { exit bad }' \
		"$L/states" "$1"
}

not_up() { lab_states > "$L/states"; awk 'NR == FNR { st[$1] = $2; next } st[$1] != "up" { printf "%s(%s-%s):%s ", $1, $2, $3, st[$1] }' "$L/states" "$1"; }

main() {
	lab_up
	lab_tunnels > "$L/tunnels"
	: > "$L/always"; : > "$L/ondemand"
	while read -r id a b kind ia ib prof; do
		if [ "$(start_of "$prof")" = always ]; then
			echo "$id $a $b" >> "$L/always"
		else
			echo "$id $a $b" >> "$L/ondemand"
		fi
	done < "$L/tunnels"
	log "$(wc -l < "$L/tunnels") tunnels: $(wc -l < "$L/always") always-on, $(wc -l < "$L/ondemand") on-demand ($(awk '$4 == "vti"' "$L/tunnels" | wc -l) VTI)"

	log "waiting for the always-on tunnels to come up by themselves (no traffic sent)"
	if wait_for 40 all_up "$L/always"; then
		log "always-on tunnels up: $(cut -d' ' -f1 "$L/always" | tr '\n' ' ')"
	else
		flunk "always-on tunnels not up after 40 s: $(not_up "$L/always")"
	fi

	log "on-demand tunnels: no SA yet; sending the first packets across each"
	while read -r id a b; do
		# From the side the intent names as initiator (a NAT'd site must start).
		init=$a
		[ "$(jq -r --arg i "$id" '.tunnels[] | select(.id == $i) | .security.initiator' "$L/$a/state/intent.json" 2>/dev/null)" = true ] || init=$b
		peer=$a; [ "$init" = "$a" ] && peer=$b
		ping_tunnel "$init" "$peer" 3 &
		pids="${pids:-} $!"
	done < "$L/ondemand"
	wait $pids
	if wait_for 30 all_up "$L/ondemand"; then
		log "on-demand tunnels up: $(cut -d' ' -f1 "$L/ondemand" | tr '\n' ' ')"
	else
		flunk "on-demand tunnels not up after traffic: $(not_up "$L/ondemand")"
	fi

	log "ping across every tunnel, site prefix to site prefix, both ways"
	while read -r id a b kind ia ib prof; do
		for dir in "$a $b $ia" "$b $a $ib"; do
			set -- $dir
			dev=$(route_dev "$1" "$2")
			[ "$dev" = "$3" ] || { flunk "$1 -> $2: routed via '$dev', not tunnel $3"; continue; }
			if ping_tunnel "$1" "$2" 5; then
				log "  ok   $1 -> $2 over $3 ($kind)"
			else
				flunk "$1 -> $2 over $3 ($kind): ping lost packets"
			fi
		done
	done < "$L/tunnels"

	# Counters come from charon's list-sas on the agents' next refresh.
	sleep 3
	log "status from the controller's API (GET /v1/tunnels):"
	lab_table | sed 's/^/    /'
	lab_psk_check && log "no PSK in any agent or controller log" || flunk "a PSK appeared in a log"
	summary=$(curl -fsS "$CTL_URL/v1/status" -H "Authorization: Bearer $(cat "$L/ctl/admin.token")" | jq -c .tunnels)
	log "controller summary: $summary"
}

main
if [ -z "$FAILS" ]; then
	log "demo PASSED: every tunnel up and carrying traffic"
	finish 0
else
	log "demo FAILED:$FAILS"
	finish 1
fi
