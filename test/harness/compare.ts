/**
 * Comparing kcompat's CO-RE decisions with libbpf's (from the harness), and compiling
 * the small C cases the differential tests use.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {expect} from 'vitest'
import type {CoreRelocation} from '../../src/core/relocate.js'
import {scratchDir} from '../helpers/fixtures.js'
import {findTool} from '../helpers/tools.js'
import type {LibbpfDecision} from './libbpf.js'

export const show = (x: unknown): string => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))

/**
 * Asserts that kcompat and libbpf made the same decision for every relocation: same
 * instruction, same status, same value written, same access-width change. libbpf stops
 * at its first failure, so relocations after a `failed` one are only compared when
 * libbpf got to them.
 */
export function expectAgreement(ours: CoreRelocation[], theirs: LibbpfDecision[], log: string): void {
  expect(theirs.length, `libbpf relocated nothing; its log ends:\n${log.slice(-3000)}`).toBeGreaterThan(0)
  const byKey = new Map(theirs.map((d) => [`${d.program}#${d.index}`, d]))
  const seen = new Set<string>()
  let stopped = false
  for (const r of ours) {
    const key = `${r.program}#${r.index}`
    const d = byKey.get(key)
    if (r.status === 'skipped') {
      expect(d, `${key}: kcompat skipped it, libbpf did not`).toBeUndefined()
      continue
    }
    if (stopped && !d) continue
    expect(d, `${key} (${r.kind} ${r.local}): libbpf has no decision\n${log.slice(-3000)}`).toBeDefined()
    seen.add(key)
    const mine = {insn: r.insn, status: r.status, value: r.value, memSize: r.memSize}
    const libbpf = {insn: d!.insn, status: d!.status, value: d!.value, memSize: d!.memSize}
    if (libbpf.status === 'failed') {
      libbpf.insn = mine.insn // libbpf's failure line names no instruction
      stopped = true
    }
    expect(show(mine), `${key} (${r.kind} ${r.local}) ${r.reason ?? ''}`).toBe(show(libbpf))
  }
  for (const d of theirs) expect(seen.has(`${d.program}#${d.index}`), `libbpf relocated ${d.program}#${d.index}, kcompat did not`).toBe(true)
}

/** The multiarch include directory clang needs for <linux/...> headers with -target bpf. */
function multiarchInclude(): string {
  const r = spawnSync('gcc', ['-print-multiarch'], {encoding: 'utf8'})
  return `/usr/include/${r.status === 0 && r.stdout.trim() ? r.stdout.trim() : 'x86_64-linux-gnu'}`
}

let counter = 0
/** Compiles C for BPF (clang -g -O2 -target bpfel|bpfeb) and returns the object's path. */
export function compileC(name: string, source: string, target: 'bpfel' | 'bpfeb' = 'bpfel'): string {
  const clang = findTool('clang')
  if (!clang) throw new Error('clang is not installed')
  const dir = join(scratchDir(), 'core-cases')
  mkdirSync(dir, {recursive: true})
  const stem = `${name}-${target}-${counter++}`
  const src = join(dir, `${stem}.c`)
  const obj = join(dir, `${stem}.o`)
  writeFileSync(src, source)
  const r = spawnSync(clang, ['-g', '-O2', '-Wall', '-Wno-unused-variable', '-target', target, `-I${multiarchInclude()}`, '-c', src, '-o', obj], {
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`clang failed on ${src}:\n${r.stderr}`)
  return obj
}
