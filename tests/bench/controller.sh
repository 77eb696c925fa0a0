#!/bin/bash
# Controller benchmark (issue 2): a generated topology of 1,000 sites imported through the
# real API, on a temporary database and a free loopback port. Prints import, dry-run and
# no-op re-import times, peak RSS, and GET of one site under load next to nginx serving
# the same JSON as a static file in the same run, each with its target.
# Not a test: it exits 0 when it could measure, whatever the figures (BENCH_STRICT=1
# makes a missed target exit 1). Env: GRESEC_BUILD (build dir), BENCH_SITES (1000),
# BENCH_DURATION (wrk seconds, 5), BENCH_CONNS (wrk connections, 16), BENCH_NGINX_WORKERS
# (nginx worker_processes for the target's reference: auto, its stock setting; a 1-worker
# nginx is also measured, like for like with the controller's single HTTP thread).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${GRESEC_BUILD:-$top/build}
ctl=$build/gresec-controller
sites=${BENCH_SITES:-1000}
duration=${BENCH_DURATION:-5}
conns=${BENCH_CONNS:-16}
nginx_workers=${BENCH_NGINX_WORKERS:-auto}

for tool in curl wrk nginx python3; do
	command -v "$tool" >/dev/null || { echo "controller.sh: $tool not installed (make deps)" >&2; exit 2; }
done
[ -x "$ctl" ] || { echo "controller.sh: $ctl not built (make all)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/gresec-bench.XXXXXX)
ctl_pid=""
nginx_pid=""
cleanup() {
	[ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json FILE EXPR: evaluates a Python expression over the parsed file as `d`.
json() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

die() {
	echo "controller.sh: $*" >&2
	[ -s "$tmp/controller.log" ] && { echo "--- controller log (tail)" >&2; tail -n 20 "$tmp/controller.log" >&2; }
	exit 1
}

python3 "$here/gen_topology.py" --sites "$sites" -o "$tmp/topo.json"
nobj=$(json "$tmp/topo.json" 'sum(len(v) for v in d.values())')
summary=$(json "$tmp/topo.json" '"%d sites, %d profiles, %d topologies, %d tunnels" % tuple(len(d[k]) for k in ("sites", "profiles", "topologies", "tunnels"))')

port=$(free_port)
base="http://127.0.0.1:$port"
"$ctl" --db "$tmp/bench.db" --listen "127.0.0.1:$port" --admin-token-file "$tmp/admin.token" \
	--log-level warn >"$tmp/controller.log" 2>&1 &
ctl_pid=$!
for _ in $(seq 1 100); do
	kill -0 "$ctl_pid" 2>/dev/null || die "the controller exited at start"
	curl -fsS -o /dev/null --max-time 1 "$base/healthz" 2>/dev/null && [ -s "$tmp/admin.token" ] && break
	sleep 0.1
done
curl -fsS -o /dev/null --max-time 2 "$base/healthz" || die "no /healthz on $base after 10 s"
token=$(head -n 1 "$tmp/admin.token" | tr -d '[:space:]')
# The token goes to curl through a file, not its command line.
(umask 077; printf 'Authorization: Bearer %s\n' "$token" >"$tmp/auth.hdr")

# call METHOD PATH OUT [curl args...]: prints "status seconds".
call() {
	local method=$1 path=$2 out=$3
	shift 3
	curl -sS --max-time 120 -X "$method" -H @"$tmp/auth.hdr" -o "$out" \
		-w '%{http_code} %{time_total}' "$@" "$base$path"
}

# import QUERY FILE NAME: times one POST /v1/import; sets t_import and checks the status.
import() {
	local res code
	res=$(call POST "/v1/import$1" "$tmp/$3.out" -H 'Content-Type: application/json' \
		--data-binary @"$2") || die "$3: POST /v1/import$1 failed"
	code=${res%% *}
	t_import=${res#* }
	[ "$code" = 200 ] || die "$3: POST /v1/import$1 answered $code: $(head -c 600 "$tmp/$3.out")"
}

totals() {
	json "$tmp/$1.out" '"%(created)d/%(updated)d/%(deleted)d" % d["totals"]'
}

import "?dry_run=true" "$tmp/topo.json" dry
t_dry=$t_import
[ "$(totals dry)" = "$nobj/0/0" ] || die "dry run: totals $(totals dry), expected $nobj/0/0"
res=$(call GET "/v1/sites?limit=1" "$tmp/after-dry.out") || die "GET /v1/sites failed"
[ "$(json "$tmp/after-dry.out" 'len(d["items"])')" = 0 ] || die "the dry run wrote sites ($res)"

import "" "$tmp/topo.json" import
t_imp=$t_import
[ "$(totals import)" = "$nobj/0/0" ] || die "import: totals $(totals import), expected $nobj/0/0"

import "" "$tmp/topo.json" noop
t_noop=$t_import
[ "$(totals noop)" = "0/0/0" ] || die "re-import: totals $(totals noop), expected 0/0/0"

res=$(call GET /v1/export "$tmp/export.json") || die "GET /v1/export failed"
[ "${res%% *}" = 200 ] || die "GET /v1/export answered ${res%% *}"
import "?mode=replace" "$tmp/export.json" export-noop
t_exp=$t_import
[ "$(totals export-noop)" = "0/0/0" ] || die "replace-import of the export: totals $(totals export-noop)"

ntun=$(command -v sqlite3 >/dev/null && sqlite3 "$tmp/bench.db" 'SELECT count(*) FROM tunnel' 2>/dev/null || echo "?")

# GET of one site under load, then nginx with the very same bytes as a static file.
site=$(json "$tmp/topo.json" 'd["sites"][len(d["sites"]) // 2]["name"]')
mkdir -p "$tmp/www/v1/sites"
res=$(call GET "/v1/sites/$site" "$tmp/www/v1/sites/$site") || die "GET /v1/sites/$site failed"
[ "${res%% *}" = 200 ] || die "GET /v1/sites/$site answered ${res%% *}"

# wrk_rps URL NAME: sets rps to requests/s; dies when any answer was not 2xx.
# (Not called in $(...): a die there would only leave a subshell, and nginx running.)
wrk_rps() {
	wrk -t2 -c"$conns" -d"${duration}s" -H "Authorization: Bearer $token" "$1" >"$tmp/$2.wrk" 2>&1 ||
		die "wrk against $1 failed: $(cat "$tmp/$2.wrk")"
	grep -q 'Non-2xx' "$tmp/$2.wrk" && die "$2: non-2xx answers under load: $(cat "$tmp/$2.wrk")"
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/$2.wrk")
	[ -n "$rps" ] || die "$2: no requests/s in the output of wrk: $(cat "$tmp/$2.wrk")"
}

# nginx_rps WORKERS: nginx with a throwaway config serving $tmp/www, loaded like the
# controller, then stopped; sets rps.
nginx_rps() {
	local nport conf=$tmp/nginx-$1
	nport=$(free_port)
	mkdir -p "$conf"
	cat >"$conf/nginx.conf" <<EOF
worker_processes $1;
daemon off;
pid $conf/nginx.pid;
error_log $conf/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $conf/body;
	proxy_temp_path $conf/proxy;
	fastcgi_temp_path $conf/fastcgi;
	uwsgi_temp_path $conf/uwsgi;
	scgi_temp_path $conf/scgi;
	server {
		listen 127.0.0.1:$nport;
		root $tmp/www;
		default_type application/json;
		location / { }
	}
}
EOF
	# nginx's workers drop root for nobody, who must be able to read the file.
	chmod -R a+rX "$tmp"
	nginx -e "$conf/error.log" -p "$conf" -c "$conf/nginx.conf" &
	nginx_pid=$!
	for _ in $(seq 1 50); do
		curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$nport/v1/sites/$site" 2>/dev/null && break
		kill -0 "$nginx_pid" 2>/dev/null || die "nginx exited: $(cat "$conf/error.log")"
		sleep 0.1
	done
	cmp -s "$tmp/www/v1/sites/$site" <(curl -fsS "http://127.0.0.1:$nport/v1/sites/$site") ||
		die "nginx does not serve the site's JSON"
	wrk_rps "http://127.0.0.1:$nport/v1/sites/$site" "nginx-$1"
	kill "$nginx_pid" && wait "$nginx_pid" 2>/dev/null || true
	nginx_pid=""
}

wrk_rps "$base/v1/sites/$site" controller
rps_ctl=$rps
nginx_rps "$nginx_workers"
rps_nginx=$rps
nginx_rps 1
rps_nginx1=$rps

kill -0 "$ctl_pid" 2>/dev/null || die "the controller died under load"
rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$ctl_pid/status")

python3 - "$summary" "$ntun" "$t_imp" "$t_dry" "$t_noop" "$t_exp" "$rss_kb" "$rps_ctl" "$rps_nginx" "$rps_nginx1" \
	"$(stat -c %s "$tmp/topo.json")" "$site" "$duration" "$conns" "$nginx_workers" <<'EOF' | tee "$tmp/result"
import sys
(summary, ntun, imp, dry, noop, exp, rss, rps, nginx, nginx1, size, site, dur, conns, nw) = sys.argv[1:]
imp, dry, noop, exp = (float(x) for x in (imp, dry, noop, exp))
rss_mb = int(rss) / 1024.0
rps, nginx, nginx1 = float(rps), float(nginx), float(nginx1)
ratio = rps / nginx if nginx else 0.0
rows = [
    ("import through the API", "%.3f s" % imp, imp <= 2.0, "<= 2 s"),
    ("dry-run import", "%.3f s" % dry, None, ""),
    ("re-import (no-op)", "%.3f s" % noop, noop <= 0.5, "<= 0.5 s"),
    ("replace-import of the export (no-op)", "%.3f s" % exp, None, ""),
    ("controller peak RSS (VmHWM)", "%.1f MB" % rss_mb, rss_mb <= 150, "<= 150 MB"),
    ("GET /v1/sites/%s" % site, "%.0f req/s" % rps, None, ""),
    ("nginx, same JSON as a static file", "%.0f req/s" % nginx, None, ""),
    ("controller / nginx", "%.2f" % ratio, ratio >= 0.5, ">= 0.5"),
    ("nginx with 1 worker (like for like)", "%.0f req/s" % nginx1, None, ""),
    ("controller / nginx 1 worker", "%.2f" % (rps / nginx1 if nginx1 else 0.0), None, ""),
]
print("controller benchmark: %s (%.0f kB of JSON); %s tunnels materialised"
      % (summary, int(size) / 1024.0, ntun))
print("  load: wrk -t2 -c%s -d%ss; nginx worker_processes %s (the target's reference)"
      % (conns, dur, nw))
missed = 0
for name, val, ok, target in rows:
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    missed += ok is False
    print("  %-40s %14s   %-10s %s" % (name, val, target and "target " + target, verdict))
print("RESULT: " + ("all targets met" if not missed else "%d target(s) missed" % missed))
EOF
if grep -q 'target(s) missed' "$tmp/result" && [ "${BENCH_STRICT:-0}" = 1 ]; then
	exit 1
fi
exit 0
