#!/usr/bin/env bash
# Formats the hand-written C with clang-format (.clang-format), or with --check only reports what
# differs. BPF-side sources (*.bpf.c, *.bpf.h) stay as written: their line numbers are compiled into
# the checked-in fixture objects and show in verifier-log tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "clang-format is missing: bash scripts/install-deps.sh (or apt-get install clang-format)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files '*.c' '*.h' ':!:*.bpf.c' ':!:*.bpf.h')
if [ "${1:-}" = --check ]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
