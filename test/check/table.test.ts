/**
 * The verdict table: (kernel, section) → verdict, and the rule that decides it with the
 * features.md entry behind that rule. Kernels marked `archive` are the real Debian
 * kernels of fixtures/kernels, put in a temporary archive (their BTF and config decide);
 * the others are answered from distro facts and version rules alone (an empty archive).
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import type {ReasonStatus, Verdict} from '../../src/check/types.js'
import {fixtureArchive} from './fixture-archive.js'

interface Row {
  kernel: string
  section: string
  verdict: Verdict
  /** The deciding rule and its status. */
  rule: string
  status: ReasonStatus
  /** The features.md entry behind it. */
  cite: string
  arch?: string
  archive?: boolean
}

const r = (kernel: string, section: string, verdict: Verdict, rule: string, status: ReasonStatus, cite: string, extra: Partial<Row> = {}): Row => ({
  kernel,
  section,
  verdict,
  rule,
  status,
  cite,
  ...extra,
})
const A = {archive: true}

const ROWS: Row[] = [
  // RHEL / CentOS 7
  r('3.10.0-957', 'fentry/do_sys_open', 'unsupported', 'prog-type', 'fail', '§10a RHEL 7.6 tracing-only Technology Preview; §14'),
  r('3.10.0-957.el7.x86_64', 'kprobe/do_sys_open', 'supported', 'prog-type', 'pass', '§10a RHEL 7.6 "eBPF system call for tracing"; §14'),
  r('3.10.0-862.el7.x86_64', 'kprobe/do_sys_open', 'unsupported', 'bpf', 'fail', '§10a RHEL/CentOS 7.0-7.5: BPF no (BTFHUB)'),
  r('3.10.0-1160.el7.x86_64', 'tracepoint/sched/sched_switch', 'supported', 'prog-type', 'pass', '§10a RHEL 7.6+ tracing subsystem (doubtful for tracepoints)'),
  r('3.10.0-1160.el7.x86_64', 'xdp', 'unsupported', 'prog-type', 'fail', '§10a tracing subsystem only'),
  r('3.10.0-1062.el7.x86_64', 'cgroup_skb/ingress', 'unsupported', 'config:cgroup-bpf', 'fail', '§10a/§11 CONFIG_CGROUP_BPF not set on CentOS 7 (KCONF)'),
  r('3.10.0-957.el7.x86_64', 'tp_btf/sched_switch', 'unsupported', 'kernel-btf', 'fail', '§10a EL7 never ships BTF; §14'),
  r('3.10.0-957.el7.x86_64', 'raw_tp/sched_switch', 'unknown', 'prog-type', 'unknown', '§10a RAW_TRACEPOINT on the EL7 Technology Preview is not established'),
  // RHEL 8
  r('4.18.0-147.el8.x86_64', 'fentry/do_sys_open', 'unsupported', 'kernel-btf', 'fail', '§10a RHEL 8.1 no BTF (BTFHUB, KCONF); §13'),
  r('4.18.0-193.el8.x86_64', 'fentry/do_sys_open', 'unknown', 'prog-type', 'unknown', '§14 fentry on EL8 minors not confirmed (backports)'),
  r('4.18.0-305.el8.x86_64', 'lsm/file_open', 'unsupported', 'config:bpf-lsm', 'fail', '§10a RHEL 8.4 BPF_LSM not set (KCONF)'),
  r('4.18.0-348.7.1.el8_5.x86_64', 'lsm/file_open', 'unknown', 'lsm-active', 'pass', '§10a RHEL 8.5 CONFIG_LSM="yama,integrity,selinux,bpf" (KCONF); LSM type 5.7 backport not established'),
  r('4.18.0-372.9.1.el8_6.x86_64', 'kprobe/do_sys_open', 'supported', 'prog-type', 'pass', '§2 KPROBE 4.1'),
  r('4.18.0-372.el8.x86_64', 'tcx/ingress', 'unsupported', 'attach-type', 'fail', '§10a tcx not supported on RHEL 8/9 (cilium/design-cfps #76)'),
  r('4.18.0-425.el8.x86_64', 'lirc_mode2', 'unsupported', 'config:lirc', 'fail', '§11 CONFIG_BPF_LIRC_MODE2 n on RHEL 8'),
  r('4.18.0-425.el8.x86_64', 'lwt_seg6local', 'unsupported', 'config:seg6', 'fail', '§11 CONFIG_IPV6_SEG6_BPF n on RHEL 8'),
  r('4.18.0-553.el8_10.x86_64', 'fentry/nf_tables:nft_do_chain', 'unsupported', 'target', 'fail', '§10a EL8 DEBUG_INFO_BTF_MODULES n; §11 module targets need module BTF'),
  r('4.18.0-372.el8.x86_64', 'sk_lookup', 'unknown', 'prog-type', 'unknown', '§10a RHEL 8.6 ~ v5.4 (cilium#30456); SK_LOOKUP is 5.9'),
  r('4.18.0-372.el8.x86_64', 'cgroup/sysctl', 'supported', 'prog-type', 'pass', '§10a RHEL 8.6 "functionally similar" to v5.4; CGROUP_SYSCTL 5.2'),
  r('4.18.0-240.el8.x86_64', 'socket', 'supported', 'prog-type', 'pass', '§2 SOCKET_FILTER 3.19'),
  // RHEL 9
  r('5.14.0-362.el9.x86_64', 'tcx/ingress', 'unsupported', 'attach-type', 'fail', '§10a/§13 tcx unsupported on RHEL 9 unless probed'),
  r('5.14.0-427.13.1.el9_4.x86_64', 'netkit/primary', 'unknown', 'attach-type', 'unknown', '§10a RHEL 9.4 "6.6 BPF stack"; netkit 6.7'),
  r('5.14.0-427.13.1.el9_4.x86_64', 'uprobe.multi//usr/bin/bash:readline', 'supported', 'attach-type', 'pass', '§10a RHEL 9.4 6.6 BPF stack; uprobe_multi 6.6'),
  r('5.14.0-284.el9.x86_64', 'kprobe.multi/do_*', 'unknown', 'attach-type', 'unknown', '§10a RHEL 9.2 FPROBE=y but kprobe_multi (5.18) backport not established'),
  r('5.14.0-284.el9.x86_64', 'kprobe.multi/do_*', 'unknown', 'config:fprobe', 'pass', '§10a RHEL 9.2 CONFIG_FPROBE=y (KCONF)'),
  r('5.14.0-70.el9.aarch64', 'fentry/do_sys_open', 'unknown', 'trampoline', 'unknown', '§3b arm64 trampoline 6.0; RHEL backports'),
  r('5.14.0-70.el9.x86_64', 'syscall', 'supported', 'prog-type', 'pass', '§2/§13 SYSCALL 5.14'),
  r('5.14.0-70.el9.x86_64', 'lsm/file_open', 'unknown', 'target', 'unknown', '§10a Rocky 9.0 BPF_LSM + "bpf" in LSM; target needs the kernel\'s BTF'),
  r('5.14.0-70.el9.x86_64', 'lsm/file_open', 'unknown', 'lsm-active', 'pass', '§10a Rocky 9.0 "bpf" in CONFIG_LSM (KCONF)'),
  // Oracle UEK
  r('5.4.17-2136.322.6.2.el7uek.x86_64', 'fentry/do_sys_open', 'unsupported', 'attach-type', 'fail', '§10b UEK6 2136: no BPF_TRACE_FENTRY (falco#2792); §14'),
  r('5.4.17-2136.322.6.2.el7uek.x86_64', 'tp_btf/sched_switch', 'unknown', 'kernel-btf', 'pass', '§10b UEK6 2136 has BTF (falco#2792)'),
  r('5.4.17-2011.6.2.el7uek.x86_64', 'tp_btf/sched_switch', 'unknown', 'kernel-btf', 'unknown', '§10b/§13 UEK6 2011: no BTF per BTFHub, doubtful'),
  r('4.14.35-1902.3.2.el7uek.x86_64', 'kprobe/do_sys_open', 'supported', 'prog-type', 'pass', '§2 KPROBE 4.1'),
  r('5.15.0-100.96.32.el8uek.x86_64', 'lsm/file_open', 'unknown', 'lsm-active', 'possible', '§10b UEK7 BPF_LSM=y, "bpf" not in CONFIG_LSM (KCONF)'),
  // Ubuntu
  r('4.15.0-213-generic', 'fentry/do_sys_open', 'unsupported', 'prog-type', 'fail', '§2 TRACING 5.5; §10d 18.04 4.15'),
  r('4.15.0-213-generic', 'kprobe/do_sys_open', 'supported', 'prog-type', 'pass', '§2 KPROBE 4.1'),
  r('5.4.0-100-generic', 'raw_tp/sched_switch', 'supported', 'prog-type', 'pass', '§2 RAW_TRACEPOINT 4.17'),
  r('5.4.0-100-generic', 'struct_ops/tcp_init', 'unsupported', 'kernel-btf', 'fail', '§10d Focal 5.4.0-100 no BTF (BTFHub external BTF); §2 STRUCT_OPS 5.6'),
  r('5.8.0-63-generic', 'fentry/do_sys_open', 'unknown', 'kernel-btf', 'unknown', '§10d 5.8: 20.10 has BTF, 20.04 HWE does not'),
  r('5.15.0-91-generic', 'kprobe.multi/do_*', 'unsupported', 'attach-type', 'fail', '§3a kprobe_multi 5.18'),
  r('6.8.0-45-generic', 'kprobe.multi/do_*', 'supported', 'config:fprobe', 'pass', '§10d 24.04 FPROBE=y (KCONF)'),
  r('6.5.0-28-generic', 'tcx/ingress', 'unsupported', 'attach-type', 'fail', '§3c tcx 6.6'),
  r('6.8.0-45-generic', 'tcx/ingress', 'supported', 'attach-type', 'pass', '§3c tcx 6.6'),
  r('5.15.0-1034-aws', 'struct_ops/tcp_init', 'supported', 'kernel-btf', 'pass', '§10d 22.04 BTF (KCONF); §2 STRUCT_OPS 5.6'),
  r('6.8.0-45-generic', 'fentry/do_sys_open', 'unknown', 'config:ftrace-direct-calls', 'unknown', '§3b arm64 6.0; §11 trampoline config', {arch: 'arm64'}),
  r('5.15.0-91-generic', 'lsm/file_open', 'unknown', 'lsm-active', 'possible', '§10d 22.04 "bpf" not in CONFIG_LSM (KCONF)'),
  // Debian
  r('4.19.0-20-amd64', 'fentry/do_sys_open', 'unsupported', 'prog-type', 'fail', '§2 TRACING 5.5; §10e Debian 10 4.19'),
  r('4.19.0-20-amd64', 'cgroup/sysctl', 'unsupported', 'prog-type', 'fail', '§2 CGROUP_SYSCTL 5.2'),
  r('4.19.0-20-amd64', 'sk_reuseport', 'unknown', 'attach-type', 'unknown', '§9 notes: sk_reuseport on 4.19-5.13 not verified'),
  r('4.19.0-20-amd64', 'xdp', 'supported', 'prog-type', 'pass', '§9 notes: xdp has EXP_ATTACH_OPT, loads before 5.9'),
  r('4.19.0-20-amd64', 'xdp/devmap', 'unsupported', 'attach-type', 'fail', '§3c BPF_XDP_DEVMAP 5.8; §9 notes'),
  r('5.10.0-28-cloud-amd64', 'iter.s/task', 'unknown', 'sleepable', 'unknown', '§4 iter.s 5.18 (inferred, verify)'),
  r('5.10.0-28-arm64', 'fentry/do_sys_open', 'unsupported', 'trampoline', 'fail', '§3b arm64 trampoline 6.0 (bpf-developer-tutorial#82)'),
  r('5.10.0-28-cloud-amd64', 'fentry/do_sys_open', 'unknown', 'kernel-btf', 'pass', '§10e Debian 11 BTF (BTFHUB, LIBBPF README)'),
  r('6.1.0-56-cloud-amd64', 'fentry/do_unlinkat', 'supported', 'target', 'pass', '§9 FUNC <name> in vmlinux BTF', A),
  r('6.1.0-56-cloud-amd64', 'kprobe.multi/do_*', 'unsupported', 'config:fprobe', 'fail', '§10e/§11 Debian 12 cloud-amd64 CONFIG_FPROBE not set', A),
  r('6.1.0-56-cloud-arm64', 'fentry/do_unlinkat', 'unsupported', 'config:ftrace-direct-calls', 'fail', '§3b/§11: arm64 6.1 config lacks DYNAMIC_FTRACE_WITH_DIRECT_CALLS', A),
  r('6.1.0-56-cloud-amd64', 'tcx/ingress', 'unsupported', 'attach-type', 'fail', '§3c tcx 6.6; the kernel\'s enum bpf_attach_type lacks it', A),
  r('6.12.117+deb12-cloud-amd64', 'tcx/ingress', 'supported', 'attach-type', 'pass', '§3c tcx 6.6', A),
  r('6.12.117+deb12-cloud-amd64', 'kprobe.multi/do_unlinkat', 'supported', 'config:fprobe', 'pass', '§11 CONFIG_FPROBE', A),
  r('6.1.0-56-cloud-amd64', 'lsm/file_open', 'supported', 'lsm-active', 'pass', '§10e Debian 12 "bpf" in CONFIG_LSM', A),
  r('6.1.0-56-cloud-amd64', 'fentry/do_unlinkt', 'unsupported', 'target', 'fail', '§9 FUNC <name> lookup; misspelled', A),
  r('6.1.0-56-cloud-amd64', 'tp_btf/sched_switch', 'supported', 'target', 'pass', '§9 TYPEDEF btf_trace_<tp>', A),
  r('6.1.0-56-cloud-amd64', 'iter/task', 'supported', 'target', 'pass', '§9 FUNC bpf_iter_<name>', A),
  r('6.1.0-56-cloud-arm64', 'lsm/file_open', 'unsupported', 'config:ftrace-direct-calls', 'fail', '§3b LSM via trampoline; §11', A),
  r('6.1.0-56-cloud-amd64', 'fmod_ret/security_file_open', 'supported', 'target', 'pass', '§3a fmod_ret on LSM hooks', A),
  r('6.1.0-56-cloud-amd64', 'fmod_ret/do_unlinkat', 'unknown', 'error-injection', 'possible', '§3a/§11 fmod_ret only on ALLOW_ERROR_INJECTION functions', A),
  r('6.1.0-56-cloud-amd64', 'netkit/primary', 'unsupported', 'attach-type', 'fail', '§3c netkit 6.7', A),
  r('6.1.0-56-cloud-amd64', 'ksyscall/openat', 'supported', 'target', 'pass', '§9 ksyscall → __x64_sys_<name>', A),
  r('6.1.0-56-cloud-amd64', 'lsm/file_opne', 'unsupported', 'target', 'fail', '§9 FUNC bpf_lsm_<hook>', A),
  r('6.1.0-56-cloud-amd64', 'fentry.s/do_unlinkat', 'possible', 'sleepable-hook', 'possible', '§4 sleepable programs only on hooks that may sleep', A),
  // Fedora
  r('5.3.7-301.fc31.x86_64', 'fentry/do_sys_open', 'unsupported', 'prog-type', 'fail', '§2 TRACING 5.5; §10c'),
  r('5.3.7-301.fc31.x86_64', 'struct_ops/tcp_init', 'unsupported', 'kernel-btf', 'unknown', '§10c/§13 Fedora 31 BTF uncertain; STRUCT_OPS 5.6 decides'),
  r('6.7.7-200.fc39.x86_64', 'netkit/primary', 'supported', 'attach-type', 'pass', '§3c netkit 6.7'),
  r('5.0.9-301.fc30.x86_64', 'struct_ops/tcp_init', 'unsupported', 'kernel-btf', 'fail', '§10c Fedora 30 no BTF (BTFHUB)'),
  // Amazon Linux
  r('4.14.252-195.483.amzn2.x86_64', 'tp_btf/sched_switch', 'unsupported', 'kernel-btf', 'fail', '§10f AL2 4.14 no BTF'),
  r('4.14.252-195.483.amzn2.x86_64', 'kprobe/do_sys_open', 'supported', 'prog-type', 'pass', '§2 KPROBE 4.1'),
  r('6.1.19-30.43.amzn2023.x86_64', 'kprobe.multi/do_*', 'unsupported', 'config:fprobe', 'fail', '§10f AL2023 6.1 CONFIG_FPROBE not set (KCONF)'),
  r('5.4.226-129.415.amzn2.x86_64', 'raw_tp.w/sched_switch', 'supported', 'prog-type', 'pass', '§2 RAW_TRACEPOINT_WRITABLE 5.2'),
  r('5.10.75-79.358.amzn2.x86_64', 'lsm/file_open', 'unknown', 'lsm-active', 'pass', '§10f AL2 5.10 "bpf" in CONFIG_LSM (KCONF)'),
  // SUSE
  r('5.3.18-59.24-default', 'fentry/do_sys_open', 'unsupported', 'kernel-btf', 'fail', '§10g SLES 15 SP3 DEBUG_INFO_BTF not set (KCONF)'),
  r('5.14.21-150400.24.46-default', 'tcx/ingress', 'unknown', 'attach-type', 'unknown', '§10g SLES backports; tcx 6.6'),
  r('5.14.21-150400.24.46-default', 'fentry/do_sys_open', 'unknown', 'kernel-btf', 'pass', '§10g SLES 15 SP4 has BTF (aquasecurity/btfhub#64)'),
  r('4.12.14-122.37-default', 'kprobe/do_sys_open', 'supported', 'prog-type', 'pass', '§2 KPROBE 4.1'),
  // Others
  r('5.10.61-1.ph4', 'fentry/do_sys_open', 'unsupported', 'kernel-btf', 'fail', '§10h Photon 4 BTF not set (KCONF)'),
  // Mainline, per-arch and version gates
  r('6.1', 'fentry/do_sys_open', 'unknown', 'kernel-btf', 'unknown', '§7 CONFIG_DEBUG_INFO_BTF is a build option'),
  r('5.4', 'fentry/do_sys_open', 'unsupported', 'prog-type', 'fail', '§2 TRACING 5.5'),
  r('6.12', 'fsession/do_sys_open', 'unsupported', 'attach-type', 'fail', '§3a fsession 7.0'),
  r('6.12', 'fentry.multi/do_*', 'unsupported', 'attach-type', 'fail', '§3a tracing_multi unreleased'),
  r('6.12', 'tp.s/sched/sched_switch', 'unsupported', 'sleepable', 'fail', '§4 sleepable tracepoints unreleased'),
  r('5.17', 'iter.s/task', 'unknown', 'sleepable', 'unknown', '§4 iter.s 5.18 inferred'),
  r('6.1', 'fentry/do_sys_open', 'unsupported', 'trampoline', 'fail', '§3b s390 trampoline 6.3', {arch: 's390x'}),
  r('6.6', 'fentry/do_sys_open', 'unknown', 'trampoline', 'pass', '§3b riscv trampoline 6.3', {arch: 'riscv64'}),
  r('6.6', 'fentry/do_sys_open', 'unsupported', 'trampoline', 'fail', '§3b others: no trampoline', {arch: 'ppc64le'}),
  r('5.2', 'cgroup/sock_create', 'supported', 'prog-type', 'pass', '§3c BPF_CGROUP_INET_SOCK_CREATE 4.10'),
  r('4.14', 'cgroup/sock_create', 'unsupported', 'expected-attach-type', 'fail', '§1/§3c note: expected_attach_type 4.17, E2BIG before'),
  r('4.14', 'cgroup/sock', 'supported', 'prog-type', 'pass', '§9 cgroup/sock is the EXP_ATTACH_OPT twin'),
  r('5.9', 'xdp.frags', 'unsupported', 'xdp-frags', 'fail', '§3c XDP frags 5.18'),
  r('3.16', 'socket', 'unsupported', 'bpf', 'fail', '§1 bpf() syscall 3.18'),
  r('6.10', 'kprobe.session/do_sys_open', 'unknown', 'config:fprobe', 'unknown', '§3a kprobe_session 6.10; §11 CONFIG_FPROBE'),
  r('6.1', 'fentyr/do_sys_open', 'unsupported', 'section', 'fail', '§9 sec_def_matches: unknown section'),
  r('6.6', 'uprobe.s//usr/bin/bash:readline', 'supported', 'sleepable', 'pass', '§4 uprobe.s 6.0 (inferred; newer kernels pass)'),
  r('5.19', 'uprobe.s//usr/bin/bash:readline', 'unknown', 'sleepable', 'unknown', '§4 uprobe.s 6.0 (inferred, verify)'),
  r('4.2', 'uprobe//usr/bin/bash:readline', 'unknown', 'uprobe', 'unknown', '§3a uprobe BPF 4.3 not verified'),
]

let fixtures: string
let empty: string
beforeAll(async () => {
  fixtures = await fixtureArchive()
  empty = mkdtempSync(join(tmpdir(), 'kcompat-empty-archive-'))
})

describe('check verdict table', () => {
  it('has at least 60 rows over several distros, arches and program families', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(60)
    expect(new Set(ROWS.map((x) => x.section.split(/[/.]/)[0])).size).toBeGreaterThanOrEqual(20)
  })
  it.each(ROWS.map((row) => [`${row.kernel}${row.arch ? ` (${row.arch})` : ''} ${row.section}`, row] as const))('%s', async (_name, row) => {
    const res = await check({kernel: row.kernel, progs: [row.section], archive: row.archive ? fixtures : empty, arch: row.arch})
    const p = res.programs[0]!
    const deciding = p.reasons.find((x) => x.rule === row.rule)
    const summary = p.reasons.map((x) => `${x.rule}:${x.status}`).join(' ')
    expect(deciding, `no ${row.rule} reason (${summary}) [${row.cite}]`).toBeDefined()
    expect(deciding!.status, `${row.rule}: ${deciding!.message} [${row.cite}]`).toBe(row.status)
    expect(p.verdict, `${summary} [${row.cite}]`).toBe(row.verdict)
    for (const reason of p.reasons) {
      expect(reason.source, `${reason.rule} has no source`).not.toBe('')
    }
    if (row.archive) expect(res.kernel.origin).toBe('archive')
  })
})
