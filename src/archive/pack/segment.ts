/**
 * A pack *segment* file (`pack/NNNNNN.kcpack`): what one ingestion added to the pack.
 *
 *   bytes 0-7    magic "KCPACK\r\n" (the CR-LF pair catches text-mode mangling)
 *   bytes 8-11   format version, u32 little-endian (1)
 *   bytes 12-    one xz stream (`xz -9 -T1`, compress.ts) of the body:
 *
 *   strings  count, then each string NUL-terminated: the strings new in this segment;
 *   keys     count, then per key its kind, kind_flag and name (a global string index);
 *   records  count, byte length, then the records (record.ts) end to end;
 *   groups   count, then per group (one kernel): its kernel key (distro/version/arch/
 *            release, NUL-terminated), its vmlinux unit, the number of its modules, and
 *            per module (sorted by name, byte order) its name and its unit (unit.ts).
 *
 * Strings, keys and records are numbered across segments: a segment's first string is
 * string number (strings of all earlier segments). A segment never changes once written;
 * the manifest pins each segment's sha256, checked before it is decoded.
 *
 * Errors: `ARCHIVE_BAD_PACK` (not a segment, truncated, corrupt xz, a section that does
 * not decode or has bytes past its end), `ARCHIVE_PACK_VERSION` (a version this kcompat
 * does not know: written by a newer one).
 */
import {InputError, KcompatError} from '../../errors.js'
import {xzCompress, xzDecompress} from '../compress.js'
import type {PackTables} from './tables.js'
import {type PackedUnit, readUnit, writeUnit} from './unit.js'
import {ByteReader, ByteWriter} from './varint.js'

export const SEGMENT_MAGIC = Buffer.from('KCPACK\r\n', 'latin1')
/**
 * The newest segment version written and read. Version 2 adds units' extra strings (unit.ts);
 * a segment that has none is written as version 1, which kcompat before it reads.
 */
export const SEGMENT_VERSION = 2
const HEADER = 12

/** One kernel's units in a segment. */
export interface SegmentGroup {
  kernel: string
  vmlinux: PackedUnit
  /** Sorted by name. */
  modules: [string, PackedUnit][]
}

/** Where each table stood before this segment's additions. */
export interface TableMark {
  strings: number
  keys: number
  records: number
  recordBytes: number
}

export function markOf(t: PackTables): TableMark {
  return {strings: t.strings.length, keys: t.keys.length, records: t.recordCount, recordBytes: t.records.n}
}

/** The segment file holding what `t` gained since `m`, and `groups`. Deterministic. */
export function encodeSegment(t: PackTables, m: TableMark, groups: readonly SegmentGroup[]): Buffer {
  const w = new ByteWriter(1 << 22)
  w.u(t.strings.length - m.strings)
  for (let i = m.strings; i < t.strings.length; i++) w.str(t.strings[i]!)
  w.u(t.keys.length - m.keys)
  for (let i = m.keys; i < t.keys.length; i++) {
    const k = t.keys[i]!
    const a = k.indexOf('|')
    const b = k.indexOf('|', a + 1)
    w.u(Number(k.slice(0, a)))
    w.u(Number(k.slice(a + 1, b)))
    w.u(t.str(k.slice(b + 1)))
  }
  w.u(t.recordCount - m.records)
  w.u(t.records.n - m.recordBytes)
  w.raw(t.records.b.subarray(m.recordBytes, t.records.n))
  w.u(groups.length)
  for (const g of groups) {
    w.str(g.kernel)
    writeUnit(w, g.vmlinux)
    w.u(g.modules.length)
    for (const [name, u] of g.modules) {
      w.str(name)
      writeUnit(w, u)
    }
  }
  const extra = groups.some((g) => g.vmlinux.extra || g.modules.some(([, u]) => u.extra))
  return withHeader(extra ? 2 : 1, xzCompress(w.bytes()))
}

/**
 * Decodes a segment file, appending its strings, keys and records to `t`; returns its groups.
 * @throws InputError `ARCHIVE_BAD_PACK`, `ARCHIVE_PACK_VERSION`.
 */
export function decodeSegment(file: Uint8Array, t: PackTables, what: string): SegmentGroup[] {
  const {version, body} = segmentBody(file, what)
  return decodeSegmentBody(body, version, t, what)
}

/**
 * The version in a segment's (or an expanded body's, see segmentBody) 12-byte header.
 * @throws InputError `ARCHIVE_BAD_PACK`, `ARCHIVE_PACK_VERSION`.
 */
export function segmentVersion(file: Uint8Array, what: string): number {
  if (file.length < HEADER || !SEGMENT_MAGIC.equals(file.subarray(0, 8))) {
    throw new InputError('ARCHIVE_BAD_PACK', `${what} is not a kcompat pack segment (${file.length < HEADER ? 'truncated header' : 'bad magic'})`)
  }
  const version = Buffer.from(file.buffer, file.byteOffset, file.length).readUInt32LE(8)
  if (version < 1 || version > SEGMENT_VERSION) {
    throw new InputError('ARCHIVE_PACK_VERSION', `${what} is pack segment version ${version}; this kcompat reads versions 1 to ${SEGMENT_VERSION}: upgrade kcompat`)
  }
  return version
}

/** Bytes with a segment header in front: a segment's xz stream, or a body (what the body cache keeps); and back. */
export function withHeader(version: number, body: Uint8Array): Buffer {
  const head = Buffer.alloc(HEADER)
  SEGMENT_MAGIC.copy(head, 0)
  head.writeUInt32LE(version, 8)
  return Buffer.concat([head, body])
}

export function withoutHeader(file: Uint8Array, what: string): {version: number; body: Uint8Array} {
  return {version: segmentVersion(file, what), body: file.subarray(HEADER)}
}

/**
 * A segment file's version and body: its header checked, its xz stream expanded.
 * @throws InputError `ARCHIVE_BAD_PACK`, `ARCHIVE_PACK_VERSION`.
 */
export function segmentBody(file: Uint8Array, what: string): {version: number; body: Buffer} {
  const version = segmentVersion(file, what)
  try {
    return {version, body: xzDecompress(file.subarray(HEADER), 4 * 1024 ** 3)}
  } catch (e) {
    if (!(e instanceof KcompatError)) throw e
    throw new InputError('ARCHIVE_BAD_PACK', `${what}: [${e.code}] ${e.message}`, {cause: e})
  }
}

/**
 * Decodes a segment's body (segmentBody), appending its strings, keys and records to `t`;
 * returns its groups. On failure `t` holds part of the segment: callers start again
 * with fresh tables.
 * @throws InputError `ARCHIVE_BAD_PACK`.
 */
export function decodeSegmentBody(body: Uint8Array, version: number, t: PackTables, what: string): SegmentGroup[] {
  const r = new ByteReader(body, what)
  const ns = r.below(0x10000000, 'string count')
  // the strings end at the ns-th NUL: one UTF-8 decode and split for all of them (no
  // UTF-8 sequence holds a zero byte), instead of a decode per string
  let end = r.p
  for (let i = 0; i < ns; i++) {
    while (end < body.length && body[end] !== 0) end++
    if (end >= body.length) r.fail('unterminated string')
    end++
  }
  if (ns > 0) {
    const strings = Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8', r.p, end - 1).split('\0')
    for (const x of strings) t.strings.push(x)
  }
  r.p = end
  const nk = r.below(0x10000000, 'key count')
  for (let i = 0; i < nk; i++) {
    const kind = r.below(32, 'key kind')
    const flag = r.below(2, 'key kind_flag')
    t.keys.push(`${kind}|${flag}|${t.strings[r.below(t.strings.length, 'key name')]!}`)
  }
  const nr = r.below(0x10000000, 'record count')
  const len = r.below(0x100000000, 'records size')
  t.loadRecords(r.raw(len), nr, what)
  const ng = r.below(0x100000, 'group count')
  const groups: SegmentGroup[] = []
  for (let g = 0; g < ng; g++) {
    const kernel = r.str()
    const vmlinux = readUnit(r, t.recordCount, t.strings.length, version)
    const nm = r.below(0x100000, 'module count')
    const modules: [string, PackedUnit][] = []
    for (let i = 0; i < nm; i++) {
      const name = r.str()
      modules.push([name, readUnit(r, t.recordCount, t.strings.length, version)])
    }
    groups.push({kernel, vmlinux, modules})
  }
  if (!r.done) r.fail('bytes past the last group')
  return groups
}
