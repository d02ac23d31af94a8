/**
 * Writing results and library errors to the terminal, shared by oclif commands
 * (BaseCommand) and the start-up fast path (fast.ts), so both look the same.
 */
import {writeSync} from 'node:fs'
import {KcompatError} from '../errors.js'

/** Prints a KcompatError: one line on stderr, or a JSON object on stdout under --json. */
export function printKcompatError(err: KcompatError, json: boolean): void {
  if (json) {
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
 * A writer to stdout. Strings go through process.stdout. Byte chunks are written with
 * write(2) on fd 1 and are free to be reused when the call returns (the raw dump
 * refills one buffer: process.stdout keeps a reference to what a full pipe has not
 * taken yet), unless stdout would block (a non-blocking pipe another process set up)
 * or strings written before are still queued in process.stdout: then a copy goes
 * through process.stdout, after them.
 */
export function stdoutWriter(): (chunk: string | Uint8Array) => void {
  let direct = true
  return (chunk) => {
    if (chunk.length === 0) return
    if (typeof chunk === 'string') {
      handleEpipe()
      direct = false
      process.stdout.write(chunk)
      return
    }
    if (direct || process.stdout.writableLength === 0) {
      let at = 0
      try {
        while (at < chunk.length) at += writeSync(1, chunk, at, chunk.length - at)
        return
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if (code === 'EPIPE') process.exit(0)
        if (code !== 'EAGAIN') throw e
      }
      chunk = chunk.subarray(at)
    }
    handleEpipe()
    direct = false
    process.stdout.write(Buffer.from(chunk))
  }
}

/** Resolves once everything written to stdout so far is flushed. */
export async function flushStdout(): Promise<void> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
}

/**
 * Writes a large string to stdout, resolving once flushed. A reader that goes away
 * (`kcompat … | head`) ends the process quietly with status 0, as C tools do.
 */
export async function writeStdout(text: string): Promise<void> {
  handleEpipe()
  if (text.length === 0) return
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(text, (err) => {
      if (err && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err)
      else if (!err) resolve()
    })
  })
}
