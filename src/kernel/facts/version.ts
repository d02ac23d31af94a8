/**
 * Kernel and distro version numbers as kcompat compares them: dotted decimal
 * (`5.5`, `4.18.0`, `8.10`, `2023`), compared numerically part by part, missing parts
 * counting as 0 (`5.5` = `5.5.0`, `8.10` > `8.9`).
 */

export type Version = readonly number[]

const VERSION = /^\d+(?:\.\d+)*$/

/** True when `s` is a dotted decimal version. */
export function isVersion(s: unknown): s is string {
  return typeof s === 'string' && VERSION.test(s)
}

/** `"5.5"` → `[5, 5]`. Throws on anything else (callers validate first). */
export function parseVersion(s: string): number[] {
  if (!VERSION.test(s)) throw new Error(`not a version: ${JSON.stringify(s)}`)
  return s.split('.').map(Number)
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** `a >= b`, with strings parsed. */
export function atLeast(a: Version, b: string | Version): boolean {
  return compareVersions(a, typeof b === 'string' ? parseVersion(b) : b) >= 0
}

export function formatVersion(v: Version): string {
  return v.join('.')
}
