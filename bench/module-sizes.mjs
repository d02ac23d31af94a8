#!/usr/bin/env node
// Per kernel of an archive: how many modules have BTF, their raw size, the
// .modules.tar.xz size, and that against the kernel's vmlinux .btf.tar.xz (the goal is
// a ratio of at most 1). Prints a markdown table (README "Module BTF").
//   node bench/module-sizes.mjs [ARCHIVE]   (default: the shipped archive/)
// Kernels whose module BTF is in the archive's BTF pack are left out: one pack segment holds
// many kernels, so its size is not theirs alone (bench/pack.mjs measures the pack).
import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

const root = process.argv[2] ?? join(import.meta.dirname, '..', 'archive')
const kernels = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')).kernels
const mb = (n) => (n / 1e6).toFixed(2)
console.log('| kernel | arch | modules (without BTF) | raw MB | .modules.tar.xz MB | vmlinux .btf.tar.xz MB | ratio |')
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |')
let modTotal = 0
let vmTotal = 0
for (const k of kernels) {
  if (!k.modules || !k.path || k.modules.unit !== undefined) continue
  const vm = statSync(join(root, k.path)).size
  const mod = k.modules.path ? statSync(join(root, k.modules.path)).size : 0
  modTotal += mod
  vmTotal += vm
  console.log(`| ${k.release} | ${k.arch} | ${k.modules.count} (${k.modules.withoutBtf}) | ${mb(k.modules.size)} | ${mb(mod)} | ${mb(vm)} | ${(mod / vm).toFixed(2)} |`)
}
console.log(`\n${mb(modTotal)} MB of module BTF beside ${mb(vmTotal)} MB of vmlinux BTF for those kernels (${(modTotal / vmTotal).toFixed(2)}x).`)
