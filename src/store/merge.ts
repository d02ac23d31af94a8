/**
 * Adding a kernel's records to the stores, or taking them out, inside the caller's
 * transaction.
 *
 * Each store is a sorted list of distinct (key, content) records, each with the set of
 * kernels that have it. To (re)index kernel k, every store is merged with k's sorted
 * records in one pass: a stored record keeps its kernel set minus k, plus k when k has
 * it; k's records that are not stored yet become new records with the set {k}; records
 * left with no kernel are dropped. Removing k is the same merge with no records.
 *
 * Kernel sets are then renumbered from scratch, the set used by most records first, so
 * that the commonest ids are the shortest strings, and ids stay dense after removals.
 * Only chunks whose text changed are compressed and written again.
 */
import type {Db} from './db.js'
import {type StoredChunk, chunkLines, loadStore, writeStore} from './chunks.js'
import {IndexError} from './errors.js'
import {type KernelRecords, STORES, type StoreName} from './extract.js'
import {bitsToBlob, kernelBit, ksetOrThrow, loadKsets} from './kset.js'

interface Merged {
  /** `key \t content`, the sort key. */
  kc: string
  /** Length of the key within kc. */
  klen: number
  bits: bigint
}

export interface MergeStats {
  /** Distinct records across all stores after the merge. */
  records: number
  ksets: number
  chunksWritten: number
}

/**
 * Merges kernel `kernelId`'s records into the stores (`records` null: remove the
 * kernel); changed chunks are compressed at Brotli `quality`.
 */
export function mergeKernel(db: Db, kernelId: number, records: KernelRecords | null, quality: number): MergeStats {
  const ksets = loadKsets(db)
  const bit = kernelBit(kernelId)
  const hasRecords = records !== null && STORES.some((s) => records.stores[s].length > 0)
  if (!hasRecords && ![...ksets.values()].some((b) => (b & bit) !== 0n)) {
    return {records: countRecords(db), ksets: ksets.size, chunksWritten: 0}
  }

  // Per old kset id: the new bitmap without k, and with k.
  const without = new Map<number, bigint>()
  const withK = new Map<number, bigint>()
  const transform = (id: number, present: boolean): bigint => {
    const memo = present ? withK : without
    let b = memo.get(id)
    if (b === undefined) {
      const old = ksetOrThrow(ksets, id)
      b = present ? old | bit : old & ~bit
      memo.set(id, b)
    }
    return b
  }

  const merged = new Map<StoreName, {old: StoredChunk[]; recs: Merged[]}>()
  const usage = new Map<bigint, number>()
  for (const store of STORES) {
    const old = loadStore(db, store)
    const incoming = records?.stores[store] ?? []
    const out: Merged[] = []
    let j = 0
    const pushNew = (kc: string): void => {
      out.push({kc, klen: kc.indexOf('\t'), bits: bit})
    }
    for (const c of old) {
      for (const line of chunkLines(c.text)) {
        const t1 = line.indexOf('\t')
        const t2 = line.indexOf('\t', t1 + 1)
        const id = Number(line.slice(t1 + 1, t2))
        if (t1 < 0 || t2 < 0 || !Number.isSafeInteger(id)) {
          throw new IndexError('INDEX_CORRUPT', `malformed record in store ${store}; rebuild the index`)
        }
        const kc = line.slice(0, t1) + line.slice(t2)
        while (j < incoming.length && incoming[j]! < kc) pushNew(incoming[j++]!)
        const present = j < incoming.length && incoming[j] === kc
        if (present) j++
        const bits = transform(id, present)
        if (bits !== 0n) out.push({kc, klen: t1, bits})
      }
    }
    while (j < incoming.length) pushNew(incoming[j++]!)
    for (const r of out) usage.set(r.bits, (usage.get(r.bits) ?? 0) + 1)
    merged.set(store, {old, recs: out})
  }

  // Dense ids, most used first (ties: smaller bitmap first, for a stable order).
  const order = [...usage.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const ids = new Map<bigint, number>()
  order.forEach(([bits], i) => ids.set(bits, i + 1))

  let chunksWritten = 0
  let total = 0
  for (const store of STORES) {
    const {old, recs} = merged.get(store)!
    total += recs.length
    const lines = recs.map((r) => `${r.kc.slice(0, r.klen)}\t${ids.get(r.bits)!}${r.kc.slice(r.klen)}`)
    chunksWritten += writeStore(db, store, lines, old, quality)
  }
  db.prepare('DELETE FROM kset').run()
  const insert = db.prepare('INSERT INTO kset (id, kernels) VALUES (?, ?)')
  for (const [bits, id] of ids) insert.run(id, bitsToBlob(bits))
  return {records: total, ksets: ids.size, chunksWritten}
}

function countRecords(db: Db): number {
  const row = db.prepare('SELECT COALESCE(SUM(n), 0) AS n FROM chunk').get() as {n: number}
  return row.n
}
