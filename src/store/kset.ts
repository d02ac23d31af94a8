/**
 * Kernel sets: which kernels have a record. In memory a set is a bigint with bit i set
 * for kernel.id i; in the `kset` table it is that bitmap as bytes, least significant
 * byte first (bit i is bit i%8 of byte i/8), without trailing zero bytes.
 */
import type {Db} from './db.js'
import {IndexError} from './errors.js'

export function kernelBit(id: number): bigint {
  return 1n << BigInt(id)
}

export function bitsToBlob(bits: bigint): Buffer {
  const bytes: number[] = []
  let b = bits
  while (b > 0n) {
    bytes.push(Number(b & 0xffn))
    b >>= 8n
  }
  return Buffer.from(bytes)
}

export function blobToBits(blob: Uint8Array): bigint {
  let bits = 0n
  for (let i = blob.length - 1; i >= 0; i--) bits = (bits << 8n) | BigInt(blob[i]!)
  return bits
}

/** The kernel ids in a bitmap blob, ascending. */
export function blobToIds(blob: Uint8Array): number[] {
  const ids: number[] = []
  for (let i = 0; i < blob.length; i++) {
    const byte = blob[i]!
    if (byte === 0) continue
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) ids.push(i * 8 + bit)
  }
  return ids
}

/** All kernel sets, as bitmaps. */
export function loadKsets(db: Db): Map<number, bigint> {
  const rows = db.prepare('SELECT id, kernels FROM kset').all() as {id: number; kernels: Buffer}[]
  return new Map(rows.map((r) => [r.id, blobToBits(r.kernels)]))
}

/** All kernel sets, as kernel id lists. */
export function loadKsetIds(db: Db): Map<number, number[]> {
  const rows = db.prepare('SELECT id, kernels FROM kset').all() as {id: number; kernels: Buffer}[]
  return new Map(rows.map((r) => [r.id, blobToIds(r.kernels)]))
}

export function ksetOrThrow<T>(ksets: Map<number, T>, id: number): T {
  const k = ksets.get(id)
  if (k === undefined) throw new IndexError('INDEX_CORRUPT', `index record refers to missing kernel set ${id}; rebuild the index`)
  return k
}
