/**
 * The kernel's symbol names (what /proc/kallsyms lists) read from the kernel image a
 * distribution ships. A kprobe is created by symbol name (kernel/trace/trace_kprobe.c
 * validate_probe_symbol: no symbol of that name is ENOENT), and the names are not those
 * of the BTF: pahole writes a FUNC for a function it finds in DWARF even where the
 * compiler inlined every call or kept only a renamed clone (`.isra`, `.constprop`). The
 * packages' System.map is often a placeholder, and the vmlinux inside a bzImage has no
 * `.symtab`, but the kernel carries its own compressed symbol table for kallsyms.
 *
 * The tables scripts/kallsyms.c writes into `.rodata` (Linux 5.x to 6.12 alike):
 * - `kallsyms_num_syms` (u32), then `kallsyms_names`: per symbol a length (one byte, or
 *   two when the first has bit 7 set: `(b0 & 0x7f) | b1 << 7`, since 6.1) and that many
 *   token indexes; the expanded string is the type letter (`T`, `t`, `D`, ...) and the name;
 * - `kallsyms_markers` (u32): the offset in `kallsyms_names` of every 256th symbol;
 * - `kallsyms_token_table`: 256 NUL-terminated tokens, then `kallsyms_token_index` (u16):
 *   the offset of each token in the table.
 * Some kernels (Debian's 6.1.192 among them, not its 5.10 or 6.12) put
 * `kallsyms_seqs_of_names` (3 bytes per symbol) between the markers and the token table.
 *
 * Found without symbols, by shape, as the kernel's own tables are laid out:
 * 1. the token index: 256 u16 starting at 0, each step the length of a token plus its
 *    NUL (2..64 bytes), right after a table whose strings end exactly at those offsets;
 * 2. the markers: a u32 0 followed by increasing offsets, within 8 MiB before the token
 *    table (the seqs table, 3 bytes per symbol, may sit between);
 * 3. the names: a u32 count N with (markers - 1) * 256 < N <= markers * 256, 4 or 8 bytes
 *    before a position S from which decoding 256, 512, 768 names lands exactly on
 *    markers 1, 2, 3. The first such (markers, S) found is taken, and all N names decoded.
 * Any failed step is `INPUT_NO_KALLSYMS` (a kernel built without CONFIG_KALLSYMS, or a
 * layout this reading does not know).
 */
import {InputError} from '../errors.js'
import {extractKernelBtf} from './kernel-image.js'

export interface Kallsyms {
  /** Every symbol, in the table's order: its type letter and name. */
  symbols: Array<{type: string; name: string}>
  /** Byte offsets of the tables found, in the vmlinux. */
  at: {names: number; markers: number; tokenTable: number; tokenIndex: number}
}

const MARKER_STEP_MAX = 65536
const SEARCH_BACK = 8 << 20

/**
 * Reads the kallsyms tables of an uncompressed kernel (an ELF vmlinux or a raw image).
 * @throws InputError `INPUT_NO_KALLSYMS` when the tables are not found.
 */
export function readKallsyms(vmlinux: Uint8Array, littleEndian = true): Kallsyms {
  const data = vmlinux
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const u16 = (o: number): number => dv.getUint16(o, littleEndian)
  const u32 = (o: number): number => dv.getUint32(o, littleEndian)
  const none = (why: string): never => {
    throw new InputError('INPUT_NO_KALLSYMS', `no kallsyms tables found in the kernel: ${why}`)
  }

  // 1. the token table and its index
  let tokenIndex = -1
  let tokenTable = -1
  for (let q = 0; q + 512 <= data.length && tokenIndex < 0; q += 2) {
    if (u16(q) !== 0) continue
    let ok = true
    for (let i = 1; i < 256; i++) {
      const d = u16(q + 2 * i) - u16(q + 2 * i - 2)
      if (d < 2 || d > 64) {
        ok = false
        break
      }
    }
    if (!ok) continue
    const last = u16(q + 510)
    for (let pad = 0; pad < 16 && tokenIndex < 0; pad++) {
      const z = q - pad - 1
      if (z < 1 || data[z] !== 0) continue
      let s = z - 1
      while (s > 0 && data[s] !== 0) s--
      const start = q - pad - (last + (z - s - 1) + 1)
      if (start < 0) continue
      let fits = true
      for (let i = 1; i < 256 && fits; i++) if (data[start + u16(q + 2 * i) - 1] !== 0) fits = false
      if (fits) {
        tokenIndex = q
        tokenTable = start
      }
    }
  }
  if (tokenIndex < 0) none('no kallsyms_token_index')
  const tokens: string[] = []
  for (let i = 0; i < 256; i++) {
    const o = tokenTable + u16(tokenIndex + 2 * i)
    let e = o
    while (data[e] !== 0) e++
    tokens.push(Buffer.from(data.subarray(o, e)).toString('latin1'))
  }
  const entryEnd = (o: number): number => {
    let len = data[o++]!
    if (len & 0x80) len = (len & 0x7f) | (data[o++]! << 7)
    return o + len
  }
  const decode = (o: number): string => {
    let len = data[o++]!
    if (len & 0x80) len = (len & 0x7f) | (data[o++]! << 7)
    let s = ''
    for (let j = 0; j < len; j++) s += tokens[data[o + j]!]
    return s
  }

  // 2. and 3. the markers, and the names they index
  const namesFor = (markers: number[], mStart: number): {start: number; count: number} | undefined => {
    const lo = (markers.length - 1) * 256 + 1
    const hi = markers.length * 256
    const lastChunk = mStart - markers[markers.length - 1]!
    for (let p = (lastChunk & ~7) - 4; p > lastChunk - 256 * 512 && p >= 0; p -= 4) {
      const n = u32(p)
      if (n < lo || n > hi) continue
      for (const gap of [4, 8]) {
        const s = p + gap
        let o = s
        let ok = true
        for (let k = 1; k < Math.min(markers.length, 4) && ok; k++) {
          for (let j = 0; j < 256 && o < mStart; j++) o = entryEnd(o)
          if (o - s !== markers[k]) ok = false
        }
        if (ok) return {start: s, count: n}
      }
    }
    return undefined
  }
  for (let m = (tokenTable & ~3) - 4; m > tokenTable - SEARCH_BACK && m >= 0; m -= 4) {
    if (u32(m) !== 0) continue
    const first = u32(m + 4)
    if (first < 512 || first > MARKER_STEP_MAX) continue
    const markers = [0]
    for (let o = m + 4; o + 4 <= tokenTable; o += 4) {
      const v = u32(o)
      const prev = markers[markers.length - 1]!
      if (v <= prev || v - prev > MARKER_STEP_MAX) break
      markers.push(v)
    }
    if (markers.length < 2) continue
    const names = namesFor(markers, m)
    if (!names) continue
    const symbols: Kallsyms['symbols'] = []
    let o = names.start
    for (let i = 0; i < names.count; i++) {
      const s = decode(o)
      symbols.push({type: s.slice(0, 1), name: s.slice(1)})
      o = entryEnd(o)
    }
    return {symbols, at: {names: names.start, markers: m, tokenTable, tokenIndex}}
  }
  return none('no kallsyms_markers / kallsyms_names before the token table')
}

/**
 * The kallsyms of a kernel image (`/boot/vmlinuz-*` and the other formats
 * extractKernelBtf opens).
 * @throws what extractKernelBtf throws; InputError `INPUT_NO_KALLSYMS`.
 */
export function kallsymsOfImage(image: Uint8Array): Kallsyms {
  const k = extractKernelBtf(image)
  return readKallsyms(k.vmlinux, k.elf ? k.elf.littleEndian : true)
}
