#!/bin/sh
# Every combination the API accepts, proven on the wire (`make e2e-matrix`, inside
# user-mode Linux): contrib/examples/matrix.json joins twelve sites, six with IPv4 and
# six with IPv6 underlays, each with an IPv4 and an IPv6 prefix, by one tunnel per
# {GRE, VTI} x {transport, tunnel} x {ESP, AH} x {on-demand, always-on} and underlay
# family. For each tunnel: on-demand ones have no SA before traffic (the kernel's own
# IPv6 chatter does not start them), always-on ones come up alone; both prefix
# families ping both ways, also at the intent's MTU with DF set; the wire between the
# two gateways shows ESP or AH and no cleartext GRE; a CHILD_SA rekey keeps the tunnel
# working; the controller reports it up; its MTU is the one docs/intent.md states.
# Never skips: a combination that cannot run fails. Exit status in $LAB_OUT/rc.
set -u
T0=${LAB_T0:-$(date +%s)}
. "$LAB_ROOT/contrib/lab/lib.sh"
FAILED=0
pass() { log "PASS: $*"; }
fail() { log "FAIL: $*"; FAILED=1; }

# SAs with reqid $2 in NS $1. A larval state (SPI 0: the kernel's ACQUIRE for a packet
# that met the policy before an SA existed, e.g. a BFD AdminDown sent while a removed
# tunnel's policy was still there) is not an SA, and expires by itself.
nstates() { ip -n "$1" xfrm state | grep "reqid $2 " | grep -vc "spi 0x00000000" || true; }
spis() { ip -n "$1" xfrm state | grep -B1 "reqid $2 " | grep -o 'spi 0x[0-9a-f]*' | sort | tr '\n' ' '; }
underlay() { awk -v n="$1" '$1 == n { print $2 }' "$L/sites"; }
host() { lab_host "$@"; }
# field SITE TUNNEL JQ: a field of the tunnel in SITE's applied intent.
field() { jq -r --arg i "$2" ".tunnels[] | select(.id == \$i) | $3" "$L/$1/state/intent.json"; }
vici() { echo "unix://$L/$1/charon.vici"; }

# Tunnels as "id a b kind profile name", from the controller.
matrix_tunnels() {
	api "$CTL_URL/v1/tunnels?limit=1000" |
		jq -r '.items[] | "\(.interfaces[.a]) \(.a) \(.b) \(.tunnel_type) \(.profile) \(.name)"' > "$L/mtx"
}

# The MTU docs/intent.md gives a combination, from its table "| kind | mode | protocol |
# underlay | mtu |" (underlay_mtu 1500, no NAT).
doc_mtu() {
	awk -F'|' -v k="$1" -v m="$2" -v p="$3" -v u="IPv$4" '
		{ for (i = 2; i <= 6; i++) { gsub(/^ +| +$/, "", $i); gsub(/`/, "", $i) } }
		$2 == k && $3 == m && $4 == p && $5 == u { print $6; exit }' "$LAB_ROOT/docs/intent.md"
}

check_mtu() {
	while read -r id a b kind prof name; do
		fam=4; is_v6 "$(underlay "$a")" && fam=6
		mode=$(field "$a" "$id" .security.mode); proto=$(field "$a" "$id" .security.protocol)
		mtu=$(field "$a" "$id" .mtu); doc=$(doc_mtu "$kind" "$mode" "$proto" "$fam")
		[ -n "$doc" ] && [ "$mtu" = "$doc" ] ||
			fail "$name ($id): MTU $mtu in the intent, docs/intent.md says '${doc:-nothing}' for $kind $mode $proto IPv$fam"
	done < "$L/mtx"
	[ "$FAILED" = 0 ] && pass "every tunnel's MTU is the one docs/intent.md gives its combination"
}

initiator() { [ "$(field "$2" "$1" .security.initiator)" = true ]; }

# ping_pair ID A B FAM [SIZE]: A's host to B's over tunnel ID, DF at SIZE when given.
ping_pair() {
	src=$(host "$2" "$4"); dst=$(host "$3" "$4")
	dev=$(route_dev "$2" "$src" "$dst")
	[ "$dev" = "$1" ] || { echo "routed via '$dev'"; return 1; }
	if [ -n "${5:-}" ]; then
		ip netns exec "$2" ping -q -c 2 -i 0.2 -W 2 -M do -s "$5" -I "$src" "$dst" > /dev/null 2>&1 ||
			{ echo "DF ping of $5 bytes lost"; return 1; }
	else
		ping_from "$2" "$src" "$dst" 3 || { echo "pings lost"; return 1; }
	fi
}

# Every tunnel, both directions, both prefix families, plain and at the MTU with DF.
check_pings() {
	: > "$L/mtx.pingfail"
	while read -r id a b kind prof name; do
		mtu=$(field "$a" "$id" .mtu)
		pids=
		for fam in 4 6; do
			hdr=28; [ "$fam" = 6 ] && hdr=48
			for dir in "$a $b" "$b $a"; do
				set -- $dir
				(r=$(ping_pair "$id" "$1" "$2" "$fam") && r=$(ping_pair "$id" "$1" "$2" "$fam" $((mtu - hdr))) ||
					echo "$name ($id) $1 -> $2 IPv$fam: $r" >> "$L/mtx.pingfail") &
				pids="$pids $!"
			done
		done
		wait $pids
	done < "$L/mtx"
	[ -s "$L/mtx.pingfail" ] && while read -r l; do fail "ping: $l"; done < "$L/mtx.pingfail"
	[ -s "$L/mtx.pingfail" ] || pass "every tunnel carries IPv4 and IPv6 both ways, and full-size DF packets at its MTU"
}

# What crossed the underlay between each tunnel's two gateways.
check_wire() {
	while read -r id a b kind prof name; do
		proto=$(field "$a" "$id" .security.protocol)
		f="host $(underlay "$a") and host $(underlay "$b")"
		sec=$(tcpdump -n -r "$L/mtx.pcap" "$f and $proto" 2>/dev/null | wc -l)
		gre=$(tcpdump -n -r "$L/mtx.pcap" "$f and (ip proto 47 or ip6 proto 47)" 2>/dev/null | wc -l)
		# (ARP and IPv6 neighbour discovery between the two are not tunnel traffic.)
		other=$(tcpdump -n -r "$L/mtx.pcap" "$f and (ip or ip6) and not $proto and not udp port 500 and not udp port 4500 and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)" 2>/dev/null | wc -l)
		[ "$sec" -ge 8 ] && [ "$gre" = 0 ] && [ "$other" = 0 ] ||
			fail "$name ($id): on the wire $sec $proto, $gre cleartext GRE, $other other packets"
	done < "$L/mtx"
}

# rekey ID SITE: the CHILD_SA of ID rekeyed from SITE; the SPIs change.
child_of() {
	swanctl --list-sas --uri "$(vici "$1")" --ike "$2" 2>/dev/null |
		sed -n "s/^ *\($2-[0-9a-f]*\): #.*/\1/p" | head -n 1
}
check_rekey() {
	while read -r id a b kind prof name; do
		r=$(field "$a" "$id" .reqid); before=$(spis "$a" "$r"); c=$(child_of "$a" "$id")
		[ -n "$c" ] && swanctl --rekey --child "$c" --uri "$(vici "$a")" > /dev/null 2>&1 ||
			{ fail "$name ($id): cannot rekey its CHILD_SA '$c'"; continue; }
		echo "$id $a $b $r $before" >> "$L/mtx.rekey"
	done < "$L/mtx"
	sleep 3
	while read -r id a b r before; do
		name=$(awk -v i="$id" '$1 == i { print $6 }' "$L/mtx")
		after=$(spis "$a" "$r")
		[ "$after" != "$before " ] && [ "$(nstates "$a" "$r")" -ge 2 ] ||
			{ fail "$name ($id): SPIs '$before' -> '$after' after the rekey"; bad=1; }
	done < "$L/mtx.rekey"
	[ -z "${bad:-}" ] && pass "every tunnel's CHILD_SA rekeyed (new SPIs at both ends)"
}

all_state() {	# all_state START STATE: every tunnel of that start has that overall state
	lab_states > "$L/states"
	while read -r id a b kind prof name; do
		[ "$(field "$a" "$id" .security.start)" = "$1" ] || continue
		[ "$(awk -v t="$id" '$1 == t { print $2 }' "$L/states")" = "$2" ] || return 1
	done < "$L/mtx"
}
not_state() {
	while read -r id a b kind prof name; do
		[ "$(field "$a" "$id" .security.start)" = "$1" ] || continue
		s=$(awk -v t="$id" '$1 == t { print $2 }' "$L/states")
		[ "$s" = "$2" ] || printf '%s (%s) %s; ' "$name" "$id" "$s"
	done < "$L/mtx"
}

main() {
	lab_up
	matrix_tunnels
	log "$(wc -l < "$L/mtx") tunnels: $(cut -d' ' -f6 "$L/mtx" | tr '\n' ' ')"
	wait_for 30 sh -c "ls $L/*/state/intent.json 2>/dev/null | wc -l | grep -qx $(wc -l < "$L/sites")" ||
		fail "not every agent got its intent"
	check_mtu
	if wait_for 40 all_state always up; then
		pass "always-on tunnels up without traffic"
	else
		fail "always-on tunnels not up: $(not_state always up)"
	fi
	# By now the always-on ones negotiated and every link has been up for a while:
	# the on-demand ones must still have no SA, IPv6 on or not.
	od=0
	while read -r id a b kind prof name; do
		[ "$(field "$a" "$id" .security.start)" = on-demand ] || continue
		od=$((od + 1)); r=$(field "$a" "$id" .reqid)
		[ "$(nstates "$a" "$r")" = 0 ] && [ "$(nstates "$b" "$r")" = 0 ] ||
			fail "$name ($id): SAs before any traffic (the kernel's own packets started it)"
	done < "$L/mtx"
	[ "$FAILED" = 0 ] && pass "$od on-demand tunnels have no SA before traffic, with IPv6 on in every site"
	timeout 120 tcpdump -U -n -i underlay -w "$L/mtx.pcap" 'not udp port 3784' > /dev/null 2>&1 &
	cap=$!
	sleep 1
	pids=
	while read -r id a b kind prof name; do
		s=$a; d=$b; initiator "$id" "$a" || { s=$b; d=$a; }
		ping_from "$s" "$(host "$s" 4)" "$(host "$d" 4)" 3 &
		pids="$pids $!"
	done < "$L/mtx"
	wait $pids
	if wait_for 20 all_state on-demand up; then
		pass "on-demand tunnels up after their first packets"
	else
		fail "on-demand tunnels not up after traffic: $(not_state on-demand up)"
	fi
	check_pings
	kill "$cap"; wait "$cap" 2>/dev/null
	check_wire
	[ "$FAILED" = 0 ] && pass "on the wire: ESP or AH between every pair of gateways, no cleartext GRE, nothing else"
	check_rekey
	check_pings
	wait_for 20 all_state always up && wait_for 5 all_state on-demand up &&
		pass "after the rekeys: every tunnel up at the controller, pings as before" ||
		fail "after the rekeys: $(not_state always up)$(not_state on-demand up)"
	lab_psk_check && pass "no PSK in any agent or controller log" || fail "a PSK appeared in a log"
}

main
lab_collect
[ "$FAILED" = 0 ] && log "matrix: PASSED" || log "matrix: FAILED"
echo "$FAILED" > "$LAB_OUT/rc"
