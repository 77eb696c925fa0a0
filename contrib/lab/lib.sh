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
# The NAT's outside address, for the site marked behind_nat (the site's nat_address
# when the controller knows that field, see docs/operations.md).
NAT_PUBLIC=$(jq -r '[.sites[] | select(.behind_nat) | .nat_address // empty][0] // "203.0.113.13"' "$DEMO_JSON")
UNDERLAY_LEN=24
T0=${T0:-$(date +%s)}

log() { printf '[%3ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() {
	log "FAILED: $*"
	lab_collect
	[ -n "${LAB_OUT:-}" ] && echo 1 > "$LAB_OUT/rc"
	exit 1
}

# wait_for SECONDS COMMAND...: polls every 0.2 s until a wall-clock deadline.
wait_for() {
	_end=$(($(date +%s) + $1)); shift
	while :; do
		"$@" && return 0
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.2
	done
}

lab_modules() {
	mkdir -p "$L/kmod/lib"
	ln -sf /usr/lib/uml/modules "$L/kmod/lib/modules"
	printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$L/kmod" > "$L/modprobe"
	chmod +x "$L/modprobe"
	# The kernel asks for crypto templates (rfc4106(gcm(aes))) itself.
	echo "$L/modprobe" > /proc/sys/kernel/modprobe
	for m in veth bridge dummy ip_gre ip_vti esp4 ah4 xfrm_user gcm ghash-generic seqiv \
		echainiv authenc hmac cbc ctr sha512_generic nf_conntrack nf_nat iptable_nat \
		xt_MASQUERADE ip6_gre ip6_vti esp6 ah6 ip6table_nat; do
		modprobe -d "$L/kmod" "$m" || die "cannot load kernel module $m"
	done
}

# A prefix's first address (IPv4, or IPv6 written "x::/len"), what the lab puts on the
# site's dummy "lan0" and pings from.
LAB_JQ_HOST='def host: split("/")[0] | if test(":") then (if endswith("::") then . + "1"
	else error("lab: IPv6 prefixes must end in ::/len") end) else split(".") |
	"\(.[0]).\(.[1]).\(.[2]).\((.[3] | tonumber) + 1)" end;'

# Sites from the demo file: "name underlay behind_nat prefix host", one a line, for the
# first prefix; every prefix of every site as "name prefix host" in $L/hosts.
lab_sites() {
	jq -r "$LAB_JQ_HOST"'.sites[] | .name as $n | .prefixes[] | "\($n) \(.) \(host)"' \
		"$DEMO_JSON" > "$L/hosts"
	jq -r "$LAB_JQ_HOST"'.sites[] | .prefixes[0] as $p |
		"\(.name) \(.underlay) \(.behind_nat // false) \($p) \($p | host)"' "$DEMO_JSON"
}
# is_v6 ADDR: an IPv6 address or prefix.
is_v6() { case $1 in *:*) return 0 ;; esac; return 1; }
# site_v6 NAME: the site needs IPv6 (its underlay or one of its prefixes is IPv6).
site_v6() { awk -v n="$1" '$1 == n && $2 ~ /:/ { f = 1 } END { exit !f }' "$L/sites" "$L/hosts"; }

# Each process start costs tens of milliseconds in UML: the network is made with one
# `ip -batch` in the root namespace and one shell per namespace.
# ns_setup NS COMMANDS [v6]: sysctls, then `ip -batch` COMMANDS inside NS. IPv6 only
# where the site needs it, and as a router (forwarding: no router solicitations).
# The tunnels themselves stay quiet with IPv6 on: the agent makes them without a
# link-local address (docs/operations.md), which the on-demand checks prove.
ns_setup() {
	printf '%s\n' "$2" > "$L/$1.batch"
	_off=1	# (sh has no locals: not the caller's v6)
	[ "${3:-}" = v6 ] && _off=0
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=$_off \
		net.ipv6.conf.default.disable_ipv6=$_off net.ipv4.ip_forward=1 > /dev/null &&
		{ [ $_off = 1 ] || ip netns exec "$1" sysctl -qw net.ipv6.conf.all.forwarding=1 \
			net.ipv6.conf.default.forwarding=1 > /dev/null; } &&
		ip -n "$1" -batch "$L/$1.batch" || die "network of $1"
}

lab_net() {
	i=10
	lab_sites > "$L/sites"
	{
		# No IPv6 in the sites: link-local chatter on a GRE device would be traffic
		# for the SPD and start an on-demand tunnel before anyone sends any.
		echo "link add underlay type bridge"
		echo "link add mgmt type bridge"
		echo "addr add $CTL_ADDR/24 dev mgmt"
		while read -r name ul nat pfx host; do
			i=$((i + 1))
			ul_ns=$name
			[ "$nat" = true ] && ul_ns=nat-$name
			# Out-of-band management: how the agent reaches the controller.
			echo "link add m-$name type veth peer name mg0 netns $name"
			echo "link set m-$name master mgmt up"
			echo "link add u-$ul_ns type veth peer name ul0 netns $ul_ns"
			echo "link set u-$ul_ns master underlay up"
			[ "$nat" = true ] && echo "link add in0 netns nat-$name type veth peer name ul0 netns $name"
		done < "$L/sites"
		echo "link set underlay up"
		echo "link set mgmt up"
	} > "$L/net.batch"
	while read -r name ul nat _; do
		ip netns add "$name" || die "netns $name"
		[ "$nat" = true ] && { ip netns add "nat-$name" || die "netns nat-$name"; }
	done < "$L/sites"
	ip -batch "$L/net.batch" || die "root namespace network"
	i=10
	while read -r name ul nat pfx host; do
		i=$((i + 1))
		v6=; site_v6 "$name" && v6=v6
		cmds="link set lo up
addr add 172.31.255.$i/24 dev mg0
link set mg0 up
link add lan0 type dummy
$(awk -v n="$name" '$1 == n { split($2, p, "/"); print "addr add " $3 "/" p[2] " dev lan0" ($3 ~ /:/ ? " nodad" : "") }' "$L/hosts")
link set lan0 up"
		if is_v6 "$ul"; then
			len=64; nodad=" nodad"; gw=${ul%:*}:1; ipt=ip6tables-legacy
		else
			len=$UNDERLAY_LEN; nodad=; gw=${ul%.*}.1; ipt=iptables-legacy
		fi
		if [ "$nat" = true ]; then
			ns_setup "nat-$name" "link set lo up
addr add $NAT_PUBLIC/$len dev ul0$nodad
link set ul0 up
addr add $gw/$len dev in0$nodad
link set in0 up" $v6
			# The kernel's own masquerading (NAT66 for an IPv6 underlay): the
			# site's IKE and ESP-in-UDP leave with the NAT's address and a
			# rewritten source port.
			ip netns exec "nat-$name" $ipt -t nat -A POSTROUTING -o ul0 -j MASQUERADE ||
				die "masquerade in nat-$name"
			cmds="$cmds
addr add $ul/$len dev ul0$nodad
link set ul0 up
route add default via $gw"
		else
			cmds="$cmds
addr add $ul/$len dev ul0$nodad
link set ul0 up"
		fi
		ns_setup "$name" "$cmds" $v6
	done < "$L/sites"
}

api() { curl -fsS -H "Authorization: Bearer $(cat "$L/ctl/admin.token")" "$@"; }

lab_controller() {	# lab_controller [EXTRA ARGS]
	mkdir -p "$L/ctl"
	# UML's open-file limit is 4096: less than the default --max-connections needs.
	"$LAB_BUILD/gresec-controller" --db "$L/ctl/gresec.db" --listen "$CTL_ADDR:8080" \
		--max-connections 1024 "$@" \
		>> "$L/ctl/log" 2>&1 &
	echo $! > "$L/ctl/pid"
	wait_for 10 curl -fsS "$CTL_URL/healthz" -o /dev/null ||
		die "controller did not start: $(tail -5 "$L/ctl/log")"
}

lab_import() {
	api -X POST -H 'Content-Type: application/json' --data-binary @"$DEMO_JSON" \
		"$CTL_URL/v1/import" > "$L/ctl/import.json" || die "import failed"
	while read -r name _; do
		api -X POST "$CTL_URL/v1/sites/$name/agent-token" |
			sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' > "$L/$name.token"
		[ -s "$L/$name.token" ] || die "agent token for $name"
	done < "$L/sites"
}

charon_conf() {	# charon_conf SITE
	cat <<C
charon {
	load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 pkcs8 x509 pubkey constraints revocation kernel-netlink socket-default vici
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
			# Tests read this log while charon runs: write each line at once.
			flush_line = yes
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
	set -- "$LAB_BUILD/gresec-agent" --controller "$CTL_URL" --site "$s" \
		--token-file "$L/$s.token" --state-dir "$L/$s/state" \
		--vici "$L/$s/charon.vici" --resync 2 --log-level debug --insecure-http "$@"
	# LAB_CONFINE=1 (the e2e tests): under the unit's sandbox, as far as the lab allows.
	if [ "${LAB_CONFINE:-0}" = 1 ]; then
		set -- sh "$LAB_ROOT/contrib/lab/confine.sh" \
			"$LAB_ROOT/contrib/systemd/gresec-agent.service" "$L/$s/state" -- "$@"
	fi
	ip netns exec "$s" "$@" >> "$L/$s/agent.log" 2>&1 &
	echo $! > "$L/$s/agent.pid"
}

agent_stop() { kill -TERM "$(cat "$L/$1/agent.pid")" 2>/dev/null; wait "$(cat "$L/$1/agent.pid")" 2>/dev/null; }
charon_kill() { kill -KILL "$(cat "$L/$1/charon.pid")" 2>/dev/null; wait "$(cat "$L/$1/charon.pid")" 2>/dev/null; }

lab_up() {
	log "kernel modules"
	lab_modules
	log "network"
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
	log "charons answer on VICI"
	while read -r name _; do agent_start "$name"; done < "$L/sites"
}

# Tunnels as "id a b kind ifname_a ifname_b start host_a host_b", one a line (start
# from the tunnel's profile in the demo file).
lab_tunnels() {
	api "$CTL_URL/v1/tunnels?limit=1000" > "$L/tunnels.json"
	jq -r --slurpfile d "$DEMO_JSON" '($d[0].profiles | map({(.name): .start}) | add) as $st |
		.items[] | "\(.interfaces[.a]) \(.a) \(.b) \(.tunnel_type) \(.interfaces[.a]) \(.interfaces[.b]) \($st[.profile])"' \
		"$L/tunnels.json" | while read -r id a b kind ia ib st; do
		echo "$id $a $b $kind $ia $ib $st $(host_of "$a") $(host_of "$b")"
	done
}

host_of() { while read -r _n _u _x _p _h; do [ "$_n" = "$1" ] && echo "$_h"; done < "$L/sites"; }
# lab_host SITE 4|6: the site's lan0 address of that family (empty when it has none).
lab_host() { awk -v n="$1" -v f="$2" '$1 == n && (f == 6) == ($3 ~ /:/) { print $3; exit }' "$L/hosts"; }

# ping_from NS SRC DST [COUNT]: 0 when every reply came.
ping_from() {
	ip netns exec "$1" ping -q -c "${4:-3}" -i 0.2 -W 2 -I "$2" "$3" > /dev/null 2>&1
}

# route_dev NS SRC DST: the device NS uses from SRC to DST.
route_dev() {
	ip -n "$1" route get "$3" from "$2" | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n1
}

# overall ID: the controller's overall state of tunnel ID (gsN).
lab_states() {
	api "$CTL_URL/v1/tunnels?limit=1000" | jq -r '.items[] | "\(.interfaces[.a]) \(.state.overall)"'
}

lab_table() {
	api "$CTL_URL/v1/tunnels?limit=1000" | jq -r '
		["SITE", "PEER", "TUNNEL", "KIND", "IKE", "SA", "LIVENESS", "BFD", "BYTES IN", "BYTES OUT", "OVERALL"],
		(.items[] | . as $t | [.a, .b][] as $s | ($t.state[$s] // {}) as $e |
		 [$s, (if $s == $t.a then $t.b else $t.a end), $t.interfaces[$t.a], $t.tunnel_type,
		  ($e.ike // "-"), ($e.child // "-"), ($e.liveness.state // "-"), ($e.liveness.bfd // "-"),
		  ($e.bytes_in // 0 | tostring),
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
	# Probes and route monitors of the scenarios: what a failure is read from.
	for f in "$L"/*.ping "$L"/*.mon; do
		[ -f "$f" ] && cp "$f" "$LAB_OUT/logs/"
	done
	return 0
}
