/**
 * Entry of a worker thread started by pool.ts: imports the task module named in
 * `workerData`, creates the task once, then answers `{i, job}` messages with
 * `{i, value}` or `{i, error}`. Large byte results are transferred, not copied.
 */
import {parentPort, workerData} from 'node:worker_threads'
import type {TaskModule} from './pool.js'
import {serializeError, taskUrl} from './pool.js'

const {task, init} = workerData as {task: string; init: unknown}
const port = parentPort!
const mod = (await import(taskUrl(task, import.meta.url))) as TaskModule<unknown, unknown, unknown>
const run = await mod.createTask(init)

/** ArrayBuffers a result owns entirely (they move to the main thread without a copy). */
function transferables(v: unknown, out: ArrayBuffer[] = [], depth = 0): ArrayBuffer[] {
  if (depth > 3 || v === null || typeof v !== 'object') return out
  if (v instanceof Uint8Array) {
    if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && v.buffer instanceof ArrayBuffer && !out.includes(v.buffer)) out.push(v.buffer)
    return out
  }
  for (const x of Array.isArray(v) ? v : Object.values(v)) transferables(x, out, depth + 1)
  return out
}

port.on('message', async (m: {i: number; job: unknown}) => {
  try {
    const value = await run(m.job)
    port.postMessage({i: m.i, value}, transferables(value))
  } catch (e) {
    port.postMessage({i: m.i, error: serializeError(e)})
  }
})
