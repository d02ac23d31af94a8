/**
 * Helpers for the C dumper tests: the bpftool oracle, committed golden headers, BTF
 * extraction from BPF objects and compiling small C programs at test time.
 *
 * Expected output always comes from bpftool (or from golden files bpftool produced),
 * never from kcompat itself.
 */
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {basename, join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {FIXTURES, scratchDir} from './fixtures.js'
import {findTool, run} from './tools.js'

export const GOLDEN_DIR = join(FIXTURES, 'golden')

/** `bpftool btf dump file FILE format c`, with `-B BASE` for split BTF. */
export function bpftoolC(file: string, base?: string): string {
  const args = base ? ['-B', base, 'btf', 'dump', 'file', file, 'format', 'c'] : ['btf', 'dump', 'file', file, 'format', 'c']
  return run('bpftool', args).toString('utf8')
}

/** The committed golden header `fixtures/golden/<name>.h.xz`, if present. */
export function golden(name: string): string | undefined {
  const file = join(GOLDEN_DIR, `${name}.h.xz`)
  if (!existsSync(file)) return undefined
  return Buffer.from(decompressSync(readFileSync(file))).toString('utf8')
}

/** One expected C dump and where it comes from. */
export interface Expectation {
  source: string
  text: () => string
}

/**
 * What the C dump of `file` must equal: bpftool's live output when bpftool is
 * installed, and the committed golden file when there is one (both when both exist).
 * Empty when neither is available: the caller skips.
 */
export function expectations(name: string, file: string, base?: string): Expectation[] {
  const out: Expectation[] = []
  if (findTool('bpftool')) out.push({source: 'bpftool', text: () => bpftoolC(file, base)})
  if (existsSync(join(GOLDEN_DIR, `${name}.h.xz`))) {
    out.push({source: `fixtures/golden/${name}.h.xz`, text: () => golden(name)!})
  }
  return out
}

/** The raw `.BTF` section of a BPF object, via llvm-objcopy. */
export function extractBtf(object: string): Buffer {
  const dir = join(scratchDir(), 'btf-sections')
  mkdirSync(dir, {recursive: true})
  const out = join(dir, `${basename(object)}.btf`)
  run('llvm-objcopy', ['--dump-section', `.BTF=${out}`, object, join(dir, `${basename(object)}.stripped`)])
  return readFileSync(out)
}

let counter = 0
/**
 * Compiles C `source` for BPF (`clang -g -O2 -target <target> -c`) in the scratch
 * directory and returns the object's path.
 */
export function compileBpf(name: string, source: string, target: 'bpf' | 'bpfel' | 'bpfeb' = 'bpfel'): string {
  const dir = join(scratchDir(), 'cdump-cases')
  mkdirSync(dir, {recursive: true})
  const stem = `${name}-${target}-${counter++}`
  const src = join(dir, `${stem}.c`)
  const obj = join(dir, `${stem}.o`)
  writeFileSync(src, source)
  run('clang', ['-g', '-O2', '-target', target, '-c', src, '-o', obj])
  return obj
}

/** Links BPF objects with bpftool's static linker (merges and dedups their BTF). */
export function linkBpf(name: string, objects: string[]): string {
  const out = join(scratchDir(), 'cdump-cases', `${name}-linked-${counter++}.o`)
  run('bpftool', ['gen', 'object', out, ...objects])
  return out
}
