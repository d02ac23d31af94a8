/**
 * The worker pool (src/parallel/pool.ts), through the compiled code: from the
 * TypeScript sources the pool never starts workers, so this test imports dist/ (built by
 * `npm test`'s pretest) and gives it a task module of its own.
 */
import {existsSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {describe, expect, it} from 'vitest'

const DIST = join(import.meta.dirname, '..', '..', 'dist')
const built = existsSync(join(DIST, 'parallel', 'pool.js'))

function taskModule(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kcompat-pool-'))
  const file = join(dir, 'task.mjs')
  writeFileSync(
    file,
    `import {isMainThread, threadId} from 'node:worker_threads'
import {InputError} from ${JSON.stringify(pathToFileURL(join(DIST, 'errors.js')).href)}
export function createTask(init) {
  return async (job) => {
    if (job === 'crash' && !isMainThread) process.exit(3)
    if (job === 'bad') throw new InputError('INPUT_TEST', 'a bad job', {offset: 7})
    if (job === 'slow') await new Promise((r) => setTimeout(r, 200))
    return {job, twice: typeof job === 'number' ? job * init.factor : job, main: isMainThread, thread: threadId}
  }
}
`,
  )
  return pathToFileURL(file).href
}

describe.skipIf(!built)('worker pool (compiled)', async () => {
  const {runJobs} = (await import(pathToFileURL(join(DIST, 'parallel', 'pool.js')).href)) as typeof import('../../src/parallel/pool.js')
  const errors = (await import(pathToFileURL(join(DIST, 'errors.js')).href)) as typeof import('../../src/errors.js')
  const task = taskModule()
  const collect = async (jobs: unknown[], n: number): Promise<Array<{job: unknown; twice: unknown; main: boolean}>> => {
    const out = []
    for await (const r of runJobs<{factor: number}, unknown, {job: unknown; twice: unknown; main: boolean}>(jobs, {task, init: {factor: 2}, jobs: n})) out.push(r)
    return out
  }

  it('yields every result in job order, computed on workers and on the calling thread', async () => {
    const jobs = ['slow', ...Array.from({length: 60}, (_v, i) => i)]
    const out = await collect(jobs, 3)
    expect(out.map((r) => r.job)).toEqual(jobs)
    expect(out.slice(1).map((r) => r.twice)).toEqual(jobs.slice(1).map((j) => (j as number) * 2))
    expect(out.some((r) => r.main)).toBe(true)
    expect(out.some((r) => !r.main)).toBe(true)
  })

  it('a job\'s KcompatError reaches the caller with its class, code and offset', async () => {
    let err: unknown
    try {
      await collect(['slow', 1, 'bad', 2], 2)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(errors.InputError)
    expect(err).toMatchObject({code: 'INPUT_TEST', offset: 7})
  })

  it('a worker that exits fails the job it held instead of leaving the caller waiting', async () => {
    // the first job goes to the first worker before the calling thread takes any
    await expect(collect(['crash', 1, 2, 3], 2)).rejects.toThrow(/exited \(code 3\)/)
  })
})
