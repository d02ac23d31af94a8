/**
 * libbpf's `SEC()` table: what a program's ELF section name means to libbpf.
 *
 * One row per entry of libbpf's `section_defs` (libbpf master f7081a6b, 116 entries, in
 * table order), each with the program type, expected attach type, flags,
 * and what kcompat derives from them: the section family (used by the config rules in
 * facts.json), the BTF attach target libbpf resolves (`FUNC <name>` for
 * fentry/fexit/fmod_ret/fsession, `TYPEDEF btf_trace_<tp>` for tp_btf, `FUNC
 * bpf_lsm_<hook>` for lsm and lsm_cgroup, `FUNC bpf_iter_<name>` for iter; freplace
 * targets another BPF program), whether it is sleepable and which version gate that
 * needs, and whether one link attaches to many targets.
 *
 * Matching (libbpf `sec_def_matches`): a name ending in `+` matches exactly `type` or
 * `type/<anything>`; a name ending in `/` is a prefix; anything else must match exactly.
 * The first match in table order wins.
 */
import type {FeatureKey} from './facts/index.js'

export type SecFlag = 'EXP_ATTACH_OPT' | 'ATTACHABLE' | 'ATTACH_BTF' | 'SLEEPABLE' | 'XDP_FRAGS' | 'USDT'

/** Section families: groups of sections that share requirements and alternatives. */
export const FAMILIES = [
  'socket',
  'sk_reuseport',
  'kprobe',
  'uprobe',
  'kprobe_multi',
  'uprobe_multi',
  'ksyscall',
  'usdt',
  'tcx',
  'tc',
  'action',
  'netkit',
  'tracepoint',
  'raw_tracepoint',
  'tp_btf',
  'fentry',
  'fmod_ret',
  'tracing_multi',
  'freplace',
  'lsm',
  'lsm_cgroup',
  'iter',
  'syscall',
  'xdp',
  'perf_event',
  'lwt',
  'lwt_seg6local',
  'sockops',
  'sk_skb',
  'sk_msg',
  'lirc_mode2',
  'flow_dissector',
  'cgroup_skb',
  'cgroup_sock',
  'cgroup_sock_addr',
  'cgroup_sysctl',
  'cgroup_sockopt',
  'cgroup_device',
  'struct_ops',
  'sk_lookup',
  'netfilter',
] as const
export type Family = (typeof FAMILIES)[number]

/** How libbpf finds the BTF attach target (`btf_get_kernel_prefix_kind`). */
export interface BtfTargetSpec {
  /** `program`: freplace, resolved in the target BPF program's BTF. */
  kind: 'FUNC' | 'TYPEDEF' | 'program'
  /** Prepended to the section's target: `btf_trace_`, `bpf_lsm_`, `bpf_iter_` or ''. */
  prefix: string
}

export interface SectionDef {
  /** Position in libbpf's table (1-based). */
  index: number
  /** As spelled in libbpf, with its `+` (e.g. `fentry+`). */
  name: string
  /** `name` without a trailing `+` or `/`. */
  base: string
  match: 'exact' | 'plus' | 'prefix'
  /** BPF_PROG_TYPE_ without the prefix (e.g. `TRACING`). */
  progType: string
  /** BPF_* attach type, null for "0 (none)". */
  attachType: string | null
  flags: readonly SecFlag[]
  family: Family
  /** libbpf release first carrying this name (libbpf's git history). */
  libbpf: string
  btfTarget: BtfTargetSpec | null
  /** Version gate of BPF_F_SLEEPABLE for this section, when it is sleepable. */
  sleepableFeature: FeatureKey | null
  /** One link attaches to many targets (kprobe.multi, uprobe.multi, fentry.multi, ...). */
  multi: boolean
  /** Attaches through a BPF trampoline (kernel/bpf/trampoline.c). */
  trampoline: boolean
  /** The trampoline patches a kernel function (needs ftrace direct calls); false for freplace. */
  kernelFunctionTrampoline: boolean
  /** Needs the kernel's own vmlinux BTF (/sys/kernel/btf/vmlinux). */
  needsKernelBtf: boolean
}

type Row = [name: string, progType: string, attachType: string | null, flags: string, family: Family, libbpf: string]

const MIRROR = '<=v0.0.3'

/** libbpf's section_defs (src/libbpf.c), in libbpf's order. */
const ROWS: Row[] = [
  ['socket', 'SOCKET_FILTER', null, '', 'socket', MIRROR],
  ['sk_reuseport/migrate', 'SK_REUSEPORT', 'BPF_SK_REUSEPORT_SELECT_OR_MIGRATE', 'ATTACHABLE', 'sk_reuseport', 'v0.5.0'],
  ['sk_reuseport', 'SK_REUSEPORT', 'BPF_SK_REUSEPORT_SELECT', 'ATTACHABLE', 'sk_reuseport', 'v0.0.7'],
  ['kprobe+', 'KPROBE', null, '', 'kprobe', MIRROR],
  ['uprobe+', 'KPROBE', null, '', 'uprobe', 'v0.0.4'],
  ['uprobe.s+', 'KPROBE', null, 'SLEEPABLE', 'uprobe', 'v1.0.0'],
  ['kretprobe+', 'KPROBE', null, '', 'kprobe', MIRROR],
  ['uretprobe+', 'KPROBE', null, '', 'uprobe', 'v0.0.4'],
  ['uretprobe.s+', 'KPROBE', null, 'SLEEPABLE', 'uprobe', 'v1.0.0'],
  ['kprobe.multi+', 'KPROBE', 'BPF_TRACE_KPROBE_MULTI', '', 'kprobe_multi', 'v0.8.0'],
  ['kretprobe.multi+', 'KPROBE', 'BPF_TRACE_KPROBE_MULTI', '', 'kprobe_multi', 'v0.8.0'],
  ['kprobe.session+', 'KPROBE', 'BPF_TRACE_KPROBE_SESSION', '', 'kprobe_multi', 'v1.5.0'],
  ['uprobe.multi+', 'KPROBE', 'BPF_TRACE_UPROBE_MULTI', '', 'uprobe_multi', 'v1.3.0'],
  ['uretprobe.multi+', 'KPROBE', 'BPF_TRACE_UPROBE_MULTI', '', 'uprobe_multi', 'v1.3.0'],
  ['uprobe.session+', 'KPROBE', 'BPF_TRACE_UPROBE_SESSION', '', 'uprobe_multi', 'v1.6.0'],
  ['uprobe.multi.s+', 'KPROBE', 'BPF_TRACE_UPROBE_MULTI', 'SLEEPABLE', 'uprobe_multi', 'v1.3.0'],
  ['uretprobe.multi.s+', 'KPROBE', 'BPF_TRACE_UPROBE_MULTI', 'SLEEPABLE', 'uprobe_multi', 'v1.3.0'],
  ['uprobe.session.s+', 'KPROBE', 'BPF_TRACE_UPROBE_SESSION', 'SLEEPABLE', 'uprobe_multi', 'v1.6.0'],
  ['ksyscall+', 'KPROBE', null, '', 'ksyscall', 'v1.0.0'],
  ['kretsyscall+', 'KPROBE', null, '', 'ksyscall', 'v1.0.0'],
  ['usdt+', 'KPROBE', null, 'USDT', 'usdt', 'v0.8.0'],
  ['usdt.s+', 'KPROBE', null, 'USDT,SLEEPABLE', 'usdt', 'v1.3.0'],
  ['tc/ingress', 'SCHED_CLS', 'BPF_TCX_INGRESS', '', 'tcx', 'v1.3.0'],
  ['tc/egress', 'SCHED_CLS', 'BPF_TCX_EGRESS', '', 'tcx', 'v1.3.0'],
  ['tcx/ingress', 'SCHED_CLS', 'BPF_TCX_INGRESS', '', 'tcx', 'v1.3.0'],
  ['tcx/egress', 'SCHED_CLS', 'BPF_TCX_EGRESS', '', 'tcx', 'v1.3.0'],
  ['tc', 'SCHED_CLS', null, '', 'tc', 'v0.6.0'],
  ['classifier', 'SCHED_CLS', null, '', 'tc', MIRROR],
  ['action', 'SCHED_ACT', null, '', 'action', MIRROR],
  ['netkit/primary', 'SCHED_CLS', 'BPF_NETKIT_PRIMARY', '', 'netkit', 'v1.3.0'],
  ['netkit/peer', 'SCHED_CLS', 'BPF_NETKIT_PEER', '', 'netkit', 'v1.3.0'],
  ['tracepoint+', 'TRACEPOINT', null, '', 'tracepoint', MIRROR],
  ['tp+', 'TRACEPOINT', null, '', 'tracepoint', 'v0.0.6'],
  ['tracepoint.s+', 'TRACEPOINT', null, 'SLEEPABLE', 'tracepoint', 'unreleased (2026-04)'],
  ['tp.s+', 'TRACEPOINT', null, 'SLEEPABLE', 'tracepoint', 'unreleased (2026-04)'],
  ['raw_tracepoint+', 'RAW_TRACEPOINT', null, '', 'raw_tracepoint', MIRROR],
  ['raw_tp+', 'RAW_TRACEPOINT', null, '', 'raw_tracepoint', 'v0.0.6'],
  ['raw_tracepoint.s+', 'RAW_TRACEPOINT', null, 'SLEEPABLE', 'raw_tracepoint', 'unreleased (2026-04)'],
  ['raw_tp.s+', 'RAW_TRACEPOINT', null, 'SLEEPABLE', 'raw_tracepoint', 'unreleased (2026-04)'],
  ['raw_tracepoint.w+', 'RAW_TRACEPOINT_WRITABLE', null, '', 'raw_tracepoint', 'v0.6.0'],
  ['raw_tp.w+', 'RAW_TRACEPOINT_WRITABLE', null, '', 'raw_tracepoint', 'v0.6.0'],
  ['tp_btf+', 'TRACING', 'BPF_TRACE_RAW_TP', 'ATTACH_BTF', 'tp_btf', 'v0.0.6'],
  ['tp_btf.s+', 'TRACING', 'BPF_TRACE_RAW_TP', 'ATTACH_BTF,SLEEPABLE', 'tp_btf', 'unreleased (2026-04)'],
  ['fentry+', 'TRACING', 'BPF_TRACE_FENTRY', 'ATTACH_BTF', 'fentry', 'v0.0.6'],
  ['fmod_ret+', 'TRACING', 'BPF_MODIFY_RETURN', 'ATTACH_BTF', 'fmod_ret', 'v0.0.8'],
  ['fexit+', 'TRACING', 'BPF_TRACE_FEXIT', 'ATTACH_BTF', 'fentry', 'v0.0.6'],
  ['fentry.s+', 'TRACING', 'BPF_TRACE_FENTRY', 'ATTACH_BTF,SLEEPABLE', 'fentry', 'v0.2'],
  ['fmod_ret.s+', 'TRACING', 'BPF_MODIFY_RETURN', 'ATTACH_BTF,SLEEPABLE', 'fmod_ret', 'v0.2'],
  ['fexit.s+', 'TRACING', 'BPF_TRACE_FEXIT', 'ATTACH_BTF,SLEEPABLE', 'fentry', 'v0.2'],
  ['fsession+', 'TRACING', 'BPF_TRACE_FSESSION', 'ATTACH_BTF', 'fentry', 'v1.7.0'],
  ['fsession.s+', 'TRACING', 'BPF_TRACE_FSESSION', 'ATTACH_BTF,SLEEPABLE', 'fentry', 'v1.7.0'],
  ['fsession.multi+', 'TRACING', 'BPF_TRACE_FSESSION_MULTI', '', 'tracing_multi', 'unreleased (2026-06)'],
  ['fsession.multi.s+', 'TRACING', 'BPF_TRACE_FSESSION_MULTI', 'SLEEPABLE', 'tracing_multi', 'unreleased (2026-06)'],
  ['fentry.multi+', 'TRACING', 'BPF_TRACE_FENTRY_MULTI', '', 'tracing_multi', 'unreleased (2026-06)'],
  ['fexit.multi+', 'TRACING', 'BPF_TRACE_FEXIT_MULTI', '', 'tracing_multi', 'unreleased (2026-06)'],
  ['fentry.multi.s+', 'TRACING', 'BPF_TRACE_FENTRY_MULTI', 'SLEEPABLE', 'tracing_multi', 'unreleased (2026-06)'],
  ['fexit.multi.s+', 'TRACING', 'BPF_TRACE_FEXIT_MULTI', 'SLEEPABLE', 'tracing_multi', 'unreleased (2026-06)'],
  ['freplace+', 'EXT', null, 'ATTACH_BTF', 'freplace', 'v0.0.7'],
  ['lsm+', 'LSM', 'BPF_LSM_MAC', 'ATTACH_BTF', 'lsm', 'v0.0.8'],
  ['lsm.s+', 'LSM', 'BPF_LSM_MAC', 'ATTACH_BTF,SLEEPABLE', 'lsm', 'v0.2'],
  ['lsm_cgroup+', 'LSM', 'BPF_LSM_CGROUP', 'ATTACH_BTF', 'lsm_cgroup', 'v1.0.0'],
  ['iter+', 'TRACING', 'BPF_TRACE_ITER', 'ATTACH_BTF', 'iter', 'v0.0.9'],
  ['iter.s+', 'TRACING', 'BPF_TRACE_ITER', 'ATTACH_BTF,SLEEPABLE', 'iter', 'v0.7.0'],
  ['syscall', 'SYSCALL', null, 'SLEEPABLE', 'syscall', 'v0.5.0'],
  ['xdp.frags/devmap', 'XDP', 'BPF_XDP_DEVMAP', 'XDP_FRAGS', 'xdp', 'v0.7.0'],
  ['xdp/devmap', 'XDP', 'BPF_XDP_DEVMAP', 'ATTACHABLE', 'xdp', 'v0.7.0'],
  ['xdp.frags/cpumap', 'XDP', 'BPF_XDP_CPUMAP', 'XDP_FRAGS', 'xdp', 'v0.7.0'],
  ['xdp/cpumap', 'XDP', 'BPF_XDP_CPUMAP', 'ATTACHABLE', 'xdp', 'v0.7.0'],
  ['xdp.frags', 'XDP', 'BPF_XDP', 'XDP_FRAGS', 'xdp', 'v0.7.0'],
  ['xdp', 'XDP', 'BPF_XDP', 'ATTACHABLE,EXP_ATTACH_OPT', 'xdp', MIRROR],
  ['perf_event', 'PERF_EVENT', null, '', 'perf_event', MIRROR],
  ['lwt_in', 'LWT_IN', null, '', 'lwt', MIRROR],
  ['lwt_out', 'LWT_OUT', null, '', 'lwt', MIRROR],
  ['lwt_xmit', 'LWT_XMIT', null, '', 'lwt', MIRROR],
  ['lwt_seg6local', 'LWT_SEG6LOCAL', null, '', 'lwt_seg6local', MIRROR],
  ['sockops', 'SOCK_OPS', 'BPF_CGROUP_SOCK_OPS', 'ATTACHABLE,EXP_ATTACH_OPT', 'sockops', MIRROR],
  ['sk_skb/stream_parser', 'SK_SKB', 'BPF_SK_SKB_STREAM_PARSER', 'ATTACHABLE,EXP_ATTACH_OPT', 'sk_skb', MIRROR],
  ['sk_skb/stream_verdict', 'SK_SKB', 'BPF_SK_SKB_STREAM_VERDICT', 'ATTACHABLE,EXP_ATTACH_OPT', 'sk_skb', MIRROR],
  ['sk_skb/verdict', 'SK_SKB', 'BPF_SK_SKB_VERDICT', 'ATTACHABLE,EXP_ATTACH_OPT', 'sk_skb', 'v1.4.0'],
  ['sk_skb', 'SK_SKB', null, '', 'sk_skb', MIRROR],
  ['sk_msg', 'SK_MSG', 'BPF_SK_MSG_VERDICT', 'ATTACHABLE,EXP_ATTACH_OPT', 'sk_msg', MIRROR],
  ['lirc_mode2', 'LIRC_MODE2', 'BPF_LIRC_MODE2', 'ATTACHABLE,EXP_ATTACH_OPT', 'lirc_mode2', MIRROR],
  ['flow_dissector', 'FLOW_DISSECTOR', 'BPF_FLOW_DISSECTOR', 'ATTACHABLE,EXP_ATTACH_OPT', 'flow_dissector', MIRROR],
  ['cgroup_skb/ingress', 'CGROUP_SKB', 'BPF_CGROUP_INET_INGRESS', 'ATTACHABLE,EXP_ATTACH_OPT', 'cgroup_skb', MIRROR],
  ['cgroup_skb/egress', 'CGROUP_SKB', 'BPF_CGROUP_INET_EGRESS', 'ATTACHABLE,EXP_ATTACH_OPT', 'cgroup_skb', MIRROR],
  ['cgroup/skb', 'CGROUP_SKB', null, '', 'cgroup_skb', MIRROR],
  ['cgroup/sock_create', 'CGROUP_SOCK', 'BPF_CGROUP_INET_SOCK_CREATE', 'ATTACHABLE', 'cgroup_sock', 'v0.1.0'],
  ['cgroup/sock_release', 'CGROUP_SOCK', 'BPF_CGROUP_INET_SOCK_RELEASE', 'ATTACHABLE', 'cgroup_sock', 'v0.1.0'],
  ['cgroup/sock', 'CGROUP_SOCK', 'BPF_CGROUP_INET_SOCK_CREATE', 'ATTACHABLE,EXP_ATTACH_OPT', 'cgroup_sock', MIRROR],
  ['cgroup/post_bind4', 'CGROUP_SOCK', 'BPF_CGROUP_INET4_POST_BIND', 'ATTACHABLE', 'cgroup_sock', MIRROR],
  ['cgroup/post_bind6', 'CGROUP_SOCK', 'BPF_CGROUP_INET6_POST_BIND', 'ATTACHABLE', 'cgroup_sock', MIRROR],
  ['cgroup/bind4', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET4_BIND', 'ATTACHABLE', 'cgroup_sock_addr', MIRROR],
  ['cgroup/bind6', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET6_BIND', 'ATTACHABLE', 'cgroup_sock_addr', MIRROR],
  ['cgroup/connect4', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET4_CONNECT', 'ATTACHABLE', 'cgroup_sock_addr', MIRROR],
  ['cgroup/connect6', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET6_CONNECT', 'ATTACHABLE', 'cgroup_sock_addr', MIRROR],
  ['cgroup/connect_unix', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UNIX_CONNECT', 'ATTACHABLE', 'cgroup_sock_addr', 'v1.3.0'],
  ['cgroup/sendmsg4', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UDP4_SENDMSG', 'ATTACHABLE', 'cgroup_sock_addr', MIRROR],
  ['cgroup/sendmsg6', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UDP6_SENDMSG', 'ATTACHABLE', 'cgroup_sock_addr', MIRROR],
  ['cgroup/sendmsg_unix', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UNIX_SENDMSG', 'ATTACHABLE', 'cgroup_sock_addr', 'v1.3.0'],
  ['cgroup/recvmsg4', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UDP4_RECVMSG', 'ATTACHABLE', 'cgroup_sock_addr', 'v0.0.4'],
  ['cgroup/recvmsg6', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UDP6_RECVMSG', 'ATTACHABLE', 'cgroup_sock_addr', 'v0.0.4'],
  ['cgroup/recvmsg_unix', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UNIX_RECVMSG', 'ATTACHABLE', 'cgroup_sock_addr', 'v1.3.0'],
  ['cgroup/getpeername4', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET4_GETPEERNAME', 'ATTACHABLE', 'cgroup_sock_addr', 'v0.0.9'],
  ['cgroup/getpeername6', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET6_GETPEERNAME', 'ATTACHABLE', 'cgroup_sock_addr', 'v0.0.9'],
  ['cgroup/getpeername_unix', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UNIX_GETPEERNAME', 'ATTACHABLE', 'cgroup_sock_addr', 'v1.3.0'],
  ['cgroup/getsockname4', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET4_GETSOCKNAME', 'ATTACHABLE', 'cgroup_sock_addr', 'v0.0.9'],
  ['cgroup/getsockname6', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET6_GETSOCKNAME', 'ATTACHABLE', 'cgroup_sock_addr', 'v0.0.9'],
  ['cgroup/getsockname_unix', 'CGROUP_SOCK_ADDR', 'BPF_CGROUP_UNIX_GETSOCKNAME', 'ATTACHABLE', 'cgroup_sock_addr', 'v1.3.0'],
  ['cgroup/sysctl', 'CGROUP_SYSCTL', 'BPF_CGROUP_SYSCTL', 'ATTACHABLE', 'cgroup_sysctl', 'v0.0.3'],
  ['cgroup/getsockopt', 'CGROUP_SOCKOPT', 'BPF_CGROUP_GETSOCKOPT', 'ATTACHABLE', 'cgroup_sockopt', 'v0.0.4'],
  ['cgroup/setsockopt', 'CGROUP_SOCKOPT', 'BPF_CGROUP_SETSOCKOPT', 'ATTACHABLE', 'cgroup_sockopt', 'v0.0.4'],
  ['cgroup/dev', 'CGROUP_DEVICE', 'BPF_CGROUP_DEVICE', 'ATTACHABLE,EXP_ATTACH_OPT', 'cgroup_device', MIRROR],
  ['struct_ops+', 'STRUCT_OPS', null, '', 'struct_ops', 'v0.0.7'],
  ['struct_ops.s+', 'STRUCT_OPS', null, 'SLEEPABLE', 'struct_ops', 'v1.2.0'],
  ['sk_lookup', 'SK_LOOKUP', 'BPF_SK_LOOKUP', 'ATTACHABLE', 'sk_lookup', 'v0.1.0'],
  ['netfilter', 'NETFILTER', 'BPF_NETFILTER', '', 'netfilter', 'v1.3.0'],
]

function btfTargetOf(progType: string, attachType: string | null, flags: readonly SecFlag[]): BtfTargetSpec | null {
  if (!flags.includes('ATTACH_BTF')) return null
  if (progType === 'EXT') return {kind: 'program', prefix: ''}
  switch (attachType) {
    case 'BPF_TRACE_RAW_TP':
      return {kind: 'TYPEDEF', prefix: 'btf_trace_'}
    case 'BPF_LSM_MAC':
    case 'BPF_LSM_CGROUP':
      return {kind: 'FUNC', prefix: 'bpf_lsm_'}
    case 'BPF_TRACE_ITER':
      return {kind: 'FUNC', prefix: 'bpf_iter_'}
    default:
      return {kind: 'FUNC', prefix: ''}
  }
}

function sleepableFeatureOf(family: Family, flags: readonly SecFlag[]): FeatureKey | null {
  if (!flags.includes('SLEEPABLE')) return null
  switch (family) {
    case 'uprobe':
    case 'usdt':
      return 'sleepableUprobe'
    case 'iter':
      return 'sleepableIter'
    case 'struct_ops':
      return 'sleepableStructOps'
    case 'tracepoint':
    case 'raw_tracepoint':
    case 'tp_btf':
      return 'sleepableTracepoint'
    default:
      // fentry.s/fexit.s/fmod_ret.s/lsm.s (5.10); uprobe.multi.s, fsession.s, *.multi.s and
      // syscall are gated more tightly by their attach or program type.
      return 'sleepable'
  }
}

const TRAMPOLINE_FAMILIES: ReadonlySet<Family> = new Set(['fentry', 'fmod_ret', 'tracing_multi', 'freplace', 'lsm', 'lsm_cgroup'])

function makeDef(row: Row, i: number): SectionDef {
  const [name, progType, attachType, flagStr, family, libbpf] = row
  const flags = (flagStr === '' ? [] : flagStr.split(',')) as SecFlag[]
  const match = name.endsWith('+') ? 'plus' : name.endsWith('/') ? 'prefix' : 'exact'
  const base = match === 'exact' ? name : name.slice(0, -1)
  const trampoline = TRAMPOLINE_FAMILIES.has(family)
  return Object.freeze({
    index: i + 1,
    name,
    base,
    match,
    progType,
    attachType,
    flags: Object.freeze(flags),
    family,
    libbpf,
    btfTarget: btfTargetOf(progType, attachType, flags),
    sleepableFeature: sleepableFeatureOf(family, flags),
    multi: family === 'kprobe_multi' || family === 'uprobe_multi' || family === 'tracing_multi',
    trampoline,
    kernelFunctionTrampoline: trampoline && family !== 'freplace',
    needsKernelBtf: flags.includes('ATTACH_BTF') || family === 'struct_ops' || family === 'tracing_multi',
  })
}

/** The whole table, in libbpf's order. */
export const SECTION_DEFS: readonly SectionDef[] = Object.freeze(ROWS.map(makeDef))

export interface SectionMatch {
  def: SectionDef
  /** Text after `<base>/` ('' when the section is just the base name). */
  target: string
}

/** The libbpf table entry for a section name, as libbpf picks it; undefined when none matches. */
export function matchSection(sec: string): SectionMatch | undefined {
  for (const def of SECTION_DEFS) {
    switch (def.match) {
      case 'exact':
        if (sec === def.name) return {def, target: ''}
        break
      case 'plus':
        if (sec === def.base) return {def, target: ''}
        if (sec.startsWith(`${def.base}/`)) return {def, target: sec.slice(def.base.length + 1)}
        break
      case 'prefix':
        if (sec.startsWith(def.name)) return {def, target: sec.slice(def.name.length)}
        break
    }
  }
  return undefined
}

/** A section's attach target, split as libbpf reads it for that family. */
export interface ParsedTarget {
  /** Function, hook, tracepoint, iterator or syscall name ('' when none is given). */
  name: string
  /** `module:` of `fentry/module:func` (`vmlinux` forces vmlinux). */
  module?: string
  /** `+offset` of `kprobe/func+0x10`. */
  offset?: string
  /** Tracepoint category of `tp/<category>/<name>`. */
  category?: string
  /** Binary path of uprobe/usdt targets. */
  binary?: string
}

/** Splits `target` (from {@link matchSection}) by the rules of `def`'s family. */
export function parseTarget(def: SectionDef, target: string): ParsedTarget {
  switch (def.family) {
    case 'kprobe': {
      const m = /^([^+]+)(?:\+(.+))?$/.exec(target)
      return m ? {name: m[1]!, ...(m[2] === undefined ? {} : {offset: m[2]})} : {name: target}
    }
    case 'tracepoint': {
      const slash = target.indexOf('/')
      return slash < 0 ? {name: target} : {category: target.slice(0, slash), name: target.slice(slash + 1)}
    }
    case 'fentry':
    case 'fmod_ret': {
      const colon = target.indexOf(':')
      return colon < 0 ? {name: target} : {module: target.slice(0, colon), name: target.slice(colon + 1)}
    }
    case 'uprobe':
    case 'usdt':
    case 'uprobe_multi': {
      const colon = target.indexOf(':')
      return colon < 0 ? {name: '', binary: target} : {binary: target.slice(0, colon), name: target.slice(colon + 1)}
    }
    default:
      return {name: target}
  }
}

/** The BTF name libbpf looks up for an ATTACH_BTF section's target (`btf_trace_sched_switch`, ...). */
export function btfTargetName(def: SectionDef, target: ParsedTarget): string | undefined {
  if (!def.btfTarget || def.btfTarget.kind === 'program' || target.name === '') return undefined
  return `${def.btfTarget.prefix}${target.name}`
}

/**
 * Names libbpf no longer has (libbpf's git history): `xdp_devmap/` and
 * `xdp_cpumap/`, deprecated in v0.7.0 for `xdp/devmap` and `xdp/cpumap`.
 */
export const DEPRECATED_SECTIONS: Readonly<Record<string, string>> = {xdp_devmap: 'xdp/devmap', xdp_cpumap: 'xdp/cpumap'}

/** Every spelling users write for a table entry: `fentry`, `fentry/`, `xdp`, ... */
export function sectionSpellings(): string[] {
  return SECTION_DEFS.map((d) => d.base)
}
