/**
 * Per-kernel work spread over the machine's cores.
 *
 * `btfgen --all` and `matrix` do the same independent work for each of many kernels
 * (read and parse its BTF, resolve every object against it). {@link runJobs} runs such
 * jobs on worker threads plus the calling thread, and yields the results in job order,
 * so callers write output exactly as a sequential run would.
 *
 * - A task is a module under src/ that exports `createTask(init)`, returning the
 *   function that does one job; each worker imports it once and keeps its state (the
 *   objects, say) across jobs. The calling thread runs the same function inline.
 * - Scheduling is dynamic: whoever is free takes the next job, so one slow kernel does
 *   not hold up the others. The calling thread takes a job only when no result is
 *   waiting to be yielded, and yields between jobs so the workers' results are handled.
 * - Results and errors cross threads by structured clone; a KcompatError keeps its
 *   class, code and offset (see {@link reviveError}).
 * - Workers exist only for compiled code (dist/): under the TypeScript sources (tests)
 *   everything runs inline, as it does with `jobs: 1` or fewer than two jobs.
 */
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {BtfError, ElfError, InputError, KcompatError} from '../errors.js'

export interface TaskModule<I, J, R> {
  createTask(init: I): Promise<(job: J) => Promise<R> | R> | ((job: J) => Promise<R> | R)
}

export interface RunJobsOptions<I> {
  /** Module path relative to src/ (or dist/), without extension, e.g. `minimize/parallel`; or a file: URL. */
  task: string
  init: I
  /** Threads in all, the calling one included; default: the available cores. */
  jobs?: number
}

/** Error classes a worker's error can be revived as (others become KcompatError). */
const ERROR_CLASSES = new Map<string, new (code: string, message: string) => KcompatError>([
  ['BtfError', BtfError],
  ['ElfError', ElfError],
  ['InputError', InputError],
  ['KcompatError', KcompatError],
])

/** Registers another KcompatError subclass so it survives the trip from a worker. */
export function registerErrorClass(ctor: new (code: string, message: string) => KcompatError): void {
  ERROR_CLASSES.set(ctor.name, ctor)
}

interface WireError {
  name: string
  code?: string
  message: string
  offset?: number
  stack?: string
}

export function serializeError(e: unknown): WireError {
  if (e instanceof KcompatError) return {name: e.name, code: e.code, message: e.message, offset: e.offset, stack: e.stack}
  if (e instanceof Error) return {name: e.name, message: e.message, stack: e.stack}
  return {name: 'Error', message: String(e)}
}

/** The error a worker threw, as an instance of the same class when it is a known KcompatError. */
export function reviveError(w: WireError): Error {
  if (w.code !== undefined) {
    const Ctor = ERROR_CLASSES.get(w.name) ?? KcompatError
    const e = new Ctor(w.code, w.message)
    // the message already carries the offset suffix: keep both as they were
    if (w.offset !== undefined) Object.defineProperty(e, 'offset', {value: w.offset, enumerable: true})
    if (w.stack) e.stack = w.stack
    return e
  }
  const e = new Error(w.message)
  e.name = w.name
  if (w.stack) e.stack = w.stack
  return e
}

/** Where the compiled worker entry is, or undefined when running from the TypeScript sources. */
function workerEntry(): string | undefined {
  const here = fileURLToPath(import.meta.url)
  return here.endsWith('.js') ? here.replace(/pool\.js$/, 'worker.js') : undefined
}

/**
 * A worker thread costs about 200 ms before its first result (loading the code, setting
 * up the task, running cold code) and runs its first few dozen jobs slower than a warm
 * thread: measured with btfgen, 16 kernels were done faster by one thread than by two.
 * So by default a thread is added only for every MIN_JOBS_PER_THREAD jobs; an explicit
 * `jobs` is taken as asked (up to the number of jobs).
 */
export const MIN_JOBS_PER_THREAD = 32

/** How many threads to use for `count` jobs. */
export function threadCount(requested: number | undefined, count: number): number {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1)) throw new RangeError(`jobs must be a positive integer, not ${requested}`)
  const want = requested ?? Math.min(availableParallelism(), Math.floor(count / MIN_JOBS_PER_THREAD))
  return Math.max(1, Math.min(want, count))
}

/** The URL of task module `task`: a path under src/ (dist/) without extension, or a file: URL. */
export function taskUrl(task: string, from: string): string {
  if (task.startsWith('file:')) return task
  const ext = fileURLToPath(from).endsWith('.ts') ? '.ts' : '.js'
  return new URL(`../${task}${ext}`, from).href
}

async function loadTask<I, J, R>(task: string, init: I): Promise<(job: J) => Promise<R> | R> {
  const mod = (await import(taskUrl(task, import.meta.url))) as TaskModule<I, J, R>
  return mod.createTask(init)
}

/**
 * Runs `jobs` and yields their results in order.
 * @throws whatever a job throws (the first failure in job order), after stopping the workers.
 */
export async function* runJobs<I, J, R>(jobs: readonly J[], options: RunJobsOptions<I>): AsyncGenerator<R> {
  const entry = workerEntry()
  const threads = entry ? threadCount(options.jobs, jobs.length) : 1
  if (threads === 1) {
    const run = await loadTask<I, J, R>(options.task, options.init)
    for (const job of jobs) yield await run(job)
    return
  }

  type Slot = {done: true; value: R} | {done: true; error: Error} | {done: false}
  const slots: Slot[] = jobs.map(() => ({done: false}))
  let next = 0
  let wake: (() => void) | undefined
  const notify = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  const workers: Worker[] = []
  /** The job each worker holds, by worker. */
  const holding = new Map<Worker, number>()
  let stopping = false
  const feed = (w: Worker): void => {
    holding.delete(w)
    if (next >= jobs.length) return
    const i = next++
    holding.set(w, i)
    w.postMessage({i, job: jobs[i]})
  }
  // A worker that dies fails the job it held; the jobs not handed out yet go to the others.
  const lost = (w: Worker, error: Error): void => {
    const i = holding.get(w)
    holding.delete(w)
    if (i !== undefined && !slots[i]!.done) slots[i] = {done: true, error}
    notify()
  }
  for (let t = 0; t < threads - 1; t++) {
    const w = new Worker(entry!, {workerData: {task: options.task, init: options.init}})
    w.on('message', (m: {i: number; value?: R; error?: WireError}) => {
      slots[m.i] = m.error ? {done: true, error: reviveError(m.error)} : {done: true, value: m.value as R}
      feed(w)
      notify()
    })
    w.on('error', (e) => lost(w, e))
    w.on('exit', (code) => {
      if (!stopping) lost(w, new Error(`a worker thread exited (code ${code}) while checking job ${holding.get(w) ?? '-'}`))
    })
    workers.push(w)
    feed(w)
  }
  try {
    // the workers start first; the calling thread sets up its own copy meanwhile
    const run = await loadTask<I, J, R>(options.task, options.init)
    for (let i = 0; i < jobs.length; i++) {
      // Work inline while the result we need next is not there yet.
      while (!slots[i]!.done) {
        if (next < jobs.length) {
          const k = next++
          try {
            slots[k] = {done: true, value: await run(jobs[k]!)}
          } catch (e) {
            slots[k] = {done: true, error: e instanceof Error ? e : new Error(String(e))}
          }
          // let the workers' messages in
          await new Promise<void>((r) => setImmediate(r))
        } else {
          await new Promise<void>((r) => (wake = r))
        }
      }
      const s = slots[i] as {done: true; value?: R; error?: Error}
      slots[i] = {done: false}
      if (s.error) throw s.error
      yield s.value as R
    }
  } finally {
    stopping = true
    await Promise.all(workers.map((w) => w.terminate()))
  }
}
