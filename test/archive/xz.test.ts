/**
 * xz.ts, the one walker of xz footers and indexes, on files made by xz-utils (several
 * blocks with --block-size, each check type, streams concatenated with stream padding)
 * checked against `xz --robot -lvv` and `xz -dc`; and on damaged copies, where the walk
 * over bytes and the walk over a file must fail alike: same code, same message, same
 * offset, also when the xz data sits inside a larger file.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {crc32} from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {KcompatError} from '../../src/errors.js'
import {
  decodeXzBlock,
  encodeXzVarint,
  readXzVarint,
  xzBlockPieces,
  xzBlocks,
  xzBlocksFromFile,
  xzSingleBlockStream,
  xzUncompressedSize,
  type XzBlock,
} from '../../src/archive/xz.js'
import {requireTool, run} from '../helpers/tools.js'

const HAVE_XZ = requireTool('xz', 'xz container tests')

const work = mkdtempSync(join(tmpdir(), 'kcompat-xz-'))
let fileNo = 0
afterAll(() => rmSync(work, {recursive: true, force: true}))

/** Text that compresses about 4:1, the same on every run. */
function sample(size: number, seed = 1): Buffer {
  const words = ['btf', 'vmlinux', 'struct', 'task_struct', 'kprobe', 'bpf_map', 'ringbuf', 'sched', 'cgroup', 'xdp', '\n']
  const out = Buffer.alloc(size)
  let s = seed
  let at = 0
  while (at < size) {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    const w = s % 7 === 0 ? s.toString(36) : words[s % words.length]!
    at += out.write(`${w} `, at, 'latin1')
  }
  return out
}

const xz = (input: Uint8Array, ...args: string[]): Buffer => run('xz', ['-T1', '-c', ...args], {input})
const zeros = (n: number): Buffer => Buffer.alloc(n)

/** What one block looks like to the walker, without the header bytes. */
type Row = Omit<XzBlock, 'streamHeader'>

/** `xz --robot -lvv` as blocks: offset, padded length, unpadded size (header + data + check), uncompressed size. */
function oracle(file: string): {blocks: Row[]; uncompressed: number} {
  const checkSize: Record<string, number> = {None: 0, CRC32: 4, CRC64: 8, 'SHA-256': 32}
  const lines = run('xz', ['--robot', '-lvv', file]).toString().split('\n').map((l) => l.split('\t'))
  const blocks = lines
    .filter((c) => c[0] === 'block')
    .map((c) => ({
      offset: Number(c[4]),
      length: Number(c[6]),
      unpadded: Number(c[11]) + Number(c[13]) + checkSize[c[9]!]!,
      uncompressed: Number(c[7]),
    }))
  const totals = lines.find((c) => c[0] === 'totals')!
  return {blocks, uncompressed: Number(totals[4])}
}

function save(bytes: Uint8Array, prefix = 0): string {
  const f = join(work, `x${fileNo++}.xz`)
  writeFileSync(f, Buffer.concat([Buffer.alloc(prefix, 0x50), bytes]))
  return f
}

type Outcome = {blocks: (Row & {streamHeader: string})[]} | {code: string; message: string; offset: number | undefined}

function outcomeOf(f: () => XzBlock[]): Outcome
function outcomeOf(f: () => Promise<XzBlock[]>): Promise<Outcome>
function outcomeOf(f: () => XzBlock[] | Promise<XzBlock[]>): Outcome | Promise<Outcome> {
  const ok = (blocks: XzBlock[]): Outcome => ({blocks: blocks.map((b) => ({...b, streamHeader: Buffer.from(b.streamHeader).toString('hex')}))})
  const failed = (e: unknown): Outcome => {
    if (!(e instanceof KcompatError)) throw e
    return {code: e.code, message: e.message, offset: e.offset}
  }
  try {
    const r = f()
    return r instanceof Promise ? r.then(ok, failed) : ok(r)
  } catch (e) {
    return failed(e)
  }
}

/**
 * The walk over `data` in memory and over a file holding it after `prefix` other bytes;
 * asserts that both say the same (offsets shifted by `prefix`) and returns that.
 */
async function walkBoth(data: Uint8Array, prefix = 0): Promise<Outcome> {
  const bytes = outcomeOf(() => xzBlocks(data, prefix))
  const fh = await open(save(data, prefix), 'r')
  try {
    const file = await outcomeOf(() => xzBlocksFromFile(fh, prefix, data.length))
    expect(file).toEqual(bytes)
  } finally {
    await fh.close()
  }
  return bytes
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of source) parts.push(c)
  return Buffer.concat(parts)
}

describe.runIf(HAVE_XZ)('xz files made by xz-utils', () => {
  const input = sample(300_000)
  const a = xz(input, '--block-size=64KiB', '--check=crc32')
  const b = xz(sample(50_000, 7), '--check=sha256', '-1')
  // [what, xz data, what it expands to]; the binding does not implement SHA-256 checks,
  // so a stream with them is walked but cannot be decoded block by block
  const variants: [string, Buffer, Buffer][] = [
    ['one block (xz -c)', xz(input), input],
    ['five blocks, CRC32 (--block-size=64KiB)', a, input],
    ['blocks of 20000 bytes, CRC64', xz(input, '--block-size=20000', '--check=crc64'), input],
    ['blocks, no check', xz(input, '--block-size=100KiB', '--check=none'), input],
    ['one block, SHA-256', b, sample(50_000, 7)],
    ['empty input (a stream of no blocks)', xz(Buffer.alloc(0)), Buffer.alloc(0)],
    ['two streams (cat a.xz b.xz)', run('cat', [save(a), save(b)]), Buffer.concat([input, sample(50_000, 7)])],
    ['streams with stream padding between and after', Buffer.concat([a, zeros(8), b, zeros(4)]), Buffer.concat([input, sample(50_000, 7)])],
  ]

  for (const [what, data, plain] of variants) {
    it(`${what}: blocks as xz --robot -lvv lists them, from bytes and from a file`, async () => {
      const file = save(data)
      run('xz', ['-t', file]) // xz itself accepts it
      const want = oracle(file)
      const got = await walkBoth(data)
      expect('blocks' in got && got.blocks.map(({streamHeader: _, ...r}) => r)).toEqual(want.blocks)
      expect(xzUncompressedSize(data)).toBe(want.uncompressed)
      expect(xzUncompressedSize(data)).toBe(plain.length)
      // the same xz data 1,001 bytes into a file: every offset moves by that much
      const inside = await walkBoth(data, 1001)
      expect('blocks' in inside && inside.blocks.map((x) => x.offset)).toEqual(want.blocks.map((x) => x.offset + 1001))
    })

    it(`${what}: block by block, from bytes and from a file, it expands to what xz -dc gives`, async () => {
      expect(run('xz', ['-dc'], {input: data}).equals(plain)).toBe(true)
      const blocks = xzBlocks(data)
      const sha256 = blocks.find((x) => x.streamHeader[7] === 0x0a)
      if (sha256) {
        const pieces = collect(xzBlockPieces(blocks, (x) => data.subarray(x.offset, x.offset + x.length)))
        await expect(pieces).rejects.toMatchObject({code: 'INPUT_CORRUPT_XZ', offset: sha256.offset, message: expect.stringMatching(/SHA-256/)})
        return
      }
      expect(Buffer.compare(await collect(xzBlockPieces(blocks, (x) => data.subarray(x.offset, x.offset + x.length))), plain)).toBe(0)
      const fh = await open(save(data, 12), 'r')
      try {
        const fromFile = await xzBlocksFromFile(fh, 12, data.length)
        const read = async (x: XzBlock): Promise<Buffer> => {
          const buf = Buffer.alloc(x.length)
          await fh.read(buf, 0, x.length, x.offset)
          return buf
        }
        expect(Buffer.compare(await collect(xzBlockPieces(fromFile, read, 1)), plain)).toBe(0)
      } finally {
        await fh.close()
      }
    })
  }

  it('a single-block stream built for one block of a one-block file is that file, byte for byte', () => {
    for (const check of ['none', 'crc32', 'crc64', 'sha256']) {
      const one = xz(sample(40_000, 3), `--check=${check}`)
      const [x] = xzBlocks(one)
      expect(Buffer.compare(xzSingleBlockStream(x!, one.subarray(x!.offset, x!.offset + x!.length)), one)).toBe(0)
    }
  })

  it('each block of a multi-block file, re-wrapped as its own stream, is what xz -dc expands to that block', async () => {
    const blocks = xzBlocks(a)
    expect(blocks.length).toBe(5)
    let at = 0
    for (const x of blocks) {
      const stream = xzSingleBlockStream(x, a.subarray(x.offset, x.offset + x.length))
      const expected = input.subarray(at, at + x.uncompressed)
      expect(run('xz', ['-dc'], {input: stream}).equals(expected)).toBe(true)
      expect((await decodeXzBlock(x, a.subarray(x.offset, x.offset + x.length))).equals(expected)).toBe(true)
      at += x.uncompressed
    }
  })

  it('pieces are at most 1 MiB and a bad block fails at its offset', async () => {
    const big = sample(3 * 1024 * 1024, 5)
    const data = xz(big, '--block-size=1500KiB')
    const blocks = xzBlocks(data)
    const sizes: number[] = []
    for await (const c of xzBlockPieces(blocks, (x) => data.subarray(x.offset, x.offset + x.length))) sizes.push(c.length)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1 << 20)
    expect(sizes.reduce((s, n) => s + n, 0)).toBe(big.length)

    const bad = Buffer.from(data)
    const second = blocks[1]!
    for (let i = 100; i < 200; i++) bad[second.offset + i] ^= 0x55
    const err = await collect(xzBlockPieces(xzBlocks(bad, 40), (x) => bad.subarray(x.offset - 40, x.offset - 40 + x.length))).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toMatchObject({code: 'INPUT_CORRUPT_XZ', offset: second.offset + 40})
    expect((err as Error).message).toMatch(/^xz block is corrupt/)
  })

  it('a read error of the caller (e.g. a .deb cut short) comes out as it is', async () => {
    const boom = new KcompatError('INPUT_BAD_DEB', 'file ends early')
    await expect(xzBlocksFromFile(() => Promise.reject(boom), 0, a.length)).rejects.toBe(boom)
    const blocks = xzBlocks(a)
    await expect(collect(xzBlockPieces(blocks, () => Promise.reject(boom)))).rejects.toBe(boom)
  })
})

describe('variable-length integers (§1.2)', () => {
  it('encode and decode round trip, shortest form', () => {
    expect(encodeXzVarint(0)).toEqual([0x00])
    expect(encodeXzVarint(127)).toEqual([0x7f])
    expect(encodeXzVarint(128)).toEqual([0x80, 0x01])
    expect(encodeXzVarint(300)).toEqual([0xac, 0x02])
    for (const n of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 32 - 1, 2 ** 32, 25_165_824, Number.MAX_SAFE_INTEGER]) {
      const bytes = Uint8Array.from([0x11, ...encodeXzVarint(n), 0x22])
      const pos = {p: 1}
      expect(readXzVarint(bytes, pos, bytes.length)).toBe(n)
      expect(pos.p).toBe(bytes.length - 1)
    }
  })

  it('a number cut short or longer than nine bytes is INPUT_CORRUPT_XZ at its end (plus base)', () => {
    const cut = Uint8Array.of(0x80, 0x80)
    expect(() => readXzVarint(cut, {p: 0}, 2, 100)).toThrow(expect.objectContaining({code: 'INPUT_CORRUPT_XZ', offset: 102}))
    const long = new Uint8Array(12).fill(0x80)
    expect(() => readXzVarint(long, {p: 1}, 12, 100)).toThrow(expect.objectContaining({code: 'INPUT_CORRUPT_XZ', offset: 110, message: expect.stringMatching(/too long/)}))
  })
})

describe.runIf(HAVE_XZ)('damaged xz: the same error, from bytes and from a file', () => {
  const data = xz(sample(100_000, 11), '--block-size=32KiB', '--check=crc64')
  const L = data.length
  const backward = (data.readUInt32LE(L - 8) + 1) * 4
  const indexStart = L - 12 - backward
  const blocks = xzBlocks(data)

  const u32 = (b: Buffer, at: number, v: number): Buffer => {
    b.writeUInt32LE(v >>> 0, at)
    return b
  }
  const flip = (at: number): Buffer => {
    const b = Buffer.from(data)
    b[at] ^= 0x01
    return b
  }
  /** A copy with a new stored backward size (or flags) and a footer CRC32 that matches it. */
  const footer = (edit: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(data)
    edit(b)
    return u32(b, L - 12, crc32(b.subarray(L - 8, L - 2)))
  }
  /** The stream with `body` (indicator, count, records; padded here) as its index, CRC32 and footer rebuilt. */
  const withIndex = (body: number[]): Buffer => {
    const idx = [...body]
    while (idx.length % 4 !== 0) idx.push(0)
    const index = Buffer.alloc(idx.length + 4)
    index.set(idx)
    u32(index, idx.length, crc32(index.subarray(0, idx.length)))
    const foot = Buffer.from(data.subarray(L - 12))
    u32(foot, 4, index.length / 4 - 1)
    u32(foot, 0, crc32(foot.subarray(4, 10)))
    return Buffer.concat([data.subarray(0, indexStart), index, foot])
  }
  const records = (edit: (r: {unpadded: number; uncompressed: number}[]) => void): number[] => {
    const r = blocks.map((x) => ({unpadded: x.unpadded, uncompressed: x.uncompressed}))
    edit(r)
    return [0x00, ...encodeXzVarint(r.length), ...r.flatMap((x) => [...encodeXzVarint(x.unpadded), ...encodeXzVarint(x.uncompressed)])]
  }

  it('the undamaged file has the shape the cases below assume', () => {
    expect(blocks.length).toBe(4)
    expect(indexStart).toBe(blocks[3]!.offset + blocks[3]!.length)
    expect(data[indexStart - 4]).not.toBe(0) // the last block's CRC64 ends there
  })

  // [what, damaged xz data, message, offset in the xz data]
  const cases: [string, () => Buffer, RegExp, number][] = [
    ['cut inside the footer ("YZ" gone)', () => data.subarray(0, L - 2), /truncated or has no stream footer/, L - 4],
    ['shorter than a header and a footer', () => data.subarray(0, 20), /truncated or has no stream footer/, 18],
    ['stream padding of two bytes', () => Buffer.concat([data, zeros(2)]), /truncated or has no stream footer/, L],
    ['bytes before the stream', () => Buffer.concat([Buffer.from('JUNK'), data]), /truncated or has no stream footer/, 2],
    ['footer CRC32', () => flip(L - 12), /footer CRC32 mismatch/, L - 12],
    ['backward size pointing before the data', () => footer((b) => u32(b, L - 8, 0xffffff)), /index is missing or misplaced/, 0],
    ['backward size four bytes too large', () => footer((b) => u32(b, L - 8, backward / 4)), /index is missing or misplaced/, indexStart - 4],
    ['index indicator not 0x00', () => withIndex([0x01, ...records(() => undefined).slice(1)]), /index is missing or misplaced/, indexStart],
    ['index CRC32', () => flip(L - 16), /index CRC32 mismatch/, L - 16],
    ['record count of ten bytes', () => withIndex([0x00, ...Array<number>(9).fill(0x80), 0x01]), /index number is too long/, indexStart + 10],
    ['a record running into the CRC32', () => withIndex([0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /index ends inside a number/, indexStart + 8],
    ['more records than the index can hold', () => withIndex([0x00, 0x7f]), /impossible record count/, indexStart],
    [
      'blocks adding up to more than precedes the index',
      () => withIndex(records((r) => (r[0]!.unpadded += indexStart))),
      /stream header not where the index says/,
      0,
    ],
    ['blocks adding up to 4 bytes less', () => withIndex(records((r) => (r[0]!.unpadded -= 4))), /stream header not where the index says/, 4],
    ['footer flags other than the header\'s', () => footer((b) => (b[L - 3] = 0x01)), /header and footer flags differ/, 6],
    ['header CRC32', () => flip(8), /stream header CRC32 mismatch/, 8],
  ]
  for (const [what, make, message, offset] of cases) {
    it(`${what}: INPUT_CORRUPT_XZ at ${offset}, also 40 bytes into a file`, async () => {
      const bad = make()
      expect(run('sh', ['-c', 'xz -t >/dev/null 2>&1; echo $?'], {input: bad}).toString().trim()).not.toBe('0') // xz refuses it too
      for (const prefix of [0, 40]) {
        const got = await walkBoth(bad, prefix)
        expect(got).toMatchObject({code: 'INPUT_CORRUPT_XZ', message: expect.stringMatching(message), offset: offset + prefix})
      }
      expect(() => xzUncompressedSize(bad)).toThrow(expect.objectContaining({code: 'INPUT_CORRUPT_XZ', offset}))
    })
  }

  it('more than 1024 concatenated streams are refused; 1024 are read', async () => {
    const empty = xz(Buffer.alloc(0))
    const many = (n: number): Buffer => Buffer.concat(Array.from({length: n}, () => empty))
    expect(await walkBoth(many(1024))).toEqual({blocks: []})
    expect(await walkBoth(many(1025), 8)).toMatchObject({code: 'INPUT_CORRUPT_XZ', message: expect.stringMatching(/too many concatenated xz streams/), offset: 8})
  })

  it('only stream padding (or nothing) is no streams at all, as before', async () => {
    expect(await walkBoth(Buffer.alloc(0))).toEqual({blocks: []})
    expect(await walkBoth(zeros(4096 + 8))).toEqual({blocks: []})
    expect(xzUncompressedSize(zeros(16))).toBe(0)
  })

  it('padding longer than one read back (4 KiB) is skipped whole', async () => {
    const padded = Buffer.concat([data, zeros(3 * 4096 + 12)])
    const got = await walkBoth(padded, 4)
    expect('blocks' in got && got.blocks.map((x) => x.offset)).toEqual(blocks.map((x) => x.offset + 4))
  })
})

describe('an index over 64 MiB', () => {
  let big: Buffer
  beforeAll(() => {
    // header room, then a footer whose backward size claims 64 MiB + 4 bytes of index
    const index = 64 * 1024 * 1024 + 4
    big = Buffer.alloc(12 + index + 12)
    const end = big.length
    big.writeUInt32LE(index / 4 - 1, end - 8)
    big[end - 3] = 0x04
    big[end - 2] = 0x59
    big[end - 1] = 0x5a
    big.writeUInt32LE(crc32(big.subarray(end - 8, end - 2)), end - 12)
  })
  afterAll(() => {
    big = Buffer.alloc(0)
  })

  it('is refused before it is read, from bytes and from a file', async () => {
    expect(await walkBoth(big)).toMatchObject({code: 'INPUT_CORRUPT_XZ', message: expect.stringMatching(/index is missing or misplaced/), offset: 12})
  })
})
