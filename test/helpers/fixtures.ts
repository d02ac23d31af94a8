/**
 * Access to the committed real-data fixtures (see fixtures/README.md).
 */
import {existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures')
export const SYS_VMLINUX = '/sys/kernel/btf/vmlinux'

export interface KernelFixture {
  /** uname -r of the kernel, e.g. 6.1.0-56-cloud-amd64 */
  release: string
  /** Raw BTF bytes. */
  btf: Buffer
  /** Path of a decompressed copy, for reference tools. */
  path: string
}

let scratch: string | undefined
/** A per-process scratch directory for files handed to reference tools. */
export function scratchDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'kcompat-test-'))
  return scratch
}

const memo = new Map<string, KernelFixture>()
function load(file: string, release: string): KernelFixture {
  const hit = memo.get(file)
  if (hit) return hit
  const btf = decompressSync(readFileSync(file))
  const path = join(scratchDir(), `${basename(file, '.xz')}`)
  writeFileSync(path, btf)
  const k = {release, btf, path}
  memo.set(file, k)
  return k
}

/** The committed vmlinux BTF of real Debian kernels (not modules). */
export function kernelFixtures(): KernelFixture[] {
  const dir = join(FIXTURES, 'kernels')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.btf.xz') && !f.includes('__'))
    .sort()
    .map((f) => load(join(dir, f), f.slice(0, -'.btf.xz'.length)))
}

export interface ModuleFixture extends KernelFixture {
  module: string
  base: KernelFixture
}

/** Module (split) BTF fixtures named `<release>__<module>.btf.xz`, with their base. */
export function moduleFixtures(): ModuleFixture[] {
  const dir = join(FIXTURES, 'kernels')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.btf.xz') && f.includes('__'))
    .sort()
    .flatMap((f) => {
      const [release, module] = f.slice(0, -'.btf.xz'.length).split('__') as [string, string]
      const baseFile = join(dir, `${release}.btf.xz`)
      if (!existsSync(baseFile)) return []
      return [{...load(join(dir, f), release), module, base: load(baseFile, release)}]
    })
}

/** The running machine's BTF, when it has one. */
export function sysVmlinux(): Buffer | undefined {
  try {
    return readFileSync(SYS_VMLINUX)
  } catch {
    return undefined
  }
}

/** Compiled BPF objects under fixtures/bpf (both byte orders). */
export function bpfObjectFixtures(): string[] {
  const dir = join(FIXTURES, 'bpf')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.o'))
    .sort()
    .map((f) => join(dir, f))
}
