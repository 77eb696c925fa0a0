#!/bin/sh
# make demo: start the controller on its SQLite default, import contrib/examples/demo.json
# through the API, and print the sites and tunnels it derived.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DB=${GRESEC_DB:-/var/lib/gresec/gresec.db}
LISTEN=${GRESEC_LISTEN:-127.0.0.1:8080}
TOKEN_FILE=$(dirname "$DB")/admin.token
URL=http://$LISTEN
LOG=$(mktemp /tmp/gresec-demo.XXXXXX.log)

step() { printf '\n==> %s\n' "$*"; }

step "starting gresec-controller (database $DB, API on $URL, log $LOG)"
"$BUILD/gresec-controller" --db "$DB" --listen "$LISTEN" >"$LOG" 2>&1 &
CTL=$!
trap 'kill $CTL 2>/dev/null; wait $CTL 2>/dev/null || true' EXIT
i=0
until curl -fsS "$URL/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 $CTL 2>/dev/null; then
		echo "demo: the controller did not come up; its log:" >&2
		cat "$LOG" >&2
		exit 1
	fi
	sleep 0.1
done
TOKEN=$(cat "$TOKEN_FILE")
api() { curl -fsS -H "Authorization: Bearer $TOKEN" "$@"; }

step "importing contrib/examples/demo.json (dry run first)"
api -X POST -H 'Content-Type: application/json' --data-binary @contrib/examples/demo.json \
	"$URL/v1/import?dry_run=true" | jq -c '.totals | {would_create: .created, would_update: .updated}'
api -X POST -H 'Content-Type: application/json' --data-binary @contrib/examples/demo.json \
	"$URL/v1/import" | jq -r '.changes | to_entries[] | "  \(.key): \(.value.created) created, \(.value.updated) updated, \(.value.unchanged) unchanged"'

step "sites"
api "$URL/v1/sites" | jq -r '["SITE","UNDERLAY","NAT","PREFIXES"], (.items[] | [.name, .underlay, (if .behind_nat then "yes" else "no" end), (.prefixes | join(" "))]) | @tsv' | column -t -s "$(printf '\t')"

step "tunnels (derived from topologies, and explicit)"
api "$URL/v1/tunnels?limit=1000" | jq -r '["ID","A","B","KIND","PROFILE","FROM","IFNAME"], (.items[] | [.id, .a, .b, .tunnel_type, .profile, .source, .interfaces[.a]]) | @tsv' | column -t -s "$(printf '\t')"
n=$(api "$URL/v1/tunnels?limit=1000" | jq '.items | length')
step "done: $n tunnels. The controller was stopped; its database stays in $DB."
