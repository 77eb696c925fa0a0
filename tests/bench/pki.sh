#!/bin/bash
# PKI benchmark (issue 11, item 8): 1,000 CSRs signed through the real API
# (POST /v1/agents/{site}/csr: CSR checks, ECDSA signature, the cert row and its audit
# record), one after the other on one keep-alive connection, against a controller with
# 1,000 sites on a temporary database. Target: <= 5 s for the 1,000.
# Not a test: it exits 0 when it could measure (BENCH_STRICT=1: a missed target exits 1).
# Env: GRESEC_BUILD (build dir), BENCH_CSRS (1000).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${GRESEC_BUILD:-$top/build}
ctl=$build/gresec-controller
n=${BENCH_CSRS:-1000}

for tool in openssl python3; do
	command -v "$tool" >/dev/null || { echo "pki.sh: $tool not installed (make deps)" >&2; exit 2; }
done
[ -x "$ctl" ] || { echo "pki.sh: $ctl not built (make all)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/gresec-bench.XXXXXX)
ctl_pid=""
cleanup() {
	[ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$ctl" --db "$tmp/bench.db" --listen "127.0.0.1:$port" --admin-token-file "$tmp/admin.token" \
	--log-level warn >"$tmp/controller.log" 2>&1 &
ctl_pid=$!
# One key's CSR without names serves every site: the signing cost does not depend on
# whose key it is, and 1,000 key generations would measure openssl, not the controller.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k.key" \
	-subj /O=bench -out "$tmp/k.csr" 2>/dev/null

python3 - "$port" "$tmp/admin.token" "$tmp/k.csr" "$n" <<'PY'
import http.client, json, sys, time
port, token_file, csr_file, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for _ in range(200):
    try:
        token = open(token_file).read().strip()
        c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
        c.request("GET", "/healthz"); c.getresponse().read()
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("pki.sh: the controller did not start")
h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
sites = [{"name": "s%d" % i, "underlay": "198.%d.%d.%d" % (18 + i // 62500, i // 250 % 250,
                                                            i % 250 + 1)} for i in range(n)]
c.request("POST", "/v1/import", json.dumps({"sites": sites}), h)
r = c.getresponse(); r.read()
assert r.status == 200, r.status
body = json.dumps({"csr": open(csr_file).read()})
t0 = time.monotonic()
for i in range(n):
    c.request("POST", "/v1/agents/s%d/csr" % i, body, h)
    r = c.getresponse(); r.read()
    assert r.status == 201, (i, r.status)
dt = time.monotonic() - t0
print("RESULT: %d CSRs signed in %.2f s (%.1f ms each; target <= 5 s)" % (n, dt, dt * 1000 / n))
if dt > 5 and __import__("os").environ.get("BENCH_STRICT") == "1":
    sys.exit(1)
PY
