#!/usr/bin/env bash
# Runs the benchmarks behind README's Performance section (each prints its own figures):
# btf dump vs bpftool, btfgen --all vs bpftool gen min_core_btf, the release matrix on the
# shipped archive, the index queries, and start-up time and memory of every query command
# (bench/startup.mjs). A script whose reference tool or input is
# missing says so and the others still run. The simulated 1,000-kernel matrix takes a few
# minutes and 4.3 GB of disk, so it runs only with KCOMPAT_BENCH_SIM=1 (it needs the
# libbpf-tools objects; see bench/matrix-sim.mjs).
#   npm run bench            (npm run build first)
set -uo pipefail
cd "$(dirname "$0")"
status=0
for b in btf-dump.sh btfgen.sh matrix.sh; do
  echo "== $b"
  bash "$b" || status=1
done
echo "== index-queries.mjs"
node index-queries.mjs || status=1
echo "== startup.mjs (every query command vs node -e 0, btf dump vs bpftool)"
node startup.mjs || status=1
if [ "${KCOMPAT_BENCH_SIM:-}" = 1 ]; then
  echo "== matrix-sim.mjs (1,000 kernels)"
  objs=$(mktemp -d)
  trap 'rm -rf "$objs"' EXIT
  sed -n "/^node --input-type/,/^JS$/p" matrix.sh | sed '1d;$d' > "$objs/extract.mjs"
  node "$objs/extract.mjs" "$objs/o" && node matrix-sim.mjs --kernels 1000 --objects "$objs/o" || status=1
else
  echo "== matrix-sim.mjs: skipped (KCOMPAT_BENCH_SIM=1 runs it: a few minutes, 4.3 GB of disk)"
fi
exit $status
