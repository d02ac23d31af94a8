/**
 * BTF to C: a header dumper whose output is byte-identical to
 * `bpftool btf dump file FILE format c` of bpftool v7.1 (libbpf 1.1 as shipped with
 * Linux 6.1-stable, i.e. Debian 12's bpftool).
 *
 * Layout of this directory:
 * - state.ts   per-type order/emit state in typed arrays, pointer size detection
 * - order.ts   pass 1: topological ordering with strong/weak links
 * - emit.ts    pass 2: definitions and forward declarations
 * - decl.ts    declarators (inside-out) and struct/union/enum/typedef bodies
 * - padding.ts explicit padding bitfields inside structs, indentation
 * - layout.ts  sizes, alignments, packed-struct inference
 * - names.ts   `___N` de-duplication of names in C's two namespaces
 *
 * Differences from upstream libbpf 1.1.0 that the reference bpftool also has: a
 * function prototype without parameters prints `(void)` (a later fix, backported),
 * and enums of unusual sizes get no `mode(byte)`/`mode(word)` attribute (that change
 * was not backported to 6.1). Type tags print as `btf_type_tag("...")` regardless of
 * kind_flag; decl tags are not printed.
 */
import {BtfError} from '../../errors.js'
import type {Btf} from '../btf.js'
import type {TypeId} from '../types.js'
import {emitType} from './emit.js'
import {orderType} from './order.js'
import {DumpState, ORDERED} from './state.js'

export interface CDumpOptions {
  /**
   * Wrap the types in bpftool's vmlinux.h guard and `preserve_access_index` pragma
   * (default true), as `bpftool btf dump ... format c` prints them.
   */
  header?: boolean
  /**
   * Ids to dump (with everything they depend on), like bpftool's map key/value roots.
   * Default: every id from 1 to the last, which for split BTF includes the whole base,
   * exactly as bpftool does for `-B vmlinux btf dump file module format c`.
   */
  rootIds?: readonly TypeId[]
  /** Pointer size in bytes; default: guessed from the BTF's `long` type, else 8. */
  pointerSize?: number
}

export interface CDumperOptions {
  /** Pointer size in bytes; default: guessed from the BTF's `long` type, else 8. */
  pointerSize?: number
}

/** What bpftool prints before the types. */
export const VMLINUX_H_HEADER =
  '#ifndef __VMLINUX_H__\n' +
  '#define __VMLINUX_H__\n' +
  '\n' +
  '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
  '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n' +
  '#endif\n\n'

/** What bpftool prints after the types. */
export const VMLINUX_H_FOOTER =
  '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
  '#pragma clang attribute pop\n' +
  '#endif\n' +
  '\n' +
  '#endif /* __VMLINUX_H__ */\n'

function checkId(st: DumpState, id: TypeId): void {
  if (!Number.isInteger(id) || id < 0 || id > st.lastId) {
    throw new BtfError('BTF_BAD_TYPE_ID', `type id ${id} does not exist (last id is ${st.lastId})`)
  }
}

/**
 * Dumps `id` and its not-yet-dumped dependencies into `st.out`: order them, then
 * print the queued definitions (libbpf's btf_dump__dump_type).
 */
function dumpOne(st: DumpState, id: TypeId): void {
  st.emitQueueLen = 0
  orderType(st, id, false)
  const queue = st.emitQueue
  for (let i = 0; i < st.emitQueueLen; i++) emitType(st, queue[i]!, 0)
}

/**
 * Incremental dumper, the counterpart of libbpf's `struct btf_dump`: each
 * {@link dumpType} call prints a type with whatever it needs that earlier calls did
 * not print yet, and hands the text to `emit` (once per call, nothing when empty).
 * Definitions are always full, even for types only used through pointers.
 */
export class CDumper {
  private readonly st: DumpState
  private readonly emit: (s: string) => void

  constructor(btf: Btf, emit: (s: string) => void, options: CDumperOptions = {}) {
    this.st = new DumpState(btf, options.pointerSize)
    this.emit = emit
  }

  /**
   * Dumps type `id` and its not-yet-dumped dependencies.
   * @throws BtfError `BTF_BAD_TYPE_ID` for an id outside the BTF; `BTF_CYCLE` for a
   *   type loop C cannot express (the dumper's state is unusable afterwards, as
   *   bpftool stops there too).
   */
  dumpType(id: TypeId): void {
    checkId(this.st, id)
    dumpOne(this.st, id)
    if (this.st.out.length !== 0) this.emit(this.st.out.take())
  }
}

/** The whole C header for `btf`, as `bpftool btf dump file F format c` prints it. */
export function dumpC(btf: Btf, options: CDumpOptions = {}): string {
  const parts: Buffer[] = []
  dumpCChunks(btf, options, (b) => parts.push(Buffer.from(b)))
  return Buffer.concat(parts).toString('utf8')
}

/** How much text the streaming dump gathers before handing it over. */
const CHUNK = 1 << 16

/**
 * {@link dumpC} handed over as UTF-8 byte chunks, each a view of one reused buffer that
 * is valid only during the `write` call (which must consume or copy it): a kernel's
 * vmlinux.h is ~2.8 MB, and never holding it whole keeps the process ~5 MB smaller.
 * The text is cut between top-level definitions once ~64 KiB have gathered.
 */
export function dumpCChunks(btf: Btf, options: CDumpOptions, write: (chunk: Uint8Array) => void): void {
  const st = new DumpState(btf, options.pointerSize, 2 * CHUNK)
  const out = st.out
  const flush = (): void => {
    if (out.length >= CHUNK) write(out.takeBytes())
  }
  const header = options.header ?? true
  if (header) out.put(VMLINUX_H_HEADER)
  const dump = (id: TypeId): void => {
    st.emitQueueLen = 0
    orderType(st, id, false)
    const queue = st.emitQueue
    for (let i = 0; i < st.emitQueueLen; i++) {
      emitType(st, queue[i]!, 0)
      flush()
    }
  }
  if (options.rootIds) {
    for (const id of options.rootIds) {
      checkId(st, id)
      dump(id)
    }
  } else {
    // an id already ORDERED (as a dependency of an earlier one) has nothing left to print
    const orderState = st.orderState
    for (let id = 1, last = st.lastId; id <= last; id++) if (orderState[id] !== ORDERED) dump(id)
  }
  if (header) out.put(VMLINUX_H_FOOTER)
  if (out.length !== 0) write(out.takeBytes())
}
