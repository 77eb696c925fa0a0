#!/bin/sh
# make demo: boots user-mode Linux with this machine's root file system and, inside it,
# runs contrib/examples/demo.json as a live network: the controller on its SQLite
# default (in tmpfs), one network namespace, charon and gresec-agent per site, a NAT,
# traffic across every tunnel, and the status table from the API. See
# docs/operations.md ("The lab"). Exit 0 only when every check passed.
set -u
cd "$(dirname "$0")/.."
start=$(date +%s)
echo "==> gresec demo: booting user-mode Linux (the host kernel has no GRE/ESP)"
sh contrib/lab/lab.sh contrib/lab/demo.sh
rc=$?
echo "==> demo $([ $rc = 0 ] && echo passed || echo FAILED) in $(($(date +%s) - start)) s"
exit $rc
