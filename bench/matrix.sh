#!/usr/bin/env bash
# Release matrix benchmark: every CO-RE object of Debian's libbpf-tools (extracted from
# the installed binaries, as test/harness/libbpf-tools.ts does) against the shipped
# archive (16 kernels): a cold run (empty cache) and a warm run (cached cells).
# Usage: bash bench/matrix.sh [ARCHIVE]   (needs libbpf-tools installed and `npm run build`)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARCHIVE=${1:-$ROOT/archive}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
dpkg -L libbpf-tools >/dev/null 2>&1 || { echo "libbpf-tools is not installed (apt-get install libbpf-tools)" >&2; exit 1; }
# extraction (same rule as test/harness/libbpf-tools.ts: every 64-bit EM_BPF relocatable ELF inside /usr/sbin tools)
node --input-type=module - "$WORK/objs" <<'JS'
import {mkdirSync, readFileSync, writeFileSync, existsSync} from 'node:fs'
import {execFileSync} from 'node:child_process'
const out = process.argv[2]; mkdirSync(out, {recursive: true})
const files = execFileSync('dpkg', ['-L', 'libbpf-tools'], {encoding: 'utf8'}).split('\n').filter((f) => f.startsWith('/usr/sbin/') && existsSync(f))
let n = 0
for (const f of files) {
  const b = readFileSync(f); const dv = new DataView(b.buffer, b.byteOffset, b.byteLength); let i = 0
  for (let at = b.indexOf(0x7f, 1); at >= 0 && at + 64 <= b.length; at = b.indexOf(0x7f, at + 1)) {
    if (b[at+1] !== 0x45 || b[at+2] !== 0x4c || b[at+3] !== 0x46 || b[at+4] !== 2) continue
    const le = b[at+5] === 1
    if (dv.getUint16(at+18, le) !== 247 || dv.getUint16(at+16, le) !== 1) continue
    const end = at + Number(dv.getBigUint64(at+40, le)) + dv.getUint16(at+58, le) * dv.getUint16(at+60, le)
    if (dv.getUint16(at+58, le) !== 64 || end > b.length) continue
    const tool = f.slice('/usr/sbin/'.length)
    writeFileSync(`${out}/${tool}${i ? '.' + i : ''}.bpf.o`, b.subarray(at, end)); i++; n++
  }
}
console.error(`extracted ${n} BPF objects`)
JS
ARGS=()
for o in "$WORK"/objs/*.bpf.o; do ARGS+=(--object "$o"); done
DB="$WORK/index.sqlite"
run() { local t0 t1; t0=$(date +%s.%N); node "$ROOT/bin/run.js" matrix "${ARGS[@]}" --archive "$ARCHIVE" --db "$DB" --format json --out "$WORK/m.json" "$@"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
COLD=$(run)
WARM=$(run)
CELLS=$(node -e "const m=require('$WORK/m.json');console.log(m.cells.length+' cells, '+m.kernels.length+' kernels, '+m.objects.length+' objects')")
printf 'matrix: %s\n  cold (empty cache): %.2f s\n  warm (cached):      %.2f s\n' "$CELLS" "$COLD" "$WARM"
