/**
 * Kernel image formats on inputs built here with the system's compressors (gzip, xz,
 * zstd, lz4, bzip2, lzma, lzop) around a real ELF object with a `.BTF` section (a
 * Debian kernel module from fixtures/kernels). Expected BTF comes from
 * `llvm-objcopy --dump-section .BTF=`, expected decompressed bytes from the input
 * itself, never from kcompat. Real Debian images: deb-real.test.ts.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import {
  decompressPrefix,
  detectCompression,
  extractKernelBtf,
  findBtfBlob,
  unlz4Legacy,
  xxh64Low32,
  zstdLayout,
  type KernelCompression,
} from '../../src/archive/kernel-image.js'
import {KcompatError} from '../../src/errors.js'
import {FIXTURES, kernelFixtures, scratchDir} from '../helpers/fixtures.js'
import {findTool, requireTool, run} from '../helpers/tools.js'

/**
 * Compressors that .ci/run does not install (lz4, bzip2, lzop): a test that needs one
 * skips with a printed reason even under CI.
 */
function haveOptionalTool(name: string, why: string): boolean {
  if (findTool(name)) return true
  console.warn(`skipping ${why}: '${name}' is not installed`)
  return false
}

const KO = join(FIXTURES, 'kernels', '6.1.0-56-cloud-amd64__nft_ct.ko.xz')
const elf = decompressSync(readFileSync(KO))

function objcopyBtf(file: string): Buffer {
  const out = join(scratchDir(), `objcopy-${Math.random().toString(36).slice(2)}.btf`)
  run('llvm-objcopy', ['--dump-section', `.BTF=${out}`, file, join(scratchDir(), 'discard.o')])
  return readFileSync(out)
}

const elfPath = join(scratchDir(), 'module.ko')
writeFileSync(elfPath, elf)

/** Each format: the command that compresses stdin the way the kernel build does. */
const COMPRESSORS: {format: KernelCompression; tool: string; args: string[]; sizeTrailer: boolean; optional?: boolean}[] = [
  {format: 'gzip', tool: 'gzip', args: ['-9', '-n', '-c'], sizeTrailer: false},
  {format: 'xz', tool: 'xz', args: ['--check=crc32', '--x86', '--lzma2=dict=1MiB', '-c'], sizeTrailer: true},
  {format: 'zstd', tool: 'zstd', args: ['-19', '-q', '-c'], sizeTrailer: true},
  {format: 'lz4', tool: 'lz4', args: ['-l', '-9', '-c'], sizeTrailer: true, optional: true},
  {format: 'bzip2', tool: 'bzip2', args: ['-9', '-c'], sizeTrailer: true, optional: true},
  {format: 'lzma', tool: 'xz', args: ['--format=lzma', '-9', '-c'], sizeTrailer: true},
  {format: 'lzo', tool: 'lzop', args: ['-9', '-c'], sizeTrailer: true, optional: true},
]

function compress(c: (typeof COMPRESSORS)[number], data: Uint8Array): Buffer {
  return run(c.tool, c.args, {input: data})
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

/** A bzImage per Documentation/arch/x86/boot.rst around `payload`. */
function bzImage(payload: Uint8Array, opts: {setupSects?: number; gap?: number; version?: number} = {}): Buffer {
  const setupSects = opts.setupSects ?? 3
  const gap = opts.gap ?? 0x180
  const head = Buffer.alloc((setupSects + 1) * 512 + gap, 0xcc)
  head.fill(0, 0, 0x300)
  head[0x1f1] = setupSects
  head.write('HdrS', 0x202, 'latin1')
  head.writeUInt16LE(opts.version ?? 0x020f, 0x206)
  head.writeUInt32LE(gap, 0x248)
  head.writeUInt32LE(payload.length, 0x24c)
  return Buffer.concat([head, payload, Buffer.alloc(4096, 0x5a)])
}

describe('decompressors match the system tools (with trailing data)', () => {
  const input = Buffer.concat([elf, elf.subarray(0, 12345)])
  for (const c of COMPRESSORS) {
    it(c.format, () => {
      if (c.optional ? !haveOptionalTool(c.tool, `${c.format} decompression`) : !requireTool(c.tool, `${c.format} decompression`)) return
      const z = compress(c, input)
      expect(detectCompression(z)).toBe(c.format)
      const withTail = Buffer.concat([z, u32(input.length), Buffer.alloc(1000, 0xab)])
      expect(Buffer.from(decompressPrefix(c.format, withTail)).equals(input)).toBe(true)
    })
  }

  it('lz4 legacy frames of more than one 8 MiB block, concatenated frames', () => {
    if (!haveOptionalTool('lz4', 'lz4 multi-block')) return
    const big = Buffer.alloc(20 * 1024 * 1024)
    for (let i = 0; i < big.length; i += elf.length) elf.copy(big, i)
    for (let i = 0; i < big.length; i += 4099) big[i] = i & 0xff
    const z = run('lz4', ['-l', '-1', '-c'], {input: big})
    const r = unlz4Legacy(Buffer.concat([z, u32(big.length)]), 1 << 30)
    expect(r.data.length).toBe(big.length)
    expect(Buffer.from(r.data).equals(big)).toBe(true)
    expect(r.end).toBe(z.length)
  })

  it('zstd without a declared size, many blocks (streamed)', () => {
    if (!requireTool('zstd', 'zstd streaming')) return
    const big = Buffer.alloc(12 * 1024 * 1024)
    for (let i = 0; i < big.length; i += elf.length) elf.copy(big, i)
    for (let i = 0; i < big.length; i += 4099) big[i] = (i * 7) & 0xff
    const z = run('zstd', ['-3', '-q', '-c'], {input: big})
    expect(zstdLayout(z).contentSize).toBeUndefined()
    expect(Buffer.from(decompressPrefix('zstd', Buffer.concat([z, u32(big.length)]))).equals(big)).toBe(true)
  })

  it('XXH64 (zstd content checksum) agrees with the zstd CLI for every tail length', () => {
    if (!requireTool('zstd', 'zstd checksum')) return
    for (const n of [0, 1, 3, 4, 5, 7, 8, 9, 31, 32, 33, 39, 63, 64, 65, 100, 1000, 65537]) {
      const d = Buffer.alloc(n)
      for (let i = 0; i < n; i++) d[i] = (i * 31 + 7) & 0xff
      const f = zstdLayout(run('zstd', ['-q', '-c'], {input: d})).frames[0]!
      expect(xxh64Low32(d), `length ${n}`).toBe(f.checksum)
    }
  })

  it('a zstd frame whose content does not match its checksum is corrupt', () => {
    if (!requireTool('zstd', 'zstd checksum')) return
    const z = Buffer.from(run('zstd', ['-q', '-c', elfPath]))
    z[z.length - 1] ^= 1
    expect(() => decompressPrefix('zstd', z)).toThrow(expect.objectContaining({code: 'INPUT_CORRUPT_ZSTD'}))
  })

  it('zstd frame walk finds the exact end and declared size', () => {
    if (!requireTool('zstd', 'zstd frame walk')) return
    // from a pipe (as the kernel build does) zstd cannot declare the size; from a file it does
    const piped = run('zstd', ['-3', '-q', '-c'], {input: elf})
    const layout = zstdLayout(Buffer.concat([piped, Buffer.from('trailing data')]))
    expect(layout.end).toBe(piped.length)
    expect(layout.contentSize).toBeUndefined()
    const fromFile = run('zstd', ['-3', '-q', '-c', elfPath])
    const layout2 = zstdLayout(Buffer.concat([fromFile, fromFile, Buffer.from('trailing data')]))
    expect(layout2.end).toBe(2 * fromFile.length)
    expect(layout2.contentSize).toBe(2 * elf.length)
    expect(Buffer.from(decompressPrefix('zstd', Buffer.concat([fromFile, fromFile, Buffer.alloc(9)]))).equals(Buffer.concat([elf, elf]))).toBe(true)
  })
})

describe('bzImage (x86 boot protocol)', () => {
  const want = objcopyBtf(elfPath)
  for (const c of COMPRESSORS) {
    it(`${c.format} payload → ELF → .BTF equals llvm-objcopy's`, () => {
      if (c.optional ? !haveOptionalTool(c.tool, `${c.format} bzImage`) : !requireTool(c.tool, `${c.format} bzImage`)) return
      const z = compress(c, elf)
      const payload = c.sizeTrailer ? Buffer.concat([z, u32(elf.length)]) : z
      const img = bzImage(payload)
      const r = extractKernelBtf(img)
      expect(r.format).toBe('bzImage')
      expect(r.compression).toBe(c.format)
      expect(r.payloadOffset).toBe(4 * 512 + 0x180)
      expect(r.elf).toBeDefined()
      expect(Buffer.from(r.btf!).equals(want)).toBe(true)
      expect(Buffer.from(r.vmlinux).equals(elf)).toBe(true)
    })
  }

  it('setup_sects 0 means 4', () => {
    const z = run('gzip', ['-n', '-c'], {input: elf})
    const img = bzImage(z, {setupSects: 0})
    // build with 4 real setup sectors but a 0 in the header
    const withFour = bzImage(z, {setupSects: 4})
    withFour[0x1f1] = 0
    expect(extractKernelBtf(withFour).payloadOffset).toBe(5 * 512 + 0x180)
    expect(() => extractKernelBtf(img)).toThrow(KcompatError)
  })

  it('a payload outside the image is INPUT_BAD_BZIMAGE at 0x248', () => {
    const img = bzImage(Buffer.alloc(100))
    img.writeUInt32LE(0x7fffffff, 0x24c)
    expect(() => extractKernelBtf(img)).toThrow(expect.objectContaining({code: 'INPUT_BAD_BZIMAGE', offset: 0x248}))
  })

  it('protocol before 2.08 is INPUT_BAD_BZIMAGE', () => {
    expect(() => extractKernelBtf(bzImage(Buffer.alloc(100), {version: 0x0204}))).toThrow(
      expect.objectContaining({code: 'INPUT_BAD_BZIMAGE'}),
    )
  })

  it('a trailer that disagrees with the payload is corrupt', () => {
    if (!requireTool('zstd', 'zstd bzImage')) return
    // the piped frame declares no size, so the trailer sizes the output buffer
    const z = run('zstd', ['-q', '-c'], {input: elf})
    for (const wrong of [elf.length - 1, elf.length + 1000]) {
      expect(() => extractKernelBtf(bzImage(Buffer.concat([z, u32(wrong)])))).toThrow(
        expect.objectContaining({code: 'INPUT_CORRUPT_ZSTD'}),
      )
    }
  })

  it('an unknown payload compression is INPUT_UNKNOWN_IMAGE_FORMAT', () => {
    expect(() => extractKernelBtf(bzImage(Buffer.alloc(100, 1)))).toThrow(
      expect.objectContaining({code: 'INPUT_UNKNOWN_IMAGE_FORMAT'}),
    )
  })
})

describe('raw images: BTF found by its header', () => {
  const kernels = kernelFixtures()
  const k = kernels.find((x) => x.release.includes('arm64')) ?? kernels[0]

  it('arm64 Image with decoys: the blob that parses is found, bytes equal the fixture', () => {
    if (!k) return
    const head = Buffer.alloc(64)
    head.write('ARMd', 0x38, 'latin1')
    // decoys: a BTF magic with impossible sections, and a truncated copy of the header
    const decoy1 = Buffer.from([0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1, 0, 0, 0])
    const decoy2 = k.btf.subarray(0, 4096)
    const img = Buffer.concat([head, Buffer.alloc(1000, 7), decoy1, decoy2, Buffer.alloc(333), k.btf, Buffer.alloc(5000, 3)])
    const r = extractKernelBtf(img)
    expect(r.format).toBe('arm64-Image')
    expect(r.btfOffset).toBe(64 + 1000 + 24 + 4096 + 333)
    expect(Buffer.from(r.btf!).equals(k.btf)).toBe(true)
  })

  it('RISC-V Image (RSC\\x05 at 56) holding a zstd stream that is not the kernel: the Image\'s own BTF is found', () => {
    if (!k || !requireTool('zstd', 'riscv Image')) return
    // Debian 13's /boot/vmlinux-*-riscv64 is such an Image: an uncompressed kernel with a PE
    // header and, inside, compressed data (an embedded zstd stream) that is no kernel
    const head = Buffer.alloc(64)
    head.write('MZ', 0, 'latin1')
    head.write('RISCV\0\0\0', 48, 'latin1')
    head.write('RSC\x05', 56, 'latin1')
    const notKernel = run('zstd', ['-q', '-c'], {input: Buffer.alloc(200000, 'firmware ')})
    const img = Buffer.concat([head, Buffer.alloc(4000, 1), notKernel, Buffer.alloc(300), k.btf, Buffer.alloc(999)])
    const r = extractKernelBtf(img)
    expect(r.format).toBe('riscv-Image')
    expect(Buffer.from(r.btf!).equals(k.btf)).toBe(true)
    // without the header the generic scan finds the zstd stream first, and still the input's BTF wins
    const headless = Buffer.concat([Buffer.alloc(64, 2), img.subarray(64)])
    const h = extractKernelBtf(headless)
    expect(h.format).toBe('unknown')
    expect(Buffer.from(h.btf!).equals(k.btf)).toBe(true)
  })

  it('big-endian BTF (s390-style) is found too', () => {
    const obj = join(FIXTURES, 'bpf', 'types.bpfeb.o')
    const btf = objcopyBtf(obj)
    expect(btf[0]).toBe(0xeb)
    const img = Buffer.concat([Buffer.alloc(777, 1), btf, Buffer.alloc(99, 2)])
    expect(findBtfBlob(img)).toEqual({offset: 777, length: btf.length})
  })

  it('a gzip-compressed arm64 Image (whole file compressed)', () => {
    if (!k) return
    const head = Buffer.alloc(64)
    head.write('ARMd', 0x38, 'latin1')
    const img = Buffer.concat([head, Buffer.alloc(100), k.btf])
    const r = extractKernelBtf(run('gzip', ['-n', '-c'], {input: img}))
    expect(r.format).toBe('compressed')
    expect(r.compression).toBe('gzip')
    expect(r.inner?.format).toBe('arm64-Image')
    expect(Buffer.from(r.btf!).equals(k.btf)).toBe(true)
  })

  it('EFI zboot: compressed Image inside a PE stub', () => {
    if (!k || !requireTool('zstd', 'zboot')) return
    const head = Buffer.alloc(64)
    head.write('ARMd', 0x38, 'latin1')
    const inner = run('zstd', ['-q', '-c'], {input: Buffer.concat([head, k.btf])})
    const stub = Buffer.alloc(4096)
    stub.write('MZ', 0, 'latin1')
    stub.write('zimg', 4, 'latin1')
    stub.writeUInt32LE(4096, 8)
    stub.writeUInt32LE(inner.length, 12)
    stub.write('zstd', 24, 'latin1')
    const r = extractKernelBtf(Buffer.concat([stub, inner, Buffer.alloc(512)]))
    expect(r.format).toBe('efi-zboot')
    expect(r.compression).toBe('zstd')
    expect(Buffer.from(r.btf!).equals(k.btf)).toBe(true)
  })

  it('unknown container with an embedded compressed ELF (extract-vmlinux scan)', () => {
    const z = run('xz', ['--check=crc32', '-c'], {input: elf})
    const img = Buffer.concat([Buffer.alloc(5000, 0x11), Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2]), Buffer.alloc(50), z, Buffer.alloc(300, 0x22)])
    const r = extractKernelBtf(img)
    expect(r.format).toBe('unknown')
    expect(r.compression).toBe('xz')
    expect(r.payloadOffset).toBe(5000 + 6 + 50)
    expect(Buffer.from(r.btf!).equals(objcopyBtf(elfPath))).toBe(true)
  })

  it('scan: a chance match that looks like a bomb does not end the scan', () => {
    // a zstd frame header declaring 2^40 bytes, then the real payload
    const fake = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0])
    const z = run('gzip', ['-n', '-c'], {input: elf})
    const r = extractKernelBtf(Buffer.concat([Buffer.alloc(100, 9), fake, Buffer.alloc(100, 9), z]))
    expect(r.compression).toBe('gzip')
    expect(Buffer.from(r.btf!).equals(objcopyBtf(elfPath))).toBe(true)
    // alone, it is reported
    expect(() => extractKernelBtf(Buffer.concat([Buffer.alloc(100, 9), fake, Buffer.alloc(100, 9)]))).toThrow(
      expect.objectContaining({code: 'INPUT_TOO_LARGE'}),
    )
  })

  it('an ELF without .BTF gives btf undefined', () => {
    const r = extractKernelBtf(readFileSync(process.execPath))
    expect(r.format).toBe('elf')
    expect(r.btf).toBeUndefined()
  })

  it('bytes that are no kernel are INPUT_UNKNOWN_IMAGE_FORMAT', () => {
    expect(() => extractKernelBtf(Buffer.alloc(100000, 0x42))).toThrow(expect.objectContaining({code: 'INPUT_UNKNOWN_IMAGE_FORMAT'}))
    expect(() => extractKernelBtf(new Uint8Array(0))).toThrow(expect.objectContaining({code: 'INPUT_UNKNOWN_IMAGE_FORMAT'}))
  })
})

describe('decompression bombs and corrupt payloads', () => {
  const zeros = Buffer.alloc(64 * 1024 * 1024)

  it.each([
    ['gzip', ['-1', '-n', '-c']],
    ['zstd', ['-1', '-q', '-c']],
    ['xz', ['-0', '-c']],
  ] as const)('%s bomb is refused with INPUT_TOO_LARGE', (tool, args) => {
    if (!requireTool(tool, `${tool} bomb`)) return
    const z = run(tool, [...args], {input: zeros})
    expect(() => decompressPrefix(tool, z, 1 << 20)).toThrow(expect.objectContaining({code: 'INPUT_TOO_LARGE'}))
  })

  it('lz4 and bzip2 bombs are refused while decoding', () => {
    if (haveOptionalTool('lz4', 'lz4 bomb')) {
      const z = run('lz4', ['-l', '-1', '-c'], {input: zeros})
      expect(() => decompressPrefix('lz4', z, 1 << 20)).toThrow(expect.objectContaining({code: 'INPUT_TOO_LARGE'}))
    }
    if (haveOptionalTool('bzip2', 'bzip2 bomb')) {
      const z = run('bzip2', ['-1', '-c'], {input: zeros.subarray(0, 8 << 20)})
      expect(() => decompressPrefix('bzip2', z, 1 << 20)).toThrow(expect.objectContaining({code: 'INPUT_TOO_LARGE'}))
    }
  })

  it('lzma bomb is refused (system xz, capped output)', () => {
    const z = run('xz', ['--format=lzma', '-1', '-c'], {input: zeros})
    expect(() => decompressPrefix('lzma', z, 1 << 20)).toThrow(expect.objectContaining({code: 'INPUT_TOO_LARGE'}))
  })

  it('zstd frame declaring a huge content size is refused before decoding', () => {
    // magic, FHD: FCS 8 bytes + single segment, FCS = 2^40, one raw empty last block
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0])
    expect(() => decompressPrefix('zstd', frame)).toThrow(expect.objectContaining({code: 'INPUT_TOO_LARGE'}))
  })

  it('a bzImage whose payload expands past maxOutput is INPUT_TOO_LARGE', () => {
    const z = run('gzip', ['-1', '-n', '-c'], {input: zeros.subarray(0, 4 << 20)})
    expect(() => extractKernelBtf(bzImage(z), {maxOutput: 1 << 20})).toThrow(expect.objectContaining({code: 'INPUT_TOO_LARGE'}))
  })

  it('corrupt lz4 blocks are INPUT_CORRUPT_LZ4 with an offset', () => {
    // one block: token says 15+ literals, the block is too short for them
    const bad = Buffer.concat([u32(0x184c2102), u32(3), Buffer.from([0xf0, 0xff, 0x10])])
    expect(() => unlz4Legacy(bad, 1 << 20)).toThrow(expect.objectContaining({code: 'INPUT_CORRUPT_LZ4'}))
    // match offset pointing before the block start
    const bad2 = Buffer.concat([u32(0x184c2102), u32(4), Buffer.from([0x10, 0x41, 0x05, 0x00])])
    expect(() => unlz4Legacy(bad2, 1 << 20)).toThrow(expect.objectContaining({code: 'INPUT_CORRUPT_LZ4'}))
  })

  it('lzo without lzop installed is TOOL_MISSING, else corrupt', () => {
    const fake = Buffer.concat([Buffer.from([0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)])
    const code = findTool('lzop') ? 'INPUT_CORRUPT_LZO' : 'TOOL_MISSING'
    expect(() => decompressPrefix('lzo', fake)).toThrow(expect.objectContaining({code}))
  })

  it('mutated bzImages never crash: a result or a KcompatError', () => {
    const formats = COMPRESSORS.filter((c) => !c.optional || findTool(c.tool)).filter((c) => c.format !== 'lzo')
    let seed = 12345
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    for (const c of formats) {
      const z = compress(c, elf.subarray(0, 20000))
      const img = bzImage(c.sizeTrailer ? Buffer.concat([z, u32(20000)]) : z)
      for (let i = 0; i < 25; i++) {
        const m = Buffer.from(img)
        const start = 4 * 512 + 0x180
        for (let j = 0; j < 1 + rand(4); j++) m[start + rand(z.length)] = rand(256)
        const cut = rand(3) === 0 ? m.subarray(0, start + rand(m.length - start)) : m
        try {
          extractKernelBtf(cut, {maxOutput: 1 << 24})
        } catch (e) {
          if (!(e instanceof KcompatError)) throw new Error(`${c.format} mutation ${i}: ${String(e)}`)
        }
      }
    }
  })
})
