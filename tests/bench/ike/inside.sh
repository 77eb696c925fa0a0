#!/bin/bash
# The IKE benchmark inside user-mode Linux (tests/bench/ike.sh). Results go to
# $GRESEC_BT/results, one fact a line; charon sockets and logs live in tmpfs (/mnt/ike).
#   1. one charon (namespace c): ike_bench loads the 500-tunnel intent through the
#      agent's IKE code, every VICI command timed (load.out), then plans again.
#   2. two namespaces a and b, one charon each, 100 always-on tunnels between them:
#      both agents (gresec-agent --intent FILE --vici PATH, daemon mode) start at the
#      same instant; time until each agent's status.json shows all 100 tunnels with
#      an ESTABLISHED IKE_SA and an INSTALLED CHILD_SA.
set -u
BT=$GRESEC_BT
D=/mnt/ike
R=$BT/results
mkdir -p "$D"
err() { echo "ERROR $*" >> "$R"; echo "ERROR $*"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

for m in veth ip_gre esp4 xfrm_user gcm ghash-generic seqiv echainiv authenc ctr; do
	modprobe -d "$BT/kmod" "$m" || { err "cannot load module $m"; exit 1; }
done

charon_start() {	# charon_start NS
	cat > "$D/$1.conf" <<C
charon {
	load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey kernel-netlink socket-default vici
	install_routes = no
	install_virtual_ip = no
	retransmit_timeout = 1.0
	retransmit_tries = 3
	plugins {
		vici {
			socket = unix://$D/$1.vici
		}
	}
	filelog {
		log {
			path = $D/$1.log
			default = 0
			flush_line = yes
			time_format = %s
			time_add_ms = yes
		}
	}
	syslog {
		daemon {
			default = -1
		}
	}
}
C
	ip netns exec "$1" sh -c "mount -t tmpfs none /run; STRONGSWAN_CONF=$D/$1.conf exec /usr/lib/ipsec/charon" \
		> "$D/$1.out" 2>&1 &
	echo $! > "$D/$1.pid"
}
charon_wait() {
	for _ in $(seq 50); do
		swanctl --stats --uri "unix://$D/$1.vici" > /dev/null 2>&1 && return 0
		sleep 0.2
	done
	err "charon in $1 does not answer: $(tail -n3 "$D/$1.out")"
	return 1
}
netns() {
	ip netns add "$1" && ip -n "$1" link set lo up &&
		ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# 1. 500 conns into one charon
netns c || { err "netns c"; exit 1; }
charon_start c
charon_wait c || exit 1
echo "phase 1: ike_bench load, $(jq '.tunnels | length' "$BT/i500/a.json") tunnels"
ip netns exec c "$GRESEC_BENCH" load "$D/c.vici" "$BT/i500/a.json" > "$BT/load.out" 2> "$D/load.err" ||
	err "ike_bench: $(tail -n3 "$D/load.err")"
echo "conns $(swanctl --list-conns --uri "unix://$D/c.vici" 2> /dev/null | grep -c '^t[0-9]*:')" >> "$R"
kill "$(cat "$D/c.pid")"

# 2. 100 always-on tunnels between two charons
n=$(jq '.tunnels | length' "$BT/pair/a.json")
netns a && netns b || { err "netns a/b"; exit 1; }
ip link add va netns a type veth peer name vb netns b || { err "veth"; exit 1; }
for s in a:va:0 b:vb:1; do
	IFS=: read -r ns dev o <<< "$s"
	for i in $(seq "$n"); do echo "addr add 10.98.$o.$i/16 dev $dev"; done > "$D/$ns.batch"
	echo "link set $dev up" >> "$D/$ns.batch"
	ip -n "$ns" -batch "$D/$ns.batch" || { err "addresses in $ns"; exit 1; }
done
charon_start a
charon_start b
charon_wait a && charon_wait b || exit 1
echo "phase 2: $n always-on tunnels a <-> b, both agents start now"
up() {	# up SITE: tunnels the agent reports with an established IKE_SA and installed child
	jq '[.tunnels[] | select(.ike.ike_state == "ESTABLISHED" and .ike.child_state == "INSTALLED")] | length' \
		"$D/st-$1/status.json" 2> /dev/null || echo 0
}
mkdir -p "$D/st-a" "$D/st-b"
t0=$(ms)
for s in a b; do
	ip netns exec "$s" "$GRESEC_AGENT" --intent "$BT/pair/$s.json" --vici "$D/$s.vici" \
		--state-dir "$D/st-$s" --resync 2 --log-level debug > "$D/agent-$s.log" 2>&1 &
	echo $! > "$D/agent-$s.pid"
done
ta= tb=
while [ $(($(ms) - t0)) -lt 90000 ]; do
	[ -z "$ta" ] && [ "$(up a)" = "$n" ] && ta=$(($(ms) - t0))
	[ -z "$tb" ] && [ "$(up b)" = "$n" ] && tb=$(($(ms) - t0))
	[ -n "$ta" ] && [ -n "$tb" ] && break
	sleep 0.1
done
echo "up $n ${ta:--1} ${tb:--1} $(up a) $(up b)" >> "$R"
echo "kernel_sas $(ip -n a xfrm state | grep -c '^src') $(ip -n b xfrm state | grep -c '^src')" >> "$R"
echo "initiates $(grep -c 'debug: ike initiate' "$D/agent-a.log")" >> "$R"
echo "kernel_pass $(sed -n 's/.*revision 1: \([0-9]*\) changes, \([0-9]*\) messages.*/\1 \2/p' "$D/agent-a.log" | head -n1)" >> "$R"
for s in a b; do
	kill -TERM "$(cat "$D/agent-$s.pid")"
done
wait "$(cat "$D/agent-a.pid")" "$(cat "$D/agent-b.pid")" 2> /dev/null
grep -h 'error\|warn' "$D/agent-a.log" "$D/agent-b.log" | head -n 5
cp "$D/agent-a.log" "$D/agent-b.log" "$D/a.log" "$D/b.log" "$BT/" 2> /dev/null
kill "$(cat "$D/a.pid")" "$(cat "$D/b.pid")"
