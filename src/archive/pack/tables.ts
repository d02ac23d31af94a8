/**
 * The pack's three global tables, as one process holds them: strings, name-reference keys
 * and records, each numbered across all segments in manifest order (segment 1's entries
 * first). A reader appends each segment's sections as it decodes them; a writer also
 * keeps maps from a string, key or record *identity* to its index, so what it adds is
 * interned against everything stored before (hash-consing).
 *
 * A record's identity is its field bytes followed by its references with absolute record
 * indexes (record.ts); short identities are used as map keys directly, longer ones by
 * their SHA-1 (a collision would merge two different types, and the writer's rebuild of
 * every unit against its sha256 before anything is written would catch it).
 */
import {createHash} from 'node:crypto'
import {ByteReader, ByteWriter} from './varint.js'
import {type DecodedRecord, readRecord} from './record.js'

export class PackTables {
  readonly strings: string[] = []
  readonly keys: string[] = []
  /** Every record in stored form, end to end; record i starts at recordOffsets[i]. */
  records = new ByteWriter(1 << 20)
  recordOffsets = new Int32Array(1 << 16)
  recordCount = 0

  private stringIdx: Map<string, number> | undefined
  private keyIdx: Map<string, number> | undefined
  private recordIdx: Map<string, number> | undefined

  /** The global index of string `s`, adding it when new (writer). */
  str(s: string): number {
    const m = this.stringMap()
    let i = m.get(s)
    if (i === undefined) {
      i = this.strings.length
      this.strings.push(s)
      m.set(s, i)
    }
    return i
  }

  /** The index of name-reference key `k` (record.ts keyOf), adding it when new (writer). */
  key(k: string): number {
    this.keyIdx ??= new Map(this.keys.map((x, i) => [x, i]))
    let i = this.keyIdx.get(k)
    if (i === undefined) {
      this.str(k.slice(k.indexOf('|', k.indexOf('|') + 1) + 1)) // the name, before the segment lists strings
      i = this.keys.length
      this.keys.push(k)
      this.keyIdx.set(k, i)
    }
    return i
  }

  private stringMap(): Map<string, number> {
    if (!this.stringIdx) {
      this.stringIdx = new Map()
      for (let i = 0; i < this.strings.length; i++) if (!this.stringIdx.has(this.strings[i]!)) this.stringIdx.set(this.strings[i]!, i)
    }
    return this.stringIdx
  }

  /** Appends a record's stored bytes (the caller checked it is new); returns its index. */
  appendRecord(bytes: Uint8Array): number {
    this.growOffsets()
    this.recordOffsets[this.recordCount] = this.records.n
    this.records.raw(bytes)
    return this.recordCount++
  }

  /** The record with identity `ident`, or undefined (writer). */
  findRecord(ident: Uint8Array): number | undefined {
    return this.identityMap().get(identityKey(ident))
  }

  /** Records `ident` as the identity of record `index` (writer). */
  noteRecord(ident: Uint8Array, index: number): void {
    this.identityMap().set(identityKey(ident), index)
  }

  private identityMap(): Map<string, number> {
    if (!this.recordIdx) {
      this.recordIdx = new Map()
      const w = new ByteWriter(1 << 12)
      for (let i = 0; i < this.recordCount; i++) {
        const r = this.reader(i)
        const d = this.decodeAt(r, i)
        w.n = 0
        w.raw(this.records.b.subarray(this.recordOffsets[i]!, d.fieldsEnd))
        for (const ref of d.refs) w.u(ref === 0 ? 0 : ref > 0 ? 1 + 2 * (ref - 1) : 2 + 2 * (-ref - 1))
        this.recordIdx.set(identityKey(w.bytes()), i)
      }
    }
    return this.recordIdx
  }

  reader(index: number): ByteReader {
    return new ByteReader(this.records.b, `pack record ${index}`, this.recordOffsets[index]!, this.records.n)
  }

  private decodeAt(r: ByteReader, index: number): DecodedRecord {
    return readRecord(r, this.strings, index, this.keys.length)
  }

  /** Decodes record `index` into a fresh type object (references unresolved). */
  record(index: number): DecodedRecord {
    return this.decodeAt(this.reader(index), index)
  }

  /**
   * Appends a segment's records section (`count` records, end to end), checking each one
   * decodes with in-range strings, keys and earlier-record references.
   * @throws InputError `ARCHIVE_BAD_PACK`.
   */
  loadRecords(bytes: Uint8Array, count: number, what: string): void {
    const base = this.records.n
    this.records.raw(bytes)
    let p = base
    for (let i = 0; i < count; i++) {
      const index = this.recordCount
      this.growOffsets()
      this.recordOffsets[index] = p
      const r = new ByteReader(this.records.b, `${what}: record ${index}`, p, this.records.n)
      this.decodeAt(r, index)
      p = r.p
      this.recordCount++
    }
    if (p !== this.records.n) new ByteReader(bytes, what, p - base).fail('records section has bytes past its last record')
  }

  private growOffsets(): void {
    if (this.recordCount < this.recordOffsets.length) return
    const n = new Int32Array(this.recordOffsets.length * 2)
    n.set(this.recordOffsets)
    this.recordOffsets = n
  }
}

function identityKey(ident: Uint8Array): string {
  return ident.length <= 48 ? Buffer.from(ident.buffer, ident.byteOffset, ident.length).toString('latin1') : createHash('sha1').update(ident).digest().toString('latin1')
}
