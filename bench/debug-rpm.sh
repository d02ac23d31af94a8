#!/usr/bin/env bash
# Streaming a debug vmlinux out of a kernel-debuginfo RPM (src/archive/debug-rpm.ts): a
# kernel-debuginfo package built with rpmbuild whose /usr/lib/debug/lib/modules/R/vmlinux
# is SIZE MiB of real kernel bytes (the .ko files of the Debian 6.1.0-56-cloud-amd64
# package, concatenated and cut to SIZE; the bytes matter only for the payload
# compression), zstd payload as Fedora/RHEL 9 ship. Prints the time to stream the member
# to a file (payload decompressed, file digest checked) and the process's peak RSS, which
# must stay far below SIZE (the member is never held in memory), and the time of
# `rpm2cpio | cpio -idm` for the same package as a reference.
#   bash bench/debug-rpm.sh [SIZE_MIB] [DEB]      (npm run build first)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-512}
DEB=${2:-${KCOMPAT_TEST_CACHE:-$HOME/.cache/kcompat-test}/debs/linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb}
for t in rpmbuild rpm2cpio cpio dpkg-deb zstd; do command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 0; }; done
[ -f "$DEB" ] || { echo "skipped: no $DEB"; exit 0; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
R=6.1.0-56-cloud-amd64
dpkg-deb -x "$DEB" "$W/deb"
# SIZE MiB of module bytes (repeated when the modules are fewer)
find "$W/deb/lib/modules" -name '*.ko' -print0 | sort -z | xargs -0 cat > "$W/mods.bin"
: > "$W/vmlinux"
while [ "$(stat -c %s "$W/vmlinux")" -lt $((SIZE * 1024 * 1024)) ]; do cat "$W/mods.bin" >> "$W/vmlinux"; done
truncate -s $((SIZE * 1024 * 1024)) "$W/vmlinux"
rm "$W/mods.bin"
cat > "$W/kernel-debuginfo.spec" <<SPEC
%define _binary_payload w3.zstdio
%define debug_package %{nil}
%define __os_install_post %{nil}
%define _build_id_links none
Name: kernel-debuginfo
Version: 6.1.192
Release: 2.el9
Summary: bench
License: GPL-2.0-only
AutoReqProv: no
%description
bench
%install
mkdir -p %{buildroot}/usr/lib/debug/lib/modules/$R
cp $W/vmlinux %{buildroot}/usr/lib/debug/lib/modules/$R/vmlinux
%files
/usr/lib/debug/lib/modules/$R/vmlinux
SPEC
rpmbuild -bb --quiet --target x86_64 --define "_topdir $W/top" "$W/kernel-debuginfo.spec" >/dev/null 2>&1
RPM=$(ls "$W"/top/RPMS/x86_64/kernel-debuginfo-*.rpm)
echo "package: $(du -m "$RPM" | cut -f1) MiB, vmlinux member: $SIZE MiB"
node --input-type=module -e '
import {createWriteStream} from "node:fs"
import {Readable} from "node:stream"
import {pipeline} from "node:stream/promises"
import {readRpmHeaders, rpmMembers} from "./dist/pkg/rpm.js"
import {rpmDebugVmlinux} from "./dist/archive/debug-rpm.js"
const [file, out] = process.argv.slice(1)
const t = Date.now()
const pkg = await readRpmHeaders(file)
const member = rpmDebugVmlinux(pkg)
for await (const m of rpmMembers(file, pkg)) {
  if (m.path !== member.path) continue
  await pipeline(Readable.from(m.stream()), createWriteStream(out))
  break
}
const ms = Date.now() - t
console.log(`kcompat: streamed ${member.path} in ${(ms / 1000).toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`)
' "$RPM" "$W/out"
cmp "$W/out" "$W/vmlinux" && echo "kcompat: the extracted file equals the packed one"
rm -f "$W/out"
mkdir -p "$W/ref"
s=$(date +%s.%N)
(cd "$W/ref" && rpm2cpio "$RPM" | cpio -idm --quiet)
echo "rpm2cpio | cpio -idm: $(echo "$(date +%s.%N) - $s" | bc) s"
