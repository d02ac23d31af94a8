/**
 * `kcompat btf dump` as one library call, shared by the oclif command and by the
 * start-up fast path in bin/run.js (which skips loading oclif for this, the command
 * most often run in scripts and Makefiles: `kcompat btf dump … --format c > vmlinux.h`).
 */
import type {Btf} from '../btf/btf.js'
import {dumpC} from '../btf/cdump/index.js'
import {loadBtf} from '../btf/load.js'
import {dumpRaw, rawTypeJson} from '../btf/rawdump.js'

export interface BtfDumpOptions {
  format: 'raw' | 'c'
  baseBtf?: string
  json?: boolean
}

/**
 * Writes the output of `kcompat btf dump FILE …` to `write`, in chunks: the raw dump of a
 * kernel is ~12 MB of text, and handing it over piece by piece (stdout writes are
 * synchronous on Linux) keeps the process small.
 */
export async function btfDump(file: string, options: BtfDumpOptions, write: (chunk: string) => void): Promise<void> {
  const base = options.baseBtf ? (await loadBtf(options.baseBtf)).parsed : undefined
  await btfDumpBytes(file, base, options, write)
}

/** {@link btfDump} of a file or of BTF (any container loadBtf reads) in memory, on an already parsed base. */
export async function btfDumpBytes(input: string | Uint8Array, base: Btf | undefined, options: BtfDumpOptions, write: (chunk: string) => void): Promise<void> {
  // raw output visits each type once: parse lazily and let each decoded type go
  const {parsed} = await loadBtf(input, {base, lazy: options.format === 'raw'})
  if (options.format === 'c') {
    write(dumpC(parsed))
  } else if (options.json) {
    const types = []
    for (let id = parsed.startId; id <= parsed.lastId; id++) types.push(rawTypeJson(parsed, id, parsed.peekType(id)))
    write(`${JSON.stringify({types})}\n`)
  } else {
    dumpRaw(parsed, write)
  }
}

/** The complete output text of `kcompat btf dump FILE …`. */
export async function btfDumpText(file: string, options: BtfDumpOptions): Promise<string> {
  const parts: string[] = []
  await btfDump(file, options, (c) => parts.push(c))
  return parts.join('')
}

/**
 * Parses the simple forms of `btf dump` argv (one FILE, --format/-f raw|c,
 * --base-btf/-B FILE, --json). Returns undefined for anything else (help, unknown or
 * repeated flags, bad values), which then goes through oclif for its full parsing and
 * error messages.
 */
export function parseFastDumpArgv(argv: readonly string[]): ({file: string} & BtfDumpOptions) | undefined {
  let file: string | undefined
  let format: string | undefined
  let baseBtf: string | undefined
  let json = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    let name: string | undefined
    let value: string | undefined
    if (a === '--json') {
      if (json) return undefined
      json = true
      continue
    } else if (a === '--format' || a === '-f' || a === '--base-btf' || a === '-B') {
      name = a
      value = argv[++i]
      if (value === undefined) return undefined
    } else if (a.startsWith('--format=') || a.startsWith('--base-btf=')) {
      name = a.slice(0, a.indexOf('='))
      value = a.slice(a.indexOf('=') + 1)
    } else if (a.startsWith('-')) {
      return undefined
    } else {
      if (file !== undefined) return undefined
      file = a
      continue
    }
    if (name === '--format' || name === '-f') {
      if (format !== undefined) return undefined
      format = value
    } else {
      if (baseBtf !== undefined) return undefined
      baseBtf = value
    }
  }
  format ??= 'raw'
  if (file === undefined || (format !== 'raw' && format !== 'c') || (json && format === 'c')) return undefined
  return {file, format, baseBtf, json}
}
