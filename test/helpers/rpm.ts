/**
 * Real RPM packages for the tests, built here with the reference tools: `rpmbuild`
 * (Debian package `rpm`) packs files taken from a real Debian kernel package (unpacked
 * with `dpkg-deb -x`) at the paths RPM-family distributions use, and `createrepo_c`
 * (Debian package `createrepo-c`) writes the repository metadata.
 *
 * The Debian package is the shipped archive's 6.1.0-56-cloud-amd64 image package: taken
 * from ${KCOMPAT_TEST_CACHE:-~/.cache/kcompat-test}/debs when there, else downloaded from
 * the mirror apt's sources name for its suite, checked against the sha256 and size the
 * shipped manifest records (from Debian's signed index).
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'
import {defaultArchiveDir} from '../../src/archive/archive.js'
import {download} from '../../src/archive/download.js'
import {imagePackageUrl} from '../../src/archive/image.js'
import {readManifest} from '../../src/archive/manifest.js'
import {requireTool, run} from './tools.js'

export const RELEASE = '6.1.0-56-cloud-amd64'
export const CACHE = process.env.KCOMPAT_TEST_CACHE ?? join(homedir(), '.cache', 'kcompat-test')

/** The shipped manifest's entry for RELEASE (amd64), or for another release and arch. */
export function shippedEntry(release = RELEASE, arch = 'x86_64') {
  return readManifest(defaultArchiveDir()).kernels.find((k) => k.release === release && k.arch === arch)
}

/** Whether the RPM tools are here (prints why not; under CI a missing tool throws). */
export function haveRpmTools(why: string): boolean {
  return ['rpmbuild', 'rpm', 'rpm2cpio', 'cpio', 'createrepo_c', 'dpkg-deb', 'xz', 'zstd'].every((t) => requireTool(t, why))
}

/**
 * The real Debian image package of RELEASE (or of another shipped kernel with image
 * provenance), from the cache or the mirror; undefined (with the
 * reason printed) when neither has it. Under CI a failure throws.
 */
export async function debianKernelDeb(release = RELEASE, arch = 'x86_64'): Promise<string | undefined> {
  const entry = shippedEntry(release, arch)
  const img = entry?.source.image
  if (!entry || !img) throw new Error(`the shipped manifest has no image provenance for ${release}`)
  const file = join(CACHE, 'debs', img.file)
  const ok = (): boolean => existsSync(file) && statSync(file).size === img.size && createHash('sha256').update(readFileSync(file)).digest('hex') === img.sha256
  if (ok()) return file
  try {
    mkdirSync(dirname(file), {recursive: true})
    await download(imagePackageUrl(entry), file, {sha256: img.sha256, size: img.size, retries: 2})
    return file
  } catch (e) {
    const msg = `skipping: cannot get ${img.file} (${(e as Error).message})`
    if (process.env.CI === 'true') throw new Error(msg)
    console.warn(msg)
    return undefined
  }
}

/** Unpacks a .deb with dpkg-deb -x into dir (once). */
export function unpackDeb(deb: string, dir: string): string {
  if (!existsSync(join(dir, 'boot'))) run('dpkg-deb', ['-x', deb, dir])
  return dir
}

/** `n` of the Debian package's modules, smallest first among those under 64 KiB (a fixed choice: sorted by path). */
export function someModules(root: string, n: number): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, {withFileTypes: true}).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ko') && statSync(p).size < 64 * 1024) out.push(p)
    }
  }
  walk(join(root, 'lib', 'modules', RELEASE, 'kernel', 'net'))
  return out.slice(0, n)
}

export interface RpmSpec {
  name: string
  version: string
  release: string
  arch?: string
  /** rpmbuild's _binary_payload, e.g. w2.xzdio, w3.zstdio, w6.gzdio. */
  payload: string
  /** Files: absolute destination path in the package → source file on disk (or text). */
  files: {dest: string; src?: string; text?: string; ghost?: boolean; symlinkTo?: string; hardlinkOf?: string}[]
  /** Compress .ko files on the way in: xz (RHEL) or zstd (Fedora). */
  compressModules?: 'xz' | 'zstd'
}

/** Builds one binary RPM with rpmbuild and returns its path. */
export function buildRpm(work: string, s: RpmSpec): string {
  const arch = s.arch ?? 'x86_64'
  const top = join(work, 'rpmbuild')
  const stage = join(work, `stage-${s.name}-${s.version}-${s.release}`)
  mkdirSync(stage, {recursive: true})
  const install: string[] = []
  const files: string[] = []
  for (const f of s.files) {
    let dest = f.dest
    if (f.ghost) {
      files.push(`%ghost ${dest}`)
      install.push(`mkdir -p "%{buildroot}${dirname(dest)}"`)
      continue
    }
    if (f.symlinkTo) {
      install.push(`mkdir -p "%{buildroot}${dirname(dest)}"`, `ln -s "${f.symlinkTo}" "%{buildroot}${dest}"`)
      files.push(dest)
      continue
    }
    if (f.hardlinkOf) {
      install.push(`mkdir -p "%{buildroot}${dirname(dest)}"`, `ln "%{buildroot}${f.hardlinkOf}" "%{buildroot}${dest}"`)
      files.push(dest)
      continue
    }
    let src = f.src
    if (f.text !== undefined) {
      src = join(stage, `text-${files.length}`)
      writeFileSync(src, f.text)
    }
    if (s.compressModules && dest.endsWith('.ko')) {
      const out = join(stage, `m-${files.length}.ko.${s.compressModules === 'xz' ? 'xz' : 'zst'}`)
      if (!existsSync(out)) {
        writeFileSync(out, s.compressModules === 'xz' ? run('xz', ['-c', '--check=crc32', src!]) : run('zstd', ['-c', '-q', src!]))
      }
      src = out
      dest += s.compressModules === 'xz' ? '.xz' : '.zst'
    }
    install.push(`mkdir -p "%{buildroot}${dirname(dest)}"`, `cp "${src}" "%{buildroot}${dest}"`)
    files.push(dest)
  }
  const spec = [
    `%define _binary_payload ${s.payload}`,
    '%define debug_package %{nil}',
    '%define __os_install_post %{nil}',
    '%define _build_id_links none',
    `Name: ${s.name}`,
    `Version: ${s.version}`,
    `Release: ${s.release}`,
    'Summary: kcompat test package',
    'License: GPL-2.0-only',
    'AutoReqProv: no',
    '%description',
    'A kcompat test package holding files of a real Debian kernel package.',
    '%install',
    ...install,
    '%files',
    ...files,
    '',
  ].join('\n')
  const specFile = join(stage, `${s.name}.spec`)
  writeFileSync(specFile, spec)
  const r = spawnSync('rpmbuild', ['-bb', '--target', arch, '--define', `_topdir ${top}`, specFile], {encoding: 'utf8', maxBuffer: 1 << 26})
  if (r.status !== 0) throw new Error(`rpmbuild failed: ${r.stderr.slice(-2000)}`)
  const out = join(top, 'RPMS', arch, `${s.name}-${s.version}-${s.release}.${arch}.rpm`)
  if (!existsSync(out)) throw new Error(`rpmbuild did not write ${out}`)
  return out
}

/** `rpm -qp --qf FORMAT FILE` */
export function rpmQuery(file: string, format: string): string {
  return run('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', format, file]).toString('utf8')
}

/** Unpacks an RPM with `rpm2cpio FILE | cpio -idm` into dir. */
export function rpm2cpio(file: string, dir: string): string {
  mkdirSync(dir, {recursive: true})
  const r = spawnSync('sh', ['-c', `rpm2cpio "$1" | (cd "$2" && cpio -idm --quiet --no-absolute-filenames)`, 'sh', file, dir], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`rpm2cpio | cpio failed: ${r.stderr}`)
  return dir
}

/**
 * The kernel's BTF as the reference tools take it out of a bzImage, like the kernel's
 * scripts/extract-vmlinux: the first lz4 (legacy frame, magic 02 21 4c 18) payload is
 * decompressed with `lz4 -dc` and `.BTF` is dumped from the ELF with llvm-objcopy.
 */
export function referenceBtfOfBzImage(image: string, work: string): Buffer {
  const b = readFileSync(image)
  const at = b.indexOf(Buffer.from([0x02, 0x21, 0x4c, 0x18]))
  if (at < 0) throw new Error(`${image}: no lz4 payload`)
  const vmlinux = join(work, 'ref-vmlinux')
  const btf = join(work, 'ref-vmlinux.btf')
  spawnSync('sh', ['-c', `tail -c +${at + 1} "$1" | lz4 -dc > "$2" 2>/dev/null; true`, 'sh', image, vmlinux])
  run('llvm-objcopy', ['--dump-section', `.BTF=${btf}`, vmlinux, join(work, 'ref-vmlinux.stripped')])
  return readFileSync(btf)
}

/** A module's `.BTF` as llvm-objcopy dumps it (the module given as .ko, .ko.xz or .ko.zst). */
export function referenceModuleBtf(ko: string, work: string): Buffer | undefined {
  const plain = join(work, 'ref-module.ko')
  if (ko.endsWith('.xz')) writeFileSync(plain, run('xz', ['-dc', ko]))
  else if (ko.endsWith('.zst')) writeFileSync(plain, run('zstd', ['-dc', '-q', ko]))
  else writeFileSync(plain, readFileSync(ko))
  const out = join(work, 'ref-module.btf')
  const r = spawnSync('llvm-objcopy', ['--dump-section', `.BTF=${out}`, plain, join(work, 'ref-module.stripped')], {encoding: 'utf8'})
  if (r.status !== 0) return undefined
  return readFileSync(out)
}
