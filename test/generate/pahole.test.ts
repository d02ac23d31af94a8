/**
 * pahole detection and the flag policy, with fake pahole scripts for versions and
 * failures this machine does not have, and the real pahole for what it says about itself.
 */
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {paholeFlags} from '../../src/generate/flags.js'
import {GenerateError, findPahole, parseHelpOptions, parsePaholeVersion} from '../../src/generate/pahole.js'
import {findTool, requireTool, run} from '../helpers/tools.js'

const dir = mkdtempSync(join(tmpdir(), 'kcompat-pahole-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** A shell script standing in for pahole. */
function fakePahole(name: string, body: string): string {
  const p = join(dir, name)
  writeFileSync(p, `#!/bin/sh\n${body}\n`)
  chmodSync(p, 0o755)
  return p
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(GenerateError)
    return (e as GenerateError).code
  }
  return 'no error'
}

const ALL_OPTIONS = new Set([
  'btf_encode_detached',
  'btf_gen_floats',
  'skip_encoding_btf_enum64',
  'skip_encoding_btf_decl_tag',
  'skip_encoding_btf_type_tag',
  'lang_exclude',
  'skip_encoding_btf_inconsistent_proto',
  'btf_gen_optimized',
])
const v = (major: number, minor: number) => ({major, minor, text: `v${major}.${minor}`})

describe('pahole version and options', () => {
  it('parses what pahole --version prints', () => {
    expect(parsePaholeVersion('v1.24\n')).toEqual({major: 1, minor: 24, text: 'v1.24'})
    expect(parsePaholeVersion('v1.25-12-gabcdef0')).toMatchObject({major: 1, minor: 25})
    expect(parsePaholeVersion('1.27')).toMatchObject({major: 1, minor: 27})
    expect(parsePaholeVersion('pahole: unrecognized option')).toBeUndefined()
  })

  it('reads long options from --help', () => {
    const o = parseHelpOptions('      --btf_encode_detached=FILENAME\n  -j, --jobs[=NR_JOBS]  run\n      --skip_encoding_btf_enum64   Do not')
    expect([...o].sort()).toEqual(['btf_encode_detached', 'jobs', 'skip_encoding_btf_enum64'])
  })

  it.skipIf(!requireTool('pahole', 'pahole detection'))('finds the installed pahole and agrees with its --version', async () => {
    const p = await findPahole()
    expect(p.version.text).toBe(run('pahole', ['--version']).toString().trim())
    expect(p.options.has('btf_encode_detached')).toBe(true)
  })

  it('missing pahole: TOOL_MISSING naming the package to install', async () => {
    await expect(findPahole(join(dir, 'no-such-pahole'))).rejects.toThrow(/dwarves/)
    expect(await codeOf(findPahole('kcompat-no-such-pahole'))).toBe('TOOL_MISSING')
    expect(await codeOf(findPahole(undefined, {...process.env, PATH: dir, KCOMPAT_PAHOLE: ''}))).toBe('TOOL_MISSING')
  })

  it('too old, unknown version, broken: TOOL_TOO_OLD, TOOL_UNKNOWN_VERSION, TOOL_FAILED', async () => {
    expect(await codeOf(findPahole(fakePahole('p120', 'echo v1.20')))).toBe('TOOL_TOO_OLD')
    await expect(findPahole(fakePahole('p121', 'echo v1.21'))).rejects.toThrow(/v1\.21 is too old.*v1\.22 or newer/)
    // a 1.22 that does not list --btf_encode_detached (a patched build) is too old too
    expect(await codeOf(findPahole(fakePahole('p122', 'case "$1" in --version) echo v1.22;; *) echo "  --jobs";; esac')))).toBe('TOOL_TOO_OLD')
    expect(await codeOf(findPahole(fakePahole('pgarbage', 'echo hello')))).toBe('TOOL_UNKNOWN_VERSION')
    expect(await codeOf(findPahole(fakePahole('pfail', 'echo "libdw missing" >&2; exit 3')))).toBe('TOOL_FAILED')
    await expect(findPahole(fakePahole('pfail2', 'echo "libdw missing" >&2; exit 3'))).rejects.toThrow(/exited with status 3; it said:\nlibdw missing/)
  })

  it('KCOMPAT_PAHOLE chooses the pahole', async () => {
    const p = await findPahole(undefined, {...process.env, KCOMPAT_PAHOLE: fakePahole('p126', 'case "$1" in --version) echo v1.26;; *) echo "  --btf_encode_detached=F";; esac')})
    expect(p.version.text).toBe('v1.26')
  })
})

describe('pahole flags per kernel and libbpf', () => {
  const full = {version: v(1, 24), options: ALL_OPTIONS}

  it('a 6.1 kernel with pahole 1.24: what its own build passes (minus -j), reading DWARF', () => {
    const f = paholeFlags(full, {kernel: '6.1.0-50-s390x'})
    expect(f.flags).toEqual(['-F', 'dwarf', '--btf_gen_floats', '--lang_exclude=rust'])
    expect(f.warnings).toEqual([])
  })

  it('kernels before 6.0 get no ENUM64, before 5.13 no FLOAT, before 5.16/5.17 no DECL_TAG/TYPE_TAG', () => {
    expect(paholeFlags(full, {kernel: '5.15.0-100-generic'}).flags).toEqual([
      '-F', 'dwarf', '--btf_gen_floats', '--skip_encoding_btf_enum64', '--skip_encoding_btf_decl_tag', '--skip_encoding_btf_type_tag', '--lang_exclude=rust',
    ])
    const old = paholeFlags(full, {kernel: '4.19.0-27-amd64'})
    expect(old.flags).not.toContain('--btf_gen_floats')
    expect(old.flags).toEqual(expect.arrayContaining(['--skip_encoding_btf_enum64', '--skip_encoding_btf_decl_tag', '--skip_encoding_btf_type_tag']))
    expect(old.reasons.join('\n')).toMatch(/kernel 4\.19\.0-27-amd64 predates BTF_KIND_FLOAT \(5\.13\)/)
  })

  it('an old libbpf target leaves out what it cannot parse (BTFHub issue #51)', () => {
    const f07 = paholeFlags(full, {kernel: '6.1', libbpf: '0.7'})
    expect(f07.flags).toContain('--skip_encoding_btf_enum64')
    expect(f07.flags).toContain('--btf_gen_floats')
    expect(f07.flags).not.toContain('--skip_encoding_btf_decl_tag')
    const f05 = paholeFlags(full, {kernel: '6.1', libbpf: '0.5'})
    expect(f05.flags).toEqual(expect.arrayContaining(['--skip_encoding_btf_decl_tag', '--skip_encoding_btf_type_tag']))
    expect(paholeFlags(full, {libbpf: '0.3'}).flags).not.toContain('--btf_gen_floats')
    expect(paholeFlags(full, {libbpf: '1.1'}).flags).toEqual(['-F', 'dwarf', '--btf_gen_floats', '--lang_exclude=rust'])
  })

  it('follows pahole versions: 1.22 has no enum64/lang flags, 1.25 adds the prototype flags, -j only when asked', () => {
    const p122 = paholeFlags({version: v(1, 22)}, {kernel: '5.10'})
    expect(p122.flags).toEqual(['-F', 'dwarf'])
    const p125 = paholeFlags({version: v(1, 25), options: ALL_OPTIONS}, {kernel: '6.1', jobs: 4})
    expect(p125.flags).toEqual(['-F', 'dwarf', '--btf_gen_floats', '--lang_exclude=rust', '--skip_encoding_btf_inconsistent_proto', '--btf_gen_optimized', '-j4'])
    expect(paholeFlags(full, {jobs: 1}).flags).not.toContain('-j1')
  })

  it('warns when a needed option is missing from this pahole', () => {
    const f = paholeFlags({version: v(1, 24), options: new Set(['btf_encode_detached', 'btf_gen_floats'])}, {kernel: '5.10'})
    expect(f.flags).toEqual(['-F', 'dwarf'])
    expect(f.warnings.join('\n')).toMatch(/no --skip_encoding_btf_enum64/)
  })

  it.skipIf(!findTool('pahole'))('every flag chosen for the installed pahole is one it accepts', async () => {
    const p = await findPahole()
    for (const target of [{kernel: '4.19'}, {kernel: '5.10', libbpf: '0.5'}, {kernel: '6.1', jobs: 2}]) {
      for (const f of paholeFlags(p, target).flags) {
        const name = /^--([a-z0-9_]+)/.exec(f)?.[1]
        if (name) expect(p.options.has(name), f).toBe(true)
      }
    }
  })
})
