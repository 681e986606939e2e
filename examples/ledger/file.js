// The embedded ledger: one append-only JSON-lines file (ledger.jsonl in the data folder) for
// ONE process. Each line is written and fsynced before the answer that depends on it, and the
// file is replayed on open. Every check and its append run synchronously, with nothing else in
// between, which is what makes "is it recorded already?" and "record it" one step here; a
// second process would break that, so the file is locked to its process (ledger.lock). Several
// processes need the PostgreSQL ledger (DATABASE_URL).
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { LedgerError, pausePoint } = require('./common')
const { toCents, fromCents } = require('./amounts')

const openFiles = new Set() // ledgers open in this process, by file

function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

/** Takes ledger.lock for this process, or says which process has it. */
function lock(lockFile, ledgerFile) {
  if (openFiles.has(ledgerFile)) {
    throw new LedgerError('ERR_LEDGER_LOCKED', `${ledgerFile} is open already in this process; the file ledger has one owner`)
  }
  for (let i = 0; i < 2; i++) {
    try {
      const fd = fs.openSync(lockFile, 'wx')
      fs.writeSync(fd, `${process.pid}\n`)
      fs.fsyncSync(fd)
      fs.closeSync(fd)
      return
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
    }
    const pid = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10)
    // Our own pid is stale too: this process has no ledger open on that file (checked above),
    // so the lock is a dead process's whose pid came round again.
    if (pid !== process.pid && pidAlive(pid)) {
      throw new LedgerError(
        'ERR_LEDGER_LOCKED',
        `${ledgerFile} belongs to process ${pid}: the file ledger is for one process (set DATABASE_URL to run several against PostgreSQL)`,
      )
    }
    fs.rmSync(lockFile, { force: true }) // left by a process that died
  }
  throw new LedgerError('ERR_LEDGER_LOCKED', `cannot take ${lockFile}`)
}

const amountOf = (entry) => (Number.isSafeInteger(entry.amountCents) ? entry.amountCents : toCents(entry.totalFee ?? entry.amount))

/**
 * Opens (or creates) `dataDir`/ledger.jsonl.
 * @param {{ dataDir: string, log?: (line: string) => void, pauseAt?: string, onPause?: (name: string) => void }} options
 */
async function openFileLedger(options) {
  const dataDir = options.dataDir
  fs.mkdirSync(dataDir, { recursive: true })
  const file = path.join(dataDir, 'ledger.jsonl')
  const lockFile = path.join(dataDir, 'ledger.lock')
  lock(lockFile, file)
  openFiles.add(file)

  const orders = new Map() // outTradeNo -> order (with payment, refunds)
  const tradeNos = new Set()
  const refunds = new Map() // outReturnNo -> refund
  const claimed = new Set() // refunds being worked on in this process
  let fd = null
  let broken = null

  function apply(e) {
    switch (e.type) {
      case 'order':
        orders.set(e.outTradeNo, {
          outTradeNo: e.outTradeNo,
          subject: e.subject,
          body: e.body ?? null,
          amountCents: amountOf(e),
          currency: e.currency,
          sellerId: e.sellerId,
          status: 'UNPAID',
          createdAt: e.createdAt,
          closedAt: null,
          nextCheckAt: Date.parse(e.nextCheckAt || e.createdAt) + (e.nextCheckAt ? 0 : 300_000),
          payment: null,
          refunds: [],
        })
        break
      case 'payment': {
        const o = orders.get(e.outTradeNo)
        if (!o || o.payment) break
        o.payment = {
          outTradeNo: e.outTradeNo,
          tradeNo: e.tradeNo,
          amountCents: amountOf(e),
          currency: e.currency,
          source: e.source || 'notification',
          notifyId: e.notifyId ?? null,
          buyerId: e.buyerId ?? null,
          gmtPayment: e.gmtPayment ?? null,
          recordedAt: e.recordedAt || e.receivedAt,
          refundedCents: 0,
        }
        o.status = 'PAID'
        tradeNos.add(e.tradeNo)
        break
      }
      case 'closed': {
        const o = orders.get(e.outTradeNo)
        if (o && o.status === 'UNPAID') Object.assign(o, { status: 'CLOSED', closedAt: e.closedAt || e.receivedAt })
        break
      }
      case 'refund': {
        const o = orders.get(e.outTradeNo)
        if (!o || !o.payment || refunds.has(e.outReturnNo)) break
        const r = {
          outReturnNo: e.outReturnNo,
          outTradeNo: e.outTradeNo,
          amountCents: e.amountCents,
          currency: e.currency,
          reason: e.reason,
          status: 'PENDING',
          errorCode: null,
          attempts: 0,
          requestedAt: e.requestedAt,
          settledAt: null,
        }
        refunds.set(r.outReturnNo, r)
        o.refunds.push(r)
        o.payment.refundedCents += r.amountCents
        break
      }
      case 'refund_attempt': {
        const r = refunds.get(e.outReturnNo)
        if (r && r.status === 'PENDING') r.attempts += 1
        break
      }
      case 'refund_result': {
        const r = refunds.get(e.outReturnNo)
        if (!r || r.status !== 'PENDING') break
        Object.assign(r, { status: e.status, errorCode: e.errorCode ?? null, settledAt: e.settledAt })
        if (e.status === 'FAILED') orders.get(r.outTradeNo).payment.refundedCents -= r.amountCents
        break
      }
      default:
        break // a line from a later version: kept in the file, not understood here
    }
  }

  // Replay. A last line without its newline is a write cut short by a crash: it was never
  // acknowledged to anyone, so it is dropped (and cut off, so the next line does not glue onto it).
  const existed = fs.existsSync(file)
  try {
    if (existed) {
      let text = fs.readFileSync(file, 'utf8')
      const end = text.lastIndexOf('\n') + 1
      if (end < text.length) {
        fs.truncateSync(file, Buffer.byteLength(text.slice(0, end)))
        text = text.slice(0, end)
        if (options.log) options.log(`ledger ${file}: a line cut short by a crash was dropped`)
      }
      for (const line of text.split('\n')) if (line) apply(JSON.parse(line))
    }
    fd = fs.openSync(file, 'a')
  } catch (err) {
    // A ledger that cannot be read leaves no lock behind: the owner can fix it and open it again.
    openFiles.delete(file)
    fs.rmSync(lockFile, { force: true })
    throw err
  }
  if (!existed) {
    // The new file's name must survive a crash too.
    const dir = fs.openSync(dataDir, 'r')
    fs.fsyncSync(dir)
    fs.closeSync(dir)
  }

  function append(entry) {
    if (broken) throw broken
    if (fd === null) throw new LedgerError('ERR_LEDGER_CLOSED', 'the ledger is closed')
    try {
      fs.writeSync(fd, JSON.stringify(entry) + '\n')
      fs.fsyncSync(fd)
    } catch (err) {
      // Part of the line may be on disk (ENOSPC, EIO): nothing more is written after it, so the
      // next start drops it as a line cut short instead of finding two lines glued together.
      broken = new LedgerError('ERR_LEDGER_BROKEN', `a write to ${file} failed (${err.code || err.message}); restart the server`, { cause: err })
      throw broken
    }
    apply(entry)
  }

  const ORDER_FIELDS = ['outTradeNo', 'subject', 'body', 'amountCents', 'currency', 'sellerId', 'status', 'createdAt', 'closedAt']
  const orderRow = (o) => Object.fromEntries(ORDER_FIELDS.map((k) => [k, o[k]]))
  const now = () => new Date().toISOString()

  return {
    kind: 'file',
    where: file,
    file,

    async createOrder(o) {
      if (orders.has(o.outTradeNo)) return 'duplicate'
      const createdAt = Date.now()
      append({
        type: 'order',
        outTradeNo: o.outTradeNo,
        subject: o.subject,
        body: o.body || undefined,
        totalFee: fromCents(o.amountCents),
        amountCents: o.amountCents,
        currency: o.currency,
        sellerId: o.sellerId,
        createdAt: new Date(createdAt).toISOString(),
        nextCheckAt: new Date(createdAt + (o.checkAfterMs ?? 300_000)).toISOString(),
      })
      return 'recorded'
    },

    async order(outTradeNo) {
      const o = orders.get(outTradeNo)
      if (!o) return null
      return { ...orderRow(o), payment: o.payment && { ...o.payment }, refunds: o.refunds.map((r) => ({ ...r })) }
    },

    async recordPayment(p) {
      const o = orders.get(p.outTradeNo)
      if (!o) throw new LedgerError('ERR_LEDGER_NO_ORDER', `no order ${p.outTradeNo} for trade ${p.tradeNo}`)
      if (o.payment) return 'duplicate'
      if (o.amountCents !== p.amountCents || o.currency !== p.currency) {
        throw new LedgerError(
          'ERR_LEDGER_PAYMENT_MISMATCH',
          `payment of ${p.currency} ${p.amountCents} cents for order ${p.outTradeNo} does not match the order (${o.currency} ${o.amountCents} cents)`,
        )
      }
      if (tradeNos.has(p.tradeNo)) throw new LedgerError('ERR_LEDGER_DUPLICATE_TRADE', `trade ${p.tradeNo} is recorded for another order`)
      const entry = {
        type: 'payment',
        outTradeNo: p.outTradeNo,
        tradeNo: p.tradeNo,
        totalFee: fromCents(p.amountCents),
        amountCents: p.amountCents,
        currency: p.currency,
        source: p.source,
        notifyId: p.notifyId || undefined,
        buyerId: p.buyerId || undefined,
        gmtPayment: p.gmtPayment || undefined,
        recordedAt: now(),
      }
      if (options.pauseAt === 'payment') {
        // The test hook: half the line reaches the disk, then the process stops there.
        const bytes = Buffer.from(JSON.stringify(entry) + '\n')
        fs.writeSync(fd, bytes.subarray(0, bytes.length >> 1))
        fs.fsyncSync(fd)
        broken = new LedgerError('ERR_LEDGER_BROKEN', 'a write was cut short')
        return pausePoint(options, 'payment')
      }
      append(entry)
      return 'recorded'
    },

    async recordClosed({ outTradeNo, tradeNo }) {
      const o = orders.get(outTradeNo)
      if (!o || o.status !== 'UNPAID') return 'duplicate'
      append({ type: 'closed', outTradeNo, tradeNo: tradeNo || undefined, closedAt: now() })
      return 'recorded'
    },

    async recordRefund(r) {
      if (refunds.has(r.outReturnNo)) return 'duplicate'
      const o = orders.get(r.outTradeNo)
      if (!o || !o.payment) return 'not_paid'
      if (r.currency !== o.payment.currency) return 'currency'
      if (!Number.isSafeInteger(r.amountCents) || r.amountCents <= 0) throw new TypeError('amountCents must be a positive whole number')
      if (o.payment.refundedCents + r.amountCents > o.payment.amountCents) return 'exceeds'
      append({
        type: 'refund',
        outReturnNo: r.outReturnNo,
        outTradeNo: r.outTradeNo,
        amount: fromCents(r.amountCents),
        amountCents: r.amountCents,
        currency: r.currency,
        reason: r.reason,
        requestedAt: now(),
      })
      return 'recorded'
    },

    async refund(outReturnNo) {
      const r = refunds.get(outReturnNo)
      return r ? { ...r } : null
    },

    async markRefundAttempt(outReturnNo) {
      const r = refunds.get(outReturnNo)
      if (!r || r.status !== 'PENDING') return 0
      append({ type: 'refund_attempt', outReturnNo, at: now() })
      return r.attempts
    },

    async recordRefundResult({ outReturnNo, status, errorCode }) {
      if (status !== 'SUCCESS' && status !== 'FAILED') throw new TypeError(`a refund ends SUCCESS or FAILED, not ${status}`)
      const r = refunds.get(outReturnNo)
      if (!r) throw new LedgerError('ERR_LEDGER_NO_REFUND', `no refund ${outReturnNo}`)
      if (r.status !== 'PENDING') return r.status === status ? 'duplicate' : 'conflict'
      append({ type: 'refund_result', outReturnNo, status, errorCode: status === 'FAILED' ? errorCode || 'UNKNOWN' : undefined, settledAt: now() })
      return 'recorded'
    },

    async claimRefund(outReturnNo) {
      if (claimed.has(outReturnNo)) return null
      claimed.add(outReturnNo)
      return async () => {
        claimed.delete(outReturnNo)
      }
    },

    async ordersToCheck({ limit = 20, againAfterMs = 60_000, giveUpAfterMs = 86_400_000 } = {}) {
      const t = Date.now()
      const due = [...orders.values()]
        .filter((o) => o.status === 'UNPAID' && o.nextCheckAt <= t && Date.parse(o.createdAt) > t - giveUpAfterMs)
        .sort((a, b) => a.nextCheckAt - b.nextCheckAt)
        .slice(0, limit)
      for (const o of due) o.nextCheckAt = t + againAfterMs
      return due.map((o) => orderRow(o))
    },

    async pendingRefunds({ olderThanMs = 0, limit = 50 } = {}) {
      const t = Date.now()
      return [...refunds.values()]
        .filter((r) => r.status === 'PENDING' && Date.parse(r.requestedAt) <= t - olderThanMs)
        .slice(0, limit)
        .map((r) => ({ ...r }))
    },

    async orders() {
      return [...orders.values()].map((o) => orderRow(o))
    },
    async payments() {
      return [...orders.values()].filter((o) => o.payment).map((o) => ({ ...o.payment }))
    },
    async refunds() {
      return [...refunds.values()].map((r) => ({ ...r }))
    },

    async close() {
      if (fd === null) return
      fs.closeSync(fd)
      fd = null
      openFiles.delete(file)
      fs.rmSync(lockFile, { force: true })
    },
  }
}

module.exports = { openFileLedger }
