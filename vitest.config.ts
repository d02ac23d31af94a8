import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // better-sqlite3 is a native addon: keep the default process pool.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: {FORCE_COLOR: '0'},
  },
})
