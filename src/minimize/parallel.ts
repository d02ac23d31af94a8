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
import {type MinimizeOptions, minimizeBtf} from './btfgen.js'

registerErrorClass(CoreError)

export interface BtfgenTaskInit {
  root: string
  objects: string[]
  options: MinimizeOptions
}

export async function createTask(init: BtfgenTaskInit): Promise<(entry: KernelEntry) => Promise<KernelMinimized>> {
  const objects: BpfObject[] = []
  for (const path of init.objects) objects.push(await loadBpfObject(path))
  return async (entry) => {
    const btf = parseBtf(await readKernelBtf(init.root, entry), {lazy: true})
    const path = btfPath(entry).replace(/\.tar\.xz$/, '')
    return {entry, path, result: minimizeBtf(btf, objects, init.options)}
  }
}
