import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {type ImageProgress, archivedKernelImage} from '../../archive/image.js'
import {BaseCommand} from '../../lib/base-command.js'
import {ProgressLine, formatBytes} from '../../lib/progress.js'

export default class ArchiveImage extends BaseCommand {
  static override summary = "Fetch an archived kernel's bootable image into the image cache and print its path."
  static override description =
    "Downloads the kernel image package the manifest records for the kernel (source.image) from the mirror apt's sources list for its suite (or --mirror), checked against the recorded sha256 and size and resumable, streams out only the image (e.g. boot/vmlinuz-<release>), checks its sha256, and keeps it in the image cache ($KCOMPAT_IMAGE_CACHE, else ~/.cache/kcompat/images), so a second run downloads nothing."
  static override examples = [
    '<%= config.bin %> archive image --kernel 6.1.0-56-cloud-amd64',
    '<%= config.bin %> archive image --kernel 6.1.0-56-arm64 --out vmlinuz --json',
  ]
  static override flags = {
    kernel: Flags.string({description: 'an archived kernel, by release (uname -r); see `kcompat archive list`', required: true}),
    arch: Flags.string({description: 'the architecture, when the archive has the release for several'}),
    out: Flags.string({description: 'also copy the image to this file'}),
    mirror: Flags.string({description: "repository root URL to download from (default: the one apt's sources list for the package's suite)"}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print the result as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ArchiveImage)
    const progress = new ProgressLine(process.stderr, !flags.json)
    const describe = (p: ImageProgress): string =>
      p.phase === 'download'
        ? `${flags.kernel}: downloading ${formatBytes(p.received)}${p.total ? ` of ${formatBytes(p.total)}` : ''}`
        : `${flags.kernel}: extracting ${formatBytes(p.written)} of ${formatBytes(p.total)}`
    let r
    try {
      r = await archivedKernelImage(resolveArchiveDir(flags.archive), flags.kernel, {
        arch: flags.arch,
        out: flags.out,
        mirror: flags.mirror,
        onProgress: (p) => progress.update(describe(p)),
      })
    } finally {
      progress.clear()
    }
    if (flags.json) {
      const {entry, ...rest} = r
      await this.writeOut(`${JSON.stringify({release: entry.release, arch: entry.arch, ...rest}, null, 2)}\n`)
      return
    }
    this.log(r.out ?? r.path)
  }
}
