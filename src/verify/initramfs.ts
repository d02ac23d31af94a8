/**
 * The guest's initramfs: a static busybox, the loader, the objects, a plan for the
 * loader, and `/init`.
 *
 * `/init` (a busybox sh script) mounts proc, sysfs, devtmpfs, debugfs, tracefs and the
 * BPF filesystem (tracepoint attach reads event ids from tracefs, kprobe attach reads
 * the kprobe PMU from sysfs, libbpf reads /sys/kernel/btf/vmlinux), lifts
 * RLIMIT_MEMLOCK (kernels before 5.11 charge BPF memory to it), runs the loader, whose
 * records go to the console between the BEGIN and END markers, and powers the machine
 * off with `poweroff -f` (no init system to ask). The archive holds /dev/console so
 * that init has a console even on kernels whose built-in initramfs lacks one.
 *
 * The plan (see loader.c) names the objects as /objs/<n>.o in the order given; the
 * loader's object numbers refer to that order.
 */
import {readFileSync} from 'node:fs'
import {writeCpio, type CpioEntry} from './cpio.js'

export interface InitramfsInput {
  busybox: string
  loader: string
  objects: string[]
  progs: string[]
  attach: boolean
  /** Random token printed in the markers. */
  nonce: string
}

export const INIT_SCRIPT = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev 2>/dev/null
$B mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
$B mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
$B mount -t bpf bpf /sys/fs/bpf 2>/dev/null
ulimit -l unlimited
echo "KCV1\tUPTIME\t$($B cut -d' ' -f1 /proc/uptime)"
/bin/kcompat-loader /plan
echo "KCV1\tEXIT\t$?"
$B poweroff -f
`

export function planText(input: Pick<InitramfsInput, 'objects' | 'progs' | 'attach' | 'nonce'>): string {
  for (const p of input.progs) if (/[\t\n]/.test(p)) throw new RangeError(`section name with a tab or newline: ${JSON.stringify(p)}`)
  return [
    `nonce\t${input.nonce}`,
    `attach\t${input.attach ? 1 : 0}`,
    ...input.objects.map((_, i) => `object\t/objs/${i}.o`),
    ...input.progs.map((p) => `prog\t${p}`),
    '',
  ].join('\n')
}

/** The initramfs as a newc cpio archive (uncompressed: the kernel takes it as is, and it boots faster). */
export function buildInitramfs(input: InitramfsInput): Buffer {
  const entries: CpioEntry[] = [
    {type: 'dir', path: 'bin'},
    {type: 'file', path: 'bin/busybox', data: readFileSync(input.busybox), mode: 0o755},
    {type: 'file', path: 'bin/kcompat-loader', data: readFileSync(input.loader), mode: 0o755},
    {type: 'symlink', path: 'bin/sh', target: 'busybox'},
    {type: 'dir', path: 'dev'},
    {type: 'char', path: 'dev/console', major: 5, minor: 1},
    {type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666},
    {type: 'file', path: 'init', data: Buffer.from(INIT_SCRIPT), mode: 0o755},
    {type: 'dir', path: 'objs'},
    ...input.objects.map((o, i): CpioEntry => ({type: 'file', path: `objs/${i}.o`, data: readFileSync(o)})),
    {type: 'file', path: 'plan', data: Buffer.from(planText(input))},
    {type: 'dir', path: 'proc'},
    {type: 'dir', path: 'sys'},
    {type: 'dir', path: 'tmp', mode: 0o1777},
  ]
  return writeCpio(entries)
}
