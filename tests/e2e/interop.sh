# Sourced by tests/e2e/scenarios.sh: an unmanaged site (issue 10) whose gateway is a
# stock strongSwan charon configured only from GET /v1/sites/ext1/peer-config
# ?format=swanctl and the gresec-peer.sh it carries, against the lab's gresec sites: GRE
# on demand from both sides, a steady ping across CHILD_SA rekeys, full-size DF packets
# at the intent's MTU, no cleartext GRE on the wire (the guard included), no error
# reported on a healthy tunnel; then a VTI, always-on, to a second gresec site.

EXT=ext1
EXT_UL=203.0.113.31
EXT_HOST=10.31.0.1
EXT_SA=${E2E_INTEROP_SA:-20}	# the GRE tunnel's sa_lifetime: it rekeys under the ping
# How the third party's secret is written. "binary": as rendered, `secret = 0x<hex>`,
# the 32 bytes the intent's psk stands for (issue 10 items 1-2: the agent hands charon
# those bytes). "text": the 66 characters of the psk as a key (0s + their base64), what
# agents before items 1-2 handed charon. The controller puts a tunnel to an unmanaged
# site in the binary form as soon as the managed end supports it (compile.c).
EXT_PSK=${E2E_INTEROP_PSK:-binary}

ext_net() {	# ext_net NS UNDERLAY HOST: a gateway on the underlay bridge, HOST/24 behind it
	ip netns add "$1" &&
		ip link add "u-$1" type veth peer name ul0 netns "$1" &&
		ip link set "u-$1" master underlay up || return 1
	ns_setup "$1" "link set lo up
addr add $2/$UNDERLAY_LEN dev ul0
link set ul0 up
link add lan0 type dummy
addr add $3/24 dev lan0
link set lan0 up"
}

api_json() { api -X "$1" -H 'Content-Type: application/json' "$CTL_URL$2" -d "$3" > /dev/null; }

# Applies the current peer-config to ext1: swanctl.conf into its charon, gresec-peer.sh
# into its namespace; the lab's strongswan.conf (VICI socket, logs) includes the rendered
# strongswan.conf.
ext_apply() {
	api "$CTL_URL/v1/sites/$EXT/peer-config?format=swanctl" > "$L/$EXT/pc.json" || return 1
	jq -r '.files["swanctl.conf"]' "$L/$EXT/pc.json" > "$L/$EXT/swanctl.conf"
	jq -r '.files["strongswan.conf"]' "$L/$EXT/pc.json" > "$L/$EXT/peer-strongswan.conf"
	jq -r '.files["gresec-peer.sh"]' "$L/$EXT/pc.json" > "$L/$EXT/gresec-peer.sh"
	if [ "$EXT_PSK" = text ]; then
		for k in $(sed -n 's/^[[:space:]]*secret = \(0x[0-9a-f]*\)$/\1/p' "$L/$EXT/swanctl.conf"); do
			sed -i "s|secret = $k\$|secret = 0s$(printf %s "$k" | base64 -w0)|" "$L/$EXT/swanctl.conf"
		done
	fi
	swanctl --load-all --noprompt --file "$L/$EXT/swanctl.conf" --uri "unix://$L/$EXT/charon.vici" \
		> "$L/$EXT/load.out" 2>&1 || { log "swanctl: $(tail -n3 "$L/$EXT/load.out")"; return 1; }
	ip netns exec "$EXT" sh "$L/$EXT/gresec-peer.sh" > "$L/$EXT/peer.out" 2>&1 ||
		{ log "gresec-peer.sh: $(tail -n3 "$L/$EXT/peer.out")"; return 1; }
}

ext_setup() {
	ext_net "$EXT" "$EXT_UL" "$EXT_HOST" || return 1
	api_json POST /v1/sites "{\"name\": \"$EXT\", \"underlay\": \"$EXT_UL\", \"prefixes\": [\"10.31.0.0/24\"], \"managed\": false}" &&
		api_json POST /v1/profiles "{\"name\": \"ext-od\", \"sa_lifetime\": $EXT_SA, \"ike_lifetime\": 300, \"dpd_interval\": 10}" &&
		api_json POST /v1/tunnels '{"name": "ext-gre", "a": "hub1", "b": "ext1", "profile": "ext-od"}' || return 1
	mkdir -p "$L/$EXT"
	{ charon_conf "$EXT"; echo "include $L/$EXT/peer-strongswan.conf"; } > "$L/$EXT/strongswan.conf"
	: > "$L/$EXT/peer-strongswan.conf"
	charon_start "$EXT"
	charon_wait "$EXT"
	ext_apply
}

ext_states() { ip -n "$EXT" xfrm state | grep -c '^src' || :; }
ext_has_sa() { [ "$(ext_states)" -ge 2 ]; }
# The managed end's report on tunnel T: "ike child last_error".
ext_report() {
	api "$CTL_URL/v1/tunnels?limit=1000" | jq -r --arg s "$1" --arg t "$2" \
		'.items[] | select(.interfaces[.a] == $t) | .state[$s] | "\(.ike) \(.child) \(.last_error.message // "none")"'
}
# On a failure: what the third party's kernel holds, into the log.
ext_dump() {
	{
		echo "--- $EXT policies"; ip -n "$EXT" xfrm policy
		echo "--- $EXT states"; ip -n "$EXT" -s xfrm state
		echo "--- $EXT routes"; ip -n "$EXT" route
		echo "--- $EXT links"; ip -n "$EXT" -s link
		echo "--- hub1 states"; ip -n hub1 -s xfrm state
	} > "$L/$EXT/dump.$1" 2>&1
	mkdir -p "$LAB_OUT/logs" && cp "$L/$EXT/dump.$1" "$LAB_OUT/logs/" 2>/dev/null || :
}
# PINGS then a clean run of 5 from NS: the first packets may go while IKE negotiates.
ext_ping() { ping_from "$1" "$2" "$3" 2; ping_from "$1" "$2" "$3" 5; }

sc_interop() {
	ext_setup || { fail "interop: cannot set up $EXT (unmanaged site, strongSwan from peer-config)"; return; }
	set -- $(named ext-gre); t=$1; r=$2
	mtu=$(jq -r --arg t "$t" '.tunnels[] | select(.id == $t) | .mtu' "$L/hub1/state/intent.json" 2>/dev/null)
	wait_for 15 sh -c "swanctl --list-conns --uri unix://$L/hub1/charon.vici | grep -q '^$t'" ||
		{ fail "interop: hub1's agent never loaded $t"; return; }
	pass "interop: $EXT (managed: false) configured from peer-config?format=swanctl (PSK as $EXT_PSK), gresec-peer.sh applied; hub1 has $t"
	# On demand from the third party, the wire watched for cleartext GRE.
	cpid=$(capture "$EXT" ul0 12 "$L/ext.pcap" "host 203.0.113.1")
	sleep 1
	ext_ping "$EXT" "$EXT_HOST" 10.1.0.1 && ext_has_sa && has_sa hub1 "$r" &&
		pass "interop: on demand from $EXT: SAs both sides, 5/5 pings" ||
		{ fail "interop: on demand from $EXT: $(ext_states) SAs at $EXT, $(nstates hub1 "$r") at hub1 ($(grep -h 'AUTH\|MAC\|NO_PROP\|TS_UNACC' "$L/$EXT/charon.log" | tail -n1))"; ext_dump ondemand; }
	wait_for 15 is_state "$t" up && [ "$(ext_report hub1 "$t")" = "established installed none" ] &&
		pass "interop: controller reports $t up from hub1's report alone ($(ext_report hub1 "$t"))" ||
		fail "interop: $t $(state_of "$t"), hub1 reports $(ext_report hub1 "$t")"
	ext_df "$mtu" GCM
	wait "$cpid" 2>/dev/null
	esp=$(count "$L/ext.pcap" 'ip proto 50'); gre=$(count "$L/ext.pcap" 'ip proto 47')
	[ "$esp" -ge 10 ] && [ "$gre" -eq 0 ] && pass "interop: on the wire $esp ESP, $gre cleartext GRE" ||
		fail "interop: on the wire $esp ESP, $gre cleartext GRE"
	sc_interop_hub_side "$t" "$r"
	sc_interop_rekey "$t" "$r"
	sc_interop_cbc "$t" "$r"
	sc_interop_guard "$r"
	sc_interop_vti
	sc_interop_nat
}

# Full-size packets with DF at the intent's MTU pass both ways (1500 on the wire, the
# ESP padding at its worst); one byte more is refused at the tunnel interface.
ext_df() {
	df() { ip netns exec "$1" ping -q -M do -s "$2" -c 3 -i 0.2 -W 2 -I "$3" "$4" > /dev/null 2>&1; }
	if [ -n "$1" ] && df "$EXT" $(($1 - 28)) "$EXT_HOST" 10.1.0.1 && df hub1 $(($1 - 28)) 10.1.0.1 "$EXT_HOST" &&
		! df "$EXT" $(($1 - 27)) "$EXT_HOST" 10.1.0.1; then
		pass "interop: $2: $(($1 - 28))-byte DF pings (MTU $1) pass both ways, one byte more does not"
	else
		fail "interop: $2: DF pings at the intent's MTU ${1:-?} failed"
	fi
}

# The same with a CBC profile: the profile's ESP proposal changed, ext1 reloaded.
sc_interop_cbc() {
	api -X PATCH -H 'Content-Type: application/merge-patch+json' "$CTL_URL/v1/profiles/ext-od" \
		-d '{"esp_proposals": ["aes256-sha256-ecp384"]}' > /dev/null && ext_apply ||
		{ fail "interop: cbc: cannot change the profile or reload $EXT"; return; }
	swanctl --terminate --ike "$1" --uri "unix://$L/$EXT/charon.vici" > /dev/null 2>&1
	cbc() { ip -n "$EXT" xfrm state | grep -q 'enc cbc(aes)' && has_sa hub1 "$2"; }
	ext_ping "$EXT" "$EXT_HOST" 10.1.0.1
	wait_for 15 cbc "$1" "$2" || { fail "interop: cbc: no AES-CBC SA: $(ip -n "$EXT" xfrm state | grep -m1 'enc\|aead')"; return; }
	mtu=$(jq -r --arg t "$1" '.tunnels[] | select(.id == $t) | .mtu' "$L/hub1/state/intent.json")
	ext_df "$mtu" "AES-CBC/HMAC-SHA-256"
}

# The IKE_SA of tunnel T at gresec site S was initiated by S (swanctl marks the local
# SPI with '*').
hub_initiated() {
	swanctl --list-sas --ike "$2" --uri "unix://$L/$1/charon.vici" 2>/dev/null | grep -q 'ESTABLISHED.*_i\*'
}

# On demand from the gresec side: the third party deletes the IKE_SA; hub1 brings the
# tunnel back (its agent restarts a tunnel that was in use, or its traffic does), as
# the initiator.
sc_interop_hub_side() {
	swanctl --terminate --ike "$1" --uri "unix://$L/$EXT/charon.vici" > /dev/null 2>&1
	ping_from hub1 10.1.0.1 "$EXT_HOST" 2
	wait_for 15 hub_initiated hub1 "$1" && ext_ping hub1 10.1.0.1 "$EXT_HOST" && ext_has_sa && has_sa hub1 "$2" &&
		pass "interop: after $EXT deleted the IKE_SA, hub1 initiated it again: SAs both sides, 5/5 pings" ||
		fail "interop: from hub1: $(ext_states) / $(nstates hub1 "$2") SAs, $(swanctl --list-sas --ike "$1" --uri "unix://$L/hub1/charon.vici" 2>/dev/null | head -n1)"
}

# A CHILD_SA rekey started by the gresec end S of tunnel T, through its charon.
hub_rekey() {
	c=$(swanctl --list-sas --ike "$2" --uri "unix://$L/$1/charon.vici" 2>/dev/null |
		sed -n 's/^ *\([a-z0-9]*-[0-9a-f]*\): #[0-9]*, reqid.*/\1/p' | head -n1)
	swanctl --rekey --child "$c" --uri "unix://$L/$1/charon.vici" > /dev/null 2>&1
}

# A steady ping for two sa_lifetimes across the natural rekeys, with one rekey forced
# from each side (REKEY_THIRD: the third party's command) so that both directions of
# CREATE_CHILD_SA are exercised. rekey_under_ping TAG NS HOST T R REKEY_THIRD...
rekey_under_ping() {
	tag=$1 ns=$2 host=$3 t=$4 r=$5; shift 5
	rspis hub1 "$r" > "$L/$tag.spi0"
	n=$(((2 * EXT_SA + 8) * 5))
	ip netns exec "$ns" ping -c "$n" -i 0.2 -W 2 -I "$host" 10.1.0.1 > "$L/$tag.ping" 2>&1 &
	p=$!
	sleep 3; "$@" > /dev/null 2>&1
	sleep 7; hub_rekey hub1 "$t"
	wait "$p"
	rspis hub1 "$r" > "$L/$tag.spi1"
	gap=$(ping_longest_gap "$L/$tag.ping"); lost=$(ping_lost "$L/$tag.ping")
	[ -s "$L/$tag.spi1" ] && ! grep -qxF -f "$L/$tag.spi0" "$L/$tag.spi1" && [ "$gap" -le 1 ] && [ "$lost" -le $((n / 100)) ] &&
		pass "$tag: ping every 0.2 s for $((n / 5)) s across rekeys (sa_lifetime $EXT_SA s; SPIs $(tr '\n' ' ' < "$L/$tag.spi0")-> $(tr '\n' ' ' < "$L/$tag.spi1")): $lost lost, never two in a row" ||
		fail "$tag: rekey: $lost lost, longest run $gap, SPIs $(tr '\n' ' ' < "$L/$tag.spi0")-> $(tr '\n' ' ' < "$L/$tag.spi1")"
}

# Both ends' rekeys counted in the third party's IKE log: "started by it" and "by hub1".
rekey_counts() {	# rekey_counts TAG MINE THEIRS
	[ "$2" -ge 1 ] && [ "$3" -ge 1 ] && pass "$1: CHILD_SA rekeys started by the third party: $2, by hub1: $3" ||
		fail "$1: CHILD_SA rekeys started by the third party: $2, by hub1: $3 (want both)"
	wait_for 10 is_state "$t" up && [ "$(ext_report hub1 "$t" | cut -d' ' -f3-)" = none ] &&
		pass "$1: $t up after the rekeys, no error reported" ||
		fail "$1: after the rekeys: $(state_of "$t"), hub1 reports $(ext_report hub1 "$t")"
}

sc_interop_rekey() {
	m0=$(grep -c 'generating CREATE_CHILD_SA request .*N(REKEY_SA)' "$L/$EXT/charon.log")
	t0=$(grep -c 'parsed CREATE_CHILD_SA request .*N(REKEY_SA)' "$L/$EXT/charon.log")
	rekey_under_ping interop "$EXT" "$EXT_HOST" "$1" "$2" \
		swanctl --rekey --child "$1" --uri "unix://$L/$EXT/charon.vici"
	rekey_counts interop $(($(grep -c 'generating CREATE_CHILD_SA request .*N(REKEY_SA)' "$L/$EXT/charon.log") - m0)) \
		$(($(grep -c 'parsed CREATE_CHILD_SA request .*N(REKEY_SA)' "$L/$EXT/charon.log") - t0))
}

# The guard: with the IKE daemon's policies gone (conn unloaded), GRE towards hub1 is
# dropped, not sent in clear.
sc_interop_guard() {
	swanctl --terminate --ike "$(named ext-gre | cut -d' ' -f1)" --uri "unix://$L/$EXT/charon.vici" > /dev/null 2>&1
	swanctl --unload-conn --name "$(named ext-gre | cut -d' ' -f1)" --uri "unix://$L/$EXT/charon.vici" > /dev/null 2>&1
	t=$(named ext-gre | cut -d' ' -f1)
	tx() { ip -n "$EXT" -s link show "$t" | awk '/TX:/ { getline; print $2 }'; }
	cpid=$(capture "$EXT" ul0 5 "$L/guard.pcap" "host 203.0.113.1")
	sleep 1
	tx0=$(tx)
	ip netns exec "$EXT" ping -q -c 3 -i 0.2 -W 1 -I "$EXT_HOST" 10.1.0.1 > /dev/null 2>&1
	wait "$cpid" 2>/dev/null
	g=$(count "$L/guard.pcap" 'ip proto 47'); sent=$(($(tx) - tx0))
	[ "$g" -eq 0 ] && [ "$sent" -ge 3 ] && [ "$(ip -n "$EXT" xfrm policy | grep -c 'action block')" -eq 2 ] &&
		pass "interop: guard: with $EXT's conn unloaded, $sent packets into $t, no GRE in clear on the wire" ||
		fail "interop: guard: $sent packets into $t, $g cleartext GRE packets on the wire with the conn unloaded"
	ext_apply || fail "interop: reloading $EXT's configuration"
}

# A VTI, always-on, between gresec site SITE (host SHOST; it sorts first, so it is the
# initiator) and third party NS (host NHOST), named NAME on profile PROF; APPLY reloads the
# third party, LOG is its IKE log. vti_check TAG SITE SHOST NS NHOST NAME PROF APPLY LOG
vti_check() {
	api_json POST /v1/profiles "{\"name\": \"$7\", \"start\": \"always\", \"dpd_interval\": 10}" &&
		api_json POST /v1/tunnels "{\"name\": \"$6\", \"a\": \"$2\", \"b\": \"$4\", \"profile\": \"$7\", \"tunnel_type\": \"vti\"}" &&
		"$8" || { fail "$1: vti: cannot add the tunnel or apply the new peer-config"; return; }
	vt=$(named "$6" | cut -d' ' -f1); vr=$(named "$6" | cut -d' ' -f2)
	wait_for 25 has_sa "$2" "$vr" && pass "$1: vti $vt (always-on, $2 initiates): SAs without traffic" ||
		{ fail "$1: vti $vt: no SA at $2 ($(grep -h 'AUTH\|NO_PROP\|TS_UNACC\|failed' "$9" | tail -n1))"; return; }
	ext_ping "$4" "$5" "$3" && ext_ping "$2" "$3" "$5" &&
		pass "$1: vti $vt: pings both ways" || fail "$1: vti $vt: pings lost"
	wait_for 15 is_state "$vt" up && [ "$(ext_report "$2" "$vt" | cut -d' ' -f3-)" = none ] &&
		pass "$1: vti $vt up, $2 reports no error" ||
		fail "$1: vti $vt: $(state_of "$vt"), $2 reports $(ext_report "$2" "$vt")"
}

sc_interop_vti() {
	vti_check interop hub2 10.2.0.1 "$EXT" "$EXT_HOST" ext-vti ext-al ext_apply "$L/$EXT/charon.log"
}

# NAT: spoke3 (behind the lab's NAT) to ext1, GRE on demand: spoke3 initiates, ext1 knows
# it by its private underlay and reaches it at the NAT's address; only UDP 4500 outside.
sc_interop_nat() {
	api_json POST /v1/tunnels "{\"name\": \"ext-nat\", \"a\": \"spoke3\", \"b\": \"$EXT\", \"profile\": \"ext-od\"}" &&
		api -X PATCH -H 'Content-Type: application/merge-patch+json' "$CTL_URL/v1/profiles/ext-od" \
			-d '{"esp_proposals": ["aes256gcm16-ecp384"]}' > /dev/null && ext_apply ||
		{ fail "interop: nat: cannot add the tunnel or apply the new peer-config"; return; }
	set -- $(named ext-nat); t=$1; r=$2
	grep -q 'encap = yes' "$L/$EXT/swanctl.conf" || fail "interop: nat: $EXT's config has no encap = yes"
	wait_for 15 sh -c "swanctl --list-conns --uri unix://$L/spoke3/charon.vici | grep -q '^$t'" ||
		{ fail "interop: nat: spoke3's agent never loaded $t"; return; }
	cpid=$(capture nat-spoke3 ul0 10 "$L/extnat.pcap" "host $EXT_UL")
	sleep 1
	ext_ping spoke3 10.13.0.1 "$EXT_HOST" && ext_ping "$EXT" "$EXT_HOST" 10.13.0.1 &&
		pass "interop: nat: spoke3 (behind NAT) <-> $EXT over $t, pings both ways" ||
		fail "interop: nat: pings lost over $t ($(grep -h 'AUTH\|NO_PROP\|TS_UNACC\|no IKE config\|failed' "$L/$EXT/charon.log" | tail -n1))"
	mtu=$(jq -r --arg t "$t" '.tunnels[] | select(.id == $t) | .mtu' "$L/spoke3/state/intent.json")
	ip netns exec "$EXT" ping -q -M do -s $((mtu - 28)) -c 3 -i 0.2 -W 2 -I "$EXT_HOST" 10.13.0.1 > /dev/null 2>&1 &&
		pass "interop: nat: GCM: $((mtu - 28))-byte DF pings (MTU $mtu) pass through the NAT" ||
		fail "interop: nat: GCM: DF pings at the intent's MTU $mtu fail through the NAT"
	wait "$cpid" 2>/dev/null
	u=$(count "$L/extnat.pcap" 'udp port 4500'); e=$(count "$L/extnat.pcap" 'ip proto 50'); g=$(count "$L/extnat.pcap" 'ip proto 47')
	[ "$u" -ge 10 ] && [ "$e" -eq 0 ] && [ "$g" -eq 0 ] && ip -n "$EXT" xfrm state | grep -q 'encap type espinudp' &&
		pass "interop: nat: outside the NAT $u UDP-encapsulated packets, no bare ESP, no GRE" ||
		fail "interop: nat: outside the NAT $u UDP/4500, $e bare ESP, $g GRE"
	wait_for 15 is_state "$t" up && [ "$(ext_report spoke3 "$t" | cut -d' ' -f3-)" = none ] &&
		pass "interop: nat: $t up, spoke3 reports no error" ||
		fail "interop: nat: $t $(state_of "$t"), spoke3 reports $(ext_report spoke3 "$t")"
}

# ---- libreswan (scenario 'libreswan') ---------------------------------------------------
# ext2, an unmanaged site whose gateway is libreswan 4.10's pluto configured from
# peer-config?format=libreswan, against hub1 (GRE, on demand) and mesh1 (VTI, always-on).
# Debian's libreswan conflicts with strongswan-charon: contrib/install-deps.sh unpacks
# its .deb into $LSW, and pluto runs from there in ext2's own mount namespace, where a
# tmpfs over /usr/libexec holds the one path pluto insists on (/usr/libexec/ipsec).
LSW=${GRESEC_LIBRESWAN:-/opt/gresec-test/libreswan}
LS2=ext2
LS2_UL=203.0.113.32
LS2_HOST=10.32.0.1

ls_whack() { ip netns exec "$LS2" "$LSW/usr/libexec/ipsec/whack" --ctlsocket "$L/$LS2/run/pluto.ctl" "$@"; }

ls_start() {
	d=$L/$LS2
	mkdir -p "$d/run" "$d/nss"
	certutil -N -d "sql:$d/nss" --empty-password || return 1
	ip netns exec "$LS2" sh -c "mount -t tmpfs none /run; mount -t tmpfs none /usr/libexec &&
		ln -s $LSW/usr/libexec/ipsec /usr/libexec/ipsec &&
		exec $LSW/usr/libexec/ipsec/pluto --nofork --stderrlog --secretsfile $d/ipsec.secrets \
			--nssdir $d/nss --rundir $d/run --ipsecdir $d" > "$d/pluto.log" 2>&1 &
	echo $! > "$d/pluto.pid"
	wait_for 10 test -S "$d/run/pluto.ctl"
}

# The current peer-config into pluto (conns replaced, secrets reread) and ext2's kernel.
ls_apply() {
	d=$L/$LS2
	api "$CTL_URL/v1/sites/$LS2/peer-config?format=libreswan" > "$d/pc.json" || return 1
	{ printf 'config setup\n\tplutodebug=none\n'; jq -r '.files["ipsec.conf"]' "$d/pc.json"; } > "$d/ipsec.conf"
	jq -r '.files["ipsec.secrets"]' "$d/pc.json" > "$d/ipsec.secrets"
	jq -r '.files["gresec-peer.sh"]' "$d/pc.json" > "$d/gresec-peer.sh"
	# "text": the psk's characters as the key (a quoted string), see EXT_PSK.
	[ "$EXT_PSK" = text ] && sed -i 's/: PSK \(0x[0-9a-f]*\)$/: PSK "\1"/' "$d/ipsec.secrets"
	[ -S "$d/run/pluto.ctl" ] || ls_start || return 1
	ls_whack --listen > /dev/null 2>&1
	ls_whack --rereadsecrets > /dev/null 2>&1
	ip netns exec "$LS2" "$LSW/usr/libexec/ipsec/addconn" --config "$d/ipsec.conf" \
		--ctlsocket "$d/run/pluto.ctl" --autoall > "$d/addconn.out" 2>&1 ||
		{ log "addconn: $(tail -n2 "$d/addconn.out")"; return 1; }
	ip netns exec "$LS2" sh "$d/gresec-peer.sh" > "$d/peer.out" 2>&1 ||
		{ log "gresec-peer.sh: $(tail -n3 "$d/peer.out")"; return 1; }
}

ls_states() { ip -n "$LS2" xfrm state | grep -c '^src' || :; }
ls_has_sa() { [ "$(ls_states)" -ge 2 ]; }

sc_libreswan() {
	[ -x "$LSW/usr/libexec/ipsec/pluto" ] || { fail "libreswan: no pluto under $LSW: run contrib/install-deps.sh check"; return; }
	ext_net "$LS2" "$LS2_UL" "$LS2_HOST" || { fail "libreswan: network of $LS2"; return; }
	mkdir -p "$L/$LS2"
	api_json POST /v1/sites "{\"name\": \"$LS2\", \"underlay\": \"$LS2_UL\", \"prefixes\": [\"10.32.0.0/24\"], \"managed\": false}" &&
		api_json POST /v1/profiles "{\"name\": \"ls-od\", \"sa_lifetime\": $EXT_SA, \"ike_lifetime\": 300, \"dpd_interval\": 10}" &&
		api_json POST /v1/tunnels "{\"name\": \"ls-gre\", \"a\": \"hub1\", \"b\": \"$LS2\", \"profile\": \"ls-od\"}" &&
		ls_apply || { fail "libreswan: cannot set up $LS2 (pluto from peer-config?format=libreswan): $(tail -n3 "$L/$LS2/pluto.log")"; return; }
	set -- $(named ls-gre); t=$1; r=$2
	mtu=$(jq -r --arg t "$t" '.tunnels[] | select(.id == $t) | .mtu' "$L/hub1/state/intent.json" 2>/dev/null)
	wait_for 15 sh -c "swanctl --list-conns --uri unix://$L/hub1/charon.vici | grep -q '^$t'" ||
		{ fail "libreswan: hub1's agent never loaded $t"; return; }
	pass "libreswan: $LS2 (managed: false) runs pluto 4.10 configured from peer-config?format=libreswan (PSK as $EXT_PSK); hub1 has $t"
	cpid=$(capture "$LS2" ul0 12 "$L/ls.pcap" "host 203.0.113.1")
	sleep 1
	ext_ping "$LS2" "$LS2_HOST" 10.1.0.1 && ls_has_sa && has_sa hub1 "$r" &&
		pass "libreswan: on demand from $LS2: SAs both sides, 5/5 pings" ||
		fail "libreswan: on demand from $LS2: $(ls_states) SAs at $LS2, $(nstates hub1 "$r") at hub1 ($(grep -h 'AUTH\|NO_PROPOSAL\|TS_UNACC\|failed' "$L/$LS2/pluto.log" | tail -n1))"
	wait_for 15 is_state "$t" up && [ "$(ext_report hub1 "$t")" = "established installed none" ] &&
		pass "libreswan: controller reports $t up from hub1's report ($(ext_report hub1 "$t"))" ||
		fail "libreswan: $t $(state_of "$t"), hub1 reports $(ext_report hub1 "$t")"
	df() { ip netns exec "$1" ping -q -M do -s "$2" -c 3 -i 0.2 -W 2 -I "$3" "$4" > /dev/null 2>&1; }
	[ -n "$mtu" ] && df "$LS2" $((mtu - 28)) "$LS2_HOST" 10.1.0.1 && df hub1 $((mtu - 28)) 10.1.0.1 "$LS2_HOST" &&
		pass "libreswan: $((mtu - 28))-byte DF pings (MTU $mtu) pass both ways" ||
		fail "libreswan: DF pings at the intent's MTU ${mtu:-?} failed"
	wait "$cpid" 2>/dev/null
	esp=$(count "$L/ls.pcap" 'ip proto 50'); gre=$(count "$L/ls.pcap" 'ip proto 47')
	[ "$esp" -ge 10 ] && [ "$gre" -eq 0 ] && pass "libreswan: on the wire $esp ESP, $gre cleartext GRE" ||
		fail "libreswan: on the wire $esp ESP, $gre cleartext GRE"
	# From hub1: libreswan deletes its IKE_SA (its trap policy stays); hub1 initiates.
	ls_whack --name "$t" --terminate > /dev/null 2>&1
	ping_from hub1 10.1.0.1 "$LS2_HOST" 2
	wait_for 15 hub_initiated hub1 "$t" && ext_ping hub1 10.1.0.1 "$LS2_HOST" && ls_has_sa && has_sa hub1 "$r" &&
		pass "libreswan: after $LS2 deleted the IKE_SA, hub1 initiated it again: SAs both sides, 5/5 pings" ||
		fail "libreswan: from hub1: $(ls_states) / $(nstates hub1 "$r") SAs, $(swanctl --list-sas --ike "$t" --uri "unix://$L/hub1/charon.vici" 2>/dev/null | head -n1)"
	m0=$(grep -c 'initiator rekeyed Child SA' "$L/$LS2/pluto.log")
	t0=$(grep -c 'responder rekeyed Child SA' "$L/$LS2/pluto.log")
	rekey_under_ping libreswan "$LS2" "$LS2_HOST" "$t" "$r" ls_whack --name "$t" --rekey-ipsec
	rekey_counts libreswan $(($(grep -c 'initiator rekeyed Child SA' "$L/$LS2/pluto.log") - m0)) \
		$(($(grep -c 'responder rekeyed Child SA' "$L/$LS2/pluto.log") - t0))
	sc_libreswan_vti
	mkdir -p "$LAB_OUT/logs" && cp "$L/$LS2/pluto.log" "$LAB_OUT/logs/$LS2.pluto.log" 2>/dev/null || :
}

sc_libreswan_vti() {
	vti_check libreswan mesh1 10.21.0.1 "$LS2" "$LS2_HOST" ls-vti ls-al ls_apply "$L/$LS2/pluto.log"
}
