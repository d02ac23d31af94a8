/**
 * Kernel architecture names: the archive's arch directory names (a kernel's `uname -m`,
 * with aarch64 spelled arm64 as BTFHub does), what users may type for them, and how a
 * Debian kernel package's architecture and flavor give its `uname -m`.
 */

/** Debian package architectures to the archive's arch directory names. */
export const DEBIAN_ARCH_DIR: Readonly<Record<string, string>> = {
  amd64: 'x86_64',
  arm64: 'arm64',
  i386: 'i686', // Debian's i386 kernels are 686/686-pae builds; uname -m prints i686
  ppc64el: 'ppc64le',
  s390x: 's390x',
  armhf: 'armv7l',
  riscv64: 'riscv64',
  mips64el: 'mips64',
}

/** Normalises what users type (`aarch64`, `amd64`, `x86-64`) to archive arch names. */
export function normalizeArch(arch: string): string {
  const a = arch.toLowerCase()
  if (a === 'aarch64') return 'arm64'
  if (a === 'amd64' || a === 'x86-64' || a === 'x64') return 'x86_64'
  if (a === 'ppc64el') return 'ppc64le'
  if (a === 'i386' || a === 'i586' || a === 'x86') return 'i686'
  return DEBIAN_ARCH_DIR[a] ?? a
}

/**
 * Debian architecture suffixes of kernel flavors, longest first: the archive arch name and,
 * where the suffix itself is a distinct build (page size, CPU family), that flavor.
 */
export const DEBIAN_ARCH_SUFFIX: [string, string, string?][] = [
  ['powerpc64le-64k', 'ppc64le', '64k'],
  ['armmp-lpae', 'armv7l', 'lpae'],
  ['powerpc64le', 'ppc64le'],
  ['mips64r2el', 'mips64'],
  ['mips64r6el', 'mips64', 'r6'],
  // 64-bit MIPS kernels that Debian also ships to its mipsel userland; the kernel is mips64
  ['loongson-3', 'mips64', 'loongson-3'],
  ['5kc-malta', 'mips64', '5kc-malta'],
  ['octeon', 'mips64', 'octeon'],
  // armel and mipsel: uname -m follows the CPU the flavor is built for. ARM kernels print
  // the processor's architecture name and `l` (arch/arm/kernel/setup.c, setup_processor;
  // proc-feroceon.S: armv5te, proc-v6.S: armv6); MIPS kernels print mips or mips64
  // (arch/mips/Makefile, UTS_MACHINE). Each checked against the package's /boot/config
  // (marvell: CONFIG_CPU_FEROCEON, rpi: CONFIG_CPU_32v6, 4kc-malta and mips32r2el:
  // CONFIG_32BIT; Debian 12's linux-image-6.1.0-50-* 6.1.176-1).
  ['mips32r2el', 'mips'],
  ['mips32r6el', 'mips', 'r6'],
  ['4kc-malta', 'mips', '4kc-malta'],
  ['marvell', 'armv5tel', 'marvell'],
  ['rpi', 'armv6l', 'rpi'],
  ['arm64-16k', 'arm64', '16k'],
  ['686-pae', 'i686', 'pae'],
  ['riscv64', 'riscv64'],
  ['loong64', 'loong64'],
  ['amd64', 'x86_64'],
  ['arm64', 'arm64'],
  ['s390x', 's390x'],
  ['armmp', 'armv7l'],
  ['686', 'i686'],
]

/** Debian package architectures whose kernels' uname -m depends on the flavor (see debianArchDir), for messages. */
export const DEBIAN_ARCH_MACHINES: Readonly<Record<string, string>> = {
  armel: 'armv5tel (marvell) or armv6l (rpi)',
  mipsel: 'mips (4kc-malta, mips32r2el, mips32r6el) or mips64 (loongson-3, octeon)',
}

/**
 * The archive arch of a Debian kernel package: its `uname -m`. For most package
 * architectures that is one name (DEBIAN_ARCH_DIR). armel and mipsel kernels differ by
 * flavor, so the release's flavor suffix decides (armel `marvell` → armv5tel, `rpi` →
 * armv6l; mipsel's 32-bit flavors → mips, and its `loongson-3` and `octeon` kernels,
 * 64-bit builds, → mips64 as on mips64el). A flavor the table does not know keeps the
 * package architecture's name.
 */
export function debianArchDir(debArch: string, release: string): string {
  if (debArch === 'armel' || debArch === 'mipsel') {
    const hit = DEBIAN_ARCH_SUFFIX.find(([s]) => release.endsWith(`-${s}`))
    if (hit) return hit[1]
  }
  return DEBIAN_ARCH_DIR[debArch] ?? debArch
}
