/**
 * The byte encoding of the BTF pack's sections: LEB128 varints (7 bits per byte, low bits
 * first, the high bit set on every byte but the last), zigzag for signed numbers (0, -1,
 * 1, -2, … become 0, 1, 2, 3, … so small magnitudes stay short), NUL-terminated UTF-8
 * strings and raw byte runs. The reader checks every read against the end of its buffer
 * and throws `ARCHIVE_BAD_PACK` instead of reading past it.
 */
import {InputError} from '../../errors.js'

/** A growable buffer of varints, strings and bytes. */
export class ByteWriter {
  b: Uint8Array
  n = 0

  constructor(capacity = 1 << 16) {
    this.b = new Uint8Array(capacity)
  }

  private room(k: number): void {
    if (this.n + k <= this.b.length) return
    let c = this.b.length * 2
    while (c < this.n + k) c *= 2
    const nb = new Uint8Array(c)
    nb.set(this.b.subarray(0, this.n))
    this.b = nb
  }

  byte(v: number): void {
    this.room(1)
    this.b[this.n++] = v
  }

  /** Unsigned, up to 2^53. */
  u(v: number): void {
    this.room(8)
    while (v >= 0x80) {
      this.b[this.n++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.b[this.n++] = v
  }

  /** Signed (zigzag). */
  s(v: number): void {
    this.u(v >= 0 ? v * 2 : -v * 2 - 1)
  }

  /** Signed 64-bit (zigzag). */
  big(v: bigint): void {
    let z = v >= 0n ? v * 2n : -v * 2n - 1n
    this.room(11)
    while (z >= 0x80n) {
      this.b[this.n++] = Number(z & 0x7fn) | 0x80
      z >>= 7n
    }
    this.b[this.n++] = Number(z)
  }

  /** A NUL-terminated UTF-8 string (the caller keeps NULs out). */
  str(s: string): void {
    const e = Buffer.from(s, 'utf8')
    this.room(e.length + 1)
    this.b.set(e, this.n)
    this.n += e.length
    this.b[this.n++] = 0
  }

  raw(bytes: Uint8Array): void {
    this.room(bytes.length)
    this.b.set(bytes, this.n)
    this.n += bytes.length
  }

  bytes(): Uint8Array {
    return this.b.subarray(0, this.n)
  }
}

/** Reads what ByteWriter wrote; `what` names the input in errors. */
export class ByteReader {
  p: number

  constructor(
    readonly b: Uint8Array,
    readonly what: string,
    p = 0,
    readonly end = b.length,
  ) {
    this.p = p
  }

  fail(why: string): never {
    throw new InputError('ARCHIVE_BAD_PACK', `${this.what}: ${why}`, {offset: this.p})
  }

  get done(): boolean {
    return this.p >= this.end
  }

  byte(): number {
    if (this.p >= this.end) this.fail('truncated')
    return this.b[this.p++]!
  }

  u(): number {
    let v = 0
    let m = 1
    for (let i = 0; ; i++) {
      if (this.p >= this.end) this.fail('truncated varint')
      const x = this.b[this.p++]!
      v += (x & 0x7f) * m
      if (x < 0x80) return v
      m *= 0x80
      if (i >= 7) this.fail('varint too long')
    }
  }

  /** An unsigned varint that must be below `max`. */
  below(max: number, what: string): number {
    const v = this.u()
    if (v >= max) this.fail(`${what} ${v} out of range (< ${max})`)
    return v
  }

  s(): number {
    const z = this.u()
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2
  }

  big(): bigint {
    let z = 0n
    let sh = 0n
    for (;;) {
      const x = this.byte()
      z |= BigInt(x & 0x7f) << sh
      if (x < 0x80) break
      sh += 7n
      if (sh > 70n) this.fail('varint too long')
    }
    return z % 2n === 0n ? z / 2n : -(z + 1n) / 2n
  }

  str(): string {
    const i = this.b.indexOf(0, this.p)
    if (i < 0 || i >= this.end) this.fail('unterminated string')
    const s = Buffer.from(this.b.buffer, this.b.byteOffset + this.p, i - this.p).toString('utf8')
    this.p = i + 1
    return s
  }

  raw(n: number): Uint8Array {
    if (this.p + n > this.end) this.fail('truncated bytes')
    const out = this.b.subarray(this.p, this.p + n)
    this.p += n
    return out
  }
}
