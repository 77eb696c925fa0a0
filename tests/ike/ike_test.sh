#!/bin/sh
# Runs inside user-mode Linux (tests/ike/run.sh): two sites in network namespaces
# joined by a veth pair, one real charon each, the agent's IKE plane driven by
# ike_driver. The SPD entries that the agent's kernel plane would own are made here
# with `ip xfrm policy`, each template carrying its tunnel's reqid.
#   od: GRE, transport ESP, on-demand   (a 10.99.0.1  <-> b 10.99.0.2,  reqid 65537)
#   al: GRE, transport ESP, always, UDP-encapsulated, a initiates
#                                       (a 10.99.0.11 <-> b 10.99.0.12, reqid 65538)
set -u
W=$IKE_WORK
D=$IKE_DRIVER
S=$W/s
FAILED=0
T0=$(date +%s)

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }
die() { echo "FAIL: $*"; exit 1; }
step() { echo "-- [$(($(date +%s) - T0))s] $*"; }
# wait_for SECONDS COMMAND...: polls every 0.2 s
wait_for() {
	n=$(($1 * 5)); shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}
nstates() { ip -n "$1" xfrm state | grep -c "reqid $2 " ; }
has_states() { [ "$(nstates "$1" "$2")" -ge 2 ]; }
no_states() { [ "$(nstates "$1" "$2")" -eq 0 ]; }
conns() { swanctl --list-conns --uri "unix://$S/$1.vici" 2>/dev/null | grep -E '^[A-Za-z0-9._-]+:' | cut -d: -f1 | sort | tr '\n' ' '; }

step "kernel modules"
mkdir -p "$W/mod/lib"
ln -s /usr/lib/uml/modules "$W/mod/lib/modules"
printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$W/mod" >"$W/modprobe"
chmod +x "$W/modprobe"
echo "$W/modprobe" >/proc/sys/kernel/modprobe
for m in veth ip_gre esp4 ah4 xfrm_user gcm ghash-generic seqiv echainiv authenc hmac cbc ctr; do
	modprobe -d "$W/mod" "$m" || die "modprobe $m"
done

step "two sites"
# No IPv6 on the sites: link-local chatter on a GRE device would be traffic for the
# SPD and start the on-demand tunnel before the test sends any.
for ns in a b; do
	ip netns add $ns || die "netns $ns"
	ip -n $ns link set lo up
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add va netns a type veth peer name vb netns b || die "veth"
ip -n a addr add 10.99.0.1/24 dev va
ip -n a addr add 10.99.0.11/24 dev va
ip -n b addr add 10.99.0.2/24 dev vb
ip -n b addr add 10.99.0.12/24 dev vb
ip -n a link set va up
ip -n b link set vb up

# gre NS NAME LOCAL REMOTE KEY OVERLAY
gre() {
	ip -n "$1" link add "$2" type gre local "$3" remote "$4" key "$5" || die "gre $1 $2"
	ip -n "$1" addr add "$6" dev "$2"
	ip -n "$1" link set "$2" up
}
gre a gsod 10.99.0.1 10.99.0.2 1 10.255.0.0/31
gre b gsod 10.99.0.2 10.99.0.1 1 10.255.0.1/31
gre a gsal 10.99.0.11 10.99.0.12 2 10.255.0.2/31
gre b gsal 10.99.0.12 10.99.0.11 2 10.255.0.3/31

# spd NS LOCAL REMOTE REQID: GRE out and in through ESP transport with the reqid
spd() {
	ip -n "$1" xfrm policy add src "$2" dst "$3" proto gre dir out priority 10000 \
		tmpl src "$2" dst "$3" proto esp mode transport reqid "$4" || die "spd out $1"
	ip -n "$1" xfrm policy add src "$3" dst "$2" proto gre dir in priority 10000 \
		tmpl src "$3" dst "$2" proto esp mode transport reqid "$4" || die "spd in $1"
}
spd a 10.99.0.1 10.99.0.2 65537
spd b 10.99.0.2 10.99.0.1 65537
spd a 10.99.0.11 10.99.0.12 65538
spd b 10.99.0.12 10.99.0.11 65538

step "intents"
# tunnel ID IF LOCAL REMOTE KEY OV_LOCAL OV_PEER REQID START INITIATOR ENCAP
tunnel() {
	cat <<J
    {"id": "$1", "ifname": "$2", "kind": "gre", "local": "$3", "remote": "$4",
     "key": $5, "ttl": 0, "mtu": 1400,
     "overlay": {"local": "$6", "peer": "$7"}, "reqid": $8,
     "security": {"mode": "transport", "protocol": "esp",
       "ike_proposals": ["aes128gcm16-prfsha256-ecp256"],
       "child_proposals": ["aes128gcm16"],
       "ike_lifetime": 3600, "child_lifetime": 1200, "dpd_delay": 5,
       "start": "$9", "initiator": ${10}, "udp_encap": ${11}},
     "psk": "psk-of-$1-0123456789abcdef"}
J
}
# intent SITE TUNNELS...
intent() {
	site=$1; shift
	printf '{"format": 1, "site": "%s", "revision": 1, "routes": [], "spd": [],\n "tunnels": [' "$site"
	sep=""
	for t in "$@"; do printf '%s\n%s' "$sep" "$t"; sep=","; done
	printf ']}\n'
}
A_OD=$(tunnel od gsod 10.99.0.1 10.99.0.2 1 10.255.0.0/31 10.255.0.1/31 65537 on-demand true false)
B_OD=$(tunnel od gsod 10.99.0.2 10.99.0.1 1 10.255.0.1/31 10.255.0.0/31 65537 on-demand false false)
A_AL=$(tunnel al gsal 10.99.0.11 10.99.0.12 2 10.255.0.2/31 10.255.0.3/31 65538 always true true)
B_AL=$(tunnel al gsal 10.99.0.12 10.99.0.11 2 10.255.0.3/31 10.255.0.2/31 65538 always false true)
intent a "$A_OD" "$A_AL" >"$W/a.json"
intent b "$B_OD" "$B_AL" >"$W/b.json"
intent a "$A_AL" >"$W/a2.json"
intent b "$B_AL" >"$W/b2.json"

step "charon in each site"
for ns in a b; do
	cat >"$W/strongswan-$ns.conf" <<C
charon {
	load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey kernel-netlink socket-default vici
	install_routes = no
	install_virtual_ip = no
	plugins {
		vici {
			socket = unix://$S/$ns.vici
		}
	}
	filelog {
		log {
			path = $W/charon-$ns.log
			default = 1
			time_format = %s
		}
	}
	syslog {
		daemon {
			default = -1
		}
	}
}
C
	ip netns exec $ns sh -c "mount -t tmpfs none /run; STRONGSWAN_CONF=$W/strongswan-$ns.conf exec /usr/lib/ipsec/charon >$W/charon-$ns.out 2>&1" &
	eval "CHARON_$ns=\$!"
done
for ns in a b; do
	wait_for 10 test -S "$S/$ns.vici" || die "charon in $ns did not start (see $W/charon-$ns.out)"
	wait_for 5 swanctl --stats --uri "unix://$S/$ns.vici" >/dev/null 2>&1 || die "charon in $ns does not answer on VICI"
done
pass "two charons answer on their VICI sockets"

step "dry run"
ip netns exec a "$D" plan "unix://$S/a.vici" "$W/a.json" >"$W/plan-a.txt" 2>&1 || fail "plan: $(cat "$W/plan-a.txt")"
cat "$W/plan-a.txt"
grep -q '^ike load-conn od child od-[0-9a-f]\{16\} .* reqid 65537 start on-demand' "$W/plan-a.txt" &&
	grep -q '^ike load-shared gresec-al' "$W/plan-a.txt" &&
	grep -q '^ike initiate al child al-' "$W/plan-a.txt" &&
	! grep -q 'psk-of' "$W/plan-a.txt" || fail "plan lines"
[ -z "$(conns a)" ] && pass "dry run printed the plan, charon untouched" || fail "dry run loaded: $(conns a)"

step "agents' IKE planes running"
for ns in a b; do
	ip netns exec $ns "$D" run "unix://$S/$ns.vici" "$W/$ns.json" 120 >"$W/run-$ns.log" 2>&1 &
	eval "RUN_$ns=\$!"
done
wait_for 10 sh -c "[ \"\$(swanctl --list-conns --uri unix://$S/b.vici 2>/dev/null | grep -c '^[a-z]*:')\" = 2 ]" ||
	fail "conns not loaded in b: $(conns b)"
[ "$(conns a)" = "al od " ] && pass "conns loaded: a: $(conns a)" || fail "conns in a: $(conns a)"

step "always: up without traffic"
if wait_for 15 has_states a 65538 && wait_for 5 has_states b 65538; then
	pass "always-on tunnel al has SAs with reqid 65538 on both sides, no traffic sent"
else
	fail "always-on SA not installed"; ip -n a xfrm state
fi
ip -n a xfrm state | grep -q "encap type espinudp" && pass "al is UDP-encapsulated" || fail "al not UDP-encapsulated"
no_states a 65537 && no_states b 65537 && pass "on-demand od: no SA before traffic" || fail "od has SAs before traffic"

step "on-demand: traffic triggers the acquire"
ip netns exec a timeout 9 tcpdump -n -i va -w "$W/cap.pcap" 'ip proto 47 or ip proto 50' >"$W/tcpdump.log" 2>&1 &
TCPD=$!
sleep 1.5
ip netns exec a ping -c 8 -i 0.3 -W 3 10.255.0.1 >"$W/ping.log" 2>&1
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$W/ping.log")
[ "${got:-0}" -ge 5 ] && pass "ping over od: $got/8 replies" || { fail "ping over od: ${got:-0}/8"; cat "$W/ping.log"; }
has_states a 65537 && has_states b 65537 && pass "od SAs installed with reqid 65537 on both sides" ||
	{ fail "od SAs missing"; ip -n a xfrm state; }
grep -q "acquires seen" "$W/run-a.log" && pass "a's acquire listener saw the acquire" || fail "no acquire seen in a"
wait $TCPD
gre=$(tcpdump -n -r "$W/cap.pcap" 'ip proto 47' 2>/dev/null | wc -l)
esp=$(tcpdump -n -r "$W/cap.pcap" 'ip proto 50' 2>/dev/null | wc -l)
[ "$gre" -eq 0 ] && [ "$esp" -ge 10 ] && pass "on the wire: $esp ESP packets, no cleartext GRE" ||
	fail "on the wire: $esp ESP, $gre cleartext GRE"

step "status"
ip netns exec a "$D" status "unix://$S/a.vici" "$W/a.json" >"$W/status-a.txt" 2>&1
cat "$W/status-a.txt"
grep '^status od ' "$W/status-a.txt" | grep -q '"ike_state":"ESTABLISHED"' &&
	grep '^status od ' "$W/status-a.txt" | grep -q '"child_state":"INSTALLED"' &&
	grep '^status od ' "$W/status-a.txt" | grep -q '"reqid":65537' &&
	grep '^status od ' "$W/status-a.txt" | grep -vq '"bytes_out":0,' && pass "status: od established, installed, bytes counted" ||
	fail "status for od"
grep -q '^status' "$W/run-a.log" && pass "events produced status updates in the running loop" || fail "no event-driven status in run-a.log"

# A new process cannot read back the keys charon holds (charon does not show key data):
# its first pass loads each shared key once more, which touches no conn and no SA.
# Nothing else may be planned.
only_keys() {	# LOG: every action of the pass is a load-shared, and there is one per conn
	[ "$(grep -c '^ike ' "$1")" = "$(grep -c '^ike load-shared ' "$1")" ] &&
		grep -q "^actions $2\$" "$1"
}
step "restart: nothing reloaded but the keys"
kill $RUN_a $RUN_b
wait $RUN_a $RUN_b 2>/dev/null
spis_a=$(ip -n a xfrm state | grep -o 'spi 0x[0-9a-f]*' | sort | tr '\n' ' ')
for ns in a b; do
	ip netns exec $ns "$D" apply "unix://$S/$ns.vici" "$W/$ns.json" >"$W/restart-$ns.log" 2>&1 || fail "apply after restart in $ns"
	only_keys "$W/restart-$ns.log" 2 && pass "restart in $ns: the 2 keys loaded again, nothing else" ||
		{ fail "restart in $ns:"; cat "$W/restart-$ns.log"; }
done
sleep 1
[ "$spis_a" = "$(ip -n a xfrm state | grep -o 'spi 0x[0-9a-f]*' | sort | tr '\n' ' ')" ] &&
	pass "restart: same SAs (SPIs unchanged)" || fail "SAs changed across restart"
grep -c "added vici connection" "$W/charon-a.log" | grep -qx 2 && pass "charon a loaded each conn once" ||
	fail "charon a conn loads: $(grep -c 'added vici connection' "$W/charon-a.log")"

step "remove od"
for ns in a b; do
	ip netns exec $ns "$D" apply "unix://$S/$ns.vici" "$W/${ns}2.json" >"$W/remove-$ns.log" 2>&1 || fail "apply removal in $ns"
	cat "$W/remove-$ns.log"
done
[ "$(conns a)" = "al " ] && [ "$(conns b)" = "al " ] && pass "od unloaded on both sides" || fail "conns after removal: a: $(conns a) b: $(conns b)"
wait_for 5 no_states a 65537 && wait_for 5 no_states b 65537 && pass "od SAs gone from both kernels" || fail "od SAs left"
swanctl --list-conns --uri "unix://$S/a.vici" >/dev/null 2>&1
has_states a 65538 && pass "al untouched" || fail "al lost its SAs"
for ns in a b; do
	ip netns exec $ns "$D" apply "unix://$S/$ns.vici" "$W/${ns}2.json" >"$W/again-$ns.log" 2>&1
	only_keys "$W/again-$ns.log" 1 || { fail "second removal pass in $ns: more than al's key"; cat "$W/again-$ns.log"; }
done

step "done"
kill $CHARON_a $CHARON_b 2>/dev/null
wait $CHARON_a $CHARON_b 2>/dev/null
grep -q 'psk-of' "$W"/run-*.log "$W"/restart-*.log "$W"/remove-*.log "$W"/plan-*.txt && fail "a PSK appeared in the agent's output"
echo "total $(($(date +%s) - T0)) s"
exit $FAILED
