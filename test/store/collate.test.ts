/**
 * naturalCompare against its oracle, ICU's collator (Intl.Collator('en', {numeric:
 * true})): the same sign on real kernel releases, arches and versions, and on random
 * strings over the characters that matter (digits with leading zeros, both cases,
 * punctuation, a non-ASCII letter that takes the fallback).
 */
import {describe, expect, it} from 'vitest'
import {naturalCompare} from '../../src/store/collate.js'
import {mulberry32} from '../helpers/random.js'

const icu = new Intl.Collator('en', {numeric: true})
const sign = (n: number): number => Math.sign(n)

describe('naturalCompare orders as ICU does', () => {
  it('kernel releases, arches, distros and versions', () => {
    const words = [
      '6.1.0-56-amd64', '6.12.117+deb12-amd64', '6.1.0-56-cloud-amd64', '6.1.0-54-686', '6.1.0-54-686-pae', '4.19.0-27-cloud-amd64',
      '3.10.0-957.el7.x86_64', '5.15.0-91-generic', '5.4.17-2136.322.6.2.el7uek.x86_64', '6.7.7-200.fc39.x86_64', '6.1', '6.1.55',
      'x86_64', 'x86-64', 'arm64', 'aarch64', 's390x', 'ppc64le', 'i686', 'debian', 'ubuntu', 'Debian', 'rhel', '12', '20.04', '8.10', '9',
    ]
    for (const a of words) for (const b of words) expect([a, b, sign(naturalCompare(a, b))]).toEqual([a, b, sign(icu.compare(a, b))])
    expect([...words].sort(naturalCompare)).toEqual([...words].sort(icu.compare))
  })

  it('random strings: digits with leading zeros, both cases, all printable ASCII punctuation', () => {
    const rand = mulberry32(17)
    const alphabet = ' _-,;:!?.\'"()[]{}@*/\\&#%`^+<=>|~$0123456789abcxyzABCXYZ'
    const pick = (s: string): string => s[Math.floor(rand() * s.length)]!
    const word = (): string => {
      let w = ''
      const n = 1 + Math.floor(rand() * 8)
      for (let i = 0; i < n; i++) w += rand() < 0.4 ? pick('0000123456789') : rand() < 0.5 ? pick('aAbBzZ') : pick(alphabet)
      return w
    }
    let mismatches = 0
    for (let i = 0; i < 20000; i++) {
      const a = word()
      // half the pairs share a prefix, so later positions and case ties get compared too
      const b = rand() < 0.5 ? a.slice(0, Math.floor(rand() * a.length)) + word() : word()
      if (sign(naturalCompare(a, b)) !== sign(icu.compare(a, b))) {
        mismatches++
        expect([a, b, sign(naturalCompare(a, b))]).toEqual([a, b, sign(icu.compare(a, b))])
      }
    }
    expect(mismatches).toBe(0)
  })

  it('strings with other characters take ICU itself', () => {
    for (const [a, b] of [['é', 'f'], ['e', 'é'], ['a\tb', 'a b'], ['6.1-é', '6.1-e']] as const) {
      expect(sign(naturalCompare(a, b))).toBe(sign(icu.compare(a, b)))
    }
  })
})
