#!/usr/bin/env node
// Writes the distinct CO-RE objects embedded in the installed libbpf-tools binaries
// (/usr/sbin, from `dpkg -L libbpf-tools`) to DIR, one file per object, and prints how
// many. Used by bench/btfgen.sh.
//   node bench/btfgen-extract.mjs DIR
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parseBpfObject} from '../dist/core/object.js'

const dir = process.argv[2]
if (!dir) {
  console.error('usage: btfgen-extract.mjs DIR')
  process.exit(2)
}
const list = spawnSync('dpkg', ['-L', 'libbpf-tools'], {encoding: 'utf8'})
if (list.status !== 0) {
  console.error('libbpf-tools is not installed (apt-get install libbpf-tools)')
  process.exit(1)
}
mkdirSync(dir, {recursive: true})
const seen = new Set()
let n = 0
for (const file of list.stdout.split('\n')) {
  if (!file.startsWith('/usr/sbin/') || !existsSync(file)) continue
  const bytes = readFileSync(file)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let at = bytes.indexOf(0x7f, 1); at >= 0 && at + 64 <= bytes.length; at = bytes.indexOf(0x7f, at + 1)) {
    // \x7fELF, 64-bit, ET_REL, EM_BPF; the section header table ends the object
    if (bytes[at + 1] !== 0x45 || bytes[at + 2] !== 0x4c || bytes[at + 3] !== 0x46 || bytes[at + 4] !== 2) continue
    const le = bytes[at + 5] === 1
    if (dv.getUint16(at + 16, le) !== 1 || dv.getUint16(at + 18, le) !== 247) continue
    const end = at + Number(dv.getBigUint64(at + 40, le)) + dv.getUint16(at + 58, le) * dv.getUint16(at + 60, le)
    if (end > bytes.length) continue
    const obj = bytes.subarray(at, end)
    const h = createHash('sha256').update(obj).digest('hex')
    if (seen.has(h)) continue
    seen.add(h)
    try {
      if (parseBpfObject(obj).relos.length === 0) continue
    } catch {
      continue
    }
    writeFileSync(join(dir, `${file.slice('/usr/sbin/'.length)}-${n}.bpf.o`), obj)
    n++
  }
}
console.log(n)
