/**
 * Where the dumper's text goes: a growable byte buffer.
 *
 * A vmlinux.h is about a million small pieces (`*`, `;`, names, tabs). Appending them
 * to a JS string builds a rope of a million cons cells that all survive until the
 * end and get copied by the garbage collector on the way; writing their bytes into
 * one buffer and decoding once is several times cheaper. Text is ASCII in practice;
 * a piece with other characters is encoded as UTF-8 and the buffer decoded as such.
 */
export class TextSink {
  private buf: Uint8Array
  private len = 0
  private ascii = true

  /** @param capacity initial size in bytes (the buffer grows as needed). */
  constructor(capacity = 1 << 16) {
    this.buf = new Uint8Array(Math.max(1 << 12, capacity))
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.len
  }

  put(s: string): void {
    const n = s.length
    if (this.len + n * 3 > this.buf.length) this.grow(n * 3)
    const buf = this.buf
    let pos = this.len
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) {
        this.len = pos
        this.putUtf8(s.slice(i))
        return
      }
      buf[pos++] = c
    }
    this.len = pos
  }

  private putUtf8(s: string): void {
    const bytes = Buffer.from(s, 'utf8')
    if (this.len + bytes.length > this.buf.length) this.grow(bytes.length)
    this.buf.set(bytes, this.len)
    this.len += bytes.length
    this.ascii = false
  }

  private grow(extra: number): void {
    let size = this.buf.length * 2
    while (size < this.len + extra) size *= 2
    const bigger = new Uint8Array(size)
    bigger.set(this.buf.subarray(0, this.len))
    this.buf = bigger
  }

  /**
   * The text written so far as UTF-8 bytes (a view of the sink's buffer, valid until the
   * next write), and empties the sink.
   */
  takeBytes(): Uint8Array {
    const b = this.buf.subarray(0, this.len)
    this.len = 0
    this.ascii = true
    return b
  }

  /** Returns the text written so far and empties the sink. */
  take(): string {
    const b = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.len)
    const s = b.toString(this.ascii ? 'latin1' : 'utf8')
    this.len = 0
    this.ascii = true
    return s
  }
}
