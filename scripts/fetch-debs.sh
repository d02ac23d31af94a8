#!/usr/bin/env bash
# Prefetch the real Debian kernel packages that kcompat's opt-in tests use
# (test/archive/deb-real.test.ts, test/kernel/config-real.test.ts) into
#
#   ${KCOMPAT_TEST_CACHE:-$HOME/.cache/kcompat-test}/debs
#
# Packages are fetched with `apt-get download`, i.e. from whatever mirror apt's own
# sources list points at (no mirror is named here), and apt checks each file
# against the SHA256 of its signed index.  Foreign architectures (arm64, s390x,
# ppc64el, i386) use a private package index under the cache directory, so the
# system's dpkg architecture list and /var/lib/apt/lists are left alone.
#
# Usage:
#   scripts/fetch-debs.sh                 # every target
#   scripts/fetch-debs.sh amd64 arm64     # only these
#   KCOMPAT_ABI=56 scripts/fetch-debs.sh  # pin the 6.1 ABI (default: newest available)
#
# Targets (the 6.1 kernel of bookworm unless noted):
#   amd64      linux-image-6.1.0-N-cloud-amd64        (BTF; bzImage, lz4 payload)
#   arm64      linux-image-6.1.0-N-cloud-arm64        (BTF; uncompressed, EFI-signed Image)
#   s390x      linux-image-6.1.0-N-s390x              (no BTF in Debian 12; xz payload)
#   ppc64el    linux-image-6.1.0-N-powerpc64le        (no BTF in Debian 12; plain ELF vmlinux)
#   i386       linux-image-6.1.0-N-686                (no BTF in Debian 12; bzImage, xz payload)
#   amd64-6.12 linux-image-6.12.N+deb12-cloud-amd64   (BTF; bzImage, zstd payload)
#
# Prints one line per package: TARGET PACKAGE VERSION FILE.  Exit status is non-zero
# if any requested target could not be fetched.
set -euo pipefail

CACHE=${KCOMPAT_TEST_CACHE:-$HOME/.cache/kcompat-test}
DEBS=$CACHE/debs
mkdir -p "$DEBS"

log() { printf '==> %s\n' "$*" >&2; }

for t in apt-get apt-cache; do
  command -v "$t" >/dev/null || { echo "error: missing tool: $t" >&2; exit 1; }
done

# Targets: the Debian architecture and the package-name regex (newest match wins).
arch_of() { echo "${1%%-6.12}"; }
regex_of() {
  case $1 in
    amd64) echo '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' ;;
    arm64) echo '^linux-image-6\.1\.0-[0-9]+-cloud-arm64$' ;;
    s390x) echo '^linux-image-6\.1\.0-[0-9]+-s390x$' ;;
    ppc64el) echo '^linux-image-6\.1\.0-[0-9]+-powerpc64le$' ;;
    i386) echo '^linux-image-6\.1\.0-[0-9]+-686$' ;;
    amd64-6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$' ;;
    *) return 1 ;;
  esac
}

HOST_ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)

# apt options for a private index of one foreign architecture.
apt_opts() {
  local arch=$1
  if [[ "$arch" == "$HOST_ARCH" ]]; then return 0; fi
  local d=$CACHE/apt-$arch
  printf '%s\n' -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" \
    -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
}

SANDBOX=()
if [[ $(id -u) == 0 ]]; then SANDBOX=(-o APT::Sandbox::User=root); fi

fetch_target() {
  local target=$1 arch re opts=() pkg deb ver
  re=$(regex_of "$target") || { echo "error: unknown target $target" >&2; return 1; }
  arch=$(arch_of "$target")
  mapfile -t opts < <(apt_opts "$arch")
  if [[ ${#opts[@]} -gt 0 ]]; then
    local d=$CACHE/apt-$arch
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
    # refresh the private index at most once a day; a partly failed update (a mirror
    # in sync) still leaves usable lists
    if [[ -z $(find "$d/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1) ]]; then
      log "apt-get update (private $arch index)"
      apt-get "${opts[@]}" "${SANDBOX[@]}" -q update >&2 || log "warning: apt-get update for $arch reported errors"
    fi
  fi
  if [[ -n "${KCOMPAT_ABI:-}" && "$target" != *-6.12 ]]; then
    pkg=${re#^}; pkg=${pkg%$}; pkg=${pkg//\\./.}; pkg=${pkg/\[0-9\]+/$KCOMPAT_ABI}
  else
    pkg=$(apt-cache "${opts[@]}" search --names-only "$re" | awk '{print $1}' | sort -V | tail -n1)
  fi
  [[ -n "$pkg" ]] || { echo "error: no package matches $re for $arch" >&2; return 1; }
  ver=$(apt-cache "${opts[@]}" show --no-all-versions "$pkg" | awk '/^Version:/{print $2; exit}')
  [[ -n "$ver" ]] || { echo "error: $pkg has no version in the index" >&2; return 1; }
  deb=$(ls "$DEBS/${pkg}_"*"_${arch}.deb" 2>/dev/null | grep -F "_${ver//:/%3a}_" | head -1 || true)
  if [[ -z "$deb" ]]; then
    log "downloading $pkg $ver ($arch)"
    (cd "$DEBS" && apt-get "${opts[@]}" "${SANDBOX[@]}" -q download "$pkg=$ver" >&2) || return 1
    deb=$(ls "$DEBS/${pkg}_"*"_${arch}.deb" | grep -F "_${ver//:/%3a}_" | head -1)
  fi
  printf '%s %s %s %s\n' "$target" "$pkg" "$ver" "$deb"
}

TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(amd64 arm64 s390x ppc64el i386 amd64-6.12)
status=0
for t in "${TARGETS[@]}"; do
  fetch_target "$t" || status=1
done
exit $status
