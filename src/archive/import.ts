/**
 * `archive import DIR`: takes a btfhub-archive checkout (or any tree of `.btf.tar.xz`
 * files in its layout) into a kcompat archive. Every tarball is opened, its BTF parsed
 * (so a corrupt file is reported, not archived) and added with provenance
 * `btfhub-import`. BTFHub only carries kernels without in-kernel BTF, generated from
 * debug info, so imported kernels are recorded as `generated`.
 */
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join, relative, sep} from 'node:path'
import {parseBtf} from '../btf/decode.js'
import {InputError, KcompatError} from '../errors.js'
import {addKernel, sha256} from './archive.js'
import {xzDecompress} from './compress.js'
import {debianFlavor, normalizeArch, parseBtfPath} from './layout.js'
import {readTar} from './tar.js'

export interface ImportProgress {
  (event: {done: number; total: number; file: string}): void
}

export interface ImportResult {
  added: string[]
  unchanged: string[]
  failed: {file: string; code: string; message: string}[]
  skipped: string[]
}

/** Flavor of a release in the distro's naming, as far as it can be told from the string. */
export function flavorOf(distro: string, release: string): string {
  if (distro === 'debian') return debianFlavor(release)
  if (distro === 'ubuntu') {
    const m = /^\d+\.\d+\.\d+-\d+-([a-z][a-z0-9-]*)$/.exec(release)
    return m ? m[1]! : 'generic'
  }
  return 'generic'
}

function walk(dir: string, out: string[], depth = 0): void {
  if (depth > 6) return
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue
    const p = join(dir, name)
    const st = statSync(p)
    if (st.isDirectory()) walk(p, out, depth + 1)
    else if (name.endsWith('.btf.tar.xz')) out.push(p)
  }
}

/** Imports every `<os>/<version>/<arch>/<release>.btf.tar.xz` under `src` into the archive at `root`. */
export async function importBtfhubTree(src: string, root: string, onProgress?: ImportProgress): Promise<ImportResult> {
  const files: string[] = []
  walk(src, files)
  files.sort()
  const result: ImportResult = {added: [], unchanged: [], failed: [], skipped: []}
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!
    const rel = relative(src, file).split(sep).join('/')
    onProgress?.({done: i, total: files.length, file: rel})
    if (!parseBtfPath(rel)) {
      result.skipped.push(rel)
      continue
    }
    try {
      const r = await importBtfhubTarball(root, rel, readFileSync(file))
      ;(r === 'added' ? result.added : result.unchanged).push(rel)
    } catch (e) {
      if (!(e instanceof KcompatError)) throw e
      result.failed.push({file: rel, code: e.code, message: e.message})
    }
  }
  onProgress?.({done: files.length, total: files.length, file: ''})
  return result
}

/**
 * Imports one BTFHub tarball whose path in the btfhub layout is `rel`: unpacks it (its
 * declared size checked first), validates its BTF and adds it with provenance
 * `btfhub-import`. Returns whether the archive changed.
 * @throws InputError `INPUT_BAD_NAME` (rel is not `<os>/<version>/<arch>/<release>.btf.tar.xz`),
 *   `INPUT_NO_BTF`, decompression, tar and BTF errors.
 */
export async function importBtfhubTarball(root: string, rel: string, tarball: Buffer): Promise<'added' | 'unchanged'> {
  const loc = parseBtfPath(rel)
  if (!loc) throw new InputError('INPUT_BAD_NAME', `${rel} is not <os>/<version>/<arch>/<release>.btf.tar.xz`)
  const entries = (await readTar(xzDecompress(tarball))).filter((e) => e.type === 'file')
  const btfEntry = entries.find((e) => e.name.endsWith('.btf')) ?? entries[0]
  if (!btfEntry) throw new KcompatError('INPUT_NO_BTF', `${rel}: tarball holds no file`)
  parseBtf(btfEntry.data) // validate before archiving
  const r = await addKernel(
    root,
    {
      ...loc,
      arch: normalizeArch(loc.arch),
      flavor: flavorOf(loc.distro, loc.release),
      btf: 'generated',
      config: null,
      source: {method: 'btfhub-import', file: rel, fileSha256: sha256(tarball)},
    },
    btfEntry.data,
  )
  return r.changed ? 'added' : 'unchanged'
}
