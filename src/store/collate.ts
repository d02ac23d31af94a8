/**
 * The order `new Intl.Collator('en', {numeric: true}).compare` gives, without creating
 * an ICU collator: creating one takes 20–30 ms of a process's start (ICU loads its
 * collation data), more than a whole `kcompat kernels` query. Listings sort distros,
 * versions, arches and kernel releases, which are printable ASCII; for any other string
 * this falls back to the ICU collator itself.
 *
 * Algorithm (ICU's root collation, which `en` uses, with numeric ordering, restricted to
 * printable ASCII): each string is a sequence of collation elements, one per character,
 * except that a run of digits is one element whose value is the number it spells
 * (leading zeros do not count). Elements compare at the primary level first, over the
 * whole string: characters by their rank in {@link PRIMARY_ORDER} (space, punctuation
 * and symbols, then digits, then letters with upper and lower case equal), a number
 * element among the digits, two number elements by value; a string that is a prefix of
 * the other comes first. Only when every primary weight is equal does case decide
 * (tertiary level, lower case first, leftmost difference). Checked against
 * Intl.Collator on random strings by test/store/collate.test.ts.
 */

/** Printable ASCII in ICU root collation order; upper and lower case letters differ only at the tertiary level. */
const PRIMARY_ORDER = ' _-,;:!?.\'"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ'

// primary weight per char code (0: not printable ASCII); a digit run weighs DIGIT_WEIGHT
const WEIGHT = new Uint8Array(128)
{
  let w = 0
  for (let i = 0; i < PRIMARY_ORDER.length; i++) {
    const c = PRIMARY_ORDER.charCodeAt(i)
    const isUpper = c >= 65 && c <= 90
    if (!isUpper && !(c >= 49 && c <= 57)) w++ // digits 1-9 share the digit weight; upper case shares its lower case's
    WEIGHT[c] = w
  }
}
const DIGIT_WEIGHT = WEIGHT[48]!

let icu: Intl.Collator | undefined

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

/** Compares like `new Intl.Collator('en', {numeric: true}).compare(a, b)` (its sign). */
export function naturalCompare(a: string, b: string): number {
  if (a === b) return 0
  let i = 0
  let j = 0
  let tertiary = 0
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i)
    const cb = b.charCodeAt(j)
    if (ca >= 128 || cb >= 128 || WEIGHT[ca] === 0 || WEIGHT[cb] === 0) return fallback(a, b)
    if (isDigit(ca) && isDigit(cb)) {
      // two numbers: skip leading zeros, then the longer is larger, else the first differing digit
      let ia = i
      let jb = j
      while (ia < a.length && a.charCodeAt(ia) === 48) ia++
      while (jb < b.length && b.charCodeAt(jb) === 48) jb++
      let ea = ia
      let eb = jb
      while (ea < a.length && isDigit(a.charCodeAt(ea))) ea++
      while (eb < b.length && isDigit(b.charCodeAt(eb))) eb++
      if (ea - ia !== eb - jb) return ea - ia < eb - jb ? -1 : 1
      for (let k = 0; k < ea - ia; k++) {
        const d = a.charCodeAt(ia + k) - b.charCodeAt(jb + k)
        if (d !== 0) return d < 0 ? -1 : 1
      }
      i = ea
      j = eb
      continue
    }
    const wa = isDigit(ca) ? DIGIT_WEIGHT : WEIGHT[ca]!
    const wb = isDigit(cb) ? DIGIT_WEIGHT : WEIGHT[cb]!
    if (wa !== wb) return wa < wb ? -1 : 1
    // same letter, maybe different case: lower case first, decided only if all else is equal
    if (tertiary === 0 && ca !== cb) tertiary = ca > cb ? -1 : 1
    i++
    j++
  }
  for (let k = i; k < a.length; k++) if (a.charCodeAt(k) >= 128 || WEIGHT[a.charCodeAt(k)] === 0) return fallback(a, b)
  for (let k = j; k < b.length; k++) if (b.charCodeAt(k) >= 128 || WEIGHT[b.charCodeAt(k)] === 0) return fallback(a, b)
  if (i < a.length) return 1
  if (j < b.length) return -1
  return tertiary
}

function fallback(a: string, b: string): number {
  icu ??= new Intl.Collator('en', {numeric: true})
  return icu.compare(a, b)
}
