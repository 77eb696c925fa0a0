#!/bin/sh
# Installs the pinned third-party OpenAPI tools (package-lock.json) into
# tests/openapi/node_modules: the linter (Redocly CLI) and the validating proxy
# (Stoplight Prism) that tests/integration/test_contract.py puts in front of the controller.
# Idempotent: does nothing when node_modules already matches the lock file.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! command -v npm >/dev/null 2>&1; then
	echo "openapi: npm not found; run contrib/install-deps.sh as root" >&2
	exit 1
fi
if [ -x node_modules/.bin/redocly ] && [ -x node_modules/.bin/prism ] &&
   [ node_modules/.package-lock.json -nt package-lock.json ]; then
	exit 0
fi
echo "openapi: installing the linter and the validating proxy with npm ci"
# No install scripts: neither tool needs one, it keeps the install to unpacking files,
# and it keeps Prism's dependency @scarf/scarf from phoning home on install.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
