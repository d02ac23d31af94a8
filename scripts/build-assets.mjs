#!/usr/bin/env node
// Post-build step (npm run build): copies the data files tsc does not emit (JSON under
// src/) into dist/, and writes oclif.manifest.json so the CLI finds a command without
// importing every command module at start-up.
import {cpSync, mkdirSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

function copyJson(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) copyJson(p)
    else if (name.endsWith('.json')) {
      const dest = join(root, 'dist', relative(join(root, 'src'), p))
      mkdirSync(dirname(dest), {recursive: true})
      cpSync(p, dest)
    }
  }
}
copyJson(join(root, 'src'))

const {Config} = await import('@oclif/core')
const config = await Config.load({root})
const plugin = config.plugins.get(config.pjson.name)
if (!plugin) throw new Error(`oclif plugin ${config.pjson.name} not found`)
writeFileSync(join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest)}\n`)
