#!/usr/bin/env bash
# Fetch real Debian kernel packages of suites other than the machine's own, and keep
# each one's /boot/config-<release> as a test fixture:
#
#   fixtures/kernels/configs/<release>.config.xz     (xz of the package's /boot/config)
#   fixtures/kernels/configs/SOURCES.tsv              (release, package, version, suite, sha256 of the .deb)
#
# test/check/suite-configs.test.ts checks kcompat's release-rule facts (no archive entry,
# no siblings) against these configs.
#
# The mirror is the one apt uses: the URIs of /etc/apt/sources.list.d/*.sources and
# /etc/apt/sources.list (no host name is written here). Suites are read through a private
# sources list and index under ${KCOMPAT_TEST_CACHE:-$HOME/.cache/kcompat-test}/suites,
# so the machine's apt configuration and lists are left alone. apt checks each .deb
# against the SHA256 of its signed index.
#
# Usage: scripts/suite-configs.sh            # the default targets below
#        scripts/suite-configs.sh SUITE[/ARCH]:REGEX ...   (ARCH: a Debian architecture, default amd64)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${KCOMPAT_TEST_CACHE:-$HOME/.cache/kcompat-test}/suites
OUT=fixtures/kernels/configs
mkdir -p "$CACHE/lists/partial" "$CACHE/cache/archives/partial" "$CACHE/parts" "$CACHE/debs" "$OUT"

uris=$( (grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'; \
         grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | sed 's/\[[^]]*\]//' | awk '{print $2}') | sort -u || true)
MIRROR=$(echo "$uris" | grep -v security | head -1)
SECURITY=$(echo "$uris" | grep security | head -1)
[[ -n "$MIRROR" ]] || { echo "error: no Debian mirror in apt's sources" >&2; exit 1; }

TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(
  'bullseye:^linux-image-5\.10\.0-[0-9]+-amd64$'
  'bullseye-security:^linux-image-6\.1\.0-0\.deb11\.[0-9]+-amd64$'
  'trixie:^linux-image-6\.12\.[0-9]+\+deb13-amd64$'
  'trixie/arm64:^linux-image-6\.12\.[0-9]+\+deb13-arm64$'
  'bookworm/i386:^linux-image-6\.1\.0-[0-9]+-686-pae$'
  'bookworm/armel:^linux-image-6\.1\.0-[0-9]+-marvell$'
  'bookworm/mipsel:^linux-image-6\.1\.0-[0-9]+-4kc-malta$'
  'bookworm/ppc64el:^linux-image-6\.1\.0-[0-9]+-powerpc64le$'
)

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
: > "$CACHE/sources.list"
ARCHES=(amd64)
for t in "${TARGETS[@]}"; do
  st=${t%%:*}
  suite=${st%%/*}
  [[ $st != */* ]] || ARCHES+=("${st#*/}")
  base=$MIRROR
  if [[ $suite == *-security ]]; then base=${SECURITY:?no security mirror in apt sources}; fi
  line="deb [signed-by=$KEYRING] $base $suite main"
  grep -qxF "$line" "$CACHE/sources.list" || echo "$line" >> "$CACHE/sources.list"
done

# every architecture a target names is read from the indices (the machine's apt is left alone)
ARCHLIST=$(printf '%s\n' "${ARCHES[@]}" | sort -u | paste -sd, -)
O=(-o "APT::Architectures=$ARCHLIST" -o "Dir::Etc::SourceList=$CACHE/sources.list" -o "Dir::Etc::SourceParts=$CACHE/parts" -o "Dir::State::Lists=$CACHE/lists" -o "Dir::Cache=$CACHE/cache")
[[ $(id -u) != 0 ]] || O+=(-o APT::Sandbox::User=root)
apt-get "${O[@]}" -q update >&2

[[ -f $OUT/SOURCES.tsv ]] || printf '# release\tpackage\tversion\tsuite\tsha256 of the .deb\n' > "$OUT/SOURCES.tsv"
for t in "${TARGETS[@]}"; do
  st=${t%%:*}
  suite=${st%%/*}
  arch=amd64
  [[ $st != */* ]] || arch=${st#*/}
  re=${t#*:}
  pkg=$(apt-cache "${O[@]}" search --names-only "$re" | awk '{print $1}' | sort -V | tail -n1)
  [[ -n "$pkg" ]] || { echo "error: nothing in $suite matches $re" >&2; exit 1; }
  ver=$(apt-cache "${O[@]}" show --no-all-versions "$pkg:$arch" | awk '/^Version:/{print $2; exit}')
  release=${pkg#linux-image-}
  if grep -q "^$release	" "$OUT/SOURCES.tsv"; then echo "$release: already kept" >&2; continue; fi
  echo "downloading $pkg $ver ($suite)" >&2
  (cd "$CACHE/debs" && apt-get "${O[@]}" -q download "$pkg:$arch=$ver" >&2)
  deb=$(ls "$CACHE/debs/${pkg}_"*.deb | head -1)
  dpkg-deb --fsys-tarfile "$deb" | tar -xO "./boot/config-$release" | xz -9 > "$OUT/$release.config.xz.tmp"
  mv "$OUT/$release.config.xz.tmp" "$OUT/$release.config.xz"
  printf '%s\t%s\t%s\t%s\t%s\n' "$release" "$pkg" "$ver" "$suite" "$(sha256sum "$deb" | awk '{print $1}')" >> "$OUT/SOURCES.tsv"
done
