import {mkdirSync, renameSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../archive/archive.js'
import {xzCompress} from '../archive/compress.js'
import {writeTar} from '../archive/tar.js'
import {loadBpfObject} from '../core/object.js'
import {kernelBtfFromArchive, kernelBtfFromFile} from '../core/target.js'
import {BaseCommand} from '../lib/base-command.js'
import {minimizeArchive} from '../minimize/archive.js'
import {type MinimizeFailure, minimizeBtf} from '../minimize/btfgen.js'

interface KernelReport {
  kernel: string
  out: string | null
  types: number
  bytes: number
  failures: MinimizeFailure[]
}

/** Writes a file via a temporary name, so an interrupted run leaves no partial file. */
function writeAtomic(path: string, data: Uint8Array): void {
  mkdirSync(dirname(path), {recursive: true})
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, data)
  renameSync(tmp, path)
}

export default class Btfgen extends BaseCommand {
  static override summary = 'Minimized kernel BTF for CO-RE objects (bpftool gen min_core_btf), for one kernel or the whole archive.'
  static override description = [
    'Keeps only the types and members the objects\' CO-RE relocations use, resolved as libbpf resolves them; give the result to libbpf as bpf_object_open_opts.btf_custom_path on a kernel without BTF. The output is byte-identical to `bpftool gen min_core_btf` (bpftool v7.1) for the same inputs; --compact also drops enum values no relocation asks for, which makes it smaller while libbpf decides every relocation the same way.',
    'With --all, every archived kernel is done in one run and --out is a directory laid out as the archive (<os-id>/<version>/<arch>/<release>.btf), or, with --tar, one .tar.xz holding that tree.',
    'Relocations that cannot resolve on a kernel (libbpf would refuse the object there, e.g. ambiguous candidates) are reported for that kernel, no file is written for it, and the exit status is 1.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> btfgen --btf /sys/kernel/btf/vmlinux --object prog.bpf.o --out min.btf',
    '<%= config.bin %> btfgen --kernel 6.1.0-56-cloud-amd64 --object a.bpf.o --object b.bpf.o --out 6.1.btf',
    '<%= config.bin %> btfgen --all --object prog.bpf.o --out btfs.tar.xz --tar --compact',
  ]
  static override flags = {
    object: Flags.string({char: 'o', description: 'BPF object (repeat for several)', required: true, multiple: true}),
    btf: Flags.string({description: 'kernel BTF: raw, ELF vmlinux, BTFHub .btf.tar.xz, xz/gzip', exactlyOne: ['btf', 'kernel', 'all']}),
    kernel: Flags.string({description: 'an archived kernel, by release (uname -r)', exactlyOne: ['btf', 'kernel', 'all']}),
    all: Flags.boolean({description: 'every kernel of the archive; --out is then a directory (or a .tar.xz with --tar)', exactlyOne: ['btf', 'kernel', 'all']}),
    arch: Flags.string({description: 'with --kernel: the architecture, when the archive has the release for several'}),
    archive: Flags.string({description: 'archive directory for --kernel/--all (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    out: Flags.string({description: 'output file (directory with --all, .tar.xz with --all --tar)', required: true}),
    tar: Flags.boolean({description: 'with --all: write one .tar.xz instead of a directory tree', dependsOn: ['all']}),
    compact: Flags.boolean({description: 'also drop enum values no relocation needs (smaller than bpftool\'s output; same libbpf decisions)'}),
    json: Flags.boolean({description: 'print {"kernels": [{kernel, out, types, bytes, failures}]}'}),
    'no-modules': Flags.boolean({description: "leave archived module BTF out: relocations that resolve only in a module stay unresolved, as with bpftool gen min_core_btf"}),
    jobs: Flags.integer({char: 'j', description: 'with --all: threads to spread the kernels over (default: one per CPU, but one per 32 kernels at most)', min: 1}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Btfgen)
    const opts = {compact: flags.compact}
    const reports: KernelReport[] = []

    if (flags.all) {
      const root = resolveArchiveDir(flags.archive)
      const files: {name: string; data: Uint8Array}[] = []
      for await (const k of minimizeArchive(root, flags.object, {...opts, jobs: flags.jobs, noModules: flags['no-modules']})) {
        const ok = k.result.failures.length === 0
        const out = flags.tar ? `${flags.out}:${k.path}` : join(flags.out, k.path)
        if (ok) {
          if (flags.tar) files.push({name: k.path, data: k.result.bytes})
          else writeAtomic(out, k.result.bytes)
        }
        reports.push({kernel: `${k.entry.release} (${k.entry.distro} ${k.entry.version} ${k.entry.arch})`, out: ok ? out : null, types: k.result.types, bytes: k.result.bytes.length, failures: k.result.failures})
      }
      if (flags.tar) writeAtomic(flags.out, xzCompress(await writeTar(files)))
    } else {
      const objects = []
      for (const path of flags.object) objects.push(await loadBpfObject(path))
      const kernel = flags.kernel
        ? await kernelBtfFromArchive(flags.kernel, {arch: flags.arch, archive: flags.archive, noModules: flags['no-modules'], objects})
        : await kernelBtfFromFile(flags.btf!)
      const result = minimizeBtf(kernel.btf, objects, {...opts, ...(kernel.modules ? {modules: kernel.modules.modules} : {})})
      const ok = result.failures.length === 0
      if (ok) writeAtomic(flags.out, result.bytes)
      reports.push({kernel: kernel.name, out: ok ? flags.out : null, types: result.types, bytes: result.bytes.length, failures: result.failures})
    }

    if (flags.json) await this.writeOut(`${JSON.stringify({kernels: reports}, null, 2)}\n`)
    else await this.writeOut(renderText(reports))
    if (reports.some((r) => r.failures.length > 0)) this.exit(1)
  }
}

function renderText(reports: KernelReport[]): string {
  const lines: string[] = []
  for (const r of reports) {
    if (r.failures.length === 0) {
      lines.push(`${r.kernel}: ${r.out} (${r.types} types, ${r.bytes} bytes)`)
      continue
    }
    lines.push(`${r.kernel}: not written: ${r.failures.length} relocation${r.failures.length === 1 ? '' : 's'} cannot be resolved`)
    for (const f of r.failures) lines.push(`  ${f.object}: ${f.section} relo #${f.index} <${f.kind}> ${f.local}: [${f.code}] ${f.reason}`)
  }
  return `${lines.join('\n')}\n`
}
