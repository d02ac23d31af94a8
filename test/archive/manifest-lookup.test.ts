// The manifest's lookup file (src/archive/manifest-lookup.ts): lookups by release give
// the shipped manifest's own entries (as JSON.parse reads manifest.json), follow every
// change of the manifest, never trust a damaged lookup file, and leave a bad manifest's
// errors as they were.
import {copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeEach, describe, expect, it} from 'vitest'
import {resolveArchiveDir} from '../../src/archive/archive.js'
import {manifestKernelsNamed} from '../../src/archive/manifest-lookup.js'
import {InputError} from '../../src/errors.js'

const shipped = join(resolveArchiveDir(undefined), 'manifest.json')
const scratch = mkdtempSync(join(tmpdir(), 'kcompat-mlookup-'))
afterAll(() => rmSync(scratch, {recursive: true, force: true}))

interface Entry {
  release: string
  arch: string
  [k: string]: unknown
}
const parsed = (file: string): Entry[] => (JSON.parse(readFileSync(file, 'utf8')) as {kernels: Entry[]}).kernels
const lookupFile = (): string => join(scratch, 'cache', 'manifest.lookup')

describe("the manifest's lookup file", () => {
  let root: string
  let saved: string | undefined
  beforeEach(() => {
    root = mkdtempSync(join(scratch, 'a-'))
    copyFileSync(shipped, join(root, 'manifest.json'))
    rmSync(join(scratch, 'cache'), {recursive: true, force: true})
    saved = process.env.KCOMPAT_BTF_CACHE
    process.env.KCOMPAT_BTF_CACHE = join(scratch, 'cache')
  })
  afterEach(() => {
    if (saved === undefined) delete process.env.KCOMPAT_BTF_CACHE
    else process.env.KCOMPAT_BTF_CACHE = saved
  })

  it("gives the manifest's entries for every release and prefix, from the file once written", () => {
    const all = parsed(shipped)
    expect(all.length).toBeGreaterThan(100)
    const releases = [...new Set(all.map((k) => k.release))]
    expect(manifestKernelsNamed(root, releases[0]!)).toEqual(all.filter((k) => k.release.startsWith(releases[0]!)))
    const written = statSync(lookupFile()).mtimeMs
    for (const r of releases) expect(manifestKernelsNamed(root, r), r).toEqual(all.filter((k) => k.release.startsWith(r)))
    for (const p of ['6.1.0-', '6.12.', '5.10.0-32-', 'no-such-']) expect(manifestKernelsNamed(root, p), p).toEqual(all.filter((k) => k.release.startsWith(p)))
    expect(statSync(lookupFile()).mtimeMs).toBe(written) // read, not rewritten
  })

  it('follows a manifest changed in place, even to the same size', () => {
    const file = join(root, 'manifest.json')
    const r = parsed(shipped)[0]!.release
    expect(manifestKernelsNamed(root, r).length).toBeGreaterThan(0)
    // the same length: one entry's arch renamed to another name of as many letters
    const text = readFileSync(file, 'utf8')
    const at = text.indexOf(`"arch": "${parsed(shipped)[0]!.arch}"`)
    const changed = `${text.slice(0, at)}"arch": "${'z'.repeat(parsed(shipped)[0]!.arch.length)}"${text.slice(at + `"arch": "${parsed(shipped)[0]!.arch}"`.length)}`
    expect(changed.length).toBe(text.length)
    writeFileSync(file, changed)
    expect(manifestKernelsNamed(root, r)).toEqual(parsed(file).filter((k) => k.release.startsWith(r)))
    expect(manifestKernelsNamed(root, r).some((k) => /^z+$/.test(k.arch))).toBe(true)
  })

  it('ignores a damaged lookup file and writes it again', () => {
    const all = parsed(shipped)
    const r = all[all.length - 1]!.release
    manifestKernelsNamed(root, r)
    const good = readFileSync(lookupFile())
    const damages: Array<(b: Buffer) => Buffer> = [
      (b) => b.subarray(0, b.length - 10), // cut short
      (b) => {
        // one byte of the last entry changed (a digit for another digit: still valid JSON)
        const c = Buffer.from(b)
        const at = c.lastIndexOf('"size":') + 8
        c[at] = c[at] === 0x31 ? 0x32 : 0x31
        return c
      },
      (b) => {
        const c = Buffer.from(b)
        c[c.indexOf(10) + 5] ^= 0x20 // the table
        return c
      },
    ]
    for (const damage of damages) {
      writeFileSync(lookupFile(), damage(good))
      expect(manifestKernelsNamed(root, r)).toEqual(all.filter((k) => k.release.startsWith(r)))
      expect(readFileSync(lookupFile()).equals(good)).toBe(true) // rewritten
    }
  })

  it("a bad manifest's error stands, whatever the lookup file says", () => {
    const r = parsed(shipped)[0]!.release
    manifestKernelsNamed(root, r)
    writeFileSync(join(root, 'manifest.json'), '{"version": 1, "kernels": [')
    expect(() => manifestKernelsNamed(root, r)).toThrow(InputError)
    try {
      manifestKernelsNamed(root, r)
    } catch (e) {
      expect((e as InputError).code).toBe('ARCHIVE_BAD_MANIFEST')
    }
  })
})
