/**
 * The C dumper on small programs that exercise its tricky corners, compiled at test
 * time with clang for both BPF byte orders and compared with bpftool on the same
 * object. Also a few hand-built BTF blobs for what clang 14 cannot produce (ENUM64,
 * signed enums, GCC quirks), written to a file and given to bpftool as raw BTF.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {dumpC} from '../../src/btf/cdump/index.js'
import {BtfBuilder} from '../../src/btf/encode.js'
import {Kind} from '../../src/btf/wire.js'
import {bpftoolC, compileBpf, extractBtf, linkBpf} from '../helpers/cdump.js'
import {scratchDir} from '../helpers/fixtures.js'
import {findTool, firstDifference} from '../helpers/tools.js'

const missing = ['clang', 'bpftool', 'llvm-objcopy'].filter((t) => findTool(t) === undefined)
const canCompile = missing.length === 0
if (!canCompile) console.warn(`skipping compiled C dump cases: ${missing.join(', ')} not installed`)

function expectSameText(actual: string, expected: string, what: string): void {
  const diff = firstDifference(actual, expected)
  expect(diff, `${what}: ${diff}`).toBeUndefined()
}

/** Compiles `source` for one byte order and compares kcompat's dump with bpftool's. */
function checkObject(name: string, obj: string): string {
  const expected = bpftoolC(obj)
  const actual = dumpC(parseBtf(extractBtf(obj)))
  expectSameText(actual, expected, name)
  return actual
}

const CASES: Record<string, string> = {
  bitfields: `
    struct bf1 { unsigned a: 1, b: 2, c: 29; int d; unsigned char e: 3; long f: 40; short g: 7; } g_bf1;
    struct bf2 { char a; int: 0; char b; int c: 4; } g_bf2;
    struct bf3 { long a: 3; long: 61; char b; } g_bf3;
    struct bf4 { int a: 5; long b; int c: 30; int d: 30; char e: 1; } g_bf4;
    struct bf5 { unsigned long long x: 63; unsigned char y: 1; unsigned char z; } g_bf5;
    struct bf6 { int a: 3; int: 20; int b: 2; long: 64; char c: 1; } g_bf6;
    struct bf7 { char a; long long b: 7; char c: 2; short d: 9; int e: 17; long f: 33; } g_bf7;
    union ubf { int a: 3; long b: 33; char c; } g_ubf;
    struct bf8 { _Bool b1: 1; _Bool b2: 1; enum { BF_A, BF_B } e: 2; unsigned int tail: 4; } g_bf8;
  `,
  packed_aligned: `
    struct __attribute__((packed)) p1 { char a; int b; long c; } g_p1;
    struct p2 { char a; struct p1 b; short c; } g_p2;
    struct __attribute__((aligned(16))) al1 { int a; } g_al1;
    struct al2 { char a; struct al1 b; char c __attribute__((aligned(32))); } g_al2;
    struct __attribute__((packed, aligned(4))) pa { char a; int b; short c; } g_pa;
    union __attribute__((packed)) pu { char a; int b; char c[5]; } g_pu;
    struct tailpad { long a; char b; } __attribute__((aligned(64))) g_tailpad;
    struct __attribute__((packed)) p3 { int a; char b; } g_p3;
    struct __attribute__((packed)) p4 { long a; int b; } g_p4;
    struct gap { char a; char b __attribute__((aligned(64))); short c __attribute__((aligned(8))); } g_gap;
    struct nested_packed { char x; struct __attribute__((packed)) { char a; long b; } in; int y; } g_np;
  `,
  anonymous: `
    struct an {
      int a;
      union { int b; struct { char c; short d; }; };
      struct { int e; } named;
      union { long f; struct { int g; } *inner_p; } *pu;
      enum { AN_X = 1, AN_Y } g;
      struct { struct { struct { int deep; } l3; } l2; } l1[2];
    } g_an;
    typedef struct { int a; } anon_s_t;
    typedef enum { TA, TB } anon_e_t;
    typedef union { int a; float b; } anon_u_t;
    anon_s_t g_as; anon_e_t g_ae; anon_u_t g_au;
    typedef struct { anon_s_t s; anon_e_t e[2]; } anon2_t;
    anon2_t *g_a2p;
    enum { RET_A = 3, RET_B } ret_anon_enum(int x) { return x ? RET_A : RET_B; }
  `,
  declarators: `
    int (*(*fpf)(int))(char);
    typedef void (*(*sig2_t)(int, void (*)(int)))(int);
    sig2_t g_sig2;
    int (*(*aparr[3]))[4];
    char *(*ap2)[5][6];
    int (*arr_fp[2])(void);
    int md[2][3][4];
    int *mdp[2][3];
    int (*pmd)[2][3];
    int (*(*fra)(void))[3];
    struct ops { void (*fns[4])(int); int (*(*nested)(int))[2]; const char *(*const names)(const void *, unsigned long); } g_ops;
    typedef int fn_t(int, char);
    fn_t *g_fnp;
    typedef fn_t *fnp_arr_t[3];
    fnp_arr_t g_fnp_arr;
    int (*variadic)(const char *, ...);
    int (*noargs)(void);
    int (*unspecified)();
    void (*(*signal_like)(int, void (*)(int)))(int);
  `,
  qualifiers: `
    const volatile int *const volatile cvp;
    int *restrict rp;
    const char *const *volatile ccpv;
    volatile const struct qs { const int a; volatile long b[2]; const int *const c[3]; } g_qs;
    typedef const int cint_t;
    cint_t *const g_cint_p;
    const cint_t g_ccint;
    const int carr[4] = {1, 2, 3, 4};
    void *const volatile g_vp;
    const void *g_cvoid;
  `,
  forward_and_recursive: `
    struct fwd_only;
    union fwd_union;
    struct uses_fwd { struct fwd_only *p; union fwd_union *q; struct fwd_only **pp; } g_uf;
    struct mA;
    struct mB { struct mA *a; struct mB *self; };
    struct mA { struct mB b; struct mA *next; } g_ma;
    struct list { struct list *next, *prev; struct { struct list *owner; } meta; } g_list;
    typedef struct tnode tnode_t;
    struct tnode { tnode_t *left, *right; int v; };
    tnode_t g_tnode;
    typedef struct cb_holder cb_holder_t;
    typedef void (*cb_t)(cb_holder_t *);
    struct cb_holder { cb_t cb; } g_cbh;
  `,
  enums: `
    enum neg { N1 = -1, N2 = -2147483647 - 1, N3 = 5 } g_neg;
    enum uns { U1 = 0, U2 = 4294967295u } g_uns;
    enum big { B1 = 0x100000000ULL, B2 = 0xffffffffffffffffULL } g_big;
    enum sbig { SB1 = -0x100000000LL, SB2 = 1 } g_sbig;
    enum __attribute__((packed)) small { S1, S2 = 200 } g_small;
    enum empty_ish { ONLY } g_only;
    enum dup1 { DUP = 1 } g_dup1;
  `,
  arrays_and_flex: `
    struct flex { int n; char data[]; } *g_flex;
    struct zs { int n; char z[0]; long after; } g_zs;
    struct zs2 { long a; struct {} empty; int b[0]; } g_zs2;
    struct empty {} g_empty;
    struct arrs { int a[0][3]; char b[2][0]; long c[1]; } g_arrs;
    struct with_empty { struct empty e; int x; struct empty f[3]; } g_we;
  `,
  tags: `
    #define __tag1 __attribute__((btf_type_tag("tag1")))
    #define __tag2 __attribute__((btf_type_tag("tag2")))
    #define __dtag(x) __attribute__((btf_decl_tag(x)))
    int __tag1 *g_tp;
    int __tag1 __tag2 *g_tp2;
    const int __tag1 *const g_tp3;
    struct tagged { int __tag1 *a __dtag("fld"); long b __dtag("other"); int __tag2 * __tag1 *c; } __dtag("st") g_tagged;
    typedef int __tag1 *tagged_ptr_t __dtag("td");
    tagged_ptr_t g_tpt;
    int tagged_fn(int x __dtag("param")) __dtag("fn") { return x; }
    void (*g_tfp)(int __tag1 *, char __tag2 *);
  `,
  scalars: `
    _Bool g_bool; float g_float; double g_double; long double g_ld;
    __int128 g_i128; unsigned __int128 g_u128;
    signed char g_sc; unsigned char g_uc; char g_c; short g_s; unsigned short g_us;
    long long g_ll; unsigned long long g_ull; long g_l; unsigned long g_ul;
    struct scal { _Bool b; float f; double d; long double ld; __int128 i; char c; } g_scal;
    typedef __builtin_va_list my_va_list;
    my_va_list *g_va;
    struct uses_va { __builtin_va_list ap; my_va_list ap2; } g_uva;
  `,
  functions: `
    typedef int vf_t(int a, ...);
    vf_t *g_vf;
    int noargs_fn(void) { return 1; }
    static int static_fn(int x) { return x * 2; }
    int use_static(int y) { return static_fn(y); }
    struct ret { long a, b; };
    struct ret *ret_struct(struct ret *in) { return in + 1; }
    extern int ext_fn(int) __attribute__((weak));
    int call_ext(int x) { return ext_fn ? ext_fn(x) : 0; }
    typedef int (*handler_t)(void *ctx, unsigned long flags, ...);
    handler_t g_handlers[8];
  `,
}

describe.skipIf(!canCompile)('C dump of compiled corner cases matches bpftool', () => {
  for (const [name, source] of Object.entries(CASES)) {
    it(name, () => {
      const le = checkObject(`${name} (bpfel)`, compileBpf(name, source, 'bpfel'))
      const be = checkObject(`${name} (bpfeb)`, compileBpf(name, source, 'bpfeb'))
      expect(be).toBe(le)
    })
  }

  it('name conflicts across linked objects get ___N in both namespaces', () => {
    const a = compileBpf(
      'conflict_a',
      `struct foo { int a; }; typedef int foo_t; enum e1 { X = 1, Y = 2 };
       union u { int i; }; typedef struct foo foo_s;
       struct foo g_foo1; foo_t g_t1; enum e1 g_e1; union u g_u1; foo_s *g_fs1;`,
    )
    const b = compileBpf(
      'conflict_b',
      `struct foo { long b; char c[3]; }; typedef char foo_t; enum e2 { X = 5, Z = 6 };
       union u { long l; char c; }; typedef struct foo foo_s; typedef int Y;
       struct foo g_foo2; foo_t g_t2; enum e2 g_e2; union u g_u2; foo_s *g_fs2; Y g_y;`,
    )
    const c = compileBpf(
      'conflict_c',
      `struct foo { short s; }; struct bar { struct foo f; }; enum e1 { X = 7 };
       struct bar g_bar; enum e1 g_e3;`,
    )
    const out = checkObject('linked conflicts', linkBpf('conflicts', [a, b, c]))
    expect(out).toContain('struct foo___2 {')
    expect(out).toContain('struct foo___3 {')
    expect(out).toContain('X___2 = 5,')
  })
})

/**
 * Hand-built BTF for shapes clang 14 does not emit. Each blob is written to a file
 * and bpftool dumps it as raw BTF.
 */
describe.skipIf(findTool('bpftool') === undefined)('C dump of hand-built BTF matches bpftool', () => {
  const INT = {kind: Kind.INT, nameOff: 0, kindFlag: false, bitOffset: 0} as const
  let n = 0
  function check(name: string, build: (b: BtfBuilder) => void): void {
    const b = new BtfBuilder()
    build(b)
    const bytes = b.encode()
    const file = join(scratchDir(), `cdump-synthetic-${name}-${n++}.btf`)
    writeFileSync(file, bytes)
    expectSameText(dumpC(parseBtf(bytes)), bpftoolC(file), name)
  }

  it('ENUM64 (signed and unsigned) and signed 32-bit enums', () => {
    check('enum64', (b) => {
      const e64 = b.add({
        kind: Kind.ENUM64,
        name: 'big',
        nameOff: 0,
        kindFlag: false,
        size: 8,
        values: [
          {name: 'BIG_A', nameOff: 0, value: 0n},
          {name: 'BIG_B', nameOff: 0, value: 0xffffffffffffffffn},
          {name: 'BIG_C', nameOff: 0, value: 0x100000000n},
        ],
      })
      b.add({
        kind: Kind.ENUM64,
        name: 'sbig',
        nameOff: 0,
        kindFlag: true,
        size: 8,
        values: [
          {name: 'SBIG_A', nameOff: 0, value: -1n},
          {name: 'SBIG_B', nameOff: 0, value: -0x8000000000000000n},
        ],
      })
      b.add({
        kind: Kind.ENUM64,
        name: 'small64',
        nameOff: 0,
        kindFlag: false,
        size: 8,
        values: [{name: 'S64', nameOff: 0, value: 1n}],
      })
      b.add({
        kind: Kind.ENUM,
        name: 'sneg',
        nameOff: 0,
        kindFlag: true,
        size: 4,
        values: [
          {name: 'SN_A', nameOff: 0, value: -1},
          {name: 'SN_B', nameOff: 0, value: -2147483648},
          {name: 'BIG_A', nameOff: 0, value: 3},
        ],
      })
      b.add({kind: Kind.ENUM, name: 'one_byte', nameOff: 0, kindFlag: false, size: 1, values: [{name: 'OB', nameOff: 0, value: 255}]})
      b.add({kind: Kind.ENUM, name: 'eight', nameOff: 0, kindFlag: false, size: 8, values: [{name: 'E8', nameOff: 0, value: 1}]})
      b.add({kind: Kind.ENUM, name: 'fwd_enum', nameOff: 0, kindFlag: false, size: 4, values: []})
      b.add({kind: Kind.ENUM, name: 'fwd_enum', nameOff: 0, kindFlag: false, size: 4, values: []})
      b.add({kind: Kind.ENUM64, name: '', nameOff: 0, kindFlag: false, size: 8, values: [{name: 'ANON64', nameOff: 0, value: 1n << 40n}]})
      b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: e64})
    })
  })

  it('GCC quirks: __gnuc_va_list to void, __builtin_va_list, __PolyN_t, qualified arrays and protos', () => {
    check('gcc', (b) => {
      const int = b.add({...INT, name: 'int', size: 4, encoding: 1, bits: 32})
      b.add({kind: Kind.TYPEDEF, name: '__gnuc_va_list', nameOff: 0, kindFlag: false, type: 0})
      const ch = b.add({...INT, name: 'char', size: 1, encoding: 2, bits: 8})
      const chp = b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: ch})
      const bva = b.add({kind: Kind.TYPEDEF, name: '__builtin_va_list', nameOff: 0, kindFlag: false, type: chp})
      b.add({kind: Kind.TYPEDEF, name: 'va_list', nameOff: 0, kindFlag: false, type: bva})
      const poly = b.add({...INT, name: '__Poly8_t', size: 1, encoding: 0, bits: 8})
      b.add({kind: Kind.TYPEDEF, name: 'poly8x8_t', nameOff: 0, kindFlag: false, type: poly})
      b.add({...INT, name: '__Poly128_t', size: 16, encoding: 0, bits: 128})
      // const array of int (GCC bug 8354) and a volatile (noreturn) function pointer
      const arr = b.add({kind: Kind.ARRAY, name: '', nameOff: 0, kindFlag: false, type: int, indexType: int, nelems: 4})
      const carr = b.add({kind: Kind.CONST, name: '', nameOff: 0, kindFlag: false, type: arr})
      const proto = b.add({kind: Kind.FUNC_PROTO, name: '', nameOff: 0, kindFlag: false, returnType: 0, params: []})
      const vproto = b.add({kind: Kind.VOLATILE, name: '', nameOff: 0, kindFlag: false, type: proto})
      const vfp = b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: vproto})
      b.add({
        kind: Kind.STRUCT,
        name: 'quirks',
        nameOff: 0,
        kindFlag: false,
        size: 24,
        members: [
          {name: 'carr', nameOff: 0, type: carr, bitOffset: 0, bitfieldSize: 0},
          {name: 'die', nameOff: 0, type: vfp, bitOffset: 128, bitfieldSize: 0},
        ],
      })
      // old-style bitfield: INT with fewer bits, struct without kind_flag
      const int3 = b.add({...INT, name: 'int', size: 4, encoding: 1, bits: 3})
      b.add({
        kind: Kind.STRUCT,
        name: 'oldbf',
        nameOff: 0,
        kindFlag: false,
        size: 4,
        members: [
          {name: 'a', nameOff: 0, type: int3, bitOffset: 0, bitfieldSize: 0},
          {name: 'b', nameOff: 0, type: int3, bitOffset: 3, bitfieldSize: 0},
        ],
      })
      // FWD union, a float, a function and a variable (not printed)
      b.add({kind: Kind.FWD, name: 'fwd_u', nameOff: 0, kindFlag: true})
      b.add({kind: Kind.FLOAT, name: 'double', nameOff: 0, kindFlag: false, size: 8})
      b.add({kind: Kind.FUNC, name: 'fn', nameOff: 0, kindFlag: false, type: proto, linkage: 1})
      b.add({kind: Kind.VAR, name: 'v', nameOff: 0, kindFlag: false, type: int, linkage: 1})
    })
  })

  it('type tags (kind_flag ignored, as libbpf 1.1 does), decl tags and datasecs print nothing extra', () => {
    check('tags', (b) => {
      const int = b.add({...INT, name: 'int', size: 4, encoding: 1, bits: 32})
      const tag = b.add({kind: Kind.TYPE_TAG, name: 'user', nameOff: 0, kindFlag: false, type: int})
      const attr = b.add({kind: Kind.TYPE_TAG, name: 'aligned(8)', nameOff: 0, kindFlag: true, type: tag})
      const p = b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: attr})
      const cp = b.add({kind: Kind.CONST, name: '', nameOff: 0, kindFlag: false, type: p})
      const tp = b.add({kind: Kind.TYPE_TAG, name: 'rcu', nameOff: 0, kindFlag: false, type: cp})
      const s = b.add({
        kind: Kind.STRUCT,
        name: 'tagged',
        nameOff: 0,
        kindFlag: false,
        size: 16,
        members: [
          {name: 'p', nameOff: 0, type: tp, bitOffset: 0, bitfieldSize: 0},
          {name: 'q', nameOff: 0, type: p, bitOffset: 64, bitfieldSize: 0},
        ],
      })
      b.add({kind: Kind.DECL_TAG, name: 'st', nameOff: 0, kindFlag: false, type: s, componentIdx: -1})
      b.add({kind: Kind.DECL_TAG, name: 'fld', nameOff: 0, kindFlag: true, type: s, componentIdx: 1})
      b.add({kind: Kind.TYPEDEF, name: 'tagged_ptr', nameOff: 0, kindFlag: false, type: tp})
      const v = b.add({kind: Kind.VAR, name: 'g', nameOff: 0, kindFlag: false, type: s, linkage: 1})
      b.add({kind: Kind.DATASEC, name: '.data', nameOff: 0, kindFlag: false, size: 16, vars: [{type: v, offset: 0, size: 16}]})
    })
  })

  it('anonymous enums: unreferenced ones are top-level, a proto return type does not count', () => {
    check('anon-enums', (b) => {
      const e1 = b.add({kind: Kind.ENUM, name: '', nameOff: 0, kindFlag: false, size: 4, values: [{name: 'TOP1', nameOff: 0, value: 1}]})
      const e2 = b.add({kind: Kind.ENUM, name: '', nameOff: 0, kindFlag: false, size: 4, values: [{name: 'RET1', nameOff: 0, value: 2}]})
      const proto = b.add({kind: Kind.FUNC_PROTO, name: '', nameOff: 0, kindFlag: false, returnType: e2, params: []})
      b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: proto})
      const e3 = b.add({kind: Kind.ENUM, name: '', nameOff: 0, kindFlag: false, size: 4, values: [{name: 'TOP1', nameOff: 0, value: 3}]})
      b.add({kind: Kind.TYPEDEF, name: 'e3_t', nameOff: 0, kindFlag: false, type: e3})
      b.add({kind: Kind.TYPEDEF, name: 'TOP1', nameOff: 0, kindFlag: false, type: e1})
    })
  })
})
