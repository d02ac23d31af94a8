#!/usr/bin/env bash
# BTF generation from Debian debug packages, on real data:
#  1. the comparison test: BTF generated from the Debian 12 6.1 arm64 cloud kernel's -dbg
#     package against the BTF its image ships (downloads the package, ~250 MiB, into
#     the cache unless it is there; every difference is printed with its explanation);
#  2. timings and pahole's peak memory for each generated kernel of the archive, and a
#     check that regenerating reproduces the archived BTF byte for byte.
#   bash bench/generate.sh [--no-download]
# Cache: $KCOMPAT_DEB_CACHE (default <tmpdir>/kcompat-cache/debs). Needs pahole (dwarves).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pahole >/dev/null || { echo "pahole is not installed (apt-get install dwarves)"; exit 1; }
[ -f dist/generate/generate.js ] || npm run build >/dev/null
DL=1; [ "${1:-}" = "--no-download" ] && DL=0
echo "== comparison: generated vs shipped BTF (test/generate/debian-real.test.ts)"
KCOMPAT_TEST_DOWNLOAD=$DL npx vitest run test/generate/debian-real.test.ts --silent=false
echo "== timings and memory per kernel"
if [ "$DL" = 1 ]; then node bench/generate-timings.mjs --download; else node bench/generate-timings.mjs; fi
