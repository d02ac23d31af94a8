import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../lib/base-command.js'
import {runDebianSync} from '../../lib/sync-cli/debian.js'
import {runRpmSync} from '../../lib/sync-cli/rpm.js'
import {runUbuntuSync} from '../../lib/sync-cli/ubuntu.js'
import {runBtfhubSync} from '../../lib/sync-cli/btfhub.js'

export default class ArchiveSync extends BaseCommand {
  static override summary = "Add the kernels of a distro's package repository, BTFHub's archive or a published kcompat archive to the archive."
  static override description =
    "debian, ubuntu: reads the mirror's Packages index for the suite and architectures (Ubuntu: checked against its Release file; the image, linux-modules and linux-modules-extra packages of each kernel), selects the kernel packages (not meta, -dbg or -unsigned packages where a signed one exists), downloads each one (checksummed against the index, resumable, retried), adds it and deletes the download. Kernels already archived from the same package version are skipped. Debian's mirror defaults to the one this machine's apt sources list for the suite; Ubuntu's is always given with --mirror. rpm: a yum/dnf repository's repodata (--repo). btfhub: BTFHub's archive over git (a sparse, blob-less clone) or a static HTTP mirror (--from). No distro, --from URL: a kcompat archive published with `archive publish` (manifest and index now, each kernel's BTF on first use). --shard I/N builds one shard, to be combined with `archive merge`."
  static override examples = [
    '<%= config.bin %> archive sync debian --suite bookworm --arch amd64,arm64 --flavor generic,cloud,rt --newest',
    '<%= config.bin %> archive sync debian --suite bookworm-security --arch amd64 --series 6.12 --dry-run',
    '<%= config.bin %> archive sync rpm --repo https://MIRROR/almalinux/9/BaseOS/x86_64/os --distro almalinux --version 9 --newest',
    '<%= config.bin %> archive sync ubuntu --mirror https://MIRROR/ubuntu --suite jammy-updates --arch amd64 --flavor generic,aws --newest',
    '<%= config.bin %> archive sync btfhub --from https://MIRROR/btfhub-archive.git --distro centos --version 7 --arch x86_64',
    '<%= config.bin %> archive sync --from https://MIRROR/kcompat-archive/',
    '<%= config.bin %> archive sync debian --suite bookworm --arch amd64,arm64 --shard 2/4 --archive shard-2',
  ]
  static override args = {distro: Args.string({description: 'distribution (none with --from URL: a published kcompat archive)', options: ['debian', 'ubuntu', 'btfhub', 'rpm']})}
  static override flags = {
    suite: Flags.string({description: 'suite, e.g. bookworm, bookworm-security, jammy-updates (debian, ubuntu: required; debian: repeatable or comma-separated, each from the mirror apt lists for it)', multiple: true}),
    arch: Flags.string({description: 'Debian/Ubuntu architectures, comma-separated (amd64,arm64,s390x,ppc64el,i386; debian, ubuntu: required; `all` = every one the suite\'s Release file lists); btfhub: one arch (x86_64, arm64); rpm: RPM arches (x86_64,aarch64), default all'}),
    flavor: Flags.string({description: 'flavors to keep, comma-separated (generic,cloud,rt,pae); default all', multiple: true}),
    series: Flags.string({description: 'kernel series to keep, comma-separated (6.1,6.12); default all', multiple: true}),
    newest: Flags.boolean({description: 'only the newest package of each series and flavor'}),
    mirror: Flags.string({description: "mirror URL (default: the one apt's sources list for the suite)"}),
    'os-version': Flags.string({description: 'Debian release to file kernels under (default: inferred per kernel)'}),
    'cache-dir': Flags.string({description: 'download directory (default: a temporary one, removed afterwards)'}),
    keep: Flags.boolean({description: 'keep downloaded packages in --cache-dir'}),
    'dry-run': Flags.boolean({description: 'list what would be downloaded and added, change nothing'}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print the result as JSON'}),
    generate: Flags.boolean({description: "for kernels without BTF: download their -dbg package (ubuntu: -dbgsym; rpm: -debuginfo) and generate BTF with pahole (stored as \"btf\": \"generated\")"}),
    pahole: Flags.string({description: 'with --generate: pahole to run (default: $KCOMPAT_PAHOLE, else pahole on PATH)'}),
    libbpf: Flags.string({description: 'with --generate: oldest libbpf that must parse the BTF (e.g. 0.7)'}),
    jobs: Flags.integer({description: 'with --generate: pahole threads (default 1: deterministic)', min: 1}),
    'backfill-only': Flags.boolean({description: "only record where archived kernels' images came from (source.image), for those whose package is in the index; add nothing"}),
    // btfhub, and published kcompat archives (src/lib/sync-cli/btfhub.ts)
    from: Flags.string({description: 'btfhub: the btfhub-archive git URL or path, or a static HTTP mirror of its tree; without a distro: URL of a published kcompat archive (archive publish)'}),
    distro: Flags.string({description: 'btfhub: OS id to import (ubuntu, centos, debian, …); default all. rpm: os id to file kernels under (rhel, centos, almalinux, rocky, ol, fedora, amzn, sles, opensuse-leap, openeuler)'}),
    version: Flags.string({description: 'btfhub: OS version to import (20.04, 7, …); default all. rpm: os version to file kernels under (8, 9, 2023, 15.5, 22.03)'}),
    transport: Flags.string({description: 'btfhub: git or http (default: http for http(s) URLs not ending in .git)', options: ['git', 'http']}),
    listing: Flags.string({description: "btfhub over http: URL of the tree's listing in GitHub's git trees API format (files checked by git blob id)"}),
    modules: Flags.boolean({description: "store the BTF of each kernel's modules (default; --no-modules skips); kernels archived without it are fetched again for it", default: true, allowNo: true}),
    // ubuntu (and --shard for any source)
    component: Flags.string({description: 'debian, ubuntu: repository components to read, comma-separated (default main; e.g. main,contrib or main,universe)', multiple: true}),
    ddebs: Flags.string({description: 'ubuntu, with --generate: root of the ddebs repository holding the dbgsym packages (default: --mirror; not for debian, whose -dbg packages are in the suite itself)'}),
    shard: Flags.string({description: 'build only shard I of N (I/N, e.g. 2/8): kernels whose sha256(<distro>/<version>/<arch>/<release>) mod N is I-1; combine the shard archives with `archive merge`'}),
    // rpm: a yum/dnf repository (src/lib/sync-cli/rpm.ts)
    repo: Flags.string({description: 'rpm: repository root URL (the directory holding repodata/)'}),
    'debuginfo-repo': Flags.string({description: 'rpm, with --generate: repository holding the kernel-debuginfo packages (default: --repo)'}),
    // (--distro and --version, declared above for btfhub, are required for rpm: where to file kernels)
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ArchiveSync)
    if (args.distro === 'rpm') return runRpmSync(this, flags)
    if (args.distro === 'btfhub' || args.distro === undefined) return runBtfhubSync(this, args.distro, flags)
    if (args.distro === 'ubuntu') {
      if ((flags.suite ?? []).length > 1) this.error('ubuntu takes one --suite', {exit: 2})
      return runUbuntuSync(this, {...flags, suite: flags.suite?.[0]})
    }
    return runDebianSync(this, flags)
  }
}
