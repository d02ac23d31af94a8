/**
 * `archive publish`: the archive as a static tree any HTTP server can serve (the layout
 * is described in remote.ts, which reads it back). Kernels an archive keeps in its BTF
 * pack only get their btfhub-layout `.btf.tar.xz` written from the pack here, so a
 * published tree is always a complete btfhub-style tree as well.
 */
import {copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {KcompatError} from '../errors.js'
import {btfTarball, readKernelBtf, sha256} from './archive.js'
import {MANIFEST_FILE, readManifest, writeFileAtomic} from './manifest.js'
import {RemoteError, SUMS_FILE} from './remote.js'

function fileSha256(path: string): string {
  return sha256(readFileSync(path))
}

export interface PublishOptions {
  /** The archive's SQLite index to publish beside the manifest (its path). */
  index?: string
  onProgress?: (e: {done: number; total: number; file: string}) => void
}

export interface PublishResult {
  out: string
  kernels: number
  files: number
  bytes: number
  index: boolean
}

/**
 * Writes the archive at `root` as a static tree into `out` (see the file comment).
 * Every file is copied to a temporary name and renamed; `SHA256SUMS` is written last, so
 * a reader that finds it finds every file it lists. Files of an earlier publish that are
 * not listed any more are left alone (they are simply not listed).
 * @throws InputError from the manifest; RemoteError `REMOTE_OUT_IS_ARCHIVE` when `out` is `root`.
 */
export async function publishArchive(root: string, out: string, o: PublishOptions = {}): Promise<PublishResult> {
  if (resolve(root) === resolve(out)) throw new RemoteError('REMOTE_OUT_IS_ARCHIVE', `--out must be another directory than the archive ${root}`)
  const manifestBytes = readFileSync(join(root, MANIFEST_FILE))
  const manifest = readManifest(root)
  const paths: string[] = []
  // every pack segment, in order (a segment's records refer to those of earlier ones)
  for (const s of manifest.pack?.segments ?? []) paths.push(s.path)
  for (const k of manifest.kernels) {
    if (k.path) paths.push(k.path)
    if (k.modules?.path && !paths.includes(k.modules.path)) paths.push(k.modules.path)
  }
  const sums: Record<string, string> = {}
  let bytes = 0
  const copy = (from: string, rel: string): void => {
    const dest = join(out, rel)
    mkdirSync(dirname(dest), {recursive: true})
    const tmp = `${dest}.tmp-${process.pid}`
    copyFileSync(from, tmp)
    renameSync(tmp, dest)
    sums[rel] = fileSha256(dest)
    bytes += statSync(dest).size
  }
  const byPath = new Map(manifest.kernels.filter((k) => k.path).map((k) => [k.path!, k]))
  for (const [i, p] of paths.entries()) {
    o.onProgress?.({done: i, total: paths.length, file: p})
    const k = byPath.get(p)
    if (!existsSync(join(root, p)) && k?.vmlinux) {
      // a kernel kept in the pack only: its btfhub-layout tarball is written from the pack
      const dest = join(out, p)
      writeFileAtomic(dest, await btfTarball(k.release, await readKernelBtf(root, k)))
      sums[p] = fileSha256(dest)
      bytes += statSync(dest).size
      continue
    }
    if (!existsSync(join(root, p))) throw new KcompatError('ARCHIVE_MISSING_FILE', `${join(root, p)} is listed in the manifest but missing`)
    copy(join(root, p), p)
  }
  if (o.index) copy(o.index, 'index.sqlite')
  copy(join(root, MANIFEST_FILE), MANIFEST_FILE)
  if (sums[MANIFEST_FILE] !== sha256(manifestBytes)) throw new KcompatError('ARCHIVE_CHANGED', `${root}: the manifest changed while publishing; run again`)
  const lines = Object.keys(sums)
    .sort()
    .map((p) => `${sums[p]}  ${p}\n`)
    .join('')
  writeFileAtomic(join(out, SUMS_FILE), lines)
  o.onProgress?.({done: paths.length, total: paths.length, file: ''})
  return {out: resolve(out), kernels: manifest.kernels.length, files: Object.keys(sums).length + 1, bytes, index: !!o.index}
}

