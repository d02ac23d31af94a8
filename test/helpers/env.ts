/**
 * Environment variables set for the tests of one file: `setEnvForFile` sets each before the
 * file's tests run and gives back the caller's values after them.
 */
import {afterAll, beforeAll} from 'vitest'

export function setEnvForFile(vars: Record<string, string>): void {
  const saved = new Map<string, string | undefined>()
  beforeAll(() => {
    for (const [k, v] of Object.entries(vars)) {
      saved.set(k, process.env[k])
      process.env[k] = v
    }
  })
  afterAll(() => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
}
