#!/bin/sh
# The lab's building blocks, sourced inside user-mode Linux (contrib/lab/uml-init.sh):
# one network namespace per site of contrib/examples/demo.json on a shared bridge
# "underlay", the NAT'd site behind its own NAT namespace, a management bridge "mgmt"
# in the root namespace where the controller listens, and per site one charon and one
# gresec-agent. Everything lives in tmpfs ($L): nothing is written to the host's disk
# apart from the results directory the host handed in ($LAB_OUT).
#
# Variables: LAB_ROOT (repository), LAB_BUILD (build dir), LAB_OUT (host results dir).

L=/mnt/lab			# tmpfs, see uml-init.sh
CTL_ADDR=172.31.255.1
CTL_URL=http://$CTL_ADDR:8080
DEMO_JSON=${LAB_JSON:-$LAB_ROOT/contrib/examples/demo.json}
# The NAT's outside address, for the site marked behind_nat.
NAT_PUBLIC=${LAB_NAT_PUBLIC:-203.0.113.13}
UNDERLAY_LEN=24
T0=${T0:-$(date +%s)}

log() { printf '[%3ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() {
	log "FAILED: $*"
	lab_collect
	[ -n "${LAB_OUT:-}" ] && echo 1 > "$LAB_OUT/rc"
	exit 1
}

# wait_for SECONDS COMMAND...: polls every 0.2 s.
wait_for() {
	_n=$(($1 * 5)); shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		_n=$((_n - 1))
	done
	return 1
}

lab_modules() {
	mkdir -p "$L/kmod/lib"
	ln -sf /usr/lib/uml/modules "$L/kmod/lib/modules"
	printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$L/kmod" > "$L/modprobe"
	chmod +x "$L/modprobe"
	# The kernel asks for crypto templates (rfc4106(gcm(aes))) itself.
	echo "$L/modprobe" > /proc/sys/kernel/modprobe
	for m in veth bridge dummy ip_gre ip_vti esp4 xfrm_user gcm ghash-generic seqiv \
		echainiv authenc hmac cbc ctr sha512_generic nf_conntrack nf_nat iptable_nat \
		xt_MASQUERADE; do
		modprobe -d "$L/kmod" "$m" || die "cannot load kernel module $m"
	done
}

# Sites from the demo file: "name underlay behind_nat prefix1", one a line.
lab_sites() {
	jq -r '.sites[] | "\(.name) \(.underlay) \(.behind_nat // false) \(.prefixes[0])"' "$DEMO_JSON"
}

# The first address of a prefix (10.1.0.0/24 -> 10.1.0.1).
pfx_host() { echo "$1" | awk -F'[./]' '{ printf "%s.%s.%s.%d\n", $1, $2, $3, $4 + 1 }'; }

site_ns() {
	ip netns add "$1" || die "netns $1"
	ip -n "$1" link set lo up
	# No IPv6: link-local chatter on a GRE device would be traffic for the SPD and
	# start an on-demand tunnel before anyone sends any.
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 net.ipv4.ip_forward=1
}

# veth_to BRIDGE NS IFNAME ADDR/LEN: NS's IFNAME joined to BRIDGE in the root namespace
# (the root's end is named by the bridge's initial and the namespace).
veth_to() {
	_h=$(echo "$1" | cut -c1)-$2
	ip link add "$_h" type veth peer name "$3" netns "$2" || die "veth $_h"
	ip link set "$_h" master "$1" up
	ip -n "$2" addr add "$4" dev "$3"
	ip -n "$2" link set "$3" up
}

lab_nat_site() {	# lab_nat_site SITE UNDERLAY
	nat=nat-$1
	site_ns "$nat"
	veth_to underlay "$nat" ul0 "$NAT_PUBLIC/$UNDERLAY_LEN"
	ip link add in0 netns "$nat" type veth peer name ul0 netns "$1"
	gw=$(echo "$2" | awk -F. '{ printf "%s.%s.%s.1\n", $1, $2, $3 }')
	ip -n "$nat" addr add "$gw/24" dev in0
	ip -n "$nat" link set in0 up
	ip -n "$1" addr add "$2/24" dev ul0
	ip -n "$1" link set ul0 up
	ip -n "$1" route add default via "$gw"
	# The kernel's own masquerading: the site's IKE and ESP-in-UDP leave with the
	# NAT's address and a rewritten source port.
	ip netns exec "$nat" iptables-legacy -t nat -A POSTROUTING -o ul0 -j MASQUERADE ||
		die "masquerade in $nat"
}

lab_net() {
	for br in underlay mgmt; do
		ip link add "$br" type bridge || die "bridge $br"
		ip link set "$br" up
	done
	ip addr add "$CTL_ADDR/24" dev mgmt
	i=10
	lab_sites > "$L/sites"
	while read -r name ul nat pfx; do
		site_ns "$name"
		i=$((i + 1))
		# Out-of-band management: how the agent reaches the controller.
		veth_to mgmt "$name" mg0 "172.31.255.$i/24"
		if [ "$nat" = true ]; then
			lab_nat_site "$name" "$ul"
		else
			veth_to underlay "$name" ul0 "$ul/$UNDERLAY_LEN"
		fi
		ip -n "$name" link add lan0 type dummy
		ip -n "$name" addr add "$(pfx_host "$pfx")/${pfx#*/}" dev lan0
		ip -n "$name" link set lan0 up
	done < "$L/sites"
}

api() { curl -fsS -H "Authorization: Bearer $(cat "$L/ctl/admin.token")" "$@"; }

lab_controller() {
	mkdir -p "$L/ctl"
	"$LAB_BUILD/gresec-controller" --db "$L/ctl/gresec.db" --listen "$CTL_ADDR:8080" \
		--stale-after 20 > "$L/ctl/log" 2>&1 &
	echo $! > "$L/ctl/pid"
	wait_for 10 curl -fsS "$CTL_URL/healthz" -o /dev/null ||
		die "controller did not start: $(tail -5 "$L/ctl/log")"
}

lab_import() {
	api -X POST -H 'Content-Type: application/json' --data-binary @"$DEMO_JSON" \
		"$CTL_URL/v1/import" > "$L/ctl/import.json" || die "import failed"
	while read -r name _; do
		api -X POST "$CTL_URL/v1/sites/$name/agent-token" | jq -r .token > "$L/$name.token" ||
			die "agent token for $name"
	done < "$L/sites"
}

charon_conf() {	# charon_conf SITE
	cat <<C
charon {
	load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey kernel-netlink socket-default vici
	install_routes = no
	install_virtual_ip = no
	retransmit_timeout = 1.0
	retransmit_tries = 3
	plugins {
		vici {
			socket = unix://$L/$1/charon.vici
		}
	}
	filelog {
		log {
			path = $L/$1/charon.log
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
}

charon_start() {	# charon_start SITE
	mkdir -p "$L/$1"
	[ -f "$L/$1/strongswan.conf" ] || charon_conf "$1" > "$L/$1/strongswan.conf"
	rm -f "$L/$1/charon.vici"
	# Its own /run: charon's pid file would collide with the other sites' otherwise.
	ip netns exec "$1" sh -c "mount -t tmpfs none /run; STRONGSWAN_CONF=$L/$1/strongswan.conf exec /usr/lib/ipsec/charon" \
		>> "$L/$1/charon.out" 2>&1 &
	echo $! > "$L/$1/charon.pid"
}

charon_wait() {
	wait_for 10 swanctl --stats --uri "unix://$L/$1/charon.vici" > /dev/null 2>&1 ||
		die "charon in $1 does not answer (see $L/$1/charon.out)"
}

agent_start() {	# agent_start SITE [EXTRA ARGS]
	s=$1; shift
	mkdir -p "$L/$s/state"
	ip netns exec "$s" "$LAB_BUILD/gresec-agent" --controller "$CTL_URL" --site "$s" \
		--token-file "$L/$s.token" --state-dir "$L/$s/state" \
		--vici "$L/$s/charon.vici" --resync 2 --log-level debug "$@" >> "$L/$s/agent.log" 2>&1 &
	echo $! > "$L/$s/agent.pid"
}

agent_stop() { kill -TERM "$(cat "$L/$1/agent.pid")" 2>/dev/null; wait "$(cat "$L/$1/agent.pid")" 2>/dev/null; }
charon_kill() { kill -KILL "$(cat "$L/$1/charon.pid")" 2>/dev/null; wait "$(cat "$L/$1/charon.pid")" 2>/dev/null; }

lab_up() {
	log "kernel modules"
	lab_modules
	lab_net
	log "network: $(wc -l < "$L/sites") site namespaces on bridge 'underlay' ($(awk '$3 == "true" { printf "%s ", $1 }' "$L/sites")behind NAT namespace nat-*, public $NAT_PUBLIC), management bridge 'mgmt'"
	log "controller on $CTL_URL (SQLite in tmpfs $L/ctl)"
	lab_controller
	log "import $(basename "$DEMO_JSON")"
	lab_import
	log "imported: $(jq -c '.totals // .changes' "$L/ctl/import.json" | cut -c1-160)"
	log "one charon and one gresec-agent per site"
	while read -r name _; do charon_start "$name"; done < "$L/sites"
	while read -r name _; do charon_wait "$name"; done < "$L/sites"
	while read -r name _; do agent_start "$name"; done < "$L/sites"
}

# Tunnels as "id a b kind ifname_a ifname_b start", one a line.
lab_tunnels() {
	api "$CTL_URL/v1/tunnels?limit=1000" | jq -r '.items[] |
		"\(.interfaces[.a]) \(.a) \(.b) \(.tunnel_type) \(.interfaces[.a]) \(.interfaces[.b]) \(.profile)"'
}

prefix_of() { awk -v s="$1" '$1 == s { print $4 }' "$L/sites"; }

# ping_tunnel A B [COUNT]: from A's prefix to B's prefix; 0 when all replies came.
ping_tunnel() {
	ip netns exec "$1" ping -q -c "${3:-3}" -i 0.2 -W 2 -I "$(pfx_host "$(prefix_of "$1")")" \
		"$(pfx_host "$(prefix_of "$2")")" > /dev/null 2>&1
}

# route_dev A B: the device A uses for B's prefix.
route_dev() {
	ip -n "$1" route get "$(pfx_host "$(prefix_of "$2")")" from "$(pfx_host "$(prefix_of "$1")")" |
		sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n1
}

# overall ID: the controller's overall state of tunnel ID (gsN).
lab_states() {
	api "$CTL_URL/v1/tunnels?limit=1000" | jq -r '.items[] | "\(.interfaces[.a]) \(.state.overall)"'
}

lab_table() {
	api "$CTL_URL/v1/tunnels?limit=1000" | jq -r '
		["SITE", "PEER", "TUNNEL", "KIND", "IKE", "SA", "BYTES IN", "BYTES OUT", "OVERALL"],
		(.items[] | . as $t | [.a, .b][] as $s | ($t.state[$s] // {}) as $e |
		 [$s, (if $s == $t.a then $t.b else $t.a end), $t.interfaces[$t.a], $t.tunnel_type,
		  ($e.ike // "-"), ($e.child // "-"), ($e.bytes_in // 0 | tostring),
		  ($e.bytes_out // 0 | tostring), $t.state.overall]) | @tsv' |
		column -t -s "$(printf '\t')"
}

# The agents' logs must never carry a PSK: every tunnel's key, as the controller
# sent it in the intents (state dirs), is searched for in every log.
lab_psk_check() {
	for f in "$L"/*/state/intent.json; do
		[ -f "$f" ] || continue
		jq -r '.tunnels[].psk' "$f"
	done | sort -u > "$L/psks"
	[ -s "$L/psks" ] || return 1
	! grep -F -q -f "$L/psks" "$L"/*/agent.log "$L"/ctl/log
}

lab_collect() {	# copies logs to the host results dir
	[ -n "${LAB_OUT:-}" ] || return 0
	mkdir -p "$LAB_OUT/logs"
	for d in "$L"/*/; do
		n=$(basename "$d")
		[ "$n" = kmod ] && continue
		for f in agent.log charon.log charon.out log; do
			[ -f "$d/$f" ] && cp "$d/$f" "$LAB_OUT/logs/$n.$f"
		done
	done
	return 0
}
