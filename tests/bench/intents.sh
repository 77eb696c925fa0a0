#!/bin/bash
# Intent benchmark (issue 3) on the 1,000-site benchmark topology: time to compile every
# site's intent and the hub's (1,000 tunnels); then one held long-poll per site (1,000
# concurrent, as agents hold them) while one profile change is committed: time until all
# have their new intent, and the controller's RSS while holding them.
# Not a test: it exits 0 when it could measure (BENCH_STRICT=1: 1 on a missed target).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${GRESEC_BUILD:-$top/build}
sites=${BENCH_SITES:-1000}
tmp=$(mktemp -d /tmp/gresec-bench-intents.XXXXXX)
ctl_pid=""
cleanup() {
	[ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

for b in gresec-controller bench/pollers bench/compile_bench; do
	[ -x "$build/$b" ] || { echo "intents.sh: $build/$b not built (make bench builds it)" >&2; exit 2; }
done
# One descriptor per held request, and some to spare.
ulimit -n 8192

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
python3 "$here/gen_topology.py" --sites "$sites" -o "$tmp/topo.json"
"$build/gresec-controller" --db "$tmp/g.db" --listen "127.0.0.1:$port" --poll-timeout 120 \
	--log-level warn 2>"$tmp/ctl.log" &
ctl_pid=$!
for _ in $(seq 50); do curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
token=$(cat "$tmp/admin.token")
auth="Authorization: Bearer $token"
echo "importing $sites sites"
curl -fsS -o /dev/null -H "$auth" -H 'Content-Type: application/json' \
	--data-binary @"$tmp/topo.json" "$url/v1/import"
hub=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=[x for x in d["topologies"] if x["kind"]=="hub-spoke"][0]; print(t["hubs"][0])' "$tmp/topo.json")
profile=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["profiles"][0]["name"])' "$tmp/topo.json")
curl -fsS -H "$auth" "$url/v1/sites?limit=1000" | python3 -c 'import json,sys; [print(s["name"]) for s in json.load(sys.stdin)["items"]]' >"$tmp/sites.txt"

echo "compiling every intent (offline, on a copy of the database)"
sqlite3 "$tmp/g.db" ".backup '$tmp/copy.db'"
"$build/bench/compile_bench" "$tmp/copy.db" "$hub" | tee "$tmp/compile.txt"

echo "holding $(wc -l <"$tmp/sites.txt") long-polls, then changing profile $profile"
"$build/bench/pollers" "$url" "$token" "$tmp/sites.txt" "$ctl_pid" "/v1/profiles/$profile" \
	'{"dpd_interval": 17}' | tee "$tmp/poll.txt" || true

val() { sed -n "s/^$1 //p" "$2"; }
all=$(val all_intents_s "$tmp/compile.txt")
hubms=$(val hub_intent_ms "$tmp/compile.txt")
fan=$(val fanout_s "$tmp/poll.txt")
got=$(val new_intents "$tmp/poll.txt")
n=$(val sites "$tmp/poll.txt")
rss=$(val rss_holding_kb "$tmp/poll.txt")
rss_after=$(val rss_after_kb "$tmp/poll.txt")
python3 - "$all" "$hubms" "${fan:-nan}" "${got:-0}" "${n:-0}" "${rss:-0}" "${rss_after:-0}" <<'PY'
import os, sys
all_s, hub_ms, fan, got, n, rss, rss_after = sys.argv[1:]
rows = [
    ("compile all intents", float(all_s), "s", 1.0),
    ("hub intent (1,000 tunnels)", float(hub_ms), "ms", 50.0),
    ("fan-out to every held poll", float(fan), "s", 1.0),
    ("controller RSS holding them", int(rss) / 1024, "MB", 150.0),
]
miss = 0
for name, v, unit, target in rows:
    ok = v <= target
    miss += not ok
    print("%-30s %9.3f %-2s  target <= %g %s  %s" % (name, v, unit, target, unit, "PASS" if ok else "MISS"))
print("new intents received: %s of %s; RSS after the fan-out %.1f MB" % (got, n, int(rss_after) / 1024))
print("RESULT: all %.2f s, hub %.1f ms, fan-out %.2f s (%s/%s), RSS %.0f MB, %d target(s) missed"
      % (float(all_s), float(hub_ms), float(fan), got, n, int(rss) / 1024, miss))
sys.exit(1 if miss and os.environ.get("BENCH_STRICT") == "1" else 0)
PY
