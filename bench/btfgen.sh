#!/usr/bin/env bash
# Benchmark: minimized BTF (BTFGen) for every CO-RE object of Debian's libbpf-tools on
# every kernel of the archive. kcompat: one `kcompat btfgen --all` run (reads the
# archive itself: its .btf.tar.xz, or the unpacked copy in its raw-BTF cache). bpftool: one `bpftool gen min_core_btf` run per kernel,
# timed twice: on raw .btf files extracted beforehand, and including the extraction
# (`tar -xJf`), which kcompat's figure includes. Alternating runs, median of N.
#   bash bench/btfgen.sh [RUNS]      (KCOMPAT_ARCHIVE=DIR for another archive)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
command -v bpftool >/dev/null || { echo "bpftool is not installed (apt-get install bpftool)"; exit 1; }
dpkg -L libbpf-tools >/dev/null 2>&1 || { echo "libbpf-tools is not installed (apt-get install libbpf-tools)"; exit 1; }
[ -f dist/commands/btfgen.js ] || npm run build >/dev/null
ARCHIVE=$(cd "${KCOMPAT_ARCHIVE:-archive}" && pwd)
[ -f "$ARCHIVE/manifest.json" ] || { echo "no archive at $ARCHIVE"; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
NOBJ=$(node bench/btfgen-extract.mjs "$TMP/objs")
mapfile -t TARBALLS < <(cd "$ARCHIVE" && find . -name '*.btf.tar.xz' | sort)
mkdir -p "$TMP/raw" "$TMP/ref" "$TMP/ours"
for t in "${TARBALLS[@]}"; do tar -xJf "$ARCHIVE/$t" -C "$TMP/raw"; done
cat >"$TMP/ref-raw.sh" <<EOS
for f in $TMP/raw/*.btf; do bpftool gen min_core_btf "\$f" "$TMP/ref/\$(basename "\$f")" $TMP/objs/*.o || exit 1; done
EOS
cat >"$TMP/ref-tar.sh" <<EOS
for t in ${TARBALLS[*]}; do d=\$(mktemp -d -p $TMP); tar -xJf "$ARCHIVE/\$t" -C "\$d"; f=\$(ls "\$d"/*.btf); bpftool gen min_core_btf "\$f" "$TMP/ref/\$(basename "\$f")" $TMP/objs/*.o || exit 1; rm -rf "\$d"; done
EOS
OBJS=$(for o in "$TMP"/objs/*.o; do printf -- '--object %s ' "$o"; done)
echo "input: ${#TARBALLS[@]} kernels from $ARCHIVE, $NOBJ libbpf-tools CO-RE objects; $(bpftool version | head -1); node $(node --version)"
# kcompat keeps each kernel's unpacked BTF in its raw-BTF cache (src/archive/btf-cache.ts)
# after the first read; the comparisons below run with it warm. First, once, with it empty:
COLD_START=$(date +%s%N)
KCOMPAT_BTF_CACHE="$TMP/cold-cache" ./bin/run.js btfgen --all --archive "$ARCHIVE" $OBJS --out "$TMP/ours" >/dev/null
echo "btfgen, kcompat with an empty raw-BTF cache (unpacks every tarball): $(( ($(date +%s%N) - COLD_START) / 1000000 )) ms"
./bin/run.js btfgen --all --archive "$ARCHIVE" $OBJS --out "$TMP/ours" >/dev/null # fills the default cache
node bench/compare.mjs --runs "$RUNS" --name "btfgen, raw .btf given to bpftool" \
  --ref "sh $TMP/ref-raw.sh" --ours "./bin/run.js btfgen --all --archive $ARCHIVE $OBJS --out $TMP/ours"
node bench/compare.mjs --runs "$RUNS" --name "btfgen, bpftool also extracts" \
  --ref "sh $TMP/ref-tar.sh" --ours "./bin/run.js btfgen --all --archive $ARCHIVE $OBJS --out $TMP/ours"
node bench/compare.mjs --runs "$RUNS" --name "btfgen --compact, bpftool also extracts" \
  --ref "sh $TMP/ref-tar.sh" --ours "./bin/run.js btfgen --all --compact --archive $ARCHIVE $OBJS --out $TMP/ours"
