/**
 * A temporary archive built from the committed real kernels (fixtures/kernels): each
 * kernel's BTF and the BPF config facts of its /boot/config, added with addKernel as
 * the real archive builder does. Built once per test process.
 */
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {addKernel} from '../../src/archive/archive.js'
import type {NewKernel} from '../../src/archive/archive.js'
import {bpfConfigFacts, parseKernelConfig} from '../../src/kernel/config.js'
import {FIXTURES} from '../helpers/fixtures.js'

export interface FixtureKernel {
  release: string
  arch: string
  btf: Buffer
  config: ReturnType<typeof parseKernelConfig>
}

export const FIXTURE_KERNELS = [
  {release: '6.1.0-56-cloud-amd64', arch: 'x86_64'},
  {release: '6.1.0-56-cloud-arm64', arch: 'arm64'},
  {release: '6.12.117+deb12-cloud-amd64', arch: 'x86_64'},
] as const

const memo = new Map<string, FixtureKernel>()

export function fixtureKernel(release: string): FixtureKernel {
  const hit = memo.get(release)
  if (hit) return hit
  const dir = join(FIXTURES, 'kernels')
  const btf = decompressSync(readFileSync(join(dir, `${release}.btf.xz`)))
  const config = parseKernelConfig(decompressSync(readFileSync(join(dir, `${release}.config.xz`))))
  const arch = FIXTURE_KERNELS.find((k) => k.release === release)!.arch
  const k = {release, arch, btf, config}
  memo.set(release, k)
  return k
}

function entryFor(k: FixtureKernel, config: Record<string, string | null>): NewKernel {
  return {
    release: k.release,
    distro: 'debian',
    version: '12',
    arch: k.arch,
    flavor: 'cloud',
    btf: 'in-kernel',
    config,
    source: {method: 'kernel-image', package: `linux-image-${k.release}`, file: `fixtures/kernels/${k.release}.btf.xz`},
    added: '2025-01-01',
  }
}

let archive: Promise<string> | undefined

/** The archive of all fixture kernels, with the manifest's usual BPF config facts. */
export function fixtureArchive(): Promise<string> {
  archive ??= (async () => {
    const root = mkdtempSync(join(tmpdir(), 'kcompat-check-archive-'))
    for (const {release} of FIXTURE_KERNELS) {
      const k = fixtureKernel(release)
      await addKernel(root, entryFor(k, bpfConfigFacts(k.config)), k.btf)
    }
    return root
  })()
  return archive
}

/**
 * An archive holding one fixture kernel whose recorded config is changed by `edit`: a
 * kernel derived from a real one, for facts the fixtures do not cover (e.g. "bpf" left
 * out of CONFIG_LSM, as on Ubuntu 22.04).
 */
export async function derivedArchive(release: string, edit: (c: Record<string, string | null>) => void): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'kcompat-check-derived-'))
  const k = fixtureKernel(release)
  const config: Record<string, string | null> = {...bpfConfigFacts(k.config)}
  edit(config)
  await addKernel(root, entryFor(k, config), k.btf)
  return root
}
