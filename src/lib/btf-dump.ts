/**
 * `kcompat btf dump` as one library call, shared by the oclif command and by the
 * start-up fast path (src/lib/fast.ts), through ./actions/btf-dump.ts.
 */
import type {Btf} from '../btf/btf.js'
import {dumpCChunks} from '../btf/cdump/index.js'
import {loadBtf} from '../btf/load.js'
import {dumpRaw, dumpRawBytes, rawTypeJson} from '../btf/rawdump.js'

export interface BtfDumpOptions {
  format: 'raw' | 'c'
  baseBtf?: string
  json?: boolean
}

/** Where the dump's text goes: strings or UTF-8 byte chunks (the raw dump writes bytes). */
export type DumpWriter = (chunk: string | Uint8Array) => void

/**
 * Writes the output of `kcompat btf dump FILE …` to `write`, in chunks: the raw dump of a
 * kernel is ~12 MB of text, and handing it over piece by piece (stdout writes are
 * synchronous on Linux) keeps the process small.
 */
export async function btfDump(file: string, options: BtfDumpOptions, write: DumpWriter): Promise<void> {
  const base = options.baseBtf ? (await loadBtf(options.baseBtf)).parsed : undefined
  await btfDumpBytes(file, base, options, write)
}

/** {@link btfDump} of a file or of BTF (any container loadBtf reads) in memory, on an already parsed base. */
export async function btfDumpBytes(input: string | Uint8Array, base: Btf | undefined, options: BtfDumpOptions, write: DumpWriter): Promise<void> {
  // both dumps decode a type when they reach it and let it go: parse lazily
  const {parsed} = await loadBtf(input, {base, lazy: true})
  if (options.format === 'c') {
    dumpCChunks(parsed, {}, write)
  } else if (options.json) {
    const types = []
    for (let id = parsed.startId; id <= parsed.lastId; id++) types.push(rawTypeJson(parsed, id, parsed.peekType(id)))
    write(`${JSON.stringify({types})}\n`)
  } else if (!dumpRawBytes(parsed, write)) {
    dumpRaw(parsed, write)
  }
}

/** The complete output text of `kcompat btf dump FILE …`. */
export async function btfDumpText(file: string, options: BtfDumpOptions): Promise<string> {
  const parts: Buffer[] = []
  await btfDump(file, options, (c) => parts.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c.buffer, c.byteOffset, c.byteLength)))
  return Buffer.concat(parts).toString('utf8')
}
