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
import {runRpmAdd} from '../../lib/sync-cli/rpm.js'

export default class ArchiveAdd extends BaseCommand {
  static override summary = 'Add a kernel package to the archive: a Debian/Ubuntu image .deb or an RPM (file or URL), or a debug package to generate BTF from.'
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
    modules: Flags.boolean({description: "with --deb: store the BTF of the package's modules when the config has CONFIG_DEBUG_INFO_BTF_MODULES=y (default; --no-modules skips)", default: true, allowNo: true}),
    json: Flags.boolean({description: 'print the manifest entry as JSON'}),
    // rpm: one kernel package of the RPM family (src/lib/sync-cli/rpm.ts)
    rpm: Flags.string({description: 'a kernel RPM (kernel-core, kernel, kernel-default, kernel-uek…) file, or an http(s) URL of one'}),
    'rpm-modules': Flags.string({description: 'with --rpm: its kernel-modules* package (file or URL), for module BTF', multiple: true}),
    'debuginfo-rpm': Flags.string({description: "a kernel-debuginfo RPM (file or URL; alone or with --rpm): generate the kernel's BTF from its vmlinux with pahole (for kernels that ship none)"}),
    distro: Flags.string({description: 'with --rpm: os id to file it under (rhel, centos, almalinux, rocky, ol, fedora, amzn, sles, opensuse-leap, openeuler; default inferred from .fcN, .amznN, .oeN, uek)'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ArchiveAdd)
    if (flags.rpm || flags['debuginfo-rpm']) return runRpmAdd(this, flags)
    if (!flags.deb && !flags['debug-deb']) this.error('give --deb FILE|URL, --debug-deb FILE|URL, or both (or --rpm FILE|URL)', {exit: 2})
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
      const r = file
        ? await addKernelDeb(root, file, {
            osVersion: flags['os-version'],
            origin,
            modules: flags.modules,
            onModuleProgress: (m) => progress.update(`modules: ${m.files} read, ${m.withBtf} with BTF`),
          })
        : undefined
      progress.clear()
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
      if (r.modules) this.log(`  modules: ${r.modules.files} files, ${r.modules.count} with BTF${e.modules?.path ? ` -> ${e.modules.path}` : ''}, ${r.modules.withoutBtf} without`)
    } finally {
      if (tmp) rmSync(tmp, {recursive: true, force: true})
    }
  }
}
