#!/bin/sh
# Scenarios of issue 4, run inside user-mode Linux by uml-init.sh. Each scenario runs in
# a subshell with fresh namespaces; its verdict goes to $GRESEC_KT/results.
KT=$GRESEC_KT
ROOT=$GRESEC_ROOT
AGENT=$GRESEC_AGENT
GOLD=$ROOT/tests/kernel/golden
W=$KT/work
mkdir -p "$W"
# A test key, not a secret: 16 bytes of AES key + 4 bytes of salt.
KEY=0x0102030405060708090a0b0c0d0e0f1011121314

fail() { echo "FAIL: $*"; exit 1; }
check() { "$@" || fail "check failed: $*"; }

netns_reset() {
	for ns in $(ip netns list | cut -d' ' -f1); do ip netns del "$ns"; done
}

# ns_pair A B IFA IFB: two namespaces joined by a veth pair, both up.
ns_pair() {
	ip netns add "$1" 2>/dev/null; ip netns add "$2" 2>/dev/null
	ip link add "$3" netns "$1" type veth peer name "$4" netns "$2"
	ip -n "$1" link set "$3" up; ip -n "$2" link set "$4" up
	ip -n "$1" link set lo up; ip -n "$2" link set lo up
}

# dad_settled NS: IPv6 link-local addresses (the test's veths) finish duplicate address
# detection a second or so after their link came up, with route and address events of
# their own that are not the agent's: a monitor started earlier would see them.
dad_settled() {
	_i=0
	while [ -n "$(ip -n "$1" -6 addr show tentative)" ] && [ $_i -lt 50 ]; do
		_i=$((_i + 1)); sleep 0.1
	done
}

# lan NS PREFIX...: a dummy "LAN" interface holding the site's prefixes' first address.
lan() {
	ns=$1; shift
	ip -n "$ns" link add lan0 type dummy
	for a in "$@"; do ip -n "$ns" addr add "$a" dev lan0; done
	ip -n "$ns" link set lan0 up
}

# sa NS SRC DST SPI REQID MODE: one ESP SA (the test stands in for IKE here).
sa() {
	ip -n "$1" xfrm state add src "$2" dst "$3" proto esp spi "$4" reqid "$5" mode "$6" \
		aead 'rfc4106(gcm(aes))' $KEY 128
}

# sa_pair NSA NSB A B SPI REQID MODE: both directions, installed at both ends.
sa_pair() {
	for ns in "$1" "$2"; do
		sa "$ns" "$3" "$4" "$5" "$6" "$7"
		sa "$ns" "$4" "$3" $(($5 + 1)) "$6" "$7"
	done
}

# packets NS SPI: packets the SA with this SPI has processed.
packets() {
	ip -n "$1" -s xfrm state list spi "$2" | awk '/lifetime current:/ {getline; sub(/\(.*/, "", $2); print $2; exit}'
}

agent() {	# agent NS ARGS...: run the agent in NS, its stderr in $W/agent.err
	ns=$1; shift
	ip netns exec "$ns" "$AGENT" "$@" 2> "$W/agent.err"
}

# golden NAME FILE: FILE must equal tests/kernel/golden/NAME.
golden() {
	[ -z "$GRESEC_UPDATE_GOLDEN" ] || cp "$2" "$GOLD/$1"
	diff -u "$GOLD/$1" "$2"
}

summary() { grep '^gresec-agent: actions=' "$W/agent.err"; }

# grep -c exits 1 on a zero count, which set -e would take for a failure.
count() { grep -c "$@" || true; }
owned_links() { ip -n "$1" -d link show | count 'alias gresec:'; }
owned_routes() { ip -n "$1" route show proto 201 | wc -l; ip -n "$1" -6 route show proto 201 | wc -l; }
owned_policies() { ip -n "$1" xfrm policy | count 'priority 100[0-9][0-9] '; }

run() {	# run NAME: one scenario, isolated
	name=$1
	[ -n "$GRESEC_ONLY" ] && ! echo ",$GRESEC_ONLY," | grep -q ",$name," && return 0
	echo "=== $name"
	t0=$(date +%s%N)
	( set -e; "sc_$name" )
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	if [ $rc -eq 0 ]; then echo "PASS $name (${ms}ms)" >> "$KT/results"
	else echo "FAIL $name" >> "$KT/results"; fi
	pkill -9 -P $$ 2>/dev/null
	netns_reset
}

setup_pair() {
	python3 "$ROOT/tests/kernel/mkintent.py" pair "$W/pair"
	ns_pair a b va vb
	ip -n a addr add 192.0.2.1/24 dev va; ip -n a addr add 198.51.100.1/24 dev va
	ip -n b addr add 192.0.2.2/24 dev vb; ip -n b addr add 198.51.100.2/24 dev vb
	lan a 10.1.0.1/24 10.1.1.1/24
	lan b 10.2.0.1/24 10.2.1.1/24
	sa_pair a b 192.0.2.1 192.0.2.2 0x1000 65537 transport
	sa_pair a b 198.51.100.1 198.51.100.2 0x2000 65538 tunnel
}

# Two sites over GRE (ESP transport) and over VTI (ESP tunnel); traffic crosses both.
sc_pair() {
	setup_pair
	agent a --intent "$W/pair/a.json" --once || fail "agent a: $(cat $W/agent.err)"
	agent b --intent "$W/pair/b.json" --once || fail "agent b: $(cat $W/agent.err)"
	l=$(ip -n a -d link show gs-b)
	echo "$l" | grep -q 'mtu 1400' || fail "gs-b mtu: $l"
	echo "$l" | grep -q 'gre remote 192.0.2.2 local 192.0.2.1 ttl 64 ikey 0.0.3.233 okey 0.0.3.233' || fail "gs-b: $l"
	echo "$l" | grep -q 'alias gresec:ab-gre' || fail "gs-b alias: $l"
	l=$(ip -n a -d link show gs-bv)
	echo "$l" | grep -q 'vti remote 198.51.100.2 local 198.51.100.1 ikey 0.0.3.234 okey 0.0.3.234' || fail "gs-bv: $l"
	check ip -n a addr show gs-b | grep -q 'inet 169.254.1.0/31'
	# No IPv6 link-local address on the tunnels (IPv6 is on here): the kernel's DAD,
	# router solicitations and MLD would be traffic for the SPD (an on-demand SA).
	for d in gs-b gs-bv; do
		ip -n a -d link show "$d" | grep -q 'addrgenmode none' || fail "$d: addrgenmode: $(ip -n a -d link show "$d")"
		[ -z "$(ip -n a -6 addr show dev "$d")" ] || fail "$d has IPv6 addresses: $(ip -n a -6 addr show dev "$d")"
	done
	check test "$(ip netns exec a sysctl -n net.ipv6.conf.all.disable_ipv6)" = 0
	check test "$(ip netns exec a sysctl -n net.ipv4.conf.gs-bv.disable_policy)" = 1
	check test "$(ip netns exec a sysctl -n net.ipv4.conf.gs-b.rp_filter)" = 2
	r=$(ip -n a route show proto 201)
	echo "$r" | grep -q '^10.2.0.0/24 dev gs-b scope link metric 100' || fail "routes: $r"
	echo "$r" | grep -q '^10.2.1.0/24 dev gs-bv scope link metric 100' || fail "routes: $r"
	check test "$(owned_policies a)" = 4
	p=$(ip -n a xfrm policy list dir out proto gre)
	echo "$p" | grep -q 'proto esp reqid 65537 mode transport' || fail "policy: $p"
	# GRE: site prefixes reach each other, inside ESP.
	before=$(packets b 0x1000)
	ip netns exec a ping -c 3 -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1 > /dev/null || fail "GRE ping"
	after=$(packets b 0x1000)
	[ "$after" -gt "$before" ] || fail "GRE traffic not in ESP ($before -> $after)"
	ip -n b -s link show gs-a | awk '/RX:/ {getline; exit ($2 > 0) ? 0 : 1}' || fail "gs-a received nothing"
	# VTI
	before=$(packets b 0x2000)
	ip netns exec a ping -c 3 -i 0.2 -W 2 -I 10.1.1.1 10.2.1.1 > /dev/null || fail "VTI ping"
	after=$(packets b 0x2000)
	[ "$after" -gt "$before" ] || fail "VTI traffic not in ESP ($before -> $after)"
	# Without the SA the GRE policy must block: traffic never leaves in clear.
	ip -n a xfrm state del src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000
	ip netns exec a ping -c 1 -W 1 -I 10.1.0.1 10.2.0.1 > /dev/null 2>&1 && fail "GRE crossed without ESP"
	true
}

# Restart with the same intent: zero changing messages, no event, same ifindexes.
sc_restart() {
	setup_pair
	agent a --intent "$W/pair/a.json" --once || fail "first apply: $(cat $W/agent.err)"
	idx=$(ip -n a -o link show | grep 'gs-' | cut -d: -f1,2 | tr '\n' ' ')
	dad_settled a
	ip -n a monitor link address route > "$W/mon" 2>&1 &
	m1=$!
	ip -n a xfrm monitor > "$W/xmon" 2>&1 &
	m2=$!
	sleep 0.3
	agent a --intent "$W/pair/a.json" --once || fail "second apply: $(cat $W/agent.err)"
	summary | grep -q 'actions=0 messages=0 failed=0 converged=yes' || fail "restart: $(summary)"
	sleep 0.3
	kill $m1 $m2
	[ ! -s "$W/mon" ] || fail "kernel events on restart: $(cat $W/mon)"
	[ ! -s "$W/xmon" ] || fail "xfrm events on restart: $(cat $W/xmon)"
	check test "$idx" = "$(ip -n a -o link show | grep 'gs-' | cut -d: -f1,2 | tr '\n' ' ')"
}

# Drift: an owned route, SPD entry and link deleted behind the agent's back come back
# within one resync period (2 s here), and SIGTERM leaves the tunnels up.
sc_drift() {
	setup_pair
	ip netns exec a "$AGENT" --intent "$W/pair/a.json" --resync 2 --state-dir "$W" 2> "$W/daemon.err" &
	pid=$!
	i=0
	until [ "$(owned_policies a)" = 4 ] && ip -n a link show gs-bv > /dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 50 ] || fail "daemon never converged: $(cat $W/daemon.err)"; sleep 0.1
	done
	ip -n a route del 10.2.0.0/24 proto 201
	ip -n a xfrm policy del src 192.0.2.1/32 dst 192.0.2.2/32 proto gre dir out
	ip -n a link del gs-bv
	t0=$(date +%s%N)
	i=0
	until ip -n a route show proto 201 | grep -q '^10.2.0.0/24 dev gs-b' &&
	      ip -n a route show proto 201 | grep -q '^10.2.1.0/24 dev gs-bv' &&
	      [ "$(owned_policies a)" = 4 ]; do
		i=$((i + 1)); [ $i -lt 30 ] || fail "not repaired within 3s: $(cat $W/daemon.err)"; sleep 0.1
	done
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "repaired in ${ms}ms"
	[ $ms -le 2000 ] || fail "repair took ${ms}ms > one resync period"
	grep -q '"converged": true' "$W/status.json" || fail "status: $(cat $W/status.json)"
	kill -TERM $pid
	wait $pid || fail "daemon exit status $?"
	check ip -n a link show gs-b > /dev/null
	check test "$(owned_policies a)" = 4
}

# A foreign interface with our name: untouched, its tunnel failed, the others fine. A
# foreign route in the way of another tunnel's route: the kernel's EEXIST is mapped back
# to that tunnel through the sequence number of the message that caused it.
sc_clash() {
	python3 "$ROOT/tests/kernel/mkintent.py" many "$W/m3" 3
	ip netns add c
	ip -n c link set lo up
	ip -n c link add gs-m0 type dummy
	ip -n c link set gs-m0 up
	ip -n c route add 10.100.2.0/24 dev lo metric 100 proto static
	before=$(ip -n c -d link show gs-m0)
	rc=0
	agent c --intent "$W/m3/a.json" --once --state-dir "$W" || rc=$?
	[ $rc -eq 2 ] || fail "exit $rc, want 2: $(cat $W/agent.err)"
	grep -q 'tunnel t0000: plan: interface gs-m0 exists and is not ours' "$W/agent.err" || fail "$(cat $W/agent.err)"
	grep -q 'tunnel t0002: add route 10.100.2.0/24 dev gs-m2 metric 100 table 254: File exists' "$W/agent.err" || fail "$(cat $W/agent.err)"
	check test "$before" = "$(ip -n c -d link show gs-m0)"
	ip -n c -d link show gs-m1 | grep -q 'alias gresec:t0001' || fail "t0001 not applied"
	check ip -n c route show proto 201 | grep -q '^10.100.1.0/24 dev gs-m1'
	python3 - "$W/status.json" <<'PY' || fail "status.json: $(cat $W/status.json)"
import json, sys
st = {t["id"]: t for t in json.load(open(sys.argv[1]))["tunnels"]}
assert st["t0000"]["interface"] == "failed" and "not ours" in st["t0000"]["error"]
assert st["t0001"]["interface"] == "up" and "error" not in st["t0001"]
assert st["t0002"]["interface"] == "failed"
PY
	agent c --purge || fail "purge: $(cat $W/agent.err)"
	check test "$before" = "$(ip -n c -d link show gs-m0)"
	check ip -n c route show proto static | grep -q '^10.100.2.0/24 dev lo'
	check test "$(owned_links c)" = 0
}

# kill -9 in the middle of applying 200 tunnels, then restart: converges, nothing
# owned leaked or doubled; a further restart sends nothing; purge removes everything.
sc_kill9() {
	python3 "$ROOT/tests/kernel/mkintent.py" many "$W/m200" 200
	ip netns add k
	ip netns exec k "$AGENT" --intent "$W/m200/a.json" --once 2> "$W/k1.err" &
	pid=$!
	i=0
	until [ "$(ip -n k -o link show 2>/dev/null | count ' gs-m')" -gt 0 ]; do
		i=$((i + 1)); [ $i -lt 500 ] || fail "no link ever appeared"; sleep 0.01
	done
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	echo "after kill -9: links=$(ip -n k -o link show | count ' gs-m') policies=$(owned_policies k)"
	# Deterministic crashes between a batch and its acks: after the first chunk of
	# link creations (links without alias yet), then in the middle of the rest.
	agent k --intent "$W/m200/a.json" --once || fail "restart: $(cat $W/agent.err)"
	agent k --purge || fail "purge: $(cat $W/agent.err)"
	rc=0
	GRESEC_TEST_CRASH_AFTER=1 ip netns exec k "$AGENT" --intent "$W/m200/a.json" --once 2>/dev/null || rc=$?
	[ $rc -eq 137 ] || fail "crash hook: exit $rc"
	n=$(ip -n k -o link show | count ' gs-m'); a=$(owned_links k)
	echo "after crash 1: links=$n with alias=$a"
	[ "$n" -gt 0 ] && [ "$a" -lt "$n" ] || fail "crash 1 did not leave alias-less links"
	GRESEC_TEST_CRASH_AFTER=450 ip netns exec k "$AGENT" --intent "$W/m200/a.json" --once 2>/dev/null || true
	echo "after crash 2: links=$(ip -n k -o link show | count ' gs-m') alias=$(owned_links k) routes=$(ip -n k route show proto 201 | wc -l) policies=$(owned_policies k)"
	agent k --intent "$W/m200/a.json" --once || fail "restart: $(cat $W/agent.err)"
	check test "$(ip -n k -o link show | count ' gs-m')" = 200
	check test "$(owned_links k)" = 200
	check test "$(ip -n k route show proto 201 | wc -l)" = 200
	check test "$(ip -n k -4 addr show | count 'inet 172.16.')" = 200
	check test "$(owned_policies k)" = 400
	agent k --intent "$W/m200/a.json" --once || fail "third run: $(cat $W/agent.err)"
	summary | grep -q 'messages=0 ' || fail "third run changed things: $(summary)"
	agent k --purge || fail "purge: $(cat $W/agent.err)"
	check test "$(ip -n k -o link show | count ' gs-')" = 0
	check test "$(owned_routes k | tr '\n' ' ')" = "0 0 "
	check test "$(ip -n k xfrm policy | count .)" = 0
}

# Hub and two spokes: spoke-to-spoke traffic goes through the hub.
sc_hub() {
	python3 "$ROOT/tests/kernel/mkintent.py" hub "$W/hub"
	ns_pair h s1 v1 vh1
	ip netns add s2
	ip link add v2 netns h type veth peer name vh2 netns s2
	ip -n h link set v2 up; ip -n s2 link set vh2 up; ip -n s2 link set lo up
	ip -n h addr add 192.0.2.10/24 dev v1; ip -n s1 addr add 192.0.2.11/24 dev vh1
	ip -n h addr add 198.51.100.10/24 dev v2; ip -n s2 addr add 198.51.100.12/24 dev vh2
	ip netns exec h sysctl -qw net.ipv4.ip_forward=1
	lan h 10.10.0.1/24; lan s1 10.11.0.1/24; lan s2 10.12.0.1/24
	sa_pair h s1 192.0.2.10 192.0.2.11 0x3000 65550 transport
	sa_pair h s2 198.51.100.10 198.51.100.12 0x4000 65551 transport
	for s in h s1 s2; do
		agent $s --intent "$W/hub/$s.json" --once || fail "agent $s: $(cat $W/agent.err)"
	done
	check ip -n s1 route show proto 201 | grep -q '^10.12.0.0/24 dev gs-h'
	fwd() { ip -n h -s link show gs-s2 | awk '/TX:/ {getline; print $2; exit}'; }
	b=$(fwd)
	ip netns exec s1 ping -c 3 -i 0.2 -W 2 -I 10.11.0.1 10.12.0.1 > /dev/null || fail "spoke to spoke"
	a=$(fwd)
	[ $((a - b)) -ge 3 ] || fail "hub did not forward ($b -> $a)"
	[ "$(packets s2 0x4000)" -ge 3 ] || fail "hub to s2 not in ESP"
}

# --dry-run plans, pinned by golden files: from empty, converged, and after drift.
sc_dryrun() {
	setup_pair
	agent a --intent "$W/pair/a.json" --dry-run > "$W/d1" || fail "dry-run: $(cat $W/agent.err)"
	golden pair-a-empty.plan "$W/d1" || fail "plan from empty differs"
	check test "$(ip -n a -o link show | count ' gs-')" = 0
	check test "$(owned_policies a)" = 0
	agent a --intent "$W/pair/a.json" --once || fail "apply"
	agent a --intent "$W/pair/a.json" --dry-run > "$W/d2"
	check test ! -s "$W/d2"
	ip -n a link set gs-b mtu 1500
	ip -n a route del 10.2.1.0/24 proto 201
	ip -n a xfrm policy del src 192.0.2.2/32 dst 192.0.2.1/32 proto gre dir in
	agent a --intent "$W/pair/a.json" --dry-run > "$W/d3"
	golden pair-a-drift.plan "$W/d3" || fail "drift plan differs"
	agent a --purge --dry-run > "$W/d4"
	golden pair-a-purge.plan "$W/d4" || fail "purge plan differs"
	check ip -n a link show gs-b | grep -q 'mtu 1500'
}

# --purge and teardown leave zero owned links, routes and policies; foreign intact.
sc_purge() {
	setup_pair
	agent a --intent "$W/pair/a.json" --once || fail "apply"
	ip -n a xfrm policy add src 10.9.0.0/16 dst 10.8.0.0/16 dir out priority 50
	agent a --purge || fail "purge: $(cat $W/agent.err)"
	check test "$(ip -n a -o link show | count ' gs-')" = 0
	check test "$(owned_routes a | tr '\n' ' ')" = "0 0 "
	check test "$(owned_policies a)" = 0
	check test "$(ip -n a xfrm policy | count 'priority 50 ')" = 1
	check ip -n a addr show va | grep -q 192.0.2.1/24
	agent a --purge || fail "second purge"
	summary | grep -q 'actions=0 messages=0' || fail "second purge did something: $(summary)"
}

# ECMP: the spoke reaches 10.30.0.0/24 and 2001:db8:30::/64 through both hubs at the
# same metric: one multipath route each (IPv6 with link-local gateways), traffic
# flows; a restart sends nothing; one hub only is one replace per route; purge.
sc_ecmp() {
	python3 "$ROOT/tests/kernel/mkintent.py" ecmp "$W/ecmp"
	ns_pair s h1 vs1 vh1
	ip netns add h2
	ip link add vs2 netns s type veth peer name vh2 netns h2
	ip -n s link set vs2 up; ip -n h2 link set vh2 up; ip -n h2 link set lo up
	ip -n s addr add 192.0.2.20/24 dev vs1; ip -n h1 addr add 192.0.2.21/24 dev vh1
	ip -n s addr add 198.51.100.20/24 dev vs2; ip -n h2 addr add 198.51.100.22/24 dev vh2
	lan s 10.20.0.1/24; lan h1 10.30.0.1/24; lan h2 10.30.0.1/24
	ip -n s addr add 2001:db8:20::1/64 dev lan0 nodad
	for h in h1 h2; do ip -n $h addr add 2001:db8:30::1/64 dev lan0 nodad; done
	sa_pair s h1 192.0.2.20 192.0.2.21 0x5000 65560 transport
	sa_pair s h2 198.51.100.20 198.51.100.22 0x6000 65561 transport
	for h in h1 h2; do
		agent $h --intent "$W/ecmp/$h.json" --once || fail "agent $h: $(cat $W/agent.err)"
	done
	agent s --intent "$W/ecmp/s.json" --dry-run > "$W/d1" || fail "dry-run: $(cat $W/agent.err)"
	golden ecmp-s-empty.plan "$W/d1" || fail "ECMP plan from empty differs"
	agent s --intent "$W/ecmp/s.json" --once || fail "agent s: $(cat $W/agent.err)"
	r=$(ip -n s route show 10.30.0.0/24)
	echo "$r"
	check test "$(echo "$r" | count '^10.30.0.0/24 proto \(gresec\|201\) scope link metric 200')" = 1
	echo "$r" | grep -q '^	nexthop dev gs-h1 weight 1' || fail "no path via gs-h1: $r"
	echo "$r" | grep -q '^	nexthop dev gs-h2 weight 1' || fail "no path via gs-h2: $r"
	check test "$(echo "$r" | wc -l)" = 3
	r=$(ip -n s -6 route show 2001:db8:30::/64)
	echo "$r"
	check test "$(echo "$r" | count '^2001:db8:30::/64 proto \(gresec\|201\) metric 200')" = 1
	echo "$r" | grep -q '^	nexthop via fe80::a9fe:1501 dev gs-h1 weight 1' || fail "v6 via gs-h1: $r"
	echo "$r" | grep -q '^	nexthop via fe80::a9fe:1601 dev gs-h2 weight 1' || fail "v6 via gs-h2: $r"
	ip netns exec s ping -c 3 -i 0.2 -W 2 -I 10.20.0.1 10.30.0.1 > /dev/null || fail "ECMP ping"
	ip netns exec s ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:20::1 2001:db8:30::1 > /dev/null ||
		fail "ECMP ping over IPv6 (link-local gateways)"
	check test $(($(packets h1 0x5000) + $(packets h2 0x6000))) -ge 6
	# Restart: zero changing messages, no kernel event.
	dad_settled s
	ip -n s monitor route > "$W/mon" 2>&1 &
	m1=$!
	sleep 0.3
	agent s --intent "$W/ecmp/s.json" --once || fail "restart: $(cat $W/agent.err)"
	summary | grep -q 'actions=0 messages=0 failed=0 converged=yes' || fail "restart: $(summary)"
	sleep 0.3
	kill $m1
	[ ! -s "$W/mon" ] || fail "route events on restart: $(cat $W/mon)"
	# Through h1 only: one replace per route, no deletion.
	agent s --intent "$W/ecmp/s1.json" --dry-run > "$W/d2"
	cat "$W/d2"
	check test "$(cat "$W/d2" | tr '\n' '|')" = "change route 10.30.0.0/24 dev gs-h1 metric 200 table 254|change route 2001:db8:30::/64 dev gs-h1 metric 200 table 254|"
	agent s --intent "$W/ecmp/s1.json" --once || fail "one hub: $(cat $W/agent.err)"
	summary | grep -q 'actions=2 messages=2 failed=0 converged=yes' || fail "one hub: $(summary)"
	check test "$(ip -n s route show 10.30.0.0/24)" = "10.30.0.0/24 dev gs-h1 proto $(ip -n s route show 10.30.0.0/24 | sed -n 's/.* proto \([^ ]*\) .*/\1/p') scope link metric 200 "
	check test "$(ip -n s -6 route show 2001:db8:30::/64 | count nexthop)" = 0
	ip -n s -6 route show 2001:db8:30::/64 | grep -q '^2001:db8:30::/64 dev gs-h1 proto' || fail "v6 single"
	# And back to both hubs: again one replace each.
	agent s --intent "$W/ecmp/s.json" --once || fail "both again: $(cat $W/agent.err)"
	summary | grep -q 'actions=2 messages=2 failed=0 converged=yes' || fail "both again: $(summary)"
	check test "$(ip -n s route show 10.30.0.0/24 | count nexthop)" = 2
	check test "$(ip -n s -6 route show 2001:db8:30::/64 | count nexthop)" = 2
	agent s --purge || fail "purge: $(cat $W/agent.err)"
	check test "$(owned_routes s | tr '\n' ' ')" = "0 0 "
	check test "$(ip -n s -o link show | count ' gs-')" = 0
}

# A compromised controller's intent (mkintent.py hostile): the guard refuses the GRE
# tunnel (catch-all policy) and every hostile route, the VTI and its own route proceed,
# nothing hostile reaches the kernel, and the gateway still reaches the "controller"
# (203.0.113.1, behind b) and the peer's underlay. Then an intent without routes.
sc_hostile() {
	setup_pair
	python3 "$ROOT/tests/kernel/mkintent.py" hostile "$W/hostile"
	ip -n a addr add 203.0.113.2/24 dev va; ip -n b addr add 203.0.113.1/24 dev vb
	ctl=https://203.0.113.1:8443
	agent b --intent "$W/pair/b.json" --once || fail "agent b: $(cat $W/agent.err)"
	agent a --intent "$W/hostile/a.json" --controller $ctl --dry-run > "$W/d" ||
		fail "dry-run: $(cat $W/agent.err)"
	cat "$W/d"
	grep -q "^refuse tunnel ab-gre: spd\[0\]: a GRE tunnel's policies are in and out (and fwd in tunnel mode), protocol 47" "$W/d" ||
		fail "catch-all GRE policy not refused"
	for p in 0.0.0.0/1 128.0.0.0/1; do
		grep -q "^refuse route $p metric 100 via ab-vti: a default or near-default" "$W/d" ||
			fail "$p not refused"
	done
	grep -q "^refuse route 127.0.0.0/8 metric 100 via ab-vti: overlaps the loopback" "$W/d" || fail "127/8"
	grep -q "^refuse route 192.0.2.2/32 metric 100 via ab-vti: contains 192.0.2.2," "$W/d" || fail "peer underlay"
	grep -q "^refuse route 203.0.113.0/24 metric 100 via ab-vti: contains 203.0.113.1, the controller's address" "$W/d" ||
		fail "controller route"
	rc=0; agent a --intent "$W/hostile/a.json" --controller $ctl --once || rc=$?
	check test $rc = 2
	summary | grep -q 'failed=1 converged=no' || fail "summary: $(summary)"
	# Nothing hostile in the kernel, the rest applied.
	check test "$(ip -n a -o link show | count ' gs-b:')" = 0
	check test "$(ip -n a xfrm policy list proto gre | count 'dir')" = 0
	check test "$(owned_policies a)" = 2
	check test "$(ip -n a xfrm policy list | grep -B1 -A2 'src 0.0.0.0/0 dst 0.0.0.0/0' | count 'mark 0x3ea/0xffffffff')" = 2
	r=$(ip -n a route show proto 201)
	echo "$r"
	check test "$(echo "$r" | tr '\n' '|')" = "10.2.1.0/24 dev gs-bv scope link metric 100 |"
	check test "$(ip -n a route show table all | count '^127.0.0.0/8 .*proto 201')" = 0
	# The gateway still reaches the controller and its peer's underlay, and the VTI carries.
	ip netns exec a ping -c 2 -i 0.2 -W 2 203.0.113.1 > /dev/null || fail "controller unreachable"
	ip netns exec a ping -c 2 -i 0.2 -W 2 192.0.2.2 > /dev/null || fail "peer underlay unreachable"
	ip netns exec a ping -c 2 -i 0.2 -W 2 -I 10.1.1.1 10.2.1.1 > /dev/null || fail "VTI ping"
	# The status the agent writes says why.
	mkdir -p "$W/st"
	agent a --intent "$W/hostile/a.json" --controller $ctl --once --state-dir "$W/st" || true
	grep -q 'refused by the agent: spd\[0\]' "$W/st/status.json" ||
		fail "status: $(cat "$W/st/status.json")"
	# No routes at all (memcpy(NULL, .., 0) in the planner once): applies, converges.
	agent a --intent "$W/hostile/noroutes.json" --once || fail "no routes: $(cat $W/agent.err)"
	check test "$(owned_routes a | tr '\n' ' ')" = "0 0 "
	check test "$(owned_policies a)" = 4
}

ALL="pair restart drift clash kill9 hub dryrun purge ecmp hostile"
for s in $ALL; do run $s; done
