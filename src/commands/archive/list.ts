import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {readManifest} from '../../archive/manifest.js'
import {BaseCommand} from '../../lib/base-command.js'

export default class ArchiveList extends BaseCommand {
  static override summary = 'List the kernels in the archive.'
  static override description =
    'Reads the archive manifest. `btf` is in-kernel (taken from the kernel image), generated (made from debug info) or none (the kernel has no BTF and none was generated). MODULES is how many modules have BTF in the archive (- when the modules were never added).'
  static override examples = ['<%= config.bin %> archive list', '<%= config.bin %> archive list --json --archive ./my-archive']
  static override flags = {
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print a JSON array of {release, distro, version, arch, flavor, btf, sha256, path, modules}'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ArchiveList)
    const root = resolveArchiveDir(flags.archive)
    const kernels = readManifest(root).kernels
    if (flags.json) {
      const rows = kernels.map((k) => ({
        release: k.release,
        distro: k.distro,
        version: k.version,
        arch: k.arch,
        flavor: k.flavor,
        btf: k.btf,
        sha256: k.sha256,
        path: k.path,
        modules: k.modules ? k.modules.count : null,
      }))
      await this.writeOut(`${JSON.stringify(rows, null, 2)}\n`)
      return
    }
    if (kernels.length === 0) {
      this.log(`no kernels in ${root}`)
      return
    }
    const head = ['DISTRO', 'VERSION', 'ARCH', 'RELEASE', 'FLAVOR', 'BTF', 'MODULES']
    // MODULES: modules with BTF stored; '-' when they were never added
    const rows = kernels.map((k) => [k.distro, k.version, k.arch, k.release, k.flavor, k.btf, k.modules ? String(k.modules.count) : '-'])
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
    this.log([fmt(head), ...rows.map(fmt), '', `${kernels.length} kernels in ${root}`].join('\n'))
  }
}
