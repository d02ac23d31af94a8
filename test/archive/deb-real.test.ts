/**
 * Real Debian 12 kernel packages, end to end: readKernelDeb (control, BTF, config facts)
 * against a shell oracle built from the reference tools only:
 *
 * - `dpkg-deb -f` for control fields, `dpkg-deb -c` for the listing, `dpkg-deb -x` to unpack;
 * - the image: like the kernel's scripts/extract-vmlinux, every compression magic found
 *   with `grep -obUaP` is fed to the system decompressor (`tail -c +N | lz4 -dc`, ...);
 *   the first output that is ELF (and that llvm-readelf accepts) is the vmlinux, whose
 *   `.BTF` is taken with `llvm-objcopy --dump-section`;
 * - with no ELF (arm64 Image, s390): the BTF header is searched with grep, its sizes read
 *   with od, the blob cut with dd and accepted only if `bpftool btf dump` reads it;
 * - config facts: grep/sed over /boot/config-*; image formats: `file -b`.
 *
 * The packages are big (20-60 MiB each), so the tests are opt-in: each runs when its
 * package is in ${KCOMPAT_TEST_CACHE:-~/.cache/kcompat-test}/debs (scripts/fetch-debs.sh
 * puts it there) or KCOMPAT_TEST_DOWNLOAD=1 (then the script is run for it), and skips
 * with a printed reason otherwise.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {readDeb, readKernelDeb} from '../../src/archive/deb.js'
import {parseBtf} from '../../src/btf/decode.js'
import {BPF_CONFIG_SYMBOLS} from '../../src/kernel/config.js'
import {findTool, requireTool, run} from '../helpers/tools.js'

const CACHE = process.env.KCOMPAT_TEST_CACHE ?? join(homedir(), '.cache', 'kcompat-test')
const DEBS = join(CACHE, 'debs')
const FETCH = join(import.meta.dirname, '..', '..', 'scripts', 'fetch-debs.sh')

interface Target {
  target: string
  file: RegExp
  /** What `file -b` says about the image. */
  fileSays: RegExp
  format: string
  compression: string | undefined
  hasBtf: boolean
}

const TARGETS: Target[] = [
  {target: 'amd64', file: /^linux-image-6\.1\.0-\d+-cloud-amd64_.*_amd64\.deb$/, fileSays: /x86 boot executable bzImage/, format: 'bzImage', compression: 'lz4', hasBtf: true},
  {target: 'amd64-6.12', file: /^linux-image-6\.12\.\d+\+deb12-cloud-amd64_.*_amd64\.deb$/, fileSays: /x86 boot executable bzImage/, format: 'bzImage', compression: 'zstd', hasBtf: true},
  {target: 'arm64', file: /^linux-image-6\.1\.0-\d+-cloud-arm64_.*_arm64\.deb$/, fileSays: /ARM64 boot executable Image/, format: 'arm64-Image', compression: undefined, hasBtf: true},
  {target: 's390x', file: /^linux-image-6\.1\.0-\d+-s390x_.*_s390x\.deb$/, fileSays: /Linux S390/, format: 's390', compression: 'xz', hasBtf: false},
  {target: 'ppc64el', file: /^linux-image-6\.1\.0-\d+-powerpc64le_.*_ppc64el\.deb$/, fileSays: /^ELF 64-bit LSB executable, 64-bit PowerPC/, format: 'elf', compression: undefined, hasBtf: false},
  {target: 'i386', file: /^linux-image-6\.1\.0-\d+-686_.*_i386\.deb$/, fileSays: /x86 boot executable bzImage/, format: 'bzImage', compression: 'xz', hasBtf: false},
]

function newest(re: RegExp): string | undefined {
  if (!existsSync(DEBS)) return undefined
  const hits = readdirSync(DEBS).filter((f) => re.test(f))
  hits.sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))
  return hits.length ? join(DEBS, hits[hits.length - 1]!) : undefined
}

/** The cached package for a target, downloading it when KCOMPAT_TEST_DOWNLOAD=1; else undefined (and why is printed). */
function packageFor(t: Target): string | undefined {
  let deb = newest(t.file)
  if (!deb && process.env.KCOMPAT_TEST_DOWNLOAD === '1') {
    const r = spawnSync('bash', [FETCH, t.target], {encoding: 'utf8', env: {...process.env, KCOMPAT_TEST_CACHE: CACHE}})
    if (r.status !== 0) console.warn(`scripts/fetch-debs.sh ${t.target} failed:\n${r.stderr}`)
    deb = newest(t.file)
  }
  if (!deb) {
    console.warn(
      `skipping real-package test ${t.target}: no package matching ${t.file} in ${DEBS} ` +
        `(run scripts/fetch-debs.sh ${t.target}, or set KCOMPAT_TEST_DOWNLOAD=1)`,
    )
  }
  return deb
}

/**
 * The shell oracle (`@{` stands for the shell's `$` + `{`, which a template literal would
 * take as its own). Writes into OUT: image (the /boot/vmlinu[xz]-* file), config,
 * btf (absent when none was found), how (one line), filetype (`file -b`).
 */
const ORACLE = String.raw`
set -euo pipefail
deb=$1; out=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/root"
img=$(ls "$work"/root/boot/vmlinu[xz]-* | head -1)
cp "$img" "$out/image"; basename "$img" > "$out/image-name"
cp "$work"/root/boot/config-* "$out/config"
file -b "$img" > "$out/filetype"

is_elf() { [[ -s "$1" ]] && [[ "$(od -An -tx1 -N4 "$1" | tr -d ' ')" == 7f454c46 ]]; }
host_u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

# raw_btf FILE OUT: BTF header (9f eb 01 00, hdr_len 24, type_off 0) found by grep, cut with dd
raw_btf() {
  local f=$1 o=$2 off tlen soff slen
  for off in $(LC_ALL=C grep -obUaP '\x9f\xeb\x01\x00\x18\x00\x00\x00\x00\x00\x00\x00' "$f" | cut -d: -f1); do
    tlen=$(host_u32 "$f" $((off + 12))); soff=$(host_u32 "$f" $((off + 16))); slen=$(host_u32 "$f" $((off + 20)))
    [[ "$soff" == "$tlen" ]] || continue
    dd if="$f" of="$o" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$((24 + soff + slen))" status=none
    if bpftool btf dump file "$o" format raw >/dev/null 2>&1; then echo "$off"; return 0; fi
  done
  rm -f "$o"; return 1
}

if is_elf "$img"; then cp "$img" "$work/vmlinux"; echo "elf" > "$out/how"
else
  found=
  n=0
  for spec in "1f8b08:gzip -dc" "fd377a585a00:xz -dc" "28b52ffd:zstd -dc" "02214c18:lz4 -dc" \
              "425a68:bzip2 -dc" "5d000000:xz --format=lzma -dc" "894c5a:lzop -dc"; do
    sig=@{spec%%:*}; tool=@{spec#*:}
    command -v "@{tool%% *}" >/dev/null || continue
    pat=$(sed 's/../\\x&/g' <<<"$sig")
    for off in $(LC_ALL=C grep -obUaP "$pat" "$img" | cut -d: -f1); do
      n=$((n + 1))
      tail -c +"$((off + 1))" "$img" | $tool >"$work/cand-$n" 2>/dev/null || true
      if is_elf "$work/cand-$n" && llvm-readelf -S "$work/cand-$n" >/dev/null 2>&1; then
        mv "$work/cand-$n" "$work/vmlinux"; echo "@{tool%% *} $off" > "$out/how"; found=1; break 2
      fi
    done
  done
  if [[ -z "$found" ]]; then
    if off=$(raw_btf "$img" "$out/btf"); then echo "raw $off" > "$out/how"
    else
      echo "none" > "$out/how"
      for c in "$work"/cand-*; do
        [[ -s "$c" ]] || continue
        if off=$(raw_btf "$c" "$out/btf"); then echo "raw-in-payload $off" > "$out/how"; break; fi
      done
    fi
  fi
fi
if [[ -f "$work/vmlinux" ]]; then
  llvm-readelf -S "$work/vmlinux" > "$work/sections"
  if grep -q ' \.BTF ' "$work/sections"; then
    llvm-objcopy --dump-section ".BTF=$out/btf" "$work/vmlinux" "$work/discard"
  fi
fi
`.replaceAll('@{', '$'+'{')

interface Oracle {
  image: Buffer
  imageName: string
  config: string
  btf: Buffer | undefined
  how: string
  filetype: string
}

function oracle(deb: string): Oracle {
  const out = mkdtempSync(join(tmpdir(), 'kcompat-oracle-'))
  const r = spawnSync('bash', ['-c', ORACLE, 'oracle', deb, out], {encoding: 'utf8', maxBuffer: 1 << 26})
  if (r.status !== 0) throw new Error(`oracle failed (${r.status}): ${r.stderr}`)
  const read = (f: string): string => readFileSync(join(out, f), 'utf8').trim()
  return {
    image: readFileSync(join(out, 'image')),
    imageName: read('image-name'),
    config: readFileSync(join(out, 'config'), 'utf8'),
    btf: existsSync(join(out, 'btf')) ? readFileSync(join(out, 'btf')) : undefined,
    how: read('how'),
    filetype: read('filetype'),
  }
}

/** A config symbol's value by grep/sed, quotes removed; null when "is not set" or absent. */
function grepConfig(config: string, sym: string): string | null {
  const r = spawnSync('sh', ['-c', `sed -n 's/^${sym}=//p' | sed 's/^"\\(.*\\)"$/\\1/'`], {input: config, encoding: 'utf8'})
  const v = r.stdout.replace(/\n$/, '')
  return v === '' ? null : v
}

const tools = ['dpkg-deb', 'llvm-objcopy', 'llvm-readelf', 'bpftool', 'xz', 'zstd']
const optionalTools = ['lz4', 'file']

describe('real Debian kernel packages (opt-in, see the file comment)', () => {
  for (const t of TARGETS) {
    it(`${t.target}: control, image format, BTF and config facts equal the shell oracle`, async () => {
      const deb = packageFor(t)
      if (!deb) return
      if (!tools.every((x) => requireTool(x, `real package ${t.target}`))) return
      const missing = optionalTools.filter((x) => !findTool(x))
      if (missing.length) {
        console.warn(`skipping real package ${t.target}: ${missing.join(', ')} not installed`)
        return
      }
      const want = oracle(deb)
      const bytes = readFileSync(deb)
      const t0 = performance.now()
      const k = await readKernelDeb(bytes)
      const ms = performance.now() - t0
      console.log(
        `${t.target}: ${k.package} ${k.version}: ${k.kernel.steps.join('; ')}; ` +
          `readKernelDeb ${ms.toFixed(0)} ms (oracle: ${want.how}; file: ${want.filetype.slice(0, 60)})`,
      )

      // control fields, as dpkg-deb -f prints them
      for (const [field, got] of [
        ['Package', k.package],
        ['Version', k.version],
        ['Architecture', k.architecture],
      ] as const) {
        expect(got, field).toBe(run('dpkg-deb', ['-f', deb, field]).toString().trim())
      }
      const src = run('dpkg-deb', ['-f', deb, 'Source']).toString().trim()
      expect(k.source).toBe(src === '' ? k.package : src.replace(/\s*\(.*\)$/, ''))
      expect(`${k.imagePath.replace(/^boot\//, '')}`).toBe(want.imageName)

      // image format as file(1) names it
      expect(want.filetype).toMatch(t.fileSays)
      expect(k.kernel.format).toBe(t.format)
      expect(k.kernel.compression).toBe(t.compression)

      // BTF: byte for byte what the oracle extracted, or absent on both sides
      if (t.hasBtf) {
        expect(want.btf, 'oracle found BTF').toBeDefined()
        expect(k.kernel.btf, 'kcompat found BTF').toBeDefined()
        expect(k.kernel.btf!.length).toBe(want.btf!.length)
        expect(Buffer.from(k.kernel.btf!).equals(want.btf!)).toBe(true)
        const [how, off] = want.how.split(' ')
        if (how === 'raw') {
          expect(k.kernel.btfOffset).toBe(Number(off))
        } else {
          expect(how).toBe(t.compression)
          // the oracle found the payload by scanning; kcompat read it from the header
          expect(k.kernel.payloadOffset).toBe(Number(off))
        }
        // bpftool reads kcompat's blob and counts as many types as kcompat's parser
        const f = join(mkdtempSync(join(tmpdir(), 'kcompat-btf-')), 'vmlinux.btf')
        writeFileSync(f, k.kernel.btf!)
        const count = run('bpftool', ['btf', 'dump', 'file', f, 'format', 'raw'])
          .toString()
          .split('\n')
          .filter((l) => l.startsWith('[')).length
        expect(parseBtf(k.kernel.btf!).lastId).toBe(count)
      } else {
        expect(want.btf).toBeUndefined()
        expect(k.kernel.btf).toBeUndefined()
        expect(want.config).toMatch(/^# CONFIG_DEBUG_INFO_BTF is not set$/m)
      }

      // config facts, by grep
      expect(k.configPath).toBe(`boot/config-${k.release}`)
      expect(k.config!.warnings).toEqual([])
      for (const sym of BPF_CONFIG_SYMBOLS) expect(k.facts![sym], sym).toBe(grepConfig(want.config, sym))
      expect(k.facts!.CONFIG_DEBUG_INFO_BTF).toBe(t.hasBtf ? 'y' : null)
    })
  }

  it('amd64: the streamed listing of the whole data.tar equals dpkg-deb -c', async () => {
    const t = TARGETS[0]!
    const deb = packageFor(t)
    if (!deb || !requireTool('dpkg-deb', 'real listing')) return
    const d = await readDeb(readFileSync(deb))
    expect(d.dataCompression).toBe('xz')
    const t0 = performance.now()
    const list = await d.list()
    console.log(`amd64: listed ${list.length} entries of ${d.dataMember} in ${(performance.now() - t0).toFixed(0)} ms`)
    const want = run('dpkg-deb', ['-c', deb])
      .toString()
      .trim()
      .split('\n')
      .map((line) => {
        const m = /^(\S)\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.*)$/.exec(line)!
        const path = m[3]!.replace(/ -> .*$/, '').replace(/ link to .*$/, '').replace(/^\.\//, '').replace(/\/$/, '')
        return `${m[1]} ${m[2]} ${path}`
      })
      .filter((l) => !/ \.?$/.test(l))
    const got = list.map((e) => `${{directory: 'd', file: '-', symlink: 'l', link: 'h'}[e.type] ?? '?'} ${e.size} ${e.path}`)
    expect(got).toEqual(want)
  })
})
