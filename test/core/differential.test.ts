/**
 * Differential tests: small C programs and small C "kernels", compiled with clang at
 * test time, relocated by kcompat and by libbpf (the harness), decision by decision.
 * Each case aims at rules the fixture objects do not reach: candidates that agree or
 * disagree, narrowing of the candidate list, anonymous members, array bounds, access
 * width changes, bitfields no load can read, type compatibility and matching, 64-bit
 * enums, programs libbpf does not autoload.
 */
import {copyFileSync, readFileSync, writeFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {BtfBuilder} from '../../src/btf/encode.js'
import {loadBtf} from '../../src/btf/load.js'
import type {BtfType} from '../../src/btf/types.js'
import {Kind} from '../../src/btf/wire.js'
import {loadBpfObject} from '../../src/core/object.js'
import {CoreReloKind} from '../../src/core/relo.js'
import {type CoreRelocation, relocateObject} from '../../src/core/relocate.js'
import {ElfFile} from '../../src/elf/elf.js'
import {parseBtfExt} from '../../src/elf/btf-ext.js'
import {compileC, expectAgreement} from '../harness/compare.js'
import {altLibbpf, requireHarness, runHarness} from '../harness/libbpf.js'
import {requireTool} from '../helpers/tools.js'

const ready = requireTool('clang', 'CO-RE differential cases') && requireHarness('CO-RE differential cases')

const PRELUDE = `
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#define __pai __attribute__((preserve_access_index))
__u64 out[64];
char LICENSE[] SEC("license") = "GPL";
`

/**
 * Relocates with both engines and checks agreement; returns kcompat's results. With
 * KCOMPAT_LIBBPF_ROOT set (see test/harness/libbpf.ts), also against that libbpf.
 */
async function both(object: string, kernel: string): Promise<CoreRelocation[]> {
  const target = (await loadBtf(kernel)).parsed
  const obj = await loadBpfObject(object)
  const ours = relocateObject(obj, {vmlinux: target})
  const run = runHarness(object, kernel)
  expectAgreement(ours, run.decisions, run.log)
  const other = altLibbpf()
  if (other) {
    const libbpf = Number(other.version.split('.')[1]) >= 6 ? '1.6' : '1.1'
    const r = other.run(object, kernel)
    expectAgreement(relocateObject(obj, {vmlinux: target}, {libbpf}), r.decisions, r.log)
  }
  if (process.env.CORE_DEBUG) console.log(statuses(ours).join("\n"))
  return ours
}

const statuses = (rs: CoreRelocation[]): string[] => rs.map((r) => `${r.kind} ${r.local} ${r.status}${r.value !== undefined ? ` ${r.value}` : ''}${r.memSize ? ` mem ${r.memSize.from}->${r.memSize.to}` : ''}`)

describe.skipIf(!ready)('kcompat and libbpf agree on compiled cases', () => {
  it('fields: anonymous members, arrays, flexible arrays, width changes, bitfields, missing fields', async () => {
    const kernel = compileC(
      'kfields',
      `
      struct inner { int a; long b; };
      struct task {
        long pad0;
        union { struct { int x; int y; }; long xy; };
        struct inner in;
        struct inner arr[4];
        int grid[3][5];
        char name[16];
        unsigned int u32f;
        unsigned long u64f;
        int s32f;
        long s64f;
        struct task *parent;
        unsigned int flag_a:3, flag_b:5;
        int sflag:7;
        unsigned long long wide:40;
        int tail[];
      };
      struct task g_task;
      `,
    )
    const prog = compileC(
      'pfields',
      `${PRELUDE}
      struct inner { long b; int a; } __pai;
      struct task {
        int x; int y;
        struct inner in;
        struct inner arr[8];
        int grid[3][5];
        char name[16];
        unsigned long u32f;
        unsigned int u64f;
        long s32f;
        struct task *parent;
        unsigned int flag_a:3, flag_b:5;
        int sflag:7;
        unsigned long long wide:40;
        int missing_field;
        int tail[];
      } __pai;
      SEC("kprobe/x") int prog(struct task *t) {
        out[0] = BPF_CORE_READ(t, x);
        out[1] = BPF_CORE_READ(t, y);
        out[2] = BPF_CORE_READ(t, in.a);
        out[3] = BPF_CORE_READ(t, arr[3].b);
        out[4] = BPF_CORE_READ(t, arr[6].b);
        out[5] = BPF_CORE_READ(t, grid[2][4]);
        out[6] = t->u32f;
        out[7] = t->u64f;
        out[8] = t->s32f;
        out[9] = BPF_CORE_READ(t, parent, parent, x);
        out[10] = BPF_CORE_READ_BITFIELD_PROBED(t, flag_a);
        out[11] = BPF_CORE_READ_BITFIELD_PROBED(t, flag_b);
        out[12] = BPF_CORE_READ_BITFIELD_PROBED(t, sflag);
        out[13] = BPF_CORE_READ_BITFIELD(t, wide);
        out[14] = bpf_core_field_exists(t->missing_field);
        out[15] = bpf_core_field_size(t->name);
        out[16] = BPF_CORE_READ(t, tail[5]);
        if (bpf_core_field_exists(t->missing_field))
          out[17] = BPF_CORE_READ(t, missing_field);
        out[18] = bpf_core_field_size(t->arr[2]);
        return 0;
      }
      `,
    )
    const rs = await both(prog, kernel)
    const s = statuses(rs)
    expect(s).toContain('byte_off struct task.arr[6].b poisoned') // past the target's 4 elements
    expect(s.some((x) => x.includes('mem 8->4'))).toBe(true) // unsigned long local, unsigned int target
    expect(s.some((x) => x.includes('mem 4->8'))).toBe(true)
    expect(s).toContain('byte_off struct task.s32f poisoned') // signed width change
    expect(s).toContain('field_exists struct task.missing_field patched 0')
  })

  it('several candidates: agreement, narrowing of the candidate list, flavors', async () => {
    const kernel = compileC(
      'kdup',
      `
      struct dup { int a; int b; int only_in_first; };
      struct dup___2 { int a; int c; int b; };
      struct dup g1; struct dup___2 g2;
      `,
    )
    const prog = compileC(
      'pdup',
      `${PRELUDE}
      struct dup { int a; int b; int only_in_first; } __pai;
      struct dup___mine { int b; int a; } __pai;
      SEC("kprobe/x") int first(struct dup *d) {
        out[0] = BPF_CORE_READ(d, a);              /* both candidates: offset 0 */
        out[1] = BPF_CORE_READ(d, only_in_first);  /* only dup: the list narrows to it */
        out[2] = BPF_CORE_READ(d, b);              /* 4 in dup, 8 in dup___2: fine after narrowing */
        return 0;
      }
      SEC("kprobe/y") int second(struct dup___mine *d) {
        out[3] = BPF_CORE_READ(d, a);              /* flavor of a local type: its own list, both agree */
        return 0;
      }
      `,
    )
    const rs = await both(prog, kernel)
    expect(statuses(rs)).toEqual([
      'byte_off struct dup.a patched 0',
      'byte_off struct dup.only_in_first patched 8',
      'byte_off struct dup.b patched 4',
      'byte_off struct dup___mine.a patched 0',
    ])
    expect(rs.map((r) => r.candidates)).toEqual([2, 2, 1, 2])
  })

  it('several candidates that disagree: libbpf refuses the object', async () => {
    const kernel = compileC('kamb', `struct dup { int a; int b; }; struct dup___2 { int a; int c; int b; }; struct dup g1; struct dup___2 g2;`)
    const prog = compileC(
      'pamb',
      `${PRELUDE}
      struct dup { int a; int b; } __pai;
      SEC("kprobe/x") int prog(struct dup *d) { out[0] = BPF_CORE_READ(d, a); out[1] = BPF_CORE_READ(d, b); return 0; }
      `,
    )
    const rs = await both(prog, kernel)
    expect(rs.map((r) => r.status)).toEqual(['patched', 'failed'])
    expect(rs[1]!.code).toBe('CORE_AMBIGUOUS')
  })

  it('a bitfield no 64-bit load can read fails; a program that is not autoloaded is skipped', async () => {
    const kernel = compileC('kpk', `struct __attribute__((packed)) pk { unsigned char c:6; unsigned long long x:60; }; struct pk g;`)
    const prog = compileC(
      'ppk',
      `${PRELUDE}
      struct pk { unsigned long long x:60; } __pai;
      SEC("?kprobe/y") int lazy(struct pk *p) { out[1] = BPF_CORE_READ_BITFIELD_PROBED(p, x); return 0; }
      SEC("kprobe/x") int prog(struct pk *p) { out[0] = BPF_CORE_READ_BITFIELD_PROBED(p, x); return 0; }
      `,
    )
    const rs = await both(prog, kernel)
    expect(rs.filter((r) => r.program === 'lazy').every((r) => r.status === 'skipped')).toBe(true)
    expect(rs.find((r) => r.program === 'prog' && r.status === 'failed')?.code).toBe('CORE_BITFIELD')
  })

  it('loads from array fields whose length changed: libbpf 1.1 poisons them, 1.6 patches them', async () => {
    const kernel = compileC('karr', `struct task { long pad; char name[32]; int grid[4][8]; }; struct task g;`)
    const prog = compileC(
      'parr',
      `${PRELUDE}
      struct task { char name[16]; int grid[4][4]; } __pai;
      SEC("kprobe/x") int prog(struct task *t) {
        out[0] = *(__u64 *)t->name;
        out[1] = *(__u32 *)t->grid[1];
        out[2] = t->grid[2][3];
        return 0;
      }
      `,
    )
    const rs = await both(prog, kernel)
    expect(rs.map((r) => r.status)).toEqual(['patched', 'poisoned', 'poisoned', 'patched'])
    const v16 = relocateObject(await loadBpfObject(prog), {vmlinux: (await loadBtf(kernel)).parsed}, {libbpf: '1.6'})
    expect(statuses(v16)).toEqual([
      'byte_off struct task.name patched 8',
      'byte_off struct task.name patched 8',
      'byte_off struct task.grid[1] patched 72',
      'byte_off struct task.grid[2] patched 104',
    ])
  })

  const TYPES_KERNEL = `
    typedef struct foo { int x; char *name; struct foo *next; } foo_t;
    union un { int a; long b; };
    enum color { RED, GREEN = 5, BLUE = -3 };
    enum big { BIG_A, BIG_B };
    typedef int (*handler_t)(int, char *);
    typedef unsigned long ul_t;
    struct foo g_foo; foo_t g_foot; union un g_un; enum color g_color; enum big g_big; handler_t g_h; ul_t g_ul;
  `
  const TYPES_PROG = `${PRELUDE}
    struct foo { int x; char *name; } __pai;
    struct foo___wide { long x; } __pai;
    typedef struct foo foo_t;
    union un { int a; };
    enum color { RED, GREEN, BLUE, PURPLE };
    enum big { BIG_A, BIG_B, BIG_C };
    typedef int (*handler_t)(int, char *);
    typedef int (*handler_t___bad)(int);
    typedef long ul_t;
    struct un___as_struct { int a; };
    SEC("kprobe/x") int prog(void *ctx) {
      out[0] = bpf_core_type_exists(struct foo);
      out[1] = bpf_core_type_size(struct foo);
      out[2] = bpf_core_type_id_kernel(foo_t);
      out[3] = bpf_core_type_exists(union un);
      out[4] = bpf_core_type_exists(handler_t);
      out[5] = bpf_core_type_exists(handler_t___bad);
      out[6] = bpf_core_type_size(ul_t);
      out[7] = bpf_core_type_exists(struct un___as_struct);
      out[8] = bpf_core_type_exists(struct foo___wide);
      out[9] = bpf_core_enum_value_exists(enum color, PURPLE);
      out[10] = bpf_core_enum_value(enum color, BLUE);
      out[11] = bpf_core_enum_value(enum color, PURPLE);
      out[12] = bpf_core_type_id_local(struct foo);
      out[13] = bpf_core_type_exists(enum color);
      out[14] = bpf_core_enum_value(enum big, BIG_B);
      out[15] = bpf_core_type_size(enum big);
      out[16] = bpf_core_enum_value_exists(enum big, BIG_C);
      return 0;
    }
  `

  it('type and enum relocations: compatibility rules, negative enumerators, missing enumerators', async () => {
    const rs = await both(compileC('ptypes', TYPES_PROG), compileC('ktypes', TYPES_KERNEL))
    const s = statuses(rs)
    expect(s).toContain('type_exists typedef handler_t___bad patched 0')
    expect(s).toContain('type_exists struct un___as_struct patched 0')
    expect(s).toContain('enumval_value enum color::BLUE patched 18446744073709551613')
    expect(s).toContain('enumval_value enum color::PURPLE poisoned')
  })

  it('64-bit enums in the kernel (ENUM64) matched by 32-bit local enums', async () => {
    // Turn the kernel's `enum big` into an ENUM64 with values past 32 bits.
    const kernelObj = compileC('kenum64', TYPES_KERNEL)
    const k = (await loadBtf(kernelObj)).parsed
    const b = new BtfBuilder()
    for (const t of k.types) {
      if (t.kind === Kind.ENUM && t.name === 'big') {
        const e64: BtfType = {
          kind: Kind.ENUM64,
          name: 'big',
          nameOff: 0,
          kindFlag: false,
          size: 8,
          values: [
            {name: 'BIG_A', nameOff: 0, value: 0x1_0000_0000n},
            {name: 'BIG_B', nameOff: 0, value: 0xffff_ffff_ffff_fff0n},
          ],
        }
        b.add(e64)
      } else b.add(t)
    }
    const kernel = kernelObj.replace(/\.o$/, '.enum64.btf')
    writeFileSync(kernel, b.encode())
    const rs = await both(compileC('penum64', TYPES_PROG), kernel)
    const s = statuses(rs)
    expect(s).toContain('enumval_value enum big::BIG_B patched 18446744073709551600')
    expect(s).toContain('type_size enum big patched 8')
  })

  it('TYPE_MATCHES (clang 14 cannot emit it: the object is patched to ask for it)', async () => {
    const obj = compileC('pmatch', TYPES_PROG)
    const patched = obj.replace(/\.o$/, '.matches.o')
    copyFileSync(obj, patched)
    const bytes = new Uint8Array(readFileSync(patched))
    const elf = ElfFile.parse(bytes)
    const sec = elf.section('.BTF.ext')!
    const ext = parseBtfExt(elf.sectionData(sec))
    const dv = new DataView(bytes.buffer, bytes.byteOffset)
    let n = 0
    for (const g of ext.coreRelos.sections) {
      for (const r of g.records) {
        if (r.kind !== CoreReloKind.TYPE_EXISTS) continue
        dv.setUint32(sec.offset + r.offset + 12, CoreReloKind.TYPE_MATCHES, elf.littleEndian)
        n++
      }
    }
    writeFileSync(patched, bytes)
    expect(n).toBeGreaterThan(4)
    const rs = await both(patched, compileC('kmatch', TYPES_KERNEL))
    const s = statuses(rs).filter((x) => x.startsWith('type_matches'))
    expect(s).toContain('type_matches struct foo patched 1') // local members are a subset
    expect(s).toContain('type_matches struct foo___wide patched 0') // long x vs int x
    expect(s).toContain('type_matches typedef handler_t patched 1')
  })
})
