#!/usr/bin/env node
// Post-build step (npm run build): copies the data files tsc does not emit (JSON under
// src/, and the C source of the verify guest loader, built at first use) into dist/, and
// writes oclif.manifest.json so the CLI finds a command without
// importing every command module at start-up.
import {cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

function copyJson(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) copyJson(p)
    else if (name.endsWith('.json') || name.endsWith('.c')) {
      const dest = join(root, 'dist', relative(join(root, 'src'), p))
      mkdirSync(dirname(dest), {recursive: true})
      cpSync(p, dest)
    }
  }
}
copyJson(join(root, 'src'))

// A build id: the hash of all compiled code. Caches of computed results (the matrix
// cache in the index) key on it, so a rebuilt kcompat never reuses a stale answer.
const {createHash} = await import('node:crypto')
const {readFileSync} = await import('node:fs')
const hash = createHash('sha256')
function hashDir(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) hashDir(p)
    else if (name.endsWith('.js') || name.endsWith('.json')) hash.update(relative(root, p)).update(readFileSync(p))
  }
}
hashDir(join(root, 'dist'))
writeFileSync(join(root, 'dist', 'build-id.txt'), `${hash.digest('hex').slice(0, 16)}\n`)

// oclif would read a stale manifest instead of the commands: remove it first.
rmSync(join(root, 'oclif.manifest.json'), {force: true})
const {Config} = await import('@oclif/core')
const config = await Config.load({root})
const plugin = config.plugins.get(config.pjson.name)
if (!plugin) throw new Error(`oclif plugin ${config.pjson.name} not found`)
writeFileSync(join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest)}\n`)
