/**
 * Indentation and explicit padding inside struct definitions.
 *
 * BTF records where each member starts, but C derives member offsets from the member
 * types. Whenever the next member (or the end of the struct) starts later than the
 * compiler would place it, the dumper inserts anonymous bitfields to push it into
 * place: `long: 64;`, `int: 3;`, or the zero-width `long: 0;` which only aligns.
 *
 * How a gap [cur, next) (in bits) is filled:
 *
 * 1. Pick the widest of long/int/short/char whose next boundary after `cur` is still
 *    within the gap. Filling from that boundary with that type keeps every marker
 *    naturally aligned. If no boundary fits (a gap within one byte), char is used.
 * 2. Jumping from `cur` to that boundary needs a marker only when the compiler would
 *    not get there by itself:
 *    - inside a run of bitfields, where the compiler packs the next bitfield right
 *      after the previous one: emit `<type>: <bits to the boundary>`;
 *    - the next member sits exactly on the boundary but its own alignment would let
 *      the compiler place it earlier: emit `<type>: 0`;
 *    - the rest of the gap after the boundary is no longer than the part before it,
 *      so a `<type>: N` would fit in the hole and the compiler would slide it back:
 *      emit `<type>: 0` first.
 * 3. Fill the rest with full `<type>: <width>` markers; the last, partial piece uses
 *    the smallest type that can hold it (purely cosmetic: it says how big the hole is).
 *
 * Using `long` markers in a struct that is otherwise only int-aligned is harmless:
 * unnamed bitfields do not raise a struct's alignment.
 */
import type {DumpState} from './state.js'

/** libbpf indents with tabs and stops growing after 13 levels. */
const MAX_INDENT = 13
const INDENTS: string[] = Array.from({length: MAX_INDENT + 1}, (_, i) => '\t'.repeat(i))

/** Indentation for nesting level `lvl`. */
export function indent(lvl: number): string {
  return lvl >= MAX_INDENT ? INDENTS[MAX_INDENT]! : INDENTS[lvl]!
}

/**
 * Smallest multiple of `to` that is >= `x`, computed like C's roundup() on `int`
 * (wrapping, truncating division), so absurdly large offsets misbehave exactly as
 * they do in bpftool.
 */
function roundUp(x: number, to: number): number {
  return Math.imul(Math.trunc(((x + to - 1) | 0) / to), to)
}

const PAD_NAMES = ['long', 'int', 'short', 'char'] as const

/**
 * Appends the padding markers that move a struct from bit offset `curOff` to
 * `nextOff`, where the next member (aligned to `nextAlign` bytes) or the struct's end
 * lies. `inBitfield` says that both the previous and the next member are bitfields.
 * Offsets are C `int`s, as in libbpf.
 */
export function emitBitPadding(
  st: DumpState,
  curOff: number,
  nextOff: number,
  nextAlign: number,
  inBitfield: boolean,
  lvl: number,
): void {
  if (curOff >= nextOff) return
  const padBitsOf = [st.ptrSize * 8, 32, 16, 8]
  const pfx = indent(lvl)

  // 1. widest type with a boundary inside the gap (falls through to char)
  let i = 0
  let padBits = 0
  let newOff = 0
  for (; i < 4; i++) {
    padBits = padBitsOf[i]!
    newOff = roundUp(curOff, padBits)
    if (newOff <= nextOff) break
  }
  if (i === 4) i = 3
  let padType: string = PAD_NAMES[i]!

  // 2. reach the boundary, with a marker if the compiler would not
  if (newOff > curOff && newOff <= nextOff) {
    if (
      inBitfield ||
      (newOff === nextOff && roundUp(curOff, nextAlign * 8) !== newOff) ||
      (newOff !== nextOff && ((nextOff - newOff) | 0) <= ((newOff - curOff) | 0))
    ) {
      st.out.put(`\n${pfx}${padType}: ${inBitfield ? (newOff - curOff) | 0 : 0};`)
    }
    curOff = newOff
  }

  // 3. full-width markers, then the smallest type that holds the remainder
  while (curOff !== nextOff) {
    const bits = Math.min((nextOff - curOff) | 0, padBits)
    if (bits === padBits) {
      st.out.put(`\n${pfx}${padType}: ${padBits};`)
      curOff = (curOff + bits) | 0
      continue
    }
    for (let j = 3; j >= 0; j--) {
      padType = PAD_NAMES[j]!
      padBits = padBitsOf[j]!
      if (padBits < bits) continue
      st.out.put(`\n${pfx}${padType}: ${bits};`)
      curOff = (curOff + bits) | 0
      break
    }
  }
}
