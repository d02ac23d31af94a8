#!/usr/bin/env bash
# Benchmark: `kcompat btf dump` against `bpftool btf dump` on the same real 6.12 kernel
# BTF (the committed Debian fixture), whole process, alternating, median of N runs.
#   bash bench/btf-dump.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-9}
command -v bpftool >/dev/null || { echo "bpftool is not installed (apt-get install bpftool)"; exit 1; }
[ -f dist/commands/btf/dump.js ] || npm run build >/dev/null
F=$(ls fixtures/kernels/6.12.*.btf.xz 2>/dev/null | grep -v __ | head -1 || true)
[ -n "$F" ] || { echo "no 6.12 kernel fixture under fixtures/kernels"; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
xz -dc "$F" > "$TMP/vmlinux.btf"
echo "input: $F ($(stat -c %s "$TMP/vmlinux.btf") bytes raw BTF); $(bpftool version | head -1); node $(node --version)"
for fmt in c raw; do
  node bench/compare.mjs --runs "$RUNS" --name "btf dump --format $fmt" \
    --ref "bpftool btf dump file $TMP/vmlinux.btf format $fmt" \
    --ours "./bin/run.js btf dump $TMP/vmlinux.btf --format $fmt"
done
# what a Node.js process cannot go below: Node's own start plus the JIT-warm dump
for fmt in c raw; do
  node bench/btf-dump-floor.mjs "$TMP/vmlinux.btf" --format "$fmt" --runs "$RUNS"
done
