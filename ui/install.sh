#!/bin/sh
# Installs the topology map's graph library (cytoscape, pinned by package-lock.json) into
# ui/node_modules with npm ci; `make` then copies it beside the page into $(BUILD)/ui.
# Idempotent: does nothing when node_modules already matches the lock file.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ -f node_modules/cytoscape/dist/cytoscape.min.js ] &&
   [ node_modules/.package-lock.json -nt package-lock.json ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "ui: npm not found; run contrib/install-deps.sh as root" >&2
	exit 1
fi
echo "ui: installing the graph library with npm ci"
# cytoscape has no install script and no dependencies: unpacking one tarball.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
