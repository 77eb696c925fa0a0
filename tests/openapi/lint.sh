#!/bin/sh
# Lints api/openapi.yaml with the pinned third-party linter (Redocly CLI).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/install.sh"
# The linter must not reach out to the network: no update check, no telemetry.
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true REDOCLY_TELEMETRY=off NO_UPDATE_NOTIFIER=1
exec "$here/node_modules/.bin/redocly" lint --config "$here/redocly.yaml" \
	"${1:-$here/../../api/openapi.yaml}"
