/**
 * The guest's user space: the loader (src/verify/guest/loader.c) built on this machine,
 * and a static busybox.
 *
 * The loader is compiled at first use with the system C compiler and linked statically
 * against Debian's libbpf.a, libelf.a and libz.a (libzstd.a is added when libelf needs
 * it), so that the initramfs needs no shared library. The binary is cached under
 * `$KCOMPAT_GUEST_CACHE` (default `$XDG_CACHE_HOME/kcompat/guest`, else
 * `~/.cache/kcompat/guest`) in a directory named by the sha256 of the source, the
 * compiler command and the libbpf version, so an edited loader or an upgraded libbpf
 * gives a fresh build and concurrent builds never see a half-written binary (each
 * writes a temp file and renames it into place).
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, renameSync, rmSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {VerifyError} from './errors.js'

/** The loader's C source: next to this module (src/verify/guest, copied to dist/verify/guest by the build). */
export const LOADER_SOURCE = fileURLToPath(new URL('./guest/loader.c', import.meta.url))

export function guestCacheDir(): string {
  if (process.env.KCOMPAT_GUEST_CACHE) return process.env.KCOMPAT_GUEST_CACHE
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(base, 'kcompat', 'guest')
}

/** Which Debian package provides what the build needs, for the error message. */
const NEEDS: Array<{what: string; pkg: string; check: (cc: string) => boolean}> = [
  {what: 'a C compiler', pkg: 'gcc', check: (cc) => spawnSync(cc, ['--version']).status === 0},
  {what: '<bpf/libbpf.h>', pkg: 'libbpf-dev', check: () => hasFile('/usr/include/bpf/libbpf.h')},
  {what: 'libbpf.a', pkg: 'libbpf-dev', check: (cc) => hasLib(cc, 'libbpf.a')},
  {what: 'libelf.a', pkg: 'libelf-dev', check: (cc) => hasLib(cc, 'libelf.a')},
  {what: 'libz.a', pkg: 'zlib1g-dev', check: (cc) => hasLib(cc, 'libz.a')},
  {what: 'libc.a', pkg: 'libc6-dev', check: (cc) => hasLib(cc, 'libc.a')},
]

function hasFile(p: string): boolean {
  return existsSync(p)
}

function hasLib(cc: string, name: string): boolean {
  const r = spawnSync(cc, [`-print-file-name=${name}`], {encoding: 'utf8'})
  const p = r.stdout?.trim()
  return r.status === 0 && !!p && p !== name && existsSync(p)
}

function libbpfVersion(): string {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libbpf-dev'], {encoding: 'utf8'})
  return r.status === 0 ? r.stdout.trim() : 'unknown'
}

/**
 * Returns the path of the static loader, building it when the cache has none.
 * @throws VerifyError `VERIFY_TOOLCHAIN_MISSING` naming the missing Debian package(s).
 */
export function buildLoader(options: {cc?: string; cacheDir?: string} = {}): string {
  const cc = options.cc ?? process.env.CC ?? 'gcc'
  const source = readFileSync(LOADER_SOURCE)
  const flags = ['-O2', '-Wall', '-static']
  const libs = ['-lbpf', '-lelf', '-lz']
  const key = createHash('sha256')
    .update(source)
    .update(`\0${cc}\0${flags.join(' ')}\0${libbpfVersion()}`)
    .digest('hex')
    .slice(0, 16)
  const dir = join(options.cacheDir ?? guestCacheDir(), key)
  const out = join(dir, 'kcompat-loader')
  if (existsSync(out)) return out

  const missing = NEEDS.filter((n) => !n.check(cc))
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))]
    throw new VerifyError(
      'VERIFY_TOOLCHAIN_MISSING',
      `cannot build the guest loader: missing ${missing.map((m) => m.what).join(', ')}; install the Debian package(s): ${pkgs.join(' ')}`,
    )
  }
  mkdirSync(dir, {recursive: true})
  const tmp = `${out}.tmp-${process.pid}`
  let r = spawnSync(cc, [...flags, '-o', tmp, LOADER_SOURCE, ...libs], {encoding: 'utf8'})
  // a libelf built with zstd support needs libzstd.a too
  if (r.status !== 0 && /zstd/i.test(r.stderr ?? '')) {
    if (!hasLib(cc, 'libzstd.a')) {
      throw new VerifyError('VERIFY_TOOLCHAIN_MISSING', 'cannot build the guest loader: libelf needs libzstd.a; install the Debian package: libzstd-dev')
    }
    r = spawnSync(cc, [...flags, '-o', tmp, LOADER_SOURCE, ...libs, '-lzstd'], {encoding: 'utf8'})
  }
  if (r.status !== 0) {
    rmSync(tmp, {force: true})
    throw new VerifyError(
      'VERIFY_TOOLCHAIN_MISSING',
      `cannot build the guest loader (${cc} exited ${r.status ?? r.signal}): ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').slice(-5).join(' | ')}; needs gcc, libbpf-dev, libelf-dev, zlib1g-dev`,
    )
  }
  renameSync(tmp, out)
  return out
}

/** ELF: is this executable statically linked (no PT_INTERP program header)? */
export function isStaticElf(bytes: Uint8Array): boolean {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return false
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const is64 = bytes[4] === 2
  const le = bytes[5] === 1
  const phoff = is64 ? Number(dv.getBigUint64(32, le)) : dv.getUint32(28, le)
  const phentsize = dv.getUint16(is64 ? 54 : 42, le)
  const phnum = dv.getUint16(is64 ? 56 : 44, le)
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize
    if (at + 4 > bytes.length) return false
    if (dv.getUint32(at, le) === 3 /* PT_INTERP */) return false
  }
  return true
}

/**
 * The static busybox for the guest: `$KCOMPAT_BUSYBOX`, else Debian busybox-static's
 * /bin/busybox. A dynamically linked busybox (Debian `busybox`) would not run in an
 * initramfs without its libc, so it is refused.
 * @throws VerifyError `VERIFY_BUSYBOX_MISSING`
 */
export function findBusybox(): string {
  const candidates = process.env.KCOMPAT_BUSYBOX ? [process.env.KCOMPAT_BUSYBOX] : ['/bin/busybox', '/usr/bin/busybox']
  for (const c of candidates) {
    if (!existsSync(c)) continue
    if (isStaticElf(readFileSync(c))) return c
    throw new VerifyError('VERIFY_BUSYBOX_MISSING', `${c} is not statically linked; install the Debian package busybox-static`)
  }
  throw new VerifyError('VERIFY_BUSYBOX_MISSING', 'no busybox found; install the Debian package busybox-static')
}
