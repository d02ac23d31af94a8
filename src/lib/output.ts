/**
 * Writing results and library errors to the terminal, shared by oclif commands
 * (BaseCommand) and the start-up fast path (fast.ts), so both look the same.
 */
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

/** A synchronous-looking writer to stdout (Node's stdout writes are synchronous on Linux for files, pipes and TTYs). */
export function stdoutWriter(): (chunk: string) => void {
  handleEpipe()
  return (chunk) => {
    if (chunk.length > 0) process.stdout.write(chunk)
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
