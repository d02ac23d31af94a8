#!/usr/bin/env bash
# kcompat verify benchmark: boots an archived Debian kernel under QEMU (KVM when /dev/kvm
# is usable, else TCG) and measures
#   1. a boot that loads one trivial program (--prog xdp), 3 times: QEMU start to /init
#      (boot), QEMU start to exit (guest), and the whole command;
#   2. `matrix --verify` with every CO-RE object of Debian's libbpf-tools on that kernel:
#      the whole run, the boot, the guest time per program ((guest - boot) / programs:
#      each program's object opened, loaded and attached on its own), and the agreement
#      figures of the static verdicts with what the kernel did.
# The kernel image is the archived kernel's own (the package the manifest records, fetched
# once into the image cache and checked against the recorded sha256), unless given as IMAGE.
# Usage: bash bench/verify.sh [RELEASE [IMAGE]]   (default 6.1.0-56-cloud-amd64; needs
#        qemu-system-x86, busybox-static, gcc, libbpf-dev, libelf-dev, zlib1g-dev,
#        libbpf-tools and `npm run build`)
# KCOMPAT_ARCHIVE=DIR measures a kernel of another archive (e.g. one `archive sync` filled);
# VERIFY_JSON=FILE keeps the libbpf-tools run's `matrix --format json` output (every
# verdict beside the kernel's outcome and reason line) for reading the disagreements.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RELEASE=${1:-6.1.0-56-cloud-amd64}
IMAGE=${2:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
KC="$ROOT/bin/run.js"

IMG=()
if [ -n "$IMAGE" ]; then IMG=(--image "$IMAGE"); fi
# without IMAGE, verify boots the archived kernel's own image: fetched once into the image
# cache (src/archive/image.ts) by the warm-up run below, outside the measurements

now() { date +%s.%N; }
echo "kernel: $RELEASE (${KCOMPAT_ACCEL:-$(test -w /dev/kvm && echo "kvm if it boots, else tcg" || echo tcg)}, $(nproc) CPUs)"
# build the guest loader and fetch the image once, outside the measurements
node "$KC" verify --kernel "$RELEASE" "${IMG[@]}" --prog xdp --no-attach --json >/dev/null || true

for i in 1 2 3; do
  t0=$(now)
  node "$KC" verify --kernel "$RELEASE" "${IMG[@]}" --prog xdp --no-attach --json >"$WORK/boot.json" || true
  t1=$(now)
  node -e '
    const r = require(process.argv[1]).kernels[0].report
    console.log(`boot-only run ${process.argv[3]}: boot ${(r.bootMs / 1000).toFixed(2)} s, guest ${(r.guestMs / 1000).toFixed(2)} s, whole command ${(+process.argv[2]).toFixed(2)} s`)' \
    "$WORK/boot.json" "$(echo "$t1 - $t0" | bc)" "$i"
done

dpkg -L libbpf-tools >/dev/null 2>&1 || { echo "libbpf-tools is not installed: skipping the libbpf-tools run" >&2; exit 0; }
sed -n "/^node --input-type/,/^JS$/p" "$ROOT/bench/matrix.sh" | sed '1d;$d' >"$WORK/extract.mjs"
node "$WORK/extract.mjs" "$WORK/objs"
ARGS=()
for o in "$WORK"/objs/*.bpf.o; do ARGS+=(--object "$o"); done
t0=$(now)
node "$KC" matrix "${ARGS[@]}" --kernels "$RELEASE" --no-cache --verify ${IMAGE:+--image "$RELEASE=$IMAGE"} --format json --out "$WORK/m.json"
t1=$(now)
if [ -n "${VERIFY_JSON:-}" ]; then cp "$WORK/m.json" "$VERIFY_JSON"; fi
node -e '
  const m = require(process.argv[1]); const v = m.verify; const k = v.kernels[0]; const f = v.figures[0]
  if (!k.verified) { console.log(`not verified: ${k.error.code}: ${k.error.message}`); process.exit(1) }
  const per = (k.guestMs - k.bootMs) / f.programs
  console.log(`libbpf-tools: ${m.objects.length} objects, ${f.programs} programs: whole run ${(+process.argv[2]).toFixed(1)} s, boot ${(k.bootMs / 1000).toFixed(1)} s, guest ${(k.guestMs / 1000).toFixed(1)} s, ${(per / 1000).toFixed(2)} s per program`)
  const pairs = Object.entries(f.pairs).sort().map(([p, n]) => `${p} ${n}`).join(", ")
  console.log(`agreement: ${f.comparable} comparable: ${f.agree} agree, ${f.explained} explained, ${f.disagree} disagree (${pairs})`)
  for (const d of v.disagreements) console.log(`  ${d.agreement}: ${d.object}: ${d.program} (${d.section}): ${d.verdict} / ${d.observedReason}${d.explained ? ` [${d.explained.id}]` : ""}`)' \
  "$WORK/m.json" "$(echo "$t1 - $t0" | bc)"
