/**
 * The Debian mirrors this machine's apt is configured with, read from
 * `/etc/apt/sources.list.d/*.sources` (deb822: `Types`, `URIs`, `Suites`, `Components`)
 * and `/etc/apt/sources.list` (one-line `deb URI SUITE COMPONENT…`). kcompat never names
 * a mirror itself: `archive sync` uses what apt uses, or `--mirror URL`.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

export interface AptSource {
  uri: string
  suites: string[]
  components: string[]
  /** The file it was read from. */
  file: string
}

/** Parses deb822 `.sources` text (stanzas separated by blank lines; `#` comments). */
export function parseDeb822Sources(text: string, file = '<text>'): AptSource[] {
  const out: AptSource[] = []
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {}
    let last: string | undefined
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue
      if (/^\s/.test(line) && last) {
        fields[last] += ` ${line.trim()}`
        continue
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line)
      if (m) {
        last = m[1]!.toLowerCase()
        fields[last] = m[2]!
      }
    }
    if (!fields.uris || !(fields.types ?? '').split(/\s+/).includes('deb')) continue
    if ((fields.enabled ?? 'yes').toLowerCase() === 'no') continue
    for (const uri of fields.uris.split(/\s+/).filter(Boolean)) {
      out.push({uri, suites: (fields.suites ?? '').split(/\s+/).filter(Boolean), components: (fields.components ?? '').split(/\s+/).filter(Boolean), file})
    }
  }
  return out
}

/** Parses one-line-style sources.list text. */
export function parseSourcesList(text: string, file = '<text>'): AptSource[] {
  const out: AptSource[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim()
    if (!line.startsWith('deb ')) continue
    const parts = line.slice(4).trim().replace(/^\[[^\]]*\]\s*/, '').split(/\s+/)
    const [uri, suite, ...components] = parts
    if (uri && suite) out.push({uri, suites: [suite], components, file})
  }
  return out
}

/** Every apt source of this machine (deb822 files first). */
export function aptSources(root = '/etc/apt'): AptSource[] {
  const out: AptSource[] = []
  const dir = join(root, 'sources.list.d')
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f)
      if (f.endsWith('.sources')) out.push(...parseDeb822Sources(readFileSync(p, 'utf8'), p))
      else if (f.endsWith('.list')) out.push(...parseSourcesList(readFileSync(p, 'utf8'), p))
    }
  }
  const list = join(root, 'sources.list')
  if (existsSync(list)) out.push(...parseSourcesList(readFileSync(list, 'utf8'), list))
  return out
}

/** The mirror URI apt uses for `suite`, if any source lists that suite. */
export function mirrorForSuite(suite: string, sources: AptSource[] = aptSources()): string | undefined {
  return sources.find((s) => s.suites.includes(suite))?.uri
}
