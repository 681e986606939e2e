// The example merchant's ledger (examples/ledger) through its interface, on both stores, and
// the PostgreSQL constraints written to directly (as psql or a buggy process would): a
// double payment, a double refund or refunds above the paid amount are refused by the
// database itself, also when several connections write at once.
//
// PostgreSQL: DATABASE_URL, or a throwaway server started with scripts/postgres.sh; without
// either these tests fail and say how to get one (they never skip).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { openLedger, toCents, fromCents } = require('../examples/ledger')
const { startPostgres, connect } = require('./merchant-support')

jest.setTimeout(60_000)

let pg // the PostgreSQL server, started once for the file
const tempDirs = []

beforeAll(async () => {
  pg = await startPostgres()
})

afterAll(async () => {
  if (pg) await pg.stop()
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

const id = (prefix) => `${prefix}${crypto.randomBytes(5).toString('hex')}`

async function newStore(kind) {
  if (kind === 'file') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-ledger-'))
    tempDirs.push(dir)
    return { open: () => openLedger({ dataDir: dir }), drop: async () => {} }
  }
  const db = await pg.newDatabase()
  return { open: () => openLedger({ databaseUrl: db.url }), drop: () => db.drop(), url: db.url }
}

describe('amounts in cents', () => {
  test('toCents reads at most 2 decimals above 0, exactly; fromCents writes 2', () => {
    expect([toCents('36.00'), toCents('0.5'), toCents('0.01'), toCents('12'), toCents('999999999999.99')]).toEqual([3600, 50, 1, 1200, 99999999999999])
    for (const bad of ['0', '0.00', '-1.00', '1.001', '1e3', ' 1.00', '01.00', '1.', '.5', '', null, undefined, {}, NaN]) expect(toCents(bad)).toBeNull()
    expect([fromCents(3600), fromCents(5), fromCents(0), fromCents(123456)]).toEqual(['36.00', '0.05', '0.00', '1234.56'])
    for (let i = 0; i < 500; i++) {
      const cents = 1 + crypto.randomInt(1e9)
      expect(toCents(fromCents(cents))).toBe(cents)
    }
    expect(() => fromCents(1.5)).toThrow(RangeError)
  })
})

describe.each(['file', 'postgres'])('the %s ledger', (kind) => {
  let store
  let ledger

  beforeAll(async () => {
    store = await newStore(kind)
    ledger = await store.open()
  })

  afterAll(async () => {
    if (ledger) await ledger.close()
    if (store) await store.drop()
  })

  async function order(amountCents = 3600, currency = 'HKD') {
    const o = { outTradeNo: id('O'), subject: '港式奶茶', amountCents, currency, sellerId: '2088101568358171' }
    expect(await ledger.createOrder(o)).toBe('recorded')
    return o
  }

  const payment = (o, extra = {}) => ({ outTradeNo: o.outTradeNo, tradeNo: id('T'), amountCents: o.amountCents, currency: o.currency, source: 'notification', notifyId: id('N'), ...extra })

  async function paidOrder(amountCents = 3600) {
    const o = await order(amountCents)
    expect(await ledger.recordPayment(payment(o))).toBe('recorded')
    return o
  }

  const refund = (o, amountCents, extra = {}) => ({ outReturnNo: id('R'), outTradeNo: o.outTradeNo, amountCents, currency: o.currency, reason: 'customer returned it', ...extra })

  test('an order is recorded once, and read back as written', async () => {
    const o = await order(1250)
    expect(await ledger.createOrder({ ...o, amountCents: 99 })).toBe('duplicate')
    expect(await ledger.order(o.outTradeNo)).toMatchObject({ ...o, status: 'UNPAID', payment: null, refunds: [] })
    expect(await ledger.order('NO-SUCH-ORDER')).toBeNull()
  })

  test('a payment is recorded once, however often and however concurrently it comes; the order turns PAID', async () => {
    const o = await order()
    const p = payment(o)
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.recordPayment(p)))
    expect(results.filter((r) => r === 'recorded')).toHaveLength(1)
    expect(results.filter((r) => r === 'duplicate')).toHaveLength(19)
    // The same order paid "again" with another trade (a query after the notification): still one.
    expect(await ledger.recordPayment({ ...p, tradeNo: id('T'), source: 'query' })).toBe('duplicate')
    const read = await ledger.order(o.outTradeNo)
    expect(read.status).toBe('PAID')
    expect(read.payment).toMatchObject({ tradeNo: p.tradeNo, amountCents: 3600, currency: 'HKD', source: 'notification', refundedCents: 0 })
    expect((await ledger.payments()).filter((x) => x.outTradeNo === o.outTradeNo)).toHaveLength(1)
  })

  test('a payment for another amount or currency than its order, or for no order, is refused', async () => {
    const o = await order(3600)
    await expect(ledger.recordPayment(payment(o, { amountCents: 3599 }))).rejects.toMatchObject({ code: 'ERR_LEDGER_PAYMENT_MISMATCH' })
    await expect(ledger.recordPayment(payment(o, { currency: 'USD' }))).rejects.toMatchObject({ code: 'ERR_LEDGER_PAYMENT_MISMATCH' })
    await expect(ledger.recordPayment(payment({ ...o, outTradeNo: 'NO-SUCH-ORDER' }))).rejects.toMatchObject({ code: 'ERR_LEDGER_NO_ORDER' })
    expect((await ledger.order(o.outTradeNo)).status).toBe('UNPAID')
    // One Alipay trade is one order: its trade_no for another order is refused, not "duplicate".
    const paid = await order(3600)
    const p = payment(paid)
    expect(await ledger.recordPayment(p)).toBe('recorded')
    await expect(ledger.recordPayment(payment(o, { tradeNo: p.tradeNo }))).rejects.toMatchObject({ code: 'ERR_LEDGER_DUPLICATE_TRADE' })
    expect((await ledger.order(o.outTradeNo)).status).toBe('UNPAID')
  })

  test('closed: only an unpaid order, once', async () => {
    const o = await order()
    expect(await ledger.recordClosed({ outTradeNo: o.outTradeNo })).toBe('recorded')
    expect(await ledger.recordClosed({ outTradeNo: o.outTradeNo })).toBe('duplicate')
    expect((await ledger.order(o.outTradeNo)).status).toBe('CLOSED')
    const p = await paidOrder()
    expect(await ledger.recordClosed({ outTradeNo: p.outTradeNo })).toBe('duplicate')
    expect((await ledger.order(p.outTradeNo)).status).toBe('PAID')
  })

  test('refunds: recorded, duplicate by refund id, exceeds above the paid amount, not_paid, currency', async () => {
    const o = await paidOrder(3600)
    const r1 = refund(o, 1000)
    expect(await ledger.recordRefund(r1)).toBe('recorded')
    expect(await ledger.recordRefund(r1)).toBe('duplicate')
    expect(await ledger.recordRefund(refund(o, 2000))).toBe('recorded')
    expect(await ledger.recordRefund(refund(o, 601))).toBe('exceeds') // 36.00 - 30.00 = 6.00 left
    expect(await ledger.recordRefund(refund(o, 600))).toBe('recorded')
    expect(await ledger.recordRefund(refund(o, 1))).toBe('exceeds')
    expect(await ledger.recordRefund(refund(await order(), 100))).toBe('not_paid')
    expect(await ledger.recordRefund(refund(await paidOrder(), 100, { currency: 'USD' }))).toBe('currency')
    const read = await ledger.order(o.outTradeNo)
    expect(read.refunds.map((r) => r.amountCents).sort((a, b) => a - b)).toEqual([600, 1000, 2000])
    expect(read.refunds.every((r) => r.status === 'PENDING' && r.attempts === 0 && r.settledAt === null)).toBe(true)
    expect(read.payment.refundedCents).toBe(3600)
    expect(await ledger.refund(r1.outReturnNo)).toMatchObject({ ...r1, status: 'PENDING' })
  })

  test('refunds asked for concurrently: exactly as many as the paid amount allows, never more', async () => {
    const o = await paidOrder(10000)
    // 12 refunds of 30.00 on a 100.00 payment, all at once: 3 fit.
    const results = await Promise.all(Array.from({ length: 12 }, () => ledger.recordRefund(refund(o, 3000))))
    expect(results.filter((r) => r === 'recorded')).toHaveLength(3)
    expect(results.filter((r) => r === 'exceeds')).toHaveLength(9)
    const read = await ledger.order(o.outTradeNo)
    expect(read.payment.refundedCents).toBe(9000)
    expect(read.refunds.reduce((s, r) => s + r.amountCents, 0)).toBe(9000)
  })

  test('one refund id asked for concurrently is one refund', async () => {
    const o = await paidOrder(5000)
    const r = refund(o, 4000)
    const results = await Promise.all(Array.from({ length: 10 }, () => ledger.recordRefund(r)))
    expect(results.filter((x) => x === 'recorded')).toHaveLength(1)
    expect(results.filter((x) => x === 'duplicate')).toHaveLength(9)
    expect((await ledger.order(o.outTradeNo)).refunds).toHaveLength(1)
  })

  test('a refund outcome is recorded once and is final; a FAILED refund gives its amount back', async () => {
    const o = await paidOrder(3000)
    const ok = refund(o, 2000)
    const bad = refund(o, 1000)
    expect(await ledger.recordRefund(ok)).toBe('recorded')
    expect(await ledger.recordRefund(bad)).toBe('recorded')
    expect(await ledger.recordRefund(refund(o, 100))).toBe('exceeds')
    expect(await ledger.markRefundAttempt(ok.outReturnNo)).toBe(1)
    expect(await ledger.markRefundAttempt(ok.outReturnNo)).toBe(2)
    const results = await Promise.all(Array.from({ length: 8 }, () => ledger.recordRefundResult({ outReturnNo: ok.outReturnNo, status: 'SUCCESS' })))
    expect(results.filter((x) => x === 'recorded')).toHaveLength(1)
    expect(results.filter((x) => x === 'duplicate')).toHaveLength(7)
    expect(await ledger.recordRefundResult({ outReturnNo: ok.outReturnNo, status: 'FAILED', errorCode: 'X' })).toBe('conflict')
    expect(await ledger.markRefundAttempt(ok.outReturnNo)).toBe(0) // not PENDING any more
    expect(await ledger.recordRefundResult({ outReturnNo: bad.outReturnNo, status: 'FAILED', errorCode: 'MERCHANT_BALANCE_NOT_ENOUGH' })).toBe('recorded')
    expect(await ledger.recordRefundResult({ outReturnNo: bad.outReturnNo, status: 'SUCCESS' })).toBe('conflict')
    expect(await ledger.refund(ok.outReturnNo)).toMatchObject({ status: 'SUCCESS', errorCode: null, attempts: 2 })
    expect(await ledger.refund(bad.outReturnNo)).toMatchObject({ status: 'FAILED', errorCode: 'MERCHANT_BALANCE_NOT_ENOUGH' })
    expect((await ledger.refund(ok.outReturnNo)).settledAt).toEqual(expect.any(String))
    // The failed 10.00 counts no more: 10.00 can be refunded again, not 10.01.
    expect(await ledger.recordRefund(refund(o, 1001))).toBe('exceeds')
    expect(await ledger.recordRefund(refund(o, 1000))).toBe('recorded')
    await expect(ledger.recordRefundResult({ outReturnNo: 'NO-SUCH-REFUND', status: 'SUCCESS' })).rejects.toMatchObject({ code: 'ERR_LEDGER_NO_REFUND' })
    await expect(ledger.recordRefundResult({ outReturnNo: ok.outReturnNo, status: 'PROCESSING' })).rejects.toThrow(TypeError)
  })

  test('claimRefund: one holder at a time, free again once released', async () => {
    const rid = id('R')
    const claims = await Promise.all(Array.from({ length: 6 }, () => ledger.claimRefund(rid)))
    const held = claims.filter(Boolean)
    expect(held).toHaveLength(1)
    expect(await ledger.claimRefund(rid)).toBeNull()
    const other = await ledger.claimRefund(id('R'))
    expect(other).toEqual(expect.any(Function))
    await other()
    await held[0]()
    const again = await ledger.claimRefund(rid)
    expect(again).toEqual(expect.any(Function))
    await again()
  })

  test('ordersToCheck hands out unpaid orders once they are due, once per interval; paid and closed ones never', async () => {
    const due = { outTradeNo: id('D'), subject: 's', amountCents: 100, currency: 'HKD', sellerId: '2088101568358171', checkAfterMs: 0 }
    const later = { ...due, outTradeNo: id('L'), checkAfterMs: 60_000 }
    const paid = { ...due, outTradeNo: id('P') }
    const closed = { ...due, outTradeNo: id('C') }
    for (const o of [due, later, paid, closed]) expect(await ledger.createOrder(o)).toBe('recorded')
    await ledger.recordPayment(payment(paid))
    await ledger.recordClosed({ outTradeNo: closed.outTradeNo })
    const handedOut = (await Promise.all([1, 2, 3, 4].map(() => ledger.ordersToCheck({ limit: 1000, againAfterMs: 60_000 })))).flat().map((o) => o.outTradeNo)
    expect(handedOut.filter((n) => n === due.outTradeNo)).toHaveLength(1)
    for (const n of [later.outTradeNo, paid.outTradeNo, closed.outTradeNo]) expect(handedOut).not.toContain(n)
    expect((await ledger.ordersToCheck({ limit: 1000 })).map((o) => o.outTradeNo)).not.toContain(due.outTradeNo)
    // Due again once the interval has passed; not at all past giveUpAfterMs.
    const soon = { ...due, outTradeNo: id('S') }
    await ledger.createOrder(soon)
    expect((await ledger.ordersToCheck({ limit: 1000, againAfterMs: 1 })).map((o) => o.outTradeNo)).toContain(soon.outTradeNo)
    await new Promise((r) => setTimeout(r, 20))
    expect((await ledger.ordersToCheck({ limit: 1000, againAfterMs: 1 })).map((o) => o.outTradeNo)).toContain(soon.outTradeNo)
    await new Promise((r) => setTimeout(r, 20))
    expect((await ledger.ordersToCheck({ limit: 1000, giveUpAfterMs: 1 })).map((o) => o.outTradeNo)).not.toContain(soon.outTradeNo)
  })

  test('pendingRefunds lists refunds still PENDING', async () => {
    const o = await paidOrder(1000)
    const a = refund(o, 100)
    const b = refund(o, 200)
    await ledger.recordRefund(a)
    await ledger.recordRefund(b)
    await ledger.recordRefundResult({ outReturnNo: b.outReturnNo, status: 'SUCCESS' })
    const pending = (await ledger.pendingRefunds({ limit: 1000 })).map((r) => r.outReturnNo)
    expect(pending).toContain(a.outReturnNo)
    expect(pending).not.toContain(b.outReturnNo)
    expect((await ledger.pendingRefunds({ olderThanMs: 3_600_000, limit: 1000 })).map((r) => r.outReturnNo)).not.toContain(a.outReturnNo)
  })

  test('closed and opened again: every order, payment and refund is still there, and still enforced', async () => {
    const o = await paidOrder(2000)
    const r = refund(o, 1500)
    await ledger.recordRefund(r)
    await ledger.recordRefundResult({ outReturnNo: r.outReturnNo, status: 'SUCCESS' })
    const before = { orders: await ledger.orders(), payments: await ledger.payments(), refunds: await ledger.refunds() }
    await ledger.close()
    ledger = await store.open()
    expect({ orders: await ledger.orders(), payments: await ledger.payments(), refunds: await ledger.refunds() }).toEqual(before)
    expect(await ledger.recordPayment(payment(o))).toBe('duplicate')
    expect(await ledger.recordRefund(r)).toBe('duplicate')
    expect(await ledger.recordRefund(refund(o, 501))).toBe('exceeds')
  })
})

describe('the file ledger has one owner', () => {
  test('a ledger that cannot be read (a broken line in the middle) is refused and leaves no lock: fixed, it opens again', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-ledger-'))
    tempDirs.push(dir)
    const file = path.join(dir, 'ledger.jsonl')
    fs.writeFileSync(file, '{"type":"x"}\n{"type":\n{"type":"y"}\n')
    await expect(openLedger({ dataDir: dir })).rejects.toThrow(SyntaxError)
    expect(fs.existsSync(path.join(dir, 'ledger.lock'))).toBe(false)
    fs.writeFileSync(file, '{"type":"x"}\n{"type":"y"}\n')
    const ledger = await openLedger({ dataDir: dir })
    await ledger.close()
  })

  test('a second open of the same file, in this process or another live one, is refused; a dead owner\'s lock is taken over', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-ledger-'))
    tempDirs.push(dir)
    const first = await openLedger({ dataDir: dir })
    await expect(openLedger({ dataDir: dir })).rejects.toMatchObject({ code: 'ERR_LEDGER_LOCKED' })
    await first.close()
    // A live process (the parent of this one) holds it: refused, naming it.
    fs.writeFileSync(path.join(dir, 'ledger.lock'), `${process.ppid}\n`)
    await expect(openLedger({ dataDir: dir })).rejects.toThrow(new RegExp(`belongs to process ${process.ppid}.*DATABASE_URL`))
    // A process that is gone: taken over.
    const { spawnSync } = require('node:child_process')
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout
    fs.writeFileSync(path.join(dir, 'ledger.lock'), `${gone}\n`)
    const again = await openLedger({ dataDir: dir })
    expect(fs.readFileSync(path.join(dir, 'ledger.lock'), 'utf8').trim()).toBe(String(process.pid))
    await again.close()
    expect(fs.existsSync(path.join(dir, 'ledger.lock'))).toBe(false)
  })
})

describe('PostgreSQL: what the database enforces, whatever writes to it', () => {
  let db
  let ledger
  let sql // one plain connection, as psql would be

  beforeAll(async () => {
    db = await pg.newDatabase()
    ledger = await openLedger({ databaseUrl: db.url })
    sql = await connect(db.url)
  })

  afterAll(async () => {
    if (sql) await sql.end()
    if (ledger) await ledger.close()
    if (db) await db.drop()
  })

  async function paidOrder(amountCents) {
    const o = { outTradeNo: id('O'), subject: 's', amountCents, currency: 'HKD', sellerId: '2088101568358171' }
    await ledger.createOrder(o)
    await ledger.recordPayment({ outTradeNo: o.outTradeNo, tradeNo: id('T'), amountCents, currency: 'HKD', source: 'notification' })
    return o
  }

  /** Each on its own connection: BEGIN [isolation]; INSERT a refund; hold 50 ms; COMMIT. */
  async function insertRefundsAtOnce(outTradeNo, amountCents, n, isolation = 'READ COMMITTED') {
    return Promise.all(
      Array.from({ length: n }, async () => {
        const c = await connect(db.url)
        try {
          await c.query(`BEGIN ISOLATION LEVEL ${isolation}`)
          await c.query(`INSERT INTO refunds (out_return_no, out_trade_no, amount_cents, currency, reason) VALUES ($1, $2, $3, 'HKD', 'raw')`, [id('R'), outTradeNo, amountCents])
          await c.query('SELECT pg_sleep(0.05)')
          await c.query('COMMIT')
          return 'committed'
        } catch (err) {
          await c.query('ROLLBACK').catch(() => {})
          return `${err.code} ${err.constraint || ''}`.trim()
        } finally {
          await c.end()
        }
      }),
    )
  }

  async function refundedOf(outTradeNo) {
    const r = await sql.query(
      `SELECT p.amount_cents, p.refunded_cents, COALESCE((SELECT sum(amount_cents) FROM refunds f WHERE f.out_trade_no = p.out_trade_no AND f.status <> 'FAILED'), 0) AS sum
       FROM payments p WHERE out_trade_no = $1`,
      [outTradeNo],
    )
    return { paid: Number(r.rows[0].amount_cents), counter: Number(r.rows[0].refunded_cents), sum: Number(r.rows[0].sum) }
  }

  test('refunds inserted directly on 10 connections at once (no JavaScript check at all): 3 of 30.00 fit in 100.00, the rest refused by refunds_within_paid_amount', async () => {
    const o = await paidOrder(10000)
    const results = await insertRefundsAtOnce(o.outTradeNo, 3000, 10)
    expect(results.filter((r) => r === 'committed')).toHaveLength(3)
    expect(results.filter((r) => r !== 'committed')).toEqual(Array(7).fill('23514 refunds_within_paid_amount'))
    expect(await refundedOf(o.outTradeNo)).toEqual({ paid: 10000, counter: 9000, sum: 9000 })
  })

  test.each(['REPEATABLE READ', 'SERIALIZABLE'])('the same at %s: never above the paid amount (a loser fails to serialize or is refused)', async (isolation) => {
    const o = await paidOrder(10000)
    const results = await insertRefundsAtOnce(o.outTradeNo, 3000, 10, isolation)
    const committed = results.filter((r) => r === 'committed').length
    expect(committed).toBeGreaterThanOrEqual(1)
    expect(committed).toBeLessThanOrEqual(3)
    for (const r of results.filter((x) => x !== 'committed')) expect(['23514 refunds_within_paid_amount', '40001']).toContain(r)
    const { paid, counter, sum } = await refundedOf(o.outTradeNo)
    expect(sum).toBe(committed * 3000)
    expect(counter).toBe(sum)
    expect(sum).toBeLessThanOrEqual(paid)
    // Then one at a time, at that level, until the database refuses: 3 in all, never a 4th.
    let refused = null
    while (!refused) {
      const [r] = await insertRefundsAtOnce(o.outTradeNo, 3000, 1, isolation)
      if (r !== 'committed') refused = r
    }
    expect(refused).toBe('23514 refunds_within_paid_amount')
    expect(await refundedOf(o.outTradeNo)).toEqual({ paid: 10000, counter: 9000, sum: 9000 })
  })

  test('the same payment recorded at once through 4 pools, for 40 orders: once each, and never an error', async () => {
    const ledgers = await Promise.all([1, 2, 3, 4].map(() => openLedger({ databaseUrl: db.url, poolSize: 10 })))
    try {
      const orders = []
      for (let i = 0; i < 40; i++) {
        const o = { outTradeNo: id('O'), subject: 's', amountCents: 100 + i, currency: 'HKD', sellerId: '2088101568358171' }
        await ledger.createOrder(o)
        orders.push({ ...o, tradeNo: id('T') })
      }
      const results = await Promise.all(
        orders.flatMap((o) => ledgers.flatMap((l) => [1, 2].map(() => l.recordPayment({ outTradeNo: o.outTradeNo, tradeNo: o.tradeNo, amountCents: o.amountCents, currency: 'HKD', source: 'notification' })))),
      )
      expect(results.filter((r) => r === 'recorded')).toHaveLength(40)
      expect(results.filter((r) => r === 'duplicate')).toHaveLength(40 * 7)
    } finally {
      for (const l of ledgers) await l.close()
    }
  })

  test('4 ledgers (4 connection pools, as 4 processes have) asking at once: the same', async () => {
    const o = await paidOrder(10000)
    const ledgers = await Promise.all([1, 2, 3, 4].map(() => openLedger({ databaseUrl: db.url })))
    try {
      const results = await Promise.all(
        ledgers.flatMap((l) => [1, 2, 3].map(() => l.recordRefund({ outReturnNo: id('R'), outTradeNo: o.outTradeNo, amountCents: 2500, currency: 'HKD', reason: 'r' }))),
      )
      expect(results.filter((r) => r === 'recorded')).toHaveLength(4)
      expect(results.filter((r) => r === 'exceeds')).toHaveLength(8)
      const same = { outReturnNo: id('R'), outTradeNo: (await paidOrder(100)).outTradeNo, amountCents: 100, currency: 'HKD', reason: 'r' }
      const once = await Promise.all(ledgers.flatMap((l) => [1, 2, 3].map(() => l.recordRefund(same))))
      expect(once.filter((r) => r === 'recorded')).toHaveLength(1)
      const pays = await Promise.all(ledgers.flatMap((l) => [1, 2, 3].map(() => l.recordPayment({ outTradeNo: o.outTradeNo, tradeNo: id('T'), amountCents: 10000, currency: 'HKD', source: 'query' }))))
      expect(pays).toEqual(Array(12).fill('duplicate'))
    } finally {
      for (const l of ledgers) await l.close()
    }
    expect(await refundedOf(o.outTradeNo)).toEqual({ paid: 10000, counter: 10000, sum: 10000 })
  })

  test('a second payment for an order, a trade twice, a payment that is not the order\'s: refused', async () => {
    const o = await paidOrder(500)
    const [{ trade_no: tradeNo }] = (await sql.query('SELECT trade_no FROM payments WHERE out_trade_no = $1', [o.outTradeNo])).rows
    const insert = (outTradeNo, trade, amount) =>
      sql.query(`INSERT INTO payments (out_trade_no, trade_no, amount_cents, currency, source) VALUES ($1, $2, $3, 'HKD', 'query')`, [outTradeNo, trade, amount])
    await expect(insert(o.outTradeNo, id('T'), 500)).rejects.toMatchObject({ code: '23505', constraint: 'payments_pkey' })
    const other = { outTradeNo: id('O'), subject: 's', amountCents: 500, currency: 'HKD', sellerId: '2088101568358171' }
    await ledger.createOrder(other)
    await expect(insert(other.outTradeNo, tradeNo, 500)).rejects.toMatchObject({ code: '23505', constraint: 'payments_trade_no_key' })
    await expect(insert(other.outTradeNo, id('T'), 499)).rejects.toMatchObject({ code: '23514', constraint: 'payment_matches_order' })
    await expect(insert('NO-SUCH-ORDER', id('T'), 500)).rejects.toMatchObject({ code: '23503' })
  })

  test('a refund twice, a refund of an unpaid order, and changes that would undo the guarantees: refused', async () => {
    const o = await paidOrder(1000)
    const rid = id('R')
    const insert = (outReturnNo, outTradeNo, amount) =>
      sql.query(`INSERT INTO refunds (out_return_no, out_trade_no, amount_cents, currency, reason) VALUES ($1, $2, $3, 'HKD', 'raw')`, [outReturnNo, outTradeNo, amount])
    await insert(rid, o.outTradeNo, 400)
    await expect(insert(rid, o.outTradeNo, 100)).rejects.toMatchObject({ code: '23505', constraint: 'refunds_pkey' })
    const unpaid = { outTradeNo: id('O'), subject: 's', amountCents: 500, currency: 'HKD', sellerId: '2088101568358171' }
    await ledger.createOrder(unpaid)
    await expect(insert(id('R'), unpaid.outTradeNo, 100)).rejects.toMatchObject({ code: '23503' })
    // Resetting the counter that holds the sum, growing the paid amount, shrinking a refund: refused.
    await expect(sql.query('UPDATE payments SET refunded_cents = 0 WHERE out_trade_no = $1', [o.outTradeNo])).rejects.toMatchObject({ constraint: 'payment_is_final' })
    await expect(sql.query('UPDATE payments SET amount_cents = 100000 WHERE out_trade_no = $1', [o.outTradeNo])).rejects.toMatchObject({ constraint: 'payment_is_final' })
    await expect(sql.query('UPDATE refunds SET amount_cents = 1 WHERE out_return_no = $1', [rid])).rejects.toMatchObject({ constraint: 'refund_terms_are_final' })
    // An outcome is final.
    await sql.query(`UPDATE refunds SET status = 'SUCCESS', settled_at = now() WHERE out_return_no = $1`, [rid])
    await expect(sql.query(`UPDATE refunds SET status = 'FAILED' WHERE out_return_no = $1`, [rid])).rejects.toMatchObject({ constraint: 'refund_outcome_is_final' })
    await expect(sql.query(`UPDATE refunds SET status = 'PENDING', settled_at = NULL WHERE out_return_no = $1`, [rid])).rejects.toMatchObject({ constraint: 'refund_outcome_is_final' })
    await expect(insert(id('R'), o.outTradeNo, 601)).rejects.toMatchObject({ code: '23514', constraint: 'refunds_within_paid_amount' })
    // Deleting a refund gives its amount back: the counter always equals the sum.
    await sql.query('DELETE FROM refunds WHERE out_return_no = $1', [rid])
    expect(await refundedOf(o.outTradeNo)).toEqual({ paid: 1000, counter: 0, sum: 0 })
  })

  test('the migration: applied once when 4 processes open a new database at once, checked on every open', async () => {
    const fresh = await pg.newDatabase()
    try {
      const ledgers = await Promise.all([1, 2, 3, 4].map(() => openLedger({ databaseUrl: fresh.url })))
      for (const l of ledgers) await l.close()
      const c = await connect(fresh.url)
      try {
        const applied = (await c.query('SELECT name FROM ledger_migrations')).rows.map((r) => r.name)
        expect(applied).toEqual(fs.readdirSync(path.join(__dirname, '..', 'examples', 'ledger', 'migrations')).filter((f) => f.endsWith('.sql')).sort())
        const tables = (await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.tablename)
        expect(tables).toEqual(['ledger_migrations', 'orders', 'payments', 'refunds'])
        // A migration changed after it was applied is refused, not silently skipped.
        await c.query(`UPDATE ledger_migrations SET sha256 = 'changed'`)
        await expect(openLedger({ databaseUrl: fresh.url })).rejects.toMatchObject({ code: 'ERR_LEDGER_MIGRATION' })
      } finally {
        await c.end()
      }
    } finally {
      await fresh.drop()
    }
  })

  test('an unreachable database is a coded error naming it without its password', async () => {
    const u = new URL(db.url)
    u.port = '1' // nothing listens there
    u.password = 'hunter2-secret'
    const err = await openLedger({ databaseUrl: u.toString(), connectTimeoutMs: 2000 }).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_LEDGER_UNAVAILABLE' })
    expect(err.message).toContain('127.0.0.1:1')
    expect(err.message).not.toContain('hunter2')
  })
})

describe('without a PostgreSQL server these tests fail, saying how to start one (they never skip)', () => {
  const { spawnSync } = require('node:child_process')
  const attempt = (env) => {
    const script = `require(${JSON.stringify(path.join(__dirname, 'merchant-support.js'))}).startPostgres().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(7) })`
    const childEnv = { ...process.env, ...env }
    for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k]
    return spawnSync(process.execPath, ['-e', script], { env: childEnv, encoding: 'utf8', timeout: 30_000 })
  }

  test('DATABASE_URL pointing at nothing', () => {
    const r = attempt({ DATABASE_URL: 'postgres://alipayhk:secret-pw@127.0.0.1:1/alipayhk' })
    expect(r.status).toBe(7)
    expect(r.stderr).toContain('DATABASE_URL=postgres://alipayhk:***@127.0.0.1:1/alipayhk cannot be reached')
    expect(r.stderr).toContain('eval "$(scripts/postgres.sh start)"')
    expect(r.stderr).not.toContain('secret-pw')
  })

  test('no DATABASE_URL and no PostgreSQL programs', () => {
    const r = attempt({ DATABASE_URL: undefined, PG_BINDIR: path.join(os.tmpdir(), 'no-postgres-here') })
    expect(r.status).toBe(7)
    expect(r.stderr).toMatch(/no DATABASE_URL, and no PostgreSQL to start: .*PG_BINDIR=.*no-postgres-here has no pg_ctl/)
    expect(r.stderr).toContain('apt-get install postgresql')
    expect(r.stderr).toContain('scripts/postgres.sh start')
  })
})
