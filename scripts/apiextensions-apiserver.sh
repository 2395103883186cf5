#!/usr/bin/env bash
# Builds k8s.io/apiextensions-apiserver (a real Kubernetes API server for CRDs, on etcd) from Debian
# unstable's Go source packages, without installing them, into a cache reused by later runs.
# Prints the binary's path. ~2.5 min on 2 cores the first time, ~370 MB of packages, ~2.7 GB of disk
# while building.
set -euo pipefail
CACHE="${ORKA_TEST_CACHE:-$HOME/.cache/orka-gateway}/apiextensions-apiserver"
BIN="$CACHE/bin/apiextensions-apiserver"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

echo "building apiextensions-apiserver into $CACHE (first run only)" >&2
WORK="$CACHE/build"
rm -rf "$WORK"
mkdir -p "$WORK"/apt/{lists/partial,cache/archives/partial,parts} "$WORK"/debs "$WORK"/root "$CACHE"/bin
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main' > "$WORK"/apt/sources.list
A=(-o Dir::Etc::sourcelist="$WORK"/apt/sources.list -o Dir::Etc::sourceparts="$WORK"/apt/parts
   -o Dir::State::Lists="$WORK"/apt/lists -o Dir::Cache="$WORK"/apt/cache -o Debug::NoLocking=1)
apt-get "${A[@]}" update -qq >&2
# the dependency closure against this machine's dpkg status; only the Go toolchain and Go sources
apt-get "${A[@]}" -s install --no-install-recommends golang-k8s-apiextensions-apiserver-dev golang-1.26-go \
  | sed -nE 's/^Inst (golang-[^ ]+) (\[[^]]*\] )?\(([^ ]+) .*/\1=\3/p' > "$WORK"/pkgs.txt
[ -s "$WORK"/pkgs.txt ] || { echo "apiextensions-apiserver: Debian unstable no longer resolves the Go packages" >&2; exit 1; }
(cd "$WORK"/debs && apt-get "${A[@]}" download $(cat "$WORK"/pkgs.txt) -qq 2>&1 | grep -v unsandboxed >&2 || true)
for d in "$WORK"/debs/*.deb; do dpkg-deb -x "$d" "$WORK"/root; done
GOROOT=$(ls -d "$WORK"/root/usr/lib/go-1.* | tail -n 1)
export GOROOT GOPATH="$WORK"/root/usr/share/gocode GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off GOFLAGS= CGO_ENABLED=0 GOCACHE="$WORK"/gocache
"$GOROOT"/bin/go build -trimpath -ldflags='-s -w' -o "$BIN" k8s.io/apiextensions-apiserver >&2
rm -rf "$WORK"
echo "$BIN"
