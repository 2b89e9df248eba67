#!/usr/bin/env bash
# Proves the unit tests need neither root nor the native addon: copies the library's sources and tests
# (no build/, so no addon) to a temporary directory readable by everyone and runs
# `scripts/run-tests.mjs unit` there as the unprivileged user `nobody`. Run as root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
user="${1:-nobody}"
dir="$(mktemp -d /tmp/tsbpf-unit-XXXXXX)"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/packages/tsbpf" "$dir/scripts"
cp -r "$root/packages/tsbpf/src" "$root/packages/tsbpf/test" "$root/packages/tsbpf/package.json" "$root/packages/tsbpf/tsconfig.json" "$dir/packages/tsbpf/"
cp "$root/scripts/run-tests.mjs" "$root/package.json" "$dir/scripts/" 2>/dev/null || true
mv "$dir/scripts/package.json" "$dir/package.json"
ln -s "$root/node_modules" "$dir/node_modules"
test ! -e "$dir/packages/tsbpf/build" # no addon in the copy
chmod -R a+rX "$dir"
cd "$dir"
runuser -u "$user" -- node scripts/run-tests.mjs unit
