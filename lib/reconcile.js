// Reconciling a transaction file on disk or in a stream, in chunks, with bounded memory. The
// parsing, the matching and the totals are the native Reconciler's (core/src/reconcile/);
// this file only reads: the file in 64 KiB chunks, the merchant's records in batches, the
// settlement batch file whole (it is one line per batch).
'use strict'

const fs = require('node:fs')
const { Reconciler, ErrorCode } = require('../loader.js')

const CHUNK_BYTES = 64 * 1024
const RECORDS_PER_BATCH = 10_000
// A settlement batch file is one line per batch and currency; anything this large is not one.
const MAX_SETTLEMENT_BATCH_BYTES = 64 * 1024 * 1024

function invalidArgument(field, message) {
  const err = new TypeError(message)
  err.code = ErrorCode.InvalidArgument
  err.field = field
  return err
}

const isBytes = (x) => x instanceof Uint8Array // Buffer too
const isAsyncIterable = (x) => x != null && typeof x[Symbol.asyncIterator] === 'function'
const isIterable = (x) => x != null && typeof x !== 'string' && typeof x[Symbol.iterator] === 'function'
const what = (x) => (x === null ? 'null' : Array.isArray(x) ? 'an array' : isBytes(x) ? 'bytes' : typeof x === 'object' ? 'an object' : typeof x)

/**
 * A file's bytes in chunks, read into one buffer used again for every chunk: what is pushed is
 * copied at once, so reading a file of any size allocates nothing more. The chunk handed out is
 * valid until the next one is asked for.
 */
async function* fileChunks(file) {
  const handle = await fs.promises.open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES)
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null)
      if (bytesRead === 0) return
      yield buffer.subarray(0, bytesRead)
    }
  } finally {
    await handle.close()
  }
}

/** A path (string or file: URL) is read in chunks; a stream or async iterable of chunks is used as it is. */
function chunksOf(source, field, description) {
  if (typeof source === 'string' || source instanceof URL) return fileChunks(source)
  if (isAsyncIterable(source)) return source
  throw invalidArgument(field, `${field} must be ${description}: a file path, a file: URL, or a Readable stream (or any async iterable of Buffer or string chunks); got ${what(source)}`)
}

/**
 * Adds records given as an array, a (sync or async) iterable of records, or their JSON (string
 * or bytes). An iterable may also yield JSON text or bytes holding whole records (JSON lines).
 */
async function addRecords(reconciler, records) {
  if (typeof records === 'string' || isBytes(records)) {
    reconciler.addRecords(records)
    return
  }
  if (!isAsyncIterable(records) && !isIterable(records)) {
    throw invalidArgument(
      'merchantRecords',
      `merchantRecords must be an array or an (async) iterable of records { kind, outTradeNo, outReturnNo?, amount, currency, time? }, or their JSON lines as a string or Buffer; got ${what(records)}`,
    )
  }
  let batch = []
  for await (const record of records) {
    if (typeof record === 'string' || isBytes(record)) {
      // JSON lines, whole records per piece (a ledger file read in pieces cut at line ends).
      if (batch.length) reconciler.addRecords(batch)
      batch = []
      reconciler.addRecords(record)
      continue
    }
    batch.push(record)
    if (batch.length === RECORDS_PER_BATCH) {
      reconciler.addRecords(batch)
      batch = []
    }
  }
  if (batch.length) reconciler.addRecords(batch)
}

async function readWhole(source, field) {
  if (isBytes(source)) return source
  const chunks = []
  let size = 0
  for await (const chunk of chunksOf(source, field, 'the settlement batch file (PID_settlebatch_YYYYMMDD.csv)')) {
    // A copy: a file's chunks share one buffer.
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk)
    size += bytes.length
    if (size > MAX_SETTLEMENT_BATCH_BYTES) {
      throw invalidArgument(field, `${field} is over ${MAX_SETTLEMENT_BATCH_BYTES} bytes; a settlement batch file holds one line per batch`)
    }
    chunks.push(bytes)
  }
  return Buffer.concat(chunks)
}

/** The settlement batch file(s): a path, URL, bytes, stream, or an array of those; null when none. */
async function settlementBatchOf(value) {
  if (value == null) return null
  if (Array.isArray(value)) return Promise.all(value.map((v, i) => readWhole(v, `options.settlementBatch[${i}]`)))
  return readWhole(value, 'options.settlementBatch')
}

/**
 * Reconciles a transaction file (`PID_fptrade_YYYYMMDD.csv`, or a settlement file) read in
 * 64 KiB chunks from a path or a stream with the merchant's records of that day, and checks
 * the settlement batch file's batches against the rows. Memory is bounded by the records,
 * never by the file.
 *
 * @param {string|URL|NodeJS.ReadableStream|AsyncIterable<Buffer|string>} file
 * @param {Iterable|AsyncIterable|string|Buffer} merchantRecords records, or their JSON lines
 * @param {{ settlementBatch?: any, listLimit?: number }} [options]
 */
async function reconcileFile(file, merchantRecords, options = {}) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options', `options must be { settlementBatch?, listLimit? }; got ${what(options)}`)
  }
  for (const name of Object.keys(options)) {
    if (name !== 'settlementBatch' && name !== 'listLimit') {
      throw invalidArgument(`options.${name}`, `options.${name} is not a known option (known: settlementBatch, listLimit)`)
    }
  }
  const chunks = chunksOf(file, 'file', 'the transaction file (PID_fptrade_YYYYMMDD.csv)')
  const reconciler = new Reconciler(options.listLimit === undefined ? undefined : { listLimit: options.listLimit })
  try {
    await addRecords(reconciler, merchantRecords)
    // Read first, so that a missing batch file fails before the long read.
    const batch = await settlementBatchOf(options.settlementBatch)
    // `for await` closes the file, or destroys the stream, when a chunk is refused.
    for await (const chunk of chunks) reconciler.push(chunk)
    return reconciler.finish(batch)
  } catch (err) {
    // A file opened here and not read yet is closed.
    if (chunks !== file) await chunks.return()
    throw err
  }
}

module.exports = { reconcileFile }
