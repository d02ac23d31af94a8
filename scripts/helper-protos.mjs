#!/usr/bin/env node
// Writes src/kernel/facts/helper-protos.json: which helpers each program type may call, read
// from the kernel's own source, for the kernel versions given.
//
//   node scripts/helper-protos.mjs 6.1=<linux-source-6.1 dir>:<label> 6.12=<dir>:<label> ...
//
// The source trees are Debian's `linux-source-<series>` packages (apt-get download; the
// tarball inside is /usr/src/linux-source-<series>.tar.xz), the same sources the archived
// kernels were built from. Only these files are read: include/linux/bpf_types.h, and every
// .c file under kernel/, net/, drivers/media/rc/ and security/.
//
// How the verifier decides (kernel/bpf/verifier.c check_helper_call): it asks the program
// type's `bpf_verifier_ops.get_func_proto(func_id, prog)`; NULL means "unknown func" and
// the load fails with EINVAL. Each get_func_proto is a function of the form
//
//     static const struct bpf_func_proto *
//     kprobe_prog_func_proto(enum bpf_func_id func_id, const struct bpf_prog *prog)
//     { switch (func_id) { case BPF_FUNC_x: return &...; ... default: return bpf_tracing_func_proto(func_id, prog); } }
//
// so the helpers a type may call are the `case BPF_FUNC_*` labels of its function, and of
// every such function it calls with `func_id` (its fallbacks: bpf_tracing_func_proto,
// bpf_sk_base_func_proto, bpf_base_func_proto, ...), transitively. This reading errs on
// the side of "allowed", so that kcompat never calls a helper refused that the kernel
// accepts:
// - a case is counted whatever it returns under conditions (privilege: bpf_capable,
//   perfmon_capable; attach type; sleepable programs; lockdown; CONFIG_ #ifdefs), except a
//   case whose only statement is `return NULL;` (it hides a fallback's helper: lwt_seg6local
//   refuses skb_pull_data);
// - bpf_iter_get_func_proto dispatches, at run time, to the get_func_proto of the iterator
//   target the program attaches to; every such target's function (bpf_iter_reg) is counted.
// Program types whose helpers depend on something else (STRUCT_OPS: the struct's own
// get_func_proto; EXT: its target program's type) are left out.
//
// Sleepable-only helpers: check_helper_call refuses a helper whose bpf_func_proto has
// `.might_sleep = true` in a program loaded without BPF_F_SLEEPABLE ("helper call might
// sleep in a non-sleepable prog", EINVAL; older kernels returned NULL from get_func_proto
// instead: `prog->aux->sleepable ? &proto : NULL`). For each program type, a helper is
// sleepable-only when every proto its case can return to a non-sleepable program (the
// `: else` side of a `...sleepable ? &a : &b` choice, otherwise every `&x_proto` the case
// names) has might_sleep, or that side is NULL; the case read is the first one met from
// the type's own get_func_proto through its fallbacks, as the kernel's switch meets it.
// A case this reading cannot judge (a call, a proto of no known shape) counts as not
// sleepable-only, so kcompat may miss such a refusal but not invent one.
import {readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(root, 'src', 'kernel', 'facts', 'helper-protos.json')
const SKIP_TYPES = new Set(['STRUCT_OPS', 'EXT'])

function cFiles(dir, out = []) {
  let names
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const n of names) {
    const p = join(dir, n)
    const st = statSync(p)
    if (st.isDirectory()) cFiles(p, out)
    else if (n.endsWith('.c')) out.push(p)
  }
  return out
}

/** The body of the function whose definition starts at `open` (index of its `{`), up to the matching `}`. */
function bodyAt(text, open) {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++
    else if (text[i] === '}' && --depth === 0) return text.slice(open, i + 1)
  }
  throw new Error('unbalanced braces')
}

function readTree(dir) {
  const files = ['kernel', 'net', 'drivers/media/rc', 'security'].flatMap((d) => cFiles(join(dir, d)))
  /** get_func_proto-shaped functions: name -> {file, cases:Set, calls:Set} */
  const funcs = new Map()
  /** verifier ops name -> get_func_proto function name */
  const ops = new Map()
  /** get_func_proto functions of bpf_iter targets */
  const iterProtos = new Set()
  const defRe = /const struct bpf_func_proto \*\s*\n?\s*(\w+)\s*\(\s*enum bpf_func_id func_id[^)]*\)\s*\{/g
  /** bpf_func_proto definitions with `.might_sleep = true` */
  const mightSleep = new Set()
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    if (!text.includes('might_sleep')) continue
    for (const m of text.matchAll(/struct bpf_func_proto (\w+)\s*=\s*\{([^}]*)\}/g)) if (/\.might_sleep\s*=\s*true/.test(m[2])) mightSleep.add(m[1])
  }
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    if (!text.includes('bpf_func_id')) continue
    const rel = relative(dir, file)
    for (const m of text.matchAll(defRe)) {
      const name = m[1]
      const body = bodyAt(text, m.index + m[0].length - 1)
      const cases = new Set()
      // `case A: case B: return NULL;` hides A and B
      const hidden = new Set()
      for (const h of body.matchAll(/((?:case BPF_FUNC_\w+:\s*)+)return NULL;/g)) for (const c of h[1].matchAll(/BPF_FUNC_(\w+)/g)) hidden.add(c[1])
      for (const c of body.matchAll(/case BPF_FUNC_(\w+):/g)) if (!hidden.has(c[1])) cases.add(c[1])
      // the statements of each group of case labels, up to the next label
      const sleepableOnly = new Set()
      for (const g of body.matchAll(/((?:case BPF_FUNC_\w+:\s*)+)([\s\S]*?)(?=\bcase BPF_FUNC_\w+:|\bdefault:|\}\s*$)/g)) {
        const stmts = g[2]
        const choice = /sleepable\s*\?\s*&\w+\s*:\s*(&\w+|NULL)/.exec(stmts)
        const protos = choice ? (choice[1] === 'NULL' ? [] : [choice[1].slice(1)]) : [...stmts.matchAll(/&(\w+)/g)].map((x) => x[1])
        const only = choice ? protos.every((x) => mightSleep.has(x)) : protos.length > 0 && !/\w+\s*\(/.test(stmts.replace(/^\s*return\s+/, '')) && protos.every((x) => mightSleep.has(x))
        if (only) for (const c of g[1].matchAll(/BPF_FUNC_(\w+)/g)) sleepableOnly.add(c[1])
      }
      const calls = new Set([...body.matchAll(/\b(\w+)\s*\(\s*func_id\b/g)].map((c) => c[1]).filter((c) => c !== name))
      if (funcs.has(name) && funcs.get(name).file !== rel) throw new Error(`${name} is defined in ${funcs.get(name).file} and ${rel}`)
      funcs.set(name, {file: rel, cases, hidden, calls, sleepableOnly})
    }
    for (const m of text.matchAll(/const struct bpf_verifier_ops (\w+)_verifier_ops\s*=\s*\{([^}]*)\}/g)) {
      const f = /\.get_func_proto\s*=\s*(\w+)/.exec(m[2])
      if (f) ops.set(m[1], {proto: f[1], file: rel})
    }
    for (const m of text.matchAll(/struct bpf_iter_reg \w+\s*=\s*\{([^;]*)\};/g)) {
      const f = /\.get_func_proto\s*=\s*(\w+)/.exec(m[1])
      if (f) iterProtos.add(f[1])
    }
  }
  const types = readFileSync(join(dir, 'include/linux/bpf_types.h'), 'utf8')
  const progTypes = {}
  for (const m of types.matchAll(/BPF_PROG_TYPE\(BPF_PROG_TYPE_(\w+),\s*(\w+),/g)) {
    const [, type, name] = m
    if (SKIP_TYPES.has(type)) continue
    const o = ops.get(name)
    if (!o) throw new Error(`no ${name}_verifier_ops for BPF_PROG_TYPE_${type}`)
    const allowed = new Set()
    const sleepable = new Set()
    const seen = new Set()
    const visit = (fn) => {
      if (seen.has(fn)) return
      seen.add(fn)
      const f = funcs.get(fn)
      if (!f) return // a proto getter (bpf_get_trace_printk_proto) or not a dispatcher
      for (const c of f.cases) {
        // the first function met that has the case answers it (own cases before fallbacks)
        if (!allowed.has(c) && f.sleepableOnly.has(c)) sleepable.add(c)
        allowed.add(c)
      }
      for (const c of f.calls) visit(c === 'bpf_iter_get_func_proto' ? c : c)
      if (fn === 'bpf_iter_get_func_proto') for (const p of iterProtos) visit(p)
    }
    visit(o.proto)
    // a helper hidden by the type's own function stays hidden even if a fallback has it
    for (const h of funcs.get(o.proto)?.hidden ?? []) allowed.delete(h)
    for (const h of funcs.get(o.proto)?.hidden ?? []) sleepable.delete(h)
    progTypes[type] = {proto: o.proto, file: funcs.get(o.proto)?.file ?? o.file, helpers: [...allowed].sort()}
    if (sleepable.size > 0) progTypes[type].sleepableOnly = [...sleepable].sort()
  }
  // Checks the verifier makes after get_func_proto (kernel/bpf/verifier.c check_helper_call):
  // - bpf_d_path's `allowed` callback (kernel/trace/bpf_trace.c bpf_d_path_allowed): tracing
  //   programs only on the functions of btf_allowlist_d_path (iterators always), lsm programs
  //   only on the sleepable hooks (kernel/bpf/bpf_lsm.c sleepable_lsm_hooks); every BTF_ID of
  //   those sets is counted, whatever #ifdef it sits in;
  // - check_get_func_ip: the program types it accepts (tracing ones only with a trampoline).
  const btfSet = (file, name) => {
    const text = readFileSync(join(dir, file), 'utf8')
    const m = new RegExp(`BTF_SET_START\\(${name}\\)([\\s\\S]*?)BTF_SET_END\\(${name}\\)`).exec(text)
    if (!m) throw new Error(`no BTF set ${name} in ${file}`)
    return [...m[1].matchAll(/BTF_ID\(func,\s*(\w+)\)/g)].map((x) => x[1]).sort()
  }
  const verifier = readFileSync(join(dir, 'kernel/bpf/verifier.c'), 'utf8')
  const fip = /static int check_get_func_ip\([^)]*\)\s*\{([\s\S]*?)\n\}/.exec(verifier)
  if (!fip) throw new Error('no check_get_func_ip in kernel/bpf/verifier.c')
  const checks = {
    d_path: {
      source: 'kernel/trace/bpf_trace.c bpf_d_path_allowed, btf_allowlist_d_path; kernel/bpf/bpf_lsm.c sleepable_lsm_hooks; kernel/bpf/verifier.c check_helper_call ("helper call is not allowed in probe")',
      tracingTargets: btfSet('kernel/trace/bpf_trace.c', 'btf_allowlist_d_path'),
      lsmHooks: btfSet('kernel/bpf/bpf_lsm.c', 'sleepable_lsm_hooks'),
    },
    sleepable: {
      source: 'kernel/bpf/verifier.c check_helper_call ("helper call might sleep in a non-sleepable prog", EINVAL, for a bpf_func_proto with .might_sleep; before that flag the get_func_proto returned NULL, e.g. Linux 5.10 kernel/trace/bpf_trace.c bpf_tracing_func_proto: `prog->aux->sleepable ? &bpf_copy_from_user_proto : NULL`); the programs loaded with BPF_F_SLEEPABLE are those of libbpf\'s sleepable sections (fentry.s, fexit.s, fmod_ret.s, lsm.s, iter.s, uprobe.s, syscall, ...)',
      mightSleep: [...mightSleep].sort(),
    },
    get_func_ip: {
      source: 'kernel/bpf/verifier.c check_get_func_ip ("func bpf_get_func_ip#173 not supported for program type %d"; tracing programs: "supported only for fentry/fexit/fmod_ret programs")',
      progTypes: [...new Set([...fip[1].matchAll(/type == BPF_PROG_TYPE_(\w+)/g)].map((x) => x[1]))].sort(),
    },
  }
  return {progTypes, checks}
}

const kernels = {}
for (const arg of process.argv.slice(2)) {
  const m = /^([\d.]+)=([^:]+):(.+)$/.exec(arg)
  if (!m) throw new Error(`usage: helper-protos.mjs <version>=<source dir>:<label> ...  (got ${arg})`)
  const [, version, dir, label] = m
  kernels[version] = {source: `${label}: include/linux/bpf_types.h, the bpf_verifier_ops and their get_func_proto functions (kernel/trace/bpf_trace.c, net/core/filter.c, kernel/bpf/*.c, ...)`, ...readTree(dir)}
}
if (Object.keys(kernels).length === 0) throw new Error('usage: helper-protos.mjs <version>=<source dir>:<label> ...')
const out = {
  about:
    'Helpers each program type may call (its bpf_verifier_ops.get_func_proto, with its fallbacks), read from the kernel source of each version by scripts/helper-protos.mjs; kernel/bpf/verifier.c check_helper_call refuses any other ("unknown func"). Counted generously: privileged loaders, every attach type and config option of the program type.',
  kernels,
}
writeFileSync(OUT, `${JSON.stringify(out, null, 1).replace(/\n\s+"(?=[a-z_0-9]+",?\n)/g, ' "').replace(/\[ "/g, '["')}\n`)
for (const [v, k] of Object.entries(kernels)) console.log(`${v}: ${Object.keys(k.progTypes).length} program types, ${Object.values(k.progTypes).reduce((n, t) => n + t.helpers.length, 0)} (type, helper) pairs`)
