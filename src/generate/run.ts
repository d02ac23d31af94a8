/**
 * Running pahole: progress while it works (elapsed time, its memory, its last line of
 * output), its own words when it fails.
 *
 * pahole's output is kept verbatim but bounded (the first and last 256 KiB of each
 * stream; a vmlinux can make pahole print a warning per function). Memory is sampled
 * from /proc/<pid>/status (VmRSS now, VmHWM the peak) where /proc exists; the peak is
 * what a machine running this needs. A pahole killed by a signal is reported with that
 * signal and its peak memory (SIGKILL on Linux is usually the OOM killer).
 */
import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {GenerateError} from './pahole.js'

export interface PaholeProgress {
  elapsedMs: number
  /** Resident memory now and at most so far, in KiB (undefined without /proc). */
  rssKiB?: number
  peakKiB?: number
  /** The last non-empty line pahole printed, if any. */
  lastLine?: string
}

export interface PaholeRun {
  command: string
  args: string[]
  elapsedMs: number
  peakKiB?: number
  stdout: string
  stderr: string
}

/** Keeps the head and tail of a long stream. */
class Bounded {
  private head = ''
  private tail = ''
  private dropped = 0
  constructor(private readonly limit = 256 * 1024) {}
  push(s: string): void {
    if (this.head.length < this.limit) {
      const take = s.slice(0, this.limit - this.head.length)
      this.head += take
      s = s.slice(take.length)
    }
    if (s === '') return
    this.tail += s
    if (this.tail.length > this.limit) {
      this.dropped += this.tail.length - this.limit
      this.tail = this.tail.slice(this.tail.length - this.limit)
    }
  }
  text(): string {
    return this.dropped > 0 ? `${this.head}\n[… ${this.dropped} characters left out …]\n${this.tail}` : this.head + this.tail
  }
}

async function procMemory(pid: number): Promise<{rss?: number; peak?: number}> {
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8')
    const kib = (k: string): number | undefined => {
      const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)
      return m ? Number(m[1]) : undefined
    }
    return {rss: kib('VmRSS'), peak: kib('VmHWM')}
  } catch {
    return {}
  }
}

/** `'a b'` quoting for showing a command line. */
export function shellQuote(args: string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_./=:,+@%-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

export interface RunOptions {
  onProgress?: (p: PaholeProgress) => void
  /** What the run is for, used in error messages (`encoding BTF from vmlinux-6.1.0-50-s390x`). */
  what?: string
  env?: NodeJS.ProcessEnv
  /** Sampling interval for progress and memory (default 250 ms). */
  intervalMs?: number
}

/**
 * Runs pahole to completion.
 * @throws GenerateError `TOOL_MISSING` (could not be started), `TOOL_FAILED` (non-zero
 *   exit or killed; the message carries the command and pahole's stderr verbatim).
 */
export function runPahole(command: string, args: string[], options: RunOptions = {}): Promise<PaholeRun> {
  const started = Date.now()
  const what = options.what ?? 'encoding BTF'
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env})
    const out = new Bounded()
    const err = new Bounded()
    let lastLine: string | undefined
    let peak: number | undefined
    let rss: number | undefined
    const note = (s: string): void => {
      const lines = s.split('\n').map((l) => l.trim()).filter(Boolean)
      if (lines.length > 0) lastLine = lines[lines.length - 1]
    }
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out.push(s)
      note(s)
    })
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err.push(s)
      note(s)
    })
    let sampling = false
    const timer = setInterval(() => {
      if (sampling || child.pid === undefined) return
      sampling = true
      void procMemory(child.pid).then((m) => {
        sampling = false
        if (m.rss !== undefined) rss = m.rss
        if (m.peak !== undefined) peak = Math.max(peak ?? 0, m.peak)
        options.onProgress?.({elapsedMs: Date.now() - started, rssKiB: rss, peakKiB: peak, lastLine})
      })
    }, options.intervalMs ?? 250)
    const commandLine = shellQuote([command, ...args])
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearInterval(timer)
      if (e.code === 'ENOENT' || e.code === 'EACCES') {
        reject(new GenerateError('TOOL_MISSING', `cannot run '${command}' (${e.code}): install dwarves, or give --pahole PATH`))
      } else reject(new GenerateError('TOOL_FAILED', `cannot run '${command}': ${e.message}`, {cause: e}))
    })
    child.on('close', (code, signal) => {
      clearInterval(timer)
      const elapsedMs = Date.now() - started
      const stderr = err.text()
      const stdout = out.text()
      if (code === 0) {
        options.onProgress?.({elapsedMs, rssKiB: rss, peakKiB: peak, lastLine})
        resolve({command, args, elapsedMs, peakKiB: peak, stdout, stderr})
        return
      }
      const said = `${stderr}${stdout}`.trimEnd()
      const mem = peak !== undefined ? `; its peak memory was ${(peak / 1024).toFixed(0)} MiB` : ''
      const how = signal
        ? `was killed by ${signal} after ${(elapsedMs / 1000).toFixed(1)} s${mem}${signal === 'SIGKILL' ? ' (on Linux usually the out-of-memory killer: free memory or add swap)' : ''}`
        : `exited with status ${code} after ${(elapsedMs / 1000).toFixed(1)} s`
      reject(
        new GenerateError(
          'TOOL_FAILED',
          `pahole ${how} while ${what}\n  command: ${commandLine}\n${said ? `  pahole said:\n${said}` : '  pahole printed nothing'}`,
        ),
      )
    })
  })
}
