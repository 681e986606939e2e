// Several example merchant servers (examples/merchant-server.js, child processes) behind one
// PostgreSQL database, and the same suite against the JSON-lines file in one process: every
// notification delivered 5 times at once to different processes records one payment; one
// refund id sent at once to every process is one refund at Alipay (the simulator) and in the
// ledger; refunds never add up above the paid amount; a process killed with SIGKILL in the
// middle of recording leaves nothing half-written, and the retry records it once.
//
// What the ledger holds is read here without the example's code: SQL for PostgreSQL, the
// JSON lines for the file.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startSimulator } = require('../simulator')
const { startPostgres, connect, request, deliver, waitUntil, mapLimit, spawnMerchant, MERCHANT_PUBLIC, ALIPAY_PRIVATE, PARTNER } = require('./merchant-support')

jest.setTimeout(120_000)

const ORDERS = 50
const DELIVERIES = 5

let pg
const tempDirs = []

beforeAll(async () => {
  pg = await startPostgres()
})

afterAll(async () => {
  if (pg) await pg.stop()
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

describe.each([
  ['postgres', 4],
  ['file', 1],
])('merchant servers on the %s ledger, %i process(es)', (kind, processes) => {
  let sim
  let db
  let dataDir
  let sql
  const procs = []

  const storeEnv = () => (kind === 'postgres' ? { DATABASE_URL: db.url, ALIPAYHK_DATA_DIR: undefined } : { DATABASE_URL: undefined, ALIPAYHK_DATA_DIR: dataDir })
  // The recovery loop stays out of the way here (orders are paid by their notifications).
  const start = (extra = {}) => spawnMerchant({ ...storeEnv(), ALIPAYHK_GATEWAY: sim.gatewayUrl, ALIPAYHK_RECOVER_AFTER_MS: '3600000', ...extra })

  beforeAll(async () => {
    sim = await startSimulator({ merchantPublicKey: MERCHANT_PUBLIC, alipayPrivateKey: ALIPAY_PRIVATE, partner: PARTNER, retryDelaysMs: [200, 400], refundSpacingMs: 0 })
    if (kind === 'postgres') {
      db = await pg.newDatabase()
      sql = await connect(db.url)
    } else {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-merchant-'))
      tempDirs.push(dataDir)
    }
    // The first one creates the schema; the others then start together.
    procs.push(await start())
    procs.push(...(await Promise.all(Array.from({ length: processes - 1 }, () => start()))))
  })

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill9()))
    if (sim) await sim.close()
    if (sql) await sql.end()
    if (db) await db.drop()
  })

  /** Payments and refunds as the store holds them, read without the example's code. */
  async function held() {
    if (kind === 'postgres') {
      const payments = (await sql.query('SELECT out_trade_no, trade_no, amount_cents, source FROM payments')).rows.map((r) => ({
        outTradeNo: r.out_trade_no,
        tradeNo: r.trade_no,
        amountCents: Number(r.amount_cents),
        source: r.source,
      }))
      const refunds = (await sql.query('SELECT out_return_no, out_trade_no, amount_cents, status FROM refunds')).rows.map((r) => ({
        outReturnNo: r.out_return_no,
        outTradeNo: r.out_trade_no,
        amountCents: Number(r.amount_cents),
        status: r.status,
      }))
      const orders = new Map((await sql.query('SELECT out_trade_no, status FROM orders')).rows.map((r) => [r.out_trade_no, r.status]))
      return { payments, refunds, orders }
    }
    const text = fs.readFileSync(path.join(dataDir, 'ledger.jsonl'), 'utf8')
    // Complete lines only: a line without its newline was cut short and never acknowledged.
    const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l))
    const refunds = new Map()
    for (const e of lines) {
      if (e.type === 'refund') refunds.set(e.outReturnNo, { outReturnNo: e.outReturnNo, outTradeNo: e.outTradeNo, amountCents: e.amountCents, status: 'PENDING', intents: (refunds.get(e.outReturnNo)?.intents || 0) + 1 })
      if (e.type === 'refund_result') refunds.get(e.outReturnNo).status = e.status
    }
    const payments = lines.filter((e) => e.type === 'payment').map((e) => ({ outTradeNo: e.outTradeNo, tradeNo: e.tradeNo, amountCents: e.amountCents, source: e.source }))
    const orders = new Map(lines.filter((e) => e.type === 'order').map((e) => [e.outTradeNo, payments.some((p) => p.outTradeNo === e.outTradeNo) ? 'PAID' : 'UNPAID']))
    return { payments, refunds: [...refunds.values()], orders, tornTail: !text.endsWith('\n') && text.length > 0 }
  }

  async function createOrder(proc, totalFee) {
    const res = await request('POST', `${proc.url}/orders`, { subject: '菠蘿包 Pineapple bun', totalFee })
    expect(res.status).toBe(201)
    return { ...res.json(), totalFee }
  }

  /** Orders paid through the simulator with their notifications held back: { order, body } each. */
  async function paidWithoutNotification(orders) {
    const rule = sim.faults.add({ fault: 'drop_notification', notifyType: 'trade_status_sync', always: true })
    try {
      await mapLimit(orders, 8, async (o) => expect((await sim.pay(o.orderStr)).status).toBe(200))
    } finally {
      sim.faults.remove(rule.id)
    }
    return orders.map((o) => ({ order: o, body: sim.notifications.find((n) => n.outTradeNo === o.outTradeNo).body }))
  }

  const refundRequests = (rid) => sim.gatewayRequests.filter((r) => r.service === 'forex_refund' && r.params.out_return_no === rid)
  const simRefunds = (filter) => sim.refunds().filter((r) => Object.entries(filter).every(([k, v]) => r[k] === v))
  const refundBody = (refundId, amount) => ({ refundId, amount, reason: '客人退貨 returned' })

  /** An order created on one process and paid, its notification delivered to another. */
  async function paidOrder(totalFee) {
    const [{ order, body }] = await paidWithoutNotification([await createOrder(procs[0], totalFee)])
    expect((await deliver(procs[processes - 1].url, body)).text).toBe('success')
    return order
  }

  test(`${ORDERS} orders paid through the simulator, each notification delivered ${DELIVERIES} times at once to different processes: exactly ${ORDERS} payments`, async () => {
    const orders = await mapLimit(Array.from({ length: ORDERS }, (_, i) => i), 10, (i) => createOrder(procs[i % processes], `${20 + i}.50`))
    const notes = await paidWithoutNotification(orders)
    // All 250 deliveries at once; the k-th copy of notification i goes to process (i + k) mod n.
    const answers = await Promise.all(notes.flatMap(({ body }, i) => Array.from({ length: DELIVERIES }, (_, k) => deliver(procs[(i + k) % processes].url, body))))
    const refused = answers.filter((a) => a.text !== 'success')
    if (refused.length) {
      // Say why, from the servers' own logs, before the comparison fails.
      const lines = procs.flatMap((p) => p.output().split('\n')).filter((l) => /error|refused|INVESTIGATE/.test(l))
      throw new Error(`${refused.length} deliveries not acknowledged (${refused.map((a) => `${a.status} ${a.text}`).join(', ')}):\n${lines.join('\n')}`)
    }
    expect(answers.map((a) => `${a.status} ${a.text}`)).toEqual(Array(ORDERS * DELIVERIES).fill('200 success'))

    const { payments } = await held()
    const ours = payments.filter((p) => orders.some((o) => o.outTradeNo === p.outTradeNo))
    expect(ours).toHaveLength(ORDERS)
    expect(new Set(ours.map((p) => p.outTradeNo)).size).toBe(ORDERS)
    for (const o of orders) {
      const p = ours.find((x) => x.outTradeNo === o.outTradeNo)
      expect(p).toMatchObject({ amountCents: Math.round(Number(o.totalFee) * 100), source: 'notification', tradeNo: sim.trades().find((t) => t.outTradeNo === o.outTradeNo).tradeNo })
    }
    // Every process reads every order as PAID.
    const seen = await mapLimit(orders, 10, async (o, i) => (await request('GET', `${procs[(i + 1) % processes].url}/orders/${o.outTradeNo}`)).json().status)
    expect(seen).toEqual(Array(ORDERS).fill('PAID'))
  })

  test('one refund id sent at once, 3 times to each process: one refund at Alipay and in the ledger', async () => {
    const order = await paidOrder('20.50')
    const rid = `RF-SAME-${kind}`
    const tries = Math.max(6, 3 * processes)
    const answers = await Promise.all(Array.from({ length: tries }, (_, i) => request('POST', `${procs[i % processes].url}/orders/${order.outTradeNo}/refunds`, refundBody(rid, '5.00'))))
    for (const a of answers) {
      expect([200, 202]).toContain(a.status)
      expect(a.json()).toMatchObject({ refundId: rid, outTradeNo: order.outTradeNo, amount: '5.00' })
    }
    expect(answers.filter((a) => a.status === 200).map((a) => a.json().status)).toContain('SUCCESS')
    // Whoever answered 202 (another request was on it) sees SUCCESS when it asks again.
    const again = await request('POST', `${procs[processes - 1].url}/orders/${order.outTradeNo}/refunds`, refundBody(rid, '5.00'))
    expect(again.status).toBe(200)
    expect(again.json().status).toBe('SUCCESS')
    expect(refundRequests(rid).map((r) => r.answer)).toEqual(['T']) // one forex_refund request was ever sent
    expect(simRefunds({ outReturnNo: rid })).toEqual([expect.objectContaining({ amount: '5.00', status: 'SUCCESS' })])
    expect((await held()).refunds.filter((r) => r.outReturnNo === rid)).toEqual([expect.objectContaining({ amountCents: 500, status: 'SUCCESS' })])
  })

  test('refunds with their own ids, sent at once to every process, never add up above the paid amount', async () => {
    const order = await paidOrder('21.50')
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => request('POST', `${procs[i % processes].url}/orders/${order.outTradeNo}/refunds`, refundBody(`RF-MANY-${kind}-${i}`, '10.00'))),
    )
    const ok = answers.filter((a) => a.status === 200)
    const refused = answers.filter((a) => a.status === 409)
    expect(ok).toHaveLength(2)
    expect(ok.map((a) => a.json().status)).toEqual(['SUCCESS', 'SUCCESS'])
    expect(refused).toHaveLength(6)
    for (const a of refused) expect(a.json()).toMatchObject({ error: 'REFUND_EXCEEDS_PAID', paid: '21.50' })
    expect(simRefunds({ outTradeNo: order.outTradeNo }).map((r) => r.amount)).toEqual(['10.00', '10.00'])
    const mine = (await held()).refunds.filter((r) => r.outTradeNo === order.outTradeNo)
    expect(mine.map((r) => r.amountCents)).toEqual([1000, 1000])
    // 1.50 is left; 1.51 is not.
    expect((await request('POST', `${procs[0].url}/orders/${order.outTradeNo}/refunds`, refundBody(`RF-MANY-${kind}-x`, '1.51'))).json()).toMatchObject({ available: '1.50' })
  })

  if (kind === 'postgres') {
    test('a refund written straight into the database (no JavaScript involved) counts: the servers refuse what would go above', async () => {
      const order = await paidOrder('22.50')
      await sql.query(`INSERT INTO refunds (out_return_no, out_trade_no, amount_cents, currency, reason) VALUES ('RF-BY-HAND', $1, 2000, 'HKD', 'by hand')`, [order.outTradeNo])
      await expect(sql.query(`INSERT INTO refunds (out_return_no, out_trade_no, amount_cents, currency, reason) VALUES ('RF-BY-HAND-2', $1, 251, 'HKD', 'by hand')`, [order.outTradeNo])).rejects.toMatchObject({
        constraint: 'refunds_within_paid_amount',
      })
      const over = await Promise.all(procs.map((p, i) => request('POST', `${p.url}/orders/${order.outTradeNo}/refunds`, refundBody(`RF-OVER-${i}`, '2.51'))))
      expect(over.map((a) => a.status)).toEqual(Array(processes).fill(409))
      const fits = await request('POST', `${procs[1].url}/orders/${order.outTradeNo}/refunds`, refundBody('RF-FITS', '2.50'))
      expect(fits.json()).toMatchObject({ status: 'SUCCESS', amount: '2.50' })
      expect(simRefunds({ outTradeNo: order.outTradeNo }).map((r) => r.amount)).toEqual(['2.50'])
    })
  }

  test('a process killed with SIGKILL in the middle of recording a payment: nothing half-written, and the retry records it once', async () => {
    // The process that will stop in the middle: the file has one owner, so for the file store
    // it takes the place of the only process; on PostgreSQL it is a fifth one beside the others.
    if (kind === 'file') await procs.pop().stop()
    const paused = await start({ ALIPAYHK_EXAMPLE_PAUSE_AT: 'payment' })
    const [{ order, body }] = await paidWithoutNotification([await createOrder(paused, '88.80')])
    const stuck = deliver(paused.url, body).then(
      (a) => `answered ${a.status} ${a.text}`,
      (err) => `no answer (${err.code || err.message})`,
    )
    await paused.waitFor('paused at payment')
    await paused.kill9()
    expect(await stuck).toMatch(/^no answer/)

    const after = await held()
    expect(after.payments.filter((p) => p.outTradeNo === order.outTradeNo)).toEqual([])
    expect(after.orders.get(order.outTradeNo)).toBe('UNPAID')
    if (kind === 'file') {
      expect(after.tornTail).toBe(true) // half a line on disk: the write really was cut short
      procs.push(await start()) // replays, dropping the torn line
      expect((await held()).tornTail).toBe(false)
    }
    expect((await request('GET', `${procs[0].url}/orders/${order.outTradeNo}`)).json().status).toBe('UNPAID')

    // Alipay's retry, and a few more at once to every process: one payment.
    const answers = await Promise.all(Array.from({ length: DELIVERIES }, (_, k) => deliver(procs[k % processes].url, body)))
    expect(answers.map((a) => a.text)).toEqual(Array(DELIVERIES).fill('success'))
    const payments = (await held()).payments.filter((p) => p.outTradeNo === order.outTradeNo)
    expect(payments).toEqual([expect.objectContaining({ amountCents: 8880, source: 'notification' })])
    expect((await request('GET', `${procs[processes - 1].url}/orders/${order.outTradeNo}`)).json().status).toBe('PAID')
    // Nothing else was lost on the way: the earlier payments are all still there, one each.
    const all = (await held()).payments
    expect(new Set(all.map((p) => p.outTradeNo)).size).toBe(all.length)
    expect(all.length).toBeGreaterThan(1)
  })
})
