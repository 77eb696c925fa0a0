#!/bin/bash
# IKE benchmark (issue 5), inside one user-mode Linux boot with real charons:
#   - 500 conns loaded into one charon through the agent's IKE code (ike_bench: the
#     agent's plan, each action applied and timed as the agent applies it): time of the
#     1st and the 500th load-conn (target: the 500th <= 1.5x the 1st) and the total;
#     then the plan a restarted agent would make (must be empty);
#   - 100 new always-on tunnels between two namespaces with one charon and one
#     gresec-agent each (--intent FILE, daemon mode): time from both agents' start to
#     every tunnel reported up (ESTABLISHED + INSTALLED in each agent's status.json).
# Not a test: exits 0 when it could measure, whatever the figures (BENCH_STRICT=1 makes a
# missed target exit 1). Env: GRESEC_BUILD (build dir), BENCH_IKE_CONNS (500),
# BENCH_IKE_PAIR (100), GRESEC_UML (/usr/bin/linux.uml), BENCH_IKE_KEEP (keep logs).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${GRESEC_BUILD:-$top/build}
uml=${GRESEC_UML:-$top/contrib/lab/uml.sh}
n=${BENCH_IKE_CONNS:-500}
pair=${BENCH_IKE_PAIR:-100}
py=/usr/bin/python3

die() { echo "ike.sh: $*" >&2; exit 2; }
[ -x "$uml" ] || die "$uml missing: install user-mode-linux (make deps)"
[ -x /usr/lib/ipsec/charon ] || die "charon missing: install strongswan-charon (make deps)"
command -v swanctl > /dev/null || die "swanctl missing: install strongswan-swanctl (make deps)"
command -v jq > /dev/null || die "jq missing (make deps)"
[ -x /usr/sbin/modprobe ] || die "modprobe missing: install kmod (make deps)"
[ -x "$build/gresec-agent" ] && [ -s "$build/gresec-agent" ] || die "$build/gresec-agent not built (make all)"
ls -d /usr/lib/uml/modules/*/ > /dev/null 2>&1 || die "no UML modules under /usr/lib/uml/modules"
# The driver links the agent's objects: built with the project's own rules and flags.
make -s -C "$top" -f Makefile -f tests/bench/ike/ike.mk BUILD="$build" "$build/bench/ike_bench" ||
	die "cannot build $build/bench/ike_bench"

bt=$(mktemp -d /tmp/gresec-benchike.XXXXXX)
# BENCH_IKE_KEEP=DIR keeps the agents' and charons' logs there.
trap '[ -n "${BENCH_IKE_KEEP:-}" ] && mkdir -p "$BENCH_IKE_KEEP" && cp -r "$bt"/. "$BENCH_IKE_KEEP"/; rm -rf "$bt"' EXIT
mkdir -p "$bt/kmod/lib"
ln -s /usr/lib/uml/modules "$bt/kmod/lib/modules"
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d %s "$@"\n' "$bt/kmod" > "$bt/modprobe"
chmod +x "$bt/modprobe"
: > "$bt/results"
$py "$top/tests/kernel/mkintent.py" many "$bt/i500" "$n"
$py "$here/ike/mkpair.py" "$bt/pair" "$pair"
echo "ike bench: $n conns into one charon; $pair always-on tunnels between two charons"

start=$(date +%s)
set +e
timeout 170 "$uml" mem=768M rootfstype=hostfs rootflags=/ rw quiet \
	init="$here/ike/uml-init.sh" con=null con0=fd:0,fd:1 \
	GRESEC_BT="$bt" GRESEC_ROOT="$top" GRESEC_AGENT="$build/gresec-agent" \
	GRESEC_BENCH="$build/bench/ike_bench" </dev/null > "$bt/console" 2>&1
rc=$?
set -e
echo "ike bench: UML run took $(($(date +%s) - start)) s"
grep -q . "$bt/log" 2> /dev/null && sed 's/^/  | /' "$bt/log"
if ! grep -q '^DONE$' "$bt/results" || grep -q '^ERROR' "$bt/results" || [ ! -s "$bt/load.out" ]; then
	tail -n 30 "$bt/console" >&2
	grep '^ERROR' "$bt/results" >&2 || :
	[ $rc -eq 124 ] && die "UML run exceeded 170 s"
	die "UML did not complete the benchmark (exit $rc)"
fi

$py - "$bt/load.out" "$bt/results" "$n" "$pair" <<'PY'
import os
import statistics
import sys

loads, shared, facts = [], [], {}
read_us = plan_us = total_us = again = None
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "act" and f[1] == "load-conn":
        loads.append((int(f[3]), int(f[4])))
    elif f[0] == "act" and f[1] == "load-shared":
        shared.append((int(f[3]), int(f[4])))
    elif f[0] == "read":
        read_us = int(f[1])
    elif f[0] == "plan":
        plan_us = int(f[1])
    elif f[0] == "total":
        total_us = int(f[1])
    elif f[0] == "again":
        again = (int(f[1]), int(f[2]))
for line in open(sys.argv[2]):
    f = line.split()
    if f and f[0] != "DONE":
        facts[f[0]] = f[1:]
n, pair = int(sys.argv[3]), int(sys.argv[4])
failed = sum(1 for _, rc in loads + shared if rc)
if len(loads) != n or failed or total_us is None:
    print("ike bench: RUN PROBLEM: %d load-conns timed (want %d), %d failed" % (len(loads), n, failed))
    sys.exit(2)
us = [u for u, _ in loads]
first, last = us[0], us[-1]
k = min(50, n // 2)
head, tail = statistics.median(us[:k]), statistics.median(us[-k:])
conns = int(facts.get("conns", ["-1"])[0])
up = facts.get("up", ["0", "-1", "-1", "0", "0"])
ta, tb = int(up[1]), int(up[2])
print("ike bench: %d conns into one charon through the agent's IKE code (ike_bench), times in ms" % n)
print("  load-conn #1 %.2f, #%d %.2f; median of the first %d %.2f, of the last %d %.2f; max %.2f"
      % (first / 1e3, n, last / 1e3, k, head / 1e3, k, tail / 1e3, max(us) / 1e3))
print("  load-shared: %d, median %.2f; list-conns/get-shared/list-sas %.1f, plan %.1f"
      % (len(shared), statistics.median(u for u, _ in shared) / 1e3, read_us / 1e3, plan_us / 1e3))
print("  total (read, plan, %d load-shared + %d load-conn): %.0f ms; charon lists %d conns"
      % (len(shared), len(loads), total_us / 1e3, conns))
if again:
    print("  the same intent again (a restarted agent): read + plan %.1f ms, %d actions" % (again[0] / 1e3, again[1]))
print("ike bench: %d always-on tunnels between two charons, both agents started together" % pair)
print("  all %d up (agent status: ESTABLISHED + INSTALLED) at the initiator after %s, at the responder after %s"
      % (pair, "%.2f s" % (ta / 1e3) if ta >= 0 else "NEVER (%s up)" % up[3],
         "%.2f s" % (tb / 1e3) if tb >= 0 else "NEVER (%s up)" % up[4]))
print("  kernel SAs a/b: %s; initiates sent by a's agent: %s; a's kernel pass: %s"
      % ("/".join(facts.get("kernel_sas", ["?"])), " ".join(facts.get("initiates", ["?"])),
         " changes, ".join(facts.get("kernel_pass", ["?"])) + " messages"))
ratio = last / first
rows = [
    ("500th load-conn / 1st", "%.2f / %.2f ms = %.2fx" % (last / 1e3, first / 1e3, ratio), "<= 1.5x",
     ratio <= 1.5),
    ("last %d / first %d (medians)" % (k, k), "%.2f / %.2f ms = %.2fx" % (tail / 1e3, head / 1e3, tail / head),
     "<= 1.5x", tail / head <= 1.5),
    ("restart: actions planned", "%d" % (again[1] if again else -1), "0", bool(again) and again[1] == 0),
    ("%d tunnels up, both ends" % pair, "%.2f s" % (max(ta, tb) / 1e3) if min(ta, tb) >= 0 else "not all up",
     "all up", min(ta, tb) >= 0),
]
for what, got, target, ok in rows:
    print("  %-28s %-36s target %-8s %s" % (what, got, target, "PASS" if ok else "MISS"))
met = sum(ok for *_, ok in rows)
print("RESULT: load-conn #1 %.2f ms, #%d %.2f ms (%.2fx), %d conns in %.1f s; %d tunnels up in %s: %d/%d targets met"
      % (first / 1e3, n, last / 1e3, ratio, n, total_us / 1e6, pair,
         "%.2f s" % (max(ta, tb) / 1e3) if min(ta, tb) >= 0 else "NEVER", met, len(rows)))
if os.environ.get("BENCH_STRICT") == "1" and met < len(rows):
    sys.exit(1)
PY
