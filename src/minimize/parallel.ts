/**
 * The per-kernel job of `btfgen --all` for the worker pool (src/parallel): read one
 * archived kernel's BTF (lazily parsed) and minimize it for the objects, which each
 * thread loads once.
 */
import {readKernelBtf} from '../archive/archive.js'
import {btfPath} from '../archive/layout.js'
import type {KernelEntry} from '../archive/manifest.js'
import {parseBtf} from '../btf/decode.js'
import {CoreError} from '../core/errors.js'
import {type BpfObject, loadBpfObject} from '../core/object.js'
import {registerErrorClass} from '../parallel/pool.js'
import type {KernelMinimized} from './archive.js'
import {archiveModuleBytes} from '../archive/module-btf.js'
import {ModuleSet} from '../btf/module-set.js'
import {type MinimizeOptions, minimizeBtf, needsModuleCandidates} from './btfgen.js'

registerErrorClass(CoreError)

export interface BtfgenTaskInit {
  root: string
  objects: string[]
  options: Omit<MinimizeOptions, 'modules'>
  /** Leave module BTF out (bpftool's behaviour). */
  noModules?: boolean
}

/** One kernel: its entry and the archive root it is read from (KCOMPAT_REMOTE's lazy copy for a remote one). */
export interface BtfgenJob {
  entry: KernelEntry
  root: string
}

export async function createTask(init: BtfgenTaskInit): Promise<(job: BtfgenJob) => Promise<KernelMinimized>> {
  const objects: BpfObject[] = []
  for (const path of init.objects) objects.push(await loadBpfObject(path))
  return async ({entry, root}) => {
    const btf = parseBtf(await readKernelBtf(root, entry), {lazy: true})
    const path = btfPath(entry).replace(/\.tar\.xz$/, '')
    // module BTF is read only when some relocation finds no candidate in vmlinux
    const raw = !init.noModules && entry.btf === 'in-kernel' && needsModuleCandidates(btf, objects) ? await archiveModuleBytes(root, entry) : undefined
    const modules = raw ? ModuleSet.parse(btf, raw.bytes).modules : undefined
    return {entry, path, result: minimizeBtf(btf, objects, {...init.options, ...(modules ? {modules} : {})})}
  }
}
