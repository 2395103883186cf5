#!/usr/bin/env bash
# What the full test suite needs beyond npm: etcd (Debian's etcd-server) and a cached build of
# apiextensions-apiserver for the real API server tier, redis-server for the response store's Redis
# tier, nix-instantiate to check flake.nix, and promtool (Debian's prometheus; only promtool is run)
# for the monitoring component's alerts.
# Idempotent and quiet when everything is there. Without them those tests skip, saying why.
set -uo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nix-instantiate >/dev/null || missing+=(nix-bin)
command -v promtool >/dev/null || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  echo "installing ${missing[*]}"
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1 \
    || echo "*** could not install ${missing[*]}: the tests that need them will be skipped ***"
fi
bash scripts/apiextensions-apiserver.sh >/dev/null \
  || echo "*** apiextensions-apiserver could not be built: the real API server tier will be skipped ***"
exit 0
