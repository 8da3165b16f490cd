#!/usr/bin/env bash
# Installs what shardcounter needs to build and test on Debian/Ubuntu:
# librocksdb-dev (headers and library for cgo), redis-tools (redis-cli, used
# by the tests), chromium and a font (the dashboard's browser test), Node.js
# and npm when missing (the Node.js clients' test) and a C/C++ toolchain;
# then downloads the Go modules and the Node.js clients (ioredis,
# node-redis, pinned in integration/testdata/nodeclients/package-lock.json).
# Idempotent: when everything is present it only checks, and runs neither
# apt-get update nor apt-get install.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

cd "$(dirname "$0")/.."

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for pkg in librocksdb-dev redis-tools chromium fonts-dejavu-core; do
	installed "$pkg" || missing+=("$pkg")
done
if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null || ! command -v make >/dev/null; then
	missing+=(build-essential)
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	missing+=(nodejs npm)
fi

if ((${#missing[@]} > 0)); then
	if ! command -v apt-get >/dev/null; then
		echo "setup.sh: missing ${missing[*]}, and apt-get is not available: install them by hand" >&2
		exit 1
	fi
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		if ! command -v sudo >/dev/null; then
			echo "setup.sh: missing ${missing[*]}: run as root or install sudo" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	echo "setup.sh: installing ${missing[*]}" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v go >/dev/null; then
	echo "setup.sh: go not found: install Go $(sed -n 's/^go //p' go.mod) or later (https://go.dev/dl/)" >&2
	exit 1
fi
go mod download

# npm ci again only when the lock file changed since the last install.
nodeclients=integration/testdata/nodeclients
if [[ ! -d $nodeclients/node_modules || $nodeclients/package-lock.json -nt $nodeclients/node_modules ]]; then
	npm ci --prefix "$nodeclients" --no-audit --no-fund --loglevel=error
	touch "$nodeclients/node_modules"
fi
