#!/usr/bin/env bash
# Benchmark: `archive sync btfhub` (git, partial sparse clone) and published archives
# (`archive publish`, `archive sync --from`, the first BTF read), on a BTFHub-layout tree
# made of the shipped archive's 16 vmlinux `.btf.tar.xz` files (a git repository on the
# local file system, and served by `python3 -m http.server` on loopback). One run each:
# what is measured is mostly transfer and xz work, and how much a selection leaves out.
#   bash bench/btfhub-sync.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v git >/dev/null || { echo "git is not installed"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is not installed"; exit 1; }
[ -f dist/archive/btfhub.js ] || npm run build >/dev/null
K="$PWD/bin/run.js"
TMP=$(mktemp -d); PY=""
trap '[ -n "$PY" ] && kill "$PY"; rm -rf "$TMP"' EXIT
t() { local s=$(date +%s%N); "$@" >/dev/null; echo "$(( ($(date +%s%N) - s) / 1000000 )) ms"; }

mkdir -p "$TMP/tree"
(cd archive && find . -name '*.btf.tar.xz' | sed 's|^\./||' | sort) > "$TMP/files"
while read -r f; do mkdir -p "$TMP/tree/$(dirname "$f")"; cp "archive/$f" "$TMP/tree/$f"; done < "$TMP/files"
git -C "$TMP/tree" init -q -b main && git -C "$TMP/tree" add . && git -C "$TMP/tree" -c user.name=b -c user.email=b@localhost commit -qm tree
git -C "$TMP/tree" config uploadpack.allowFilter true
echo "tree: $(wc -l < "$TMP/files") files, $(du -sb --exclude=.git "$TMP/tree" | cut -f1) bytes; $(git --version)"

echo "git, --arch i686 (2 of the 16 files):"
echo "  dry run (clone: commits and trees only): $(t "$K" archive sync btfhub --from "file://$TMP/tree" --arch i686 --dry-run --cache-dir "$TMP/c" --archive "$TMP/a")"
rm -rf "$TMP/c"
echo "  first sync (clone, checkout of the folder, blob check, import): $(t "$K" archive sync btfhub --from "file://$TMP/tree" --arch i686 --cache-dir "$TMP/c" --archive "$TMP/a")"
echo "  re-run (fetch finds nothing, nothing imported): $(t "$K" archive sync btfhub --from "file://$TMP/tree" --arch i686 --cache-dir "$TMP/c" --archive "$TMP/a")"
echo "  clone's object store: $(du -sb "$TMP/c/.git/objects" | cut -f1) bytes (the whole repository's: $(du -sb "$TMP/tree/.git/objects" | cut -f1))"
echo "  blobs not fetched: $(git -C "$TMP/c" rev-list --objects --all --missing=print | grep -c '^?')"

echo "published archive (the 2 kernels just imported):"
echo "  archive publish (with index build): $(t "$K" archive publish --archive "$TMP/a" --out "$TMP/pub")"
(cd "$TMP/pub" && exec python3 -m http.server 0 --bind 127.0.0.1 > "$TMP/http.log" 2>&1) & PY=$!
for _ in $(seq 50); do grep -q 'port' "$TMP/http.log" 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$TMP/http.log" | head -1)"
echo "  sync --from (SHA256SUMS, manifest, index): $(t "$K" archive sync --from "$URL" --archive "$TMP/lazy")"
echo "  find func from the published index (no BTF fetched): $(t "$K" find func do_sys_openat2 --archive "$TMP/lazy")"
R=$(sed -n 's|.*i686/\(.*\)\.btf\.tar\.xz|\1|p' "$TMP/files" | head -1)
echo "  btf dump --kernel $R, first (fetch + check + unpack): $(t "$K" btf dump --kernel "$R" --archive "$TMP/lazy")"
echo "  the same, second: $(t "$K" btf dump --kernel "$R" --archive "$TMP/lazy")"
echo "  requests: $(grep -c '"GET' "$TMP/http.log")"
