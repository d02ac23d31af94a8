#!/usr/bin/env bash
# archive add --rpm on a RHEL-9-shaped kernel: kernel-core (image + config, zstd payload)
# and kernel-modules (all 1,121 modules of the Debian 6.1.0-56-cloud-amd64 package as
# .ko.xz, as RHEL ships them, xz payload), built with rpmbuild from the real Debian
# package (scripts/fetch-debs.sh amd64, or apt-get download). Prints wall time, CPU and
# peak RSS of kcompat, and the time of `rpm2cpio | cpio -idm` of the same packages as a
# reference for the unpacking alone.
#   bash bench/rpm.sh [DEB]      (npm run build first)
set -euo pipefail
cd "$(dirname "$0")/.."
DEB=${1:-${KCOMPAT_TEST_CACHE:-$HOME/.cache/kcompat-test}/debs/linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb}
for t in rpmbuild rpm2cpio cpio dpkg-deb xz /usr/bin/time; do command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 0; }; done
[ -f "$DEB" ] || { echo "skipped: no $DEB"; exit 0; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
R=6.1.0-56-cloud-amd64
dpkg-deb -x "$DEB" "$W/deb"
mkdir -p "$W/mods"
(cd "$W/deb" && find lib/modules -name '*.ko' -print0 | xargs -0 -P2 -I{} sh -c 'mkdir -p "$0/mods/$(dirname {})" && xz -c --check=crc32 --lzma2=dict=1MiB {} > "$0/mods/{}.xz"' "$W")
spec() { # name payload install-lines files-lines
  cat > "$W/$1.spec" <<SPEC
%define _binary_payload $2
%define debug_package %{nil}
%define __os_install_post %{nil}
%define _build_id_links none
Name: $1
Version: 6.1.192
Release: 2.el9
Summary: bench
License: GPL-2.0-only
AutoReqProv: no
%description
bench
%install
$3
%files
$4
SPEC
  rpmbuild -bb --quiet --target x86_64 --define "_topdir $W/top" "$W/$1.spec" >/dev/null 2>&1
}
spec kernel-core w19.zstdio "mkdir -p %{buildroot}/lib/modules/$R && cp $W/deb/boot/vmlinuz-$R %{buildroot}/lib/modules/$R/vmlinuz && cp $W/deb/boot/config-$R %{buildroot}/lib/modules/$R/config" "/lib/modules/$R/vmlinuz
/lib/modules/$R/config"
spec kernel-modules w9.xzdio "mkdir -p %{buildroot} && cp -r $W/mods/lib %{buildroot}/" "/lib/modules/$R/kernel"
CORE=$W/top/RPMS/x86_64/kernel-core-6.1.192-2.el9.x86_64.rpm
MODS=$W/top/RPMS/x86_64/kernel-modules-6.1.192-2.el9.x86_64.rpm
echo "kernel-core $(stat -c %s "$CORE") bytes (zstd), kernel-modules $(stat -c %s "$MODS") bytes (xz, $(find "$W/mods" -name '*.ko.xz' | wc -l) modules)"
/usr/bin/time -f "kcompat archive add --rpm: %e s wall, %U s user, %S s sys, %M KiB max RSS" \
  ./bin/run.js archive add --rpm "$CORE" --rpm-modules "$MODS" --distro almalinux --os-version 9 --archive "$W/archive" | sed -n '1p;$p'
mkdir -p "$W/cpio"
/usr/bin/time -f "reference rpm2cpio | cpio -idm of both: %e s wall" sh -c "cd $W/cpio && rpm2cpio $CORE | cpio -idm --quiet && rpm2cpio $MODS | cpio -idm --quiet"
