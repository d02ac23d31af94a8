import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Flags} from '@oclif/core'
import {addKernelDeb} from '../../archive/add-deb.js'
import {resolveArchiveDir} from '../../archive/archive.js'
import {download} from '../../archive/download.js'
import {originOfUrl} from '../../archive/image.js'
import {addDebugDebCommand} from '../../archive/debug-deb.js'
import {describeTimings} from '../../generate/describe.js'
import {BaseCommand} from '../../lib/base-command.js'
import {ProgressLine, formatBytes} from '../../lib/progress.js'

export default class ArchiveAdd extends BaseCommand {
  static override summary = 'Add a Debian kernel image package (.deb file or URL) to the archive.'
  static override description =
    'Reads /boot/vmlinuz-* (or vmlinux-*) and /boot/config-* from the package, decompresses the image whatever its format (bzImage with a gzip/xz/zstd/lz4/lzma/bzip2/lzo payload, arm64 Image, EFI zboot, plain ELF), takes its .BTF and records the BPF-relevant config. A kernel built without BTF is recorded as such, with its config. Adding the same package again changes nothing.'
  static override examples = [
    '<%= config.bin %> archive add --deb linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb',
    '<%= config.bin %> archive add --deb ./linux-image-6.1.0-56-s390x_6.1.192-2_s390x.deb --archive ./my-archive',
  ]
  static override flags = {
    deb: Flags.string({description: 'a linux-image-*.deb file, or an http(s) URL of one'}),
    'debug-deb': Flags.string({description: "a linux-image-*-dbg .deb file or URL: generate the kernel's BTF from its vmlinux with pahole (for kernels that ship none)"}),
    pahole: Flags.string({description: 'with --debug-deb: pahole to run (default: $KCOMPAT_PAHOLE, else pahole on PATH)'}),
    libbpf: Flags.string({description: 'with --debug-deb: oldest libbpf that must parse the BTF (e.g. 0.7)'}),
    'os-version': Flags.string({description: 'Debian release to file it under (default: inferred, e.g. 12 for 6.1 and +deb12 kernels)'}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print the manifest entry as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ArchiveAdd)
    if (!flags.deb && !flags['debug-deb']) this.error('give --deb FILE|URL, --debug-deb FILE|URL, or both', {exit: 2})
    const root = resolveArchiveDir(flags.archive)
    const progress = new ProgressLine(process.stderr, !flags.json)
    let file = flags.deb
    let tmp: string | undefined
    try {
      if (flags.deb && /^https?:\/\//.test(flags.deb)) {
        tmp = mkdtempSync(join(tmpdir(), 'kcompat-add-'))
        file = join(tmp, decodeURIComponent(flags.deb.split('/').pop() || 'package.deb'))
        await download(flags.deb, file, {
          onProgress: (e) => progress.update(`downloading ${formatBytes(e.received)}${e.total ? ` of ${formatBytes(e.total)}` : ''}`),
        })
        progress.clear()
      }
      const origin = flags.deb && tmp ? originOfUrl(flags.deb) : undefined
      const r = file ? await addKernelDeb(root, file, {osVersion: flags['os-version'], origin}) : undefined
      const d = flags['debug-deb'] ? await addDebugDebCommand(root, flags['debug-deb'], {osVersion: flags['os-version'], pahole: flags.pahole, libbpf: flags.libbpf}, progress) : undefined
      if (d) {
        if (flags.json) {
          await this.writeOut(`${JSON.stringify({...d.entry, timings: d.timings, warnings: d.warnings}, null, 2)}\n`)
          return
        }
        for (const w of d.warnings) process.stderr.write(`kcompat: warning: ${w}\n`)
        const e = d.entry
        this.log(`${d.changed ? 'added' : 'unchanged'}: ${e.distro} ${e.version} ${e.arch} ${e.release} (${e.flavor}), BTF: ${e.btf} -> ${e.path}`)
        this.log(`  from ${d.entryPath} in ${e.source.package} ${e.source.packageVersion}`)
        this.log(`  pahole ${e.source.generator?.version}: ${e.source.generator?.flags.join(' ')}`)
        this.log(`  ${describeTimings(d.timings)}`)
        return
      }
      if (!r) return
      if (flags.json) {
        await this.writeOut(`${JSON.stringify(r.entry, null, 2)}\n`)
        return
      }
      const e = r.entry
      this.log(`${r.changed ? 'added' : 'unchanged'}: ${e.distro} ${e.version} ${e.arch} ${e.release} (${e.flavor}), BTF: ${e.btf}${e.path ? ` -> ${e.path}` : ''}`)
      for (const s of r.steps) this.log(`  ${s}`)
    } finally {
      if (tmp) rmSync(tmp, {recursive: true, force: true})
    }
  }
}
