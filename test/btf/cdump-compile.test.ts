/**
 * The vmlinux.h that kcompat dumps from this machine's kernel BTF must compile: a small
 * CO-RE program includes it with libbpf's headers and reads `task->pid` through
 * BPF_CORE_READ, and clang must accept it and produce an object with the .BTF.ext
 * section that carries CO-RE relocations.
 */
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {dumpC} from '../../src/btf/cdump/index.js'
import {scratchDir, sysVmlinux} from '../helpers/fixtures.js'
import {findTool, run} from '../helpers/tools.js'

const sys = sysVmlinux()
const reason = !findTool('clang')
  ? 'clang is not installed'
  : !sys
    ? '/sys/kernel/btf/vmlinux is not readable'
    : !existsSync('/usr/include/bpf/bpf_helpers.h')
      ? "libbpf's headers (/usr/include/bpf) are not installed"
      : ''
if (reason) console.warn(`skipping vmlinux.h compile test: ${reason}`)

const PROGRAM = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe/do_nanosleep")
int probe(struct pt_regs *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	pid_t pid = BPF_CORE_READ(task, pid);
	pid_t tgid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_printk("nanosleep pid=%d parent=%d", pid, tgid);
	return 0;
}
`

describe.skipIf(reason !== '')('the dumped vmlinux.h compiles', () => {
  it('CO-RE program reading task->pid builds with clang -target bpf', () => {
    const dir = join(scratchDir(), 'cdump-compile')
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'vmlinux.h'), dumpC(parseBtf(sys!)))
    writeFileSync(join(dir, 'probe.bpf.c'), PROGRAM)
    const obj = join(dir, 'probe.bpf.o')
    // run() throws with clang's diagnostics on a non-zero exit
    run('clang', ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', dir, '-c', join(dir, 'probe.bpf.c'), '-o', obj])
    expect(existsSync(obj)).toBe(true)
    if (findTool('llvm-objdump')) {
      const headers = run('llvm-objdump', ['-h', obj]).toString()
      expect(headers).toContain('.BTF.ext')
    }
  })
})
