/**
 * Writing results and library errors to the terminal, shared by oclif commands
 * (BaseCommand) and the start-up fast path (fast.ts), so both look the same.
 */
import {writeSync} from 'node:fs'
import {KcompatError} from '../errors.js'

/** Strings written to process.stdout may still be queued there: bytes must then follow them through it. */
let streamUsed = false

/** Prints a KcompatError: one line on stderr, or a JSON object on stdout under --json. */
export function printKcompatError(err: KcompatError, json: boolean): void {
  if (json) {
    streamUsed = true
    process.stdout.write(`${JSON.stringify({error: err.toJSON()})}\n`)
  } else {
    process.stderr.write(`kcompat: error [${err.code}]: ${err.message}\n`)
    if (process.env.KCOMPAT_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`)
  }
}

let epipeHandled = false

function handleEpipe(): void {
  if (epipeHandled) return
  epipeHandled = true
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0)
    throw e
  })
}

/**
 * Writes `bytes` to fd 1 with write(2) and returns how many were written: all of them,
 * or fewer when stdout would block (a non-blocking pipe another process set up; the
 * caller sends the rest through process.stdout). A reader that went away ends the
 * process quietly with status 0, as C tools do.
 */
function writeDirect(bytes: Uint8Array): number {
  if (streamUsed && process.stdout.writableLength > 0) return 0
  let at = 0
  try {
    while (at < bytes.length) at += writeSync(1, bytes, at, bytes.length - at)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EPIPE') process.exit(0)
    if (code !== 'EAGAIN') throw e
  }
  return at
}

/**
 * A writer to stdout. Strings go through process.stdout. Byte chunks are written with
 * write(2) on fd 1 and are free to be reused when the call returns (the raw dump
 * refills one buffer: process.stdout keeps a reference to what a full pipe has not
 * taken yet); when stdout would block, or strings written before are still queued,
 * a copy of the rest goes through process.stdout, after them.
 */
export function stdoutWriter(): (chunk: string | Uint8Array) => void {
  return (chunk) => {
    if (chunk.length === 0) return
    if (typeof chunk === 'string') {
      handleEpipe()
      streamUsed = true
      process.stdout.write(chunk)
      return
    }
    const done = writeDirect(chunk)
    if (done === chunk.length) return
    handleEpipe()
    streamUsed = true
    process.stdout.write(Buffer.from(chunk.subarray(done)))
  }
}

/** Resolves once everything written to stdout so far is flushed. */
export async function flushStdout(): Promise<void> {
  if (!streamUsed) return
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
}

/**
 * Writes a large string to stdout, resolving once flushed. A reader that goes away
 * (`kcompat … | head`) ends the process quietly with status 0, as C tools do.
 *
 * The text goes to fd 1 with write(2) when it can (a command's whole output, written
 * once): creating process.stdout loads Node's stream modules, ~7 ms of a query
 * command's start-up (measured: 20 processes each way, CPU time). If stdout would
 * block, the rest goes through process.stdout.
 */
export async function writeStdout(text: string | Uint8Array): Promise<void> {
  if (text.length === 0) return
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength)
  const done = writeDirect(bytes)
  if (done === bytes.length) return
  handleEpipe()
  streamUsed = true
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(bytes.subarray(done), (err) => {
      if (err && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err)
      else if (!err) resolve()
    })
  })
}
