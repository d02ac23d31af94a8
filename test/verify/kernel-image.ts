/**
 * The bootable image of an archived Debian kernel, for the verify tests and bench: the
 * kernel's package as the archive's manifest records it (package, version, sha256 of the
 * .deb), fetched with `apt-get download` from the mirror apt is configured with,
 * checked against the manifest's sha256, and its /boot/vmlinuz-<release> extracted with
 * dpkg-deb. Cached (by the .deb's sha256) in $KCOMPAT_TEST_CACHE, else
 * <tmpdir>/kcompat-test-images, so repeated runs download once.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readManifest, type KernelEntry} from '../../src/archive/manifest.js'

export const ARCHIVE = join(import.meta.dirname, '..', '..', 'archive')

export function archivedKernel(release: string): KernelEntry | undefined {
  return readManifest(ARCHIVE).kernels.find((k) => k.release === release)
}

/** The path of the kernel image, or a reason why it cannot be had here. */
export function debianKernelImage(release: string): {path: string} | {skip: string} {
  const entry = archivedKernel(release)
  const src = entry?.source
  if (!entry || !src?.package || !src.packageVersion || !src.fileSha256) return {skip: `the archive has no package record for ${release}`}
  const dir = join(process.env.KCOMPAT_TEST_CACHE ?? join(tmpdir(), 'kcompat-test-images'), src.fileSha256.slice(0, 16))
  const image = join(dir, `vmlinuz-${release}`)
  if (existsSync(image)) return {path: image}
  mkdirSync(dir, {recursive: true})
  const work = join(dir, `work-${process.pid}`)
  mkdirSync(work, {recursive: true})
  try {
    const dl = spawnSync('apt-get', ['download', '-q', `${src.package}=${src.packageVersion}`], {cwd: work, encoding: 'utf8'})
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'))
    if (dl.status !== 0 || !deb) return {skip: `apt-get download ${src.package}=${src.packageVersion} failed: ${(dl.stderr || dl.error?.message || '').trim().split('\n').at(-1)}`}
    const sha = createHash('sha256').update(readFileSync(join(work, deb))).digest('hex')
    if (sha !== src.fileSha256) return {skip: `${deb}: sha256 ${sha} is not the manifest's ${src.fileSha256}`}
    const x = spawnSync('sh', ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./boot/vmlinuz-${release}`, 'sh', join(work, deb), work], {encoding: 'utf8'})
    if (x.status !== 0) return {skip: `cannot extract /boot/vmlinuz-${release}: ${x.stderr.trim()}`}
    renameSync(join(work, 'boot', `vmlinuz-${release}`), image)
    return {path: image}
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}
