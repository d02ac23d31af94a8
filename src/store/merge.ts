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
 *
 * A build that merges kernel after kernel passes a {@link StoreCache}: the stores as the
 * previous merge left them, decoded, so the next merge does not decompress every chunk
 * again. It is used only while SQLite's `data_version` is the one read in the previous
 * merge's transaction, i.e. no other connection has committed since (that transaction
 * held the write lock from start to commit); the caller drops it when a merge's
 * transaction does not commit.
 */
import type {Db} from './db.js'
import {type Records, type StoredChunk, loadStore, writeStore} from './chunks.js'
import {type KernelRecords, STORES, type StoreName} from './extract.js'
import {bitsToBlob, kernelBit, ksetOrThrow, loadKsets} from './kset.js'

/** Decoded stores between the merges of one build (see the file comment). */
export interface StoreCache {
  version?: number
  stores?: Map<StoreName, StoredChunk[]>
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
export function mergeKernel(db: Db, kernelId: number, records: KernelRecords | null, quality: number, cache?: StoreCache): MergeStats {
  const version = db.pragma('data_version', {simple: true}) as number
  const cached = cache && cache.version === version ? cache.stores : undefined
  if (cache) cache.stores = undefined
  const ksets = loadKsets(db)
  const bit = kernelBit(kernelId)
  const hasRecords = records !== null && STORES.some((s) => records.stores[s].length > 0)
  if (!hasRecords && ![...ksets.values()].some((b) => (b & bit) !== 0n)) {
    if (cache && cached) cache.stores = cached // nothing changes
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

  const merged = new Map<StoreName, {old: StoredChunk[]; out: Records; bits: bigint[]}>()
  const usage = new Map<bigint, number>()
  for (const store of STORES) {
    const old = cached?.get(store) ?? loadStore(db, store)
    // k's records, `key TAB content`, split into columns (keys never hold a TAB)
    const incoming = records?.stores[store] ?? []
    const inKeys = new Array<string>(incoming.length)
    const inContents = new Array<string>(incoming.length)
    incoming.forEach((kc, i) => {
      const t = kc.indexOf('\t')
      inKeys[i] = kc.slice(0, t)
      inContents[i] = kc.slice(t + 1)
    })
    const out: Records = {keys: [], ksets: [], contents: []}
    const bits: bigint[] = []
    let j = 0
    const pushNew = (): void => {
      out.keys.push(inKeys[j]!)
      out.contents.push(inContents[j]!)
      bits.push(bit)
      j++
    }
    for (const c of old) {
      const {keys, ksets: ids, contents} = c.records
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!
        const content = contents[i]!
        // (key, content) order; equal to the order of `key TAB content` strings
        while (j < incoming.length && (inKeys[j]! < key || (inKeys[j] === key && inContents[j]! < content))) pushNew()
        const present = j < incoming.length && inKeys[j] === key && inContents[j] === content
        if (present) j++
        const b = transform(ids[i]!, present)
        if (b === 0n) continue
        out.keys.push(key)
        out.contents.push(content)
        bits.push(b)
      }
    }
    while (j < incoming.length) pushNew()
    for (const b of bits) usage.set(b, (usage.get(b) ?? 0) + 1)
    merged.set(store, {old, out, bits})
  }

  // Dense ids, most used first (ties: smaller bitmap first, for a stable order).
  const order = [...usage.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const ids = new Map<bigint, number>()
  order.forEach(([b], i) => ids.set(b, i + 1))

  let chunksWritten = 0
  let total = 0
  const now = new Map<StoreName, StoredChunk[]>()
  for (const store of STORES) {
    const {old, out, bits} = merged.get(store)!
    total += out.keys.length
    out.ksets = bits.map((b) => ids.get(b)!)
    const w = writeStore(db, store, out, old, quality)
    chunksWritten += w.written
    now.set(store, w.chunks)
  }
  if (cache) {
    cache.version = version
    cache.stores = now
  }
  db.prepare('DELETE FROM kset').run()
  const insert = db.prepare('INSERT INTO kset (id, kernels) VALUES (?, ?)')
  for (const [b, id] of ids) insert.run(id, bitsToBlob(b))
  return {records: total, ksets: ids.size, chunksWritten}
}

function countRecords(db: Db): number {
  const row = db.prepare('SELECT COALESCE(SUM(n), 0) AS n FROM chunk').get() as {n: number}
  return row.n
}
