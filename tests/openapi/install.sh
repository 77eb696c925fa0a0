#!/bin/sh
# Installs the pinned OpenAPI linter (package-lock.json) into tests/openapi/node_modules.
# Idempotent: does nothing when node_modules already matches the lock file.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! command -v npm >/dev/null 2>&1; then
	echo "openapi: npm not found; run contrib/install-deps.sh as root" >&2
	exit 1
fi
if [ -x node_modules/.bin/redocly ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
	exit 0
fi
echo "openapi: installing the linter with npm ci"
# No install scripts: the linter needs none, and it keeps the install to unpacking files.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
