#!/bin/sh
# Installs everything gresec needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are left alone, apt runs only when something is missing.
set -eu
# What `make demo` needs (kept small: a fresh machine runs the demo quickly), then what
# `make check` adds: the test tools, FRR (bfdd is the BFD peer of the interop test),
# prometheus (its promtool checks both daemons' /metrics).
#   contrib/install-deps.sh [demo|check]     (default: check)
TIER=${1:-check}
PKGS="build-essential pkg-config
libmnl-dev
libsqlite3-dev sqlite3 libjansson-dev libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev
strongswan-charon strongswan-swanctl libstrongswan-standard-plugins
user-mode-linux kmod iproute2 iputils-ping tcpdump iptables
curl jq bsdextrautils openssl"
if [ "$TIER" = check ]; then
	PKGS="$PKGS clang libcmocka-dev python3 python3-pytest python3-yaml wrk nginx-light frr prometheus chromium"
	# make deb / deb-check (debhelper, help2man, lintian); capsh for the e2e check of the agents'
	# capabilities (contrib/lab/confine.sh, setpriv, is util-linux).
	PKGS="$PKGS debhelper help2man lintian libcap2-bin"
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# strongswan's postinst would start a system charon; gresec runs its own.
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "install-deps: all dependencies present"
fi

[ "$TIER" = check ] || exit 0

# The OpenAPI linter and the validating proxy of the contract test (tests/openapi: Redocly
# CLI, Stoplight Prism) come from the npm registry, pinned by their lock file; npm ci runs
# only when node_modules does not match it. Node.js from Debian only when the machine has
# none (it may carry a newer one already); Prism wants 18.20.1 or later, which Debian 12's
# nodejs (18.20.4) is.
if ! command -v node >/dev/null 2>&1; then
	echo "install-deps: installing nodejs npm"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends nodejs npm
fi
sh "$(cd "$(dirname "$0")/.." && pwd)/tests/openapi/install.sh"
# The topology map's graph library (ui/, pinned), vendored into the build by make.
sh "$(cd "$(dirname "$0")/.." && pwd)/ui/install.sh"

# libreswan, for the peer-config tests (tests/integration/test_peer_config.py parses the
# rendered ipsec.conf with its readwriteconf and algparse; the lab's interop scenario runs
# its pluto). Debian's libreswan package conflicts with strongswan-charon, so it is not
# installed: its .deb is fetched with apt-get download and unpacked with dpkg-deb -x into
# a test directory, where nothing starts it and no file outside it changes. Its shared
# libraries (NSS, unbound, ldns, libevent...) are ordinary dependencies, installed here.
LIBRESWAN_DIR=${GRESEC_LIBRESWAN:-/opt/gresec-test/libreswan}
if [ ! -x "$LIBRESWAN_DIR/usr/libexec/ipsec/pluto" ]; then
	echo "install-deps: unpacking libreswan into $LIBRESWAN_DIR (not installed: it conflicts with strongswan-charon)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends libnss3-tools libnss3 libnspr4 libunbound8 \
		libldns3 libevent-core-2.1-7 libevent-pthreads-2.1-7 libcap-ng0 libcurl3-nss \
		libldap-2.5-0 dns-root-data
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download libreswan)
	mkdir -p "$LIBRESWAN_DIR"
	dpkg-deb -x "$tmp"/libreswan_*.deb "$LIBRESWAN_DIR"
	rm -rf "$tmp"
fi
