#!/bin/sh
# End-to-end tests: tests/e2e/scenarios.sh inside user-mode Linux through the lab
# (contrib/lab/lab.sh). Usage: tests/e2e/run.sh [SCENARIO,...]
set -u
cd "$(dirname "$0")/../.."
LAB_TIME_LIMIT=${LAB_TIME_LIMIT:-720} exec sh contrib/lab/lab.sh tests/e2e/scenarios.sh "$@"
