#!/usr/bin/env bash
# Runs every benchmark in bench/ (each prints its own figures).
set -euo pipefail
cd "$(dirname "$0")"
for b in btf-dump.sh; do
  echo "== $b"
  bash "$b" "$@"
done
for m in index-queries.mjs; do
  [ -f "$m" ] && { echo "== $m"; node "$m"; }
done
exit 0
