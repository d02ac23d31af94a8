/**
 * Real-world CO-RE objects: the BPF ELF objects that Debian's `libbpf-tools` package
 * embeds in its executables (each tool's skeleton carries its object as a byte array).
 * They are found at test time in the installed binaries (/usr/sbin) and written to the
 * scratch directory; nothing is committed.
 */
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'
import {scratchDir} from '../helpers/fixtures.js'

const EM_BPF = 247

/** The BPF objects inside one executable: every `\x7fELF` that is a 64-bit EM_BPF relocatable file. */
export function embeddedBpfObjects(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let at = bytes.indexOf(0x7f, 1); at >= 0 && at + 64 <= bytes.length; at = bytes.indexOf(0x7f, at + 1)) {
    if (bytes[at + 1] !== 0x45 || bytes[at + 2] !== 0x4c || bytes[at + 3] !== 0x46 || bytes[at + 4] !== 2) continue
    const le = bytes[at + 5] === 1
    if (dv.getUint16(at + 18, le) !== EM_BPF || dv.getUint16(at + 16, le) !== 1) continue
    // section headers come last in objects written by clang/bpftool: they end the file
    const shoff = Number(dv.getBigUint64(at + 40, le))
    const shentsize = dv.getUint16(at + 58, le)
    const shnum = dv.getUint16(at + 60, le)
    const end = at + shoff + shentsize * shnum
    if (shentsize !== 64 || end > bytes.length) continue
    out.push(bytes.slice(at, end))
  }
  return out
}

export interface ToolObject {
  tool: string
  path: string
}

/**
 * The CO-RE objects of the installed libbpf-tools, extracted to the scratch directory;
 * empty when the package is not installed.
 */
export function libbpfToolsObjects(): ToolObject[] {
  const r = spawnSync('dpkg', ['-L', 'libbpf-tools'], {encoding: 'utf8'})
  if (r.status !== 0) return []
  const dir = join(scratchDir(), 'libbpf-tools')
  mkdirSync(dir, {recursive: true})
  const out: ToolObject[] = []
  for (const file of r.stdout.split('\n')) {
    if (!file.startsWith('/usr/sbin/') || !existsSync(file)) continue
    const tool = file.slice('/usr/sbin/'.length)
    embeddedBpfObjects(readFileSync(file)).forEach((obj, i) => {
      const path = join(dir, `${tool}${i === 0 ? '' : `.${i}`}.bpf.o`)
      writeFileSync(path, obj)
      out.push({tool, path})
    })
  }
  return out
}
