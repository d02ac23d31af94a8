/**
 * Reading the guest's records from the console (the format is documented in
 * src/verify/guest/loader.c and README): every record is one line starting with
 * `KCV1<TAB>`, fields separated by TABs, text fields escaped. The console also carries
 * firmware and kernel output, so a record is looked for anywhere in a line (a kernel
 * message never starts inside one at loglevel=1, but escape sequences can precede the
 * first), and only the records between `BEGIN <nonce>` and `END <nonce> <count>` of
 * this run count; a block without its END, or whose count differs from the records
 * read, is incomplete.
 */

export interface RawStep {
  status: 'ok' | 'error' | 'skipped' | 'off'
  errno: number
  errnoName?: string
  message?: string
  usec: number
}

export interface RawProgram {
  /** index into the objects of the plan, or undefined for a --prog section */
  object?: number
  program?: string
  section: string
  load: RawStep
  attach: RawStep
  needs?: string
  set?: string
}

export interface RawObject {
  object: number
  ok: boolean
  errno: number
  errnoName?: string
  message?: string
}

export interface GuestResults {
  complete: boolean
  objects: RawObject[]
  programs: RawProgram[]
  /** guest uptime (s) when /init started */
  uptime?: number
  /** the loader's exit status */
  exit?: number
}

export function unescapeField(s: string): string {
  return s.replace(/\\(\\|t|n|r|x([0-9a-fA-F]{2}))/g, (_, c: string, h?: string) =>
    h ? String.fromCharCode(parseInt(h, 16)) : c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : '\\',
  )
}

const text = (s: string | undefined): string | undefined => (s === undefined || s === '-' ? undefined : unescapeField(s))
const STATUSES = new Set(['ok', 'error', 'skipped', 'off'])

function step(status: string, errno: string, name: string, message: string, usec: string): RawStep | undefined {
  if (!STATUSES.has(status) || !/^\d+$/.test(errno) || !/^\d+$/.test(usec)) return undefined
  return {status: status as RawStep['status'], errno: Number(errno), errnoName: text(name), message: text(message), usec: Number(usec)}
}

/** Parses the console text of one guest run. */
export function parseConsole(console: string, nonce: string): GuestResults {
  const out: GuestResults = {complete: false, objects: [], programs: []}
  let inside = false
  for (const raw of console.split('\n')) {
    const at = raw.indexOf('KCV1\t')
    if (at < 0) continue
    const f = raw.slice(at).replace(/\r$/, '').split('\t')
    switch (f[1]) {
      case 'UPTIME':
        out.uptime = Number(f[2])
        break
      case 'EXIT':
        out.exit = Number(f[2])
        break
      case 'BEGIN':
        if (f[2] === nonce) inside = true
        break
      case 'END':
        if (inside && f[2] === nonce) {
          inside = false
          out.complete = Number(f[3]) === out.programs.length
        }
        break
      case 'OBJ':
        if (inside && f.length === 7) {
          out.objects.push({object: Number(f[2]), ok: f[3] === 'ok', errno: Number(f[4]), errnoName: text(f[5]), message: text(f[6])})
        }
        break
      case 'PROG': {
        if (!inside || f.length !== 17) break
        const load = step(f[5]!, f[6]!, f[7]!, f[8]!, f[15]!)
        const attach = step(f[9]!, f[10]!, f[11]!, f[12]!, f[16]!)
        if (!load || !attach) break
        out.programs.push({
          object: f[2] === '-' ? undefined : Number(f[2]),
          program: text(f[3]),
          section: unescapeField(f[4]!),
          load,
          attach,
          needs: text(f[13]),
          set: text(f[14]),
        })
        break
      }
    }
  }
  return out
}
