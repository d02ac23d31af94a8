import {Flags} from '@oclif/core'
import {BaseCommand} from '../../lib/base-command.js'
import {exportArchivedBtf, exportArchivedBtfTo} from '../../lib/btf-export.js'
import {formatBytes} from '../../lib/progress.js'

export default class BtfExport extends BaseCommand {
  static override summary = "Write an archived kernel's BTF (or one of its modules') as a raw BTF file, e.g. for libbpf's btf_custom_path."
  static override description = [
    'The bytes the kernel would expose as /sys/kernel/btf/vmlinux, or with --module as /sys/kernel/btf/NAME (split BTF on that vmlinux): for a kernel that ships no BTF of its own, the BTF the archive generated from its debug package, to give libbpf as bpf_object_open_opts.btf_custom_path (or trim first with `kcompat btfgen`). Works the same whether the archive keeps the kernel as a .btf.tar.xz or only in its pack; the bytes are checked against the manifest\'s sha256.',
    '--out - writes to standard output. The file is written atomically.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> btf export --kernel 6.1.0-57-686-pae --out 6.1.0-57-686-pae.btf',
    '<%= config.bin %> btf export --kernel 6.12.117+deb12-cloud-amd64 --module nft_ct --out nft_ct.btf',
    '<%= config.bin %> btf export --kernel 6.1.0-50-s390x --out - | bpftool btf dump file /dev/stdin',
  ]
  static override flags = {
    kernel: Flags.string({description: "an archived kernel's release (uname -r)", required: true}),
    arch: Flags.string({description: 'the architecture, when the archive has the release for several'}),
    module: Flags.string({description: "a module's BTF instead (name as in lsmod and /sys/kernel/btf/), split on the kernel's vmlinux BTF"}),
    out: Flags.string({char: 'o', description: 'where to write the raw BTF (- for standard output)', required: true}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print what was written as JSON (not with --out -)'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(BtfExport)
    const target = {kernel: flags.kernel, arch: flags.arch, module: flags.module, archive: flags.archive}
    if (flags.out === '-') {
      if (flags.json) this.error('--json does not go with --out - (the BTF is the output)', {exit: 2})
      await this.writeOut((await exportArchivedBtf(target)).bytes)
      return
    }
    const {entry, bytes, sha256} = await exportArchivedBtfTo(target, flags.out)
    const what = {release: entry.release, arch: entry.arch, btf: entry.btf, module: flags.module ?? null, out: flags.out, size: bytes.length, sha256}
    if (flags.json) await this.writeOut(`${JSON.stringify(what, null, 2)}\n`)
    else this.log(`wrote ${flags.out}: ${flags.module ? `module ${flags.module} of ` : ''}${entry.release} (${entry.arch}, BTF ${entry.btf}), ${formatBytes(bytes.length)}, sha256 ${sha256.slice(0, 16)}…`)
  }
}
