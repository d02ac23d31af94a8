/**
 * Comparing RPM versions as rpm does (rpm's lib/rpmvercmp.c, rpmvercmp(3) and the
 * "Versioning" section of rpm's docs): a version is split into runs of digits and runs
 * of letters; everything else separates runs. Runs are compared in turn: two digit runs
 * numerically (leading zeros ignored), two letter runs by byte order, and a digit run is
 * newer than a letter run. `~` sorts before anything, even the end of the string
 * (`1.0~rc1` < `1.0`); `^` sorts after the end but before anything else (`1.0` <
 * `1.0^git1` < `1.0.1`). When one string runs out, the one with runs left is newer.
 */

const isDigit = (c: string): boolean => c >= '0' && c <= '9'
const isAlpha = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
const isAlnum = (c: string): boolean => isDigit(c) || isAlpha(c)

/** rpmvercmp: -1, 0 or 1. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]!) && a[i] !== '~' && a[i] !== '^') i++
    while (j < b.length && !isAlnum(b[j]!) && b[j] !== '~' && b[j] !== '^') j++
    // tilde: sorts before everything
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1
      if (b[j] !== '~') return -1
      i++
      j++
      continue
    }
    // caret: after the end, before everything else
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1
      if (j >= b.length) return 1
      if (a[i] !== '^') return 1
      if (b[j] !== '^') return -1
      i++
      j++
      continue
    }
    if (i >= a.length || j >= b.length) break
    const numeric = isDigit(a[i]!)
    const test = numeric ? isDigit : isAlpha
    let ei = i
    let ej = j
    while (ei < a.length && test(a[ei]!)) ei++
    while (ej < b.length && test(b[ej]!)) ej++
    let sa = a.slice(i, ei)
    let sb = b.slice(j, ej)
    // a digit run against a letter run: the digits are newer
    if (sb === '') return numeric ? 1 : -1
    if (numeric) {
      sa = sa.replace(/^0+/, '')
      sb = sb.replace(/^0+/, '')
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1
    }
    if (sa !== sb) return sa > sb ? 1 : -1
    i = ei
    j = ej
  }
  if (i >= a.length && j >= b.length) return 0
  return i >= a.length ? -1 : 1
}

/** Compares epoch, then version, then release (rpm's rpmVersionCompare). */
export function compareEvr(a: {epoch?: number; version: string; release: string}, b: {epoch?: number; version: string; release: string}): number {
  const ea = a.epoch ?? 0
  const eb = b.epoch ?? 0
  if (ea !== eb) return ea > eb ? 1 : -1
  return rpmvercmp(a.version, b.version) || rpmvercmp(a.release, b.release)
}
