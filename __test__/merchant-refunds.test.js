// After the payment, end to end on loopback (issue 14): the example merchant server's refund
// endpoint and recovery loop against the simulator, on both ledgers. Paid → refunds as in
// the demo; a dropped notification recovered by the query loop; a lost refund reply retried
// without a second refund; a refund Alipay fails; the server killed mid-refund and restarted.
// The simulator (node:crypto only) is the independent side: what it made is what counts.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startSimulator } = require('../simulator')
const { startMerchantServer } = require('../examples/merchant-server')
const { startPostgres, request, deliver, waitUntil, spawnMerchant, MERCHANT_PRIVATE, MERCHANT_PUBLIC, ALIPAY_PRIVATE, PARTNER } = require('./merchant-support')

jest.setTimeout(60_000)

let pg
const tempDirs = []

beforeAll(async () => {
  pg = await startPostgres()
})

afterAll(async () => {
  if (pg) await pg.stop()
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-refunds-'))
  tempDirs.push(dir)
  return dir
}

describe.each(['file', 'postgres'])('refunds and recovery on the %s ledger', (kind) => {
  let sim
  let merchant
  const dbs = []
  const logs = []

  /** A store of its own: { databaseUrl } or { dataDir }. */
  async function newStore() {
    if (kind === 'file') return { dataDir: tempDir() }
    const db = await pg.newDatabase()
    dbs.push(db)
    return { databaseUrl: db.url }
  }

  beforeAll(async () => {
    sim = await startSimulator({ merchantPublicKey: MERCHANT_PUBLIC, alipayPrivateKey: ALIPAY_PRIVATE, partner: PARTNER, retryDelaysMs: [100, 200, 400], refundSpacingMs: 0 })
    merchant = await startMerchantServer({
      ...(await newStore()),
      partner: PARTNER,
      privateKey: MERCHANT_PRIVATE,
      alipayPublicKey: sim.alipayPublicKey,
      gateway: sim.gatewayUrl,
      recoverAfterMs: 300, // an order unpaid 0.3 s after its orderStr is asked about…
      recoveryIntervalMs: 200, // …every 0.2 s
      backoffMs: 50,
      log: (line) => logs.push(line),
    })
  })

  afterAll(async () => {
    if (merchant) await merchant.close()
    if (sim) await sim.close()
    for (const db of dbs) await db.drop()
  })

  const post = (m, p, body) => request('POST', `${m.url}${p}`, body)
  const get = async (m, p) => (await request('GET', `${m.url}${p}`)).json()
  const refundBody = (refundId, amount) => ({ refundId, amount, reason: '客人退貨 returned' })
  const refundRequests = (rid) => sim.gatewayRequests.filter((r) => r.service === 'forex_refund' && r.params.out_return_no === rid).map((r) => r.answer)
  const simRefunds = (outTradeNo) => sim.refunds().filter((r) => r.outTradeNo === outTradeNo).map((r) => [r.outReturnNo, r.amount, r.status])
  let seq = 0
  const rid = (what) => `${what}-${kind}-${++seq}`

  async function createOrder(m, totalFee = '36.00') {
    const res = await post(m, '/orders', { subject: '港式奶茶 Hong Kong milk tea', totalFee })
    expect(res.status).toBe(201)
    return res.json()
  }

  async function paidOrder(m, totalFee) {
    const { outTradeNo, orderStr } = await createOrder(m, totalFee)
    expect((await sim.pay(orderStr)).status).toBe(200)
    await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 10_000 })
    expect((await get(m, `/orders/${outTradeNo}`)).status).toBe('PAID')
    return outTradeNo
  }

  test('paid → refunds as in the demo: 10.00, then 20.00, then 10.00 refused above the 36.00 paid; a retry is the same refund', async () => {
    const order = await paidOrder(merchant, '36.00')
    const [r1, r2, r3] = [rid('R1'), rid('R2'), rid('R3')]

    const first = await post(merchant, `/orders/${order}/refunds`, refundBody(r1, '10.00'))
    expect(first.status).toBe(200)
    expect(first.json()).toMatchObject({ refundId: r1, outTradeNo: order, amount: '10.00', currency: 'HKD', status: 'SUCCESS', settledAt: expect.any(String) })
    const second = await post(merchant, `/orders/${order}/refunds`, refundBody(r2, '20.00'))
    expect(second.json()).toMatchObject({ refundId: r2, amount: '20.00', status: 'SUCCESS' })
    const third = await post(merchant, `/orders/${order}/refunds`, refundBody(r3, '10.00'))
    expect(third.status).toBe(409)
    expect(third.json()).toMatchObject({ error: 'REFUND_EXCEEDS_PAID', paid: '36.00', refunded: '30.00', available: '6.00' })
    expect(refundRequests(r3)).toEqual([]) // refused by the ledger: Alipay never asked

    // The refund's status, and the order with its refunds.
    expect(await get(merchant, `/orders/${order}/refunds/${r1}`)).toMatchObject({ refundId: r1, status: 'SUCCESS', amount: '10.00' })
    expect((await request('GET', `${merchant.url}/orders/${order}/refunds/${r3}`)).status).toBe(404)
    const view = await get(merchant, `/orders/${order}`)
    expect(view).toMatchObject({ status: 'PAID', totalFee: '36.00', refundedAmount: '30.00' })
    expect(view.refunds.map((r) => [r.refundId, r.amount, r.status])).toEqual([
      [r1, '10.00', 'SUCCESS'],
      [r2, '20.00', 'SUCCESS'],
    ])
    // What Alipay (the simulator) made, and what its signed refund query says.
    expect(simRefunds(order)).toEqual([
      [r1, '10.00', 'SUCCESS'],
      [r2, '20.00', 'SUCCESS'],
    ])

    // The same request again: the same answer, and nothing sent to Alipay.
    const again = await post(merchant, `/orders/${order}/refunds`, refundBody(r1, '10.00'))
    expect(again.status).toBe(200)
    expect(again.json()).toEqual(first.json())
    expect(refundRequests(r1)).toEqual(['T'])
    // The same id for another amount is another refund: refused.
    const conflict = await post(merchant, `/orders/${order}/refunds`, refundBody(r1, '5.00'))
    expect(conflict.status).toBe(409)
    expect(conflict.json()).toMatchObject({ error: 'REFUND_ID_CONFLICT', field: 'refundId' })
    // What is left can be refunded.
    expect((await post(merchant, `/orders/${order}/refunds`, refundBody(rid('R4'), '6.00'))).json()).toMatchObject({ status: 'SUCCESS' })
    expect((await get(merchant, `/orders/${order}`)).refundedAmount).toBe('36.00')
  })

  test('refund requests that cannot be: bad fields (400), no such order (404), an unpaid order (409)', async () => {
    const unpaid = (await createOrder(merchant)).outTradeNo
    const paid = await paidOrder(merchant, '5.00')
    const cases = [
      [{ refundId: 'has space', amount: '1.00', reason: 'r' }, 'refundId'],
      [{ refundId: 'x'.repeat(65), amount: '1.00', reason: 'r' }, 'refundId'],
      [{ amount: '1.00', reason: 'r' }, 'refundId'],
      [{ refundId: 'ok-1', amount: '1.001', reason: 'r' }, 'amount'],
      [{ refundId: 'ok-1', amount: '0.00', reason: 'r' }, 'amount'],
      [{ refundId: 'ok-1', amount: 1, reason: 'r' }, 'amount'],
      [{ refundId: 'ok-1', amount: '-1.00', reason: 'r' }, 'amount'],
      [{ refundId: 'ok-1', amount: '1.00' }, 'reason'],
      [{ refundId: 'ok-1', amount: '1.00', reason: '退'.repeat(101) }, 'reason'],
    ]
    for (const [body, field] of cases) {
      const res = await post(merchant, `/orders/${paid}/refunds`, body)
      expect([res.status, res.json().error, res.json().field]).toEqual([400, 'INVALID_REFUND', field])
    }
    expect((await request('POST', `${merchant.url}/orders/${paid}/refunds`, 'not json')).status).toBe(400)
    expect((await post(merchant, '/orders/NO-SUCH-ORDER/refunds', refundBody('x1', '1.00'))).status).toBe(404)
    const res = await post(merchant, `/orders/${unpaid}/refunds`, refundBody('x2', '1.00'))
    expect([res.status, res.json().error]).toEqual([409, 'NOT_PAID'])
    expect(sim.gatewayRequests.filter((r) => r.params.out_return_no === 'ok-1' || r.params.out_return_no === 'x2')).toEqual([])
  })

  test('a dropped notification: the recovery loop asks Alipay and records the payment once, also when the notification comes after all', async () => {
    const { outTradeNo, orderStr } = await createOrder(merchant, '48.00')
    sim.faults.add({ fault: 'drop_notification', outTradeNo })
    const { notifyId } = await sim.pay(orderStr)
    const dropped = await waitUntil(() => sim.deliveries.find((d) => d.notifyId === notifyId), { timeoutMs: 5000, what: 'the notification to be dropped' })
    expect(dropped).toMatchObject({ kind: 'dropped', status: null })
    const paid = await waitUntil(async () => {
      const view = await get(merchant, `/orders/${outTradeNo}`)
      return view.status === 'PAID' && view
    }, { timeoutMs: 10_000, what: 'the recovery loop to record the payment' })
    expect(paid).toMatchObject({ paidVia: 'query', tradeNo: sim.trades().find((t) => t.outTradeNo === outTradeNo).tradeNo })
    expect(sim.gatewayRequests.filter((r) => r.service === 'single_trade_query' && r.params.out_trade_no === outTradeNo).length).toBeGreaterThanOrEqual(1)

    // The notification arrives after all, several times at once, while the loop runs again.
    const body = sim.notifications.find((n) => n.notifyId === notifyId).body
    const [answers] = await Promise.all([Promise.all([1, 2, 3].map(() => deliver(merchant.url, body))), merchant.recoverNow()])
    expect(answers.map((a) => a.text)).toEqual(['success', 'success', 'success'])
    const payments = (await merchant.ledger.payments()).filter((p) => p.outTradeNo === outTradeNo)
    expect(payments).toEqual([expect.objectContaining({ source: 'query', amountCents: 4800 })])
    // And a refund of an order paid by query works as any other.
    expect((await post(merchant, `/orders/${outTradeNo}/refunds`, refundBody(rid('RQ'), '8.00'))).json()).toMatchObject({ status: 'SUCCESS' })
  })

  test('the notification and the query at the same moment, for orders the loop finds due: one payment each', async () => {
    const orders = []
    for (let i = 0; i < 6; i++) orders.push(await createOrder(merchant, `${30 + i}.00`))
    for (const o of orders) sim.faults.add({ fault: 'drop_notification', outTradeNo: o.outTradeNo })
    for (const o of orders) await sim.pay(o.orderStr)
    await new Promise((r) => setTimeout(r, 350)) // due for the loop now
    const bodies = orders.map((o) => sim.notifications.find((n) => n.outTradeNo === o.outTradeNo).body)
    await Promise.all([...bodies.map((b) => deliver(merchant.url, b)), merchant.recoverNow(), ...bodies.map((b) => deliver(merchant.url, b))])
    const payments = await merchant.ledger.payments()
    for (const o of orders) expect(payments.filter((p) => p.outTradeNo === o.outTradeNo)).toHaveLength(1)
  })

  test('an order nobody pays stays UNPAID, and the loop keeps asking (NOT_FOUND, then WAIT_BUYER_PAY)', async () => {
    const { outTradeNo, orderStr } = await createOrder(merchant, '9.00')
    const asked = () => sim.gatewayRequests.filter((r) => r.service === 'single_trade_query' && r.params.out_trade_no === outTradeNo)
    await waitUntil(() => asked().length >= 1, { timeoutMs: 5000, what: 'a first query' })
    await sim.pay(orderStr, 'cancel') // the payer opened the cashier and left
    await waitUntil(() => asked().length >= 3, { timeoutMs: 5000, what: 'more queries' })
    // Alipay's answers: no trade before the payer came, then a trade (WAIT_BUYER_PAY, unpaid).
    const answers = asked().map((r) => r.answer)
    expect(answers[0]).toBe('F TRADE_NOT_EXIST')
    expect(answers.slice(1)).toContain('T')
    expect(sim.trades().filter((t) => t.outTradeNo === outTradeNo)).toMatchObject([{ status: 'WAIT_BUYER_PAY' }])
    expect((await get(merchant, `/orders/${outTradeNo}`)).status).toBe('UNPAID')
    expect((await merchant.ledger.payments()).filter((p) => p.outTradeNo === outTradeNo)).toEqual([])
  })

  test('a lost refund reply: the library\'s retry finds the refund made (REPEATED_REFUNDMENT_REQUEST, then the refund query), no second refund', async () => {
    const order = await paidOrder(merchant, '20.00')
    const r = rid('LOST')
    sim.faults.add({ fault: 'cut', afterApply: true, service: 'forex_refund', outReturnNo: r })
    const res = await post(merchant, `/orders/${order}/refunds`, refundBody(r, '15.00'))
    expect(res.status).toBe(200)
    expect(res.json()).toMatchObject({ status: 'SUCCESS', amount: '15.00' })
    expect(refundRequests(r)).toEqual(['cut after applying (T)', 'F REPEATED_REFUNDMENT_REQUEST'])
    expect(simRefunds(order)).toEqual([[r, '15.00', 'SUCCESS']])
  })

  test('every reply of a refund lost: PENDING (202); the client\'s retry asks Alipay first and sends nothing again', async () => {
    const order = await paidOrder(merchant, '20.00')
    const r = rid('ALL-LOST')
    sim.faults.add({ fault: 'cut', afterApply: true, service: 'forex_refund', outReturnNo: r, times: 3 })
    const res = await post(merchant, `/orders/${order}/refunds`, refundBody(r, '12.00'))
    expect(res.status).toBe(202)
    expect(res.json()).toMatchObject({ refundId: r, status: 'PENDING' })
    expect(simRefunds(order)).toEqual([[r, '12.00', 'SUCCESS']]) // made at Alipay, not known here yet
    const sent = refundRequests(r).length
    expect(refundRequests(r)).toEqual(['cut after applying (T)', 'cut after applying (REPEATED_REFUNDMENT_REQUEST)', 'cut after applying (REPEATED_REFUNDMENT_REQUEST)'])
    // Meanwhile, the amount is held: 8.01 does not fit.
    expect((await post(merchant, `/orders/${order}/refunds`, refundBody(rid('HELD'), '8.01'))).status).toBe(409)
    const retry = await post(merchant, `/orders/${order}/refunds`, refundBody(r, '12.00'))
    expect(retry.status).toBe(200)
    expect(retry.json()).toMatchObject({ status: 'SUCCESS' })
    expect(refundRequests(r)).toHaveLength(sent) // asked with the refund query, not sent again
    expect(simRefunds(order)).toEqual([[r, '12.00', 'SUCCESS']])
  })

  test('a refund notification (refund_status_sync) settles a PENDING refund, once; one about a refund never asked for, or for another amount, changes nothing', async () => {
    const order = await paidOrder(merchant, '20.00')
    const r = rid('NOTIFIED')
    sim.faults.add({ fault: 'cut', afterApply: true, service: 'forex_refund', outReturnNo: r, times: 3 })
    expect((await post(merchant, `/orders/${order}/refunds`, refundBody(r, '4.00'))).status).toBe(202)
    const crypto = require('node:crypto')
    const notify = (params) =>
      sim.sendNotification({
        notifyUrl: merchant.notifyUrl,
        signType: 'RSA2',
        params: {
          notify_time: '2024-05-01 12:00:00',
          notify_type: 'refund_status_sync',
          notify_id: crypto.randomBytes(16).toString('hex'),
          out_trade_no: order,
          out_return_no: r,
          refund_status: 'REFUND_SUCCESS',
          return_amount: '4.00',
          currency: 'HKD',
          ...params,
        },
      })
    // Not ours, or not its amount: acknowledged, nothing recorded.
    expect((await notify({ out_return_no: 'NEVER-ASKED' })).response).toBe('success')
    expect((await notify({ return_amount: '40.00' })).response).toBe('success')
    expect((await get(merchant, `/orders/${order}/refunds/${r}`)).status).toBe('PENDING')
    // The genuine one, twice: SUCCESS, once; then a contradicting one changes nothing.
    expect((await notify({})).response).toBe('success')
    expect((await notify({})).response).toBe('success')
    expect(await get(merchant, `/orders/${order}/refunds/${r}`)).toMatchObject({ status: 'SUCCESS' })
    expect((await notify({ refund_status: 'REFUND_FAIL', error_code: 'X' })).response).toBe('success')
    expect(await get(merchant, `/orders/${order}/refunds/${r}`)).toMatchObject({ status: 'SUCCESS' })
    expect(logs.some((l) => l.includes(`INVESTIGATE: refund ${r} notified FAILED, recorded SUCCESS`))).toBe(true)
  })

  test('a refund within Alipay\'s refund spacing (3 s per partner): PENDING, and the same request later makes it, once', async () => {
    const order = await paidOrder(merchant, '20.00')
    expect((await post(merchant, `/orders/${order}/refunds`, refundBody(rid('SP1'), '1.00'))).json().status).toBe('SUCCESS')
    sim.setSettings({ refundSpacingMs: 60_000 }) // every try falls within the spacing…
    try {
      const r = rid('SP2')
      const res = await post(merchant, `/orders/${order}/refunds`, refundBody(r, '2.00'))
      expect(res.status).toBe(202) // SYSTEM_EXCEPTION on every try (retryable: the library tried again)
      expect(refundRequests(r)).toEqual(['F SYSTEM_EXCEPTION', 'F SYSTEM_EXCEPTION', 'F SYSTEM_EXCEPTION'])
      sim.setSettings({ refundSpacingMs: 0 }) // …until the spacing has passed
      const later = await post(merchant, `/orders/${order}/refunds`, refundBody(r, '2.00'))
      expect(later.json()).toMatchObject({ status: 'SUCCESS' })
      expect(refundRequests(r).filter((a) => a === 'T')).toHaveLength(1)
      expect(simRefunds(order).filter(([id]) => id === r)).toEqual([[r, '2.00', 'SUCCESS']])
    } finally {
      sim.setSettings({ refundSpacingMs: 0 })
    }
  })

  test('a refund Alipay fails is FAILED with its code, and its amount can be refunded again under a new id', async () => {
    const order = await paidOrder(merchant, '10.00')
    const r = rid('FAIL')
    sim.faults.add({ fault: 'refund_fail', outReturnNo: r })
    const res = await post(merchant, `/orders/${order}/refunds`, refundBody(r, '10.00'))
    expect(res.status).toBe(200)
    expect(res.json()).toMatchObject({ status: 'FAILED', errorCode: 'MERCHANT_BALANCE_NOT_ENOUGH' })
    expect((await post(merchant, `/orders/${order}/refunds`, refundBody(r, '10.00'))).json()).toMatchObject({ status: 'FAILED' }) // final
    expect((await post(merchant, `/orders/${order}/refunds`, refundBody(rid('AGAIN'), '10.00'))).json()).toMatchObject({ status: 'SUCCESS' })
    expect(simRefunds(order).map(([, amount, status]) => [amount, status])).toEqual([
      ['10.00', 'FAILED'],
      ['10.00', 'SUCCESS'],
    ])
  })

  describe('the merchant server killed mid-refund (SIGKILL) and restarted', () => {
    let store
    let child

    const start = (extra = {}) =>
      spawnMerchant({
        DATABASE_URL: store.databaseUrl,
        ALIPAYHK_DATA_DIR: store.dataDir,
        ALIPAYHK_GATEWAY: sim.gatewayUrl,
        ALIPAYHK_RECOVER_AFTER_MS: '3600000',
        ...extra,
      })

    beforeAll(async () => {
      store = await newStore()
    })

    afterEach(async () => {
      if (child) await child.kill9()
      child = null
    })

    async function paidOnChild(totalFee) {
      const { outTradeNo, orderStr } = await createOrder(child, totalFee)
      expect((await sim.pay(orderStr)).status).toBe(200)
      await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 10_000 })
      return outTradeNo
    }

    async function refundOf(outTradeNo, r) {
      return (await request('GET', `${child.url}/orders/${outTradeNo}/refunds/${r}`)).json()
    }

    test('after Alipay made it, before its reply: the restarted server asks Alipay and records SUCCESS, nothing sent again', async () => {
      child = await start()
      const order = await paidOnChild('30.00')
      const r = rid('KILL-AFTER')
      sim.faults.add({ fault: 'delay', delayMs: 3000, afterApply: true, service: 'forex_refund', outReturnNo: r })
      const pending = post(child, `/orders/${order}/refunds`, refundBody(r, '25.00')).then(
        (res) => `answered ${res.status}`,
        () => 'no answer',
      )
      await waitUntil(() => simRefunds(order).length === 1, { timeoutMs: 10_000, what: 'Alipay to make the refund' })
      await child.kill9()
      expect(await pending).toBe('no answer')

      child = await start()
      const done = await waitUntil(async () => {
        const view = await refundOf(order, r)
        return view.status !== 'PENDING' && view
      }, { timeoutMs: 10_000, what: 'the restarted server to settle the refund' })
      expect(done).toMatchObject({ status: 'SUCCESS', amount: '25.00' })
      expect(refundRequests(r)).toHaveLength(1) // its answer is still being delayed to the dead process
      expect(simRefunds(order)).toEqual([[r, '25.00', 'SUCCESS']])
      expect(child.output()).toContain(`refund ${r}: SUCCESS`)
      // The client's retry gets the answer.
      expect((await post(child, `/orders/${order}/refunds`, refundBody(r, '25.00'))).json()).toMatchObject({ status: 'SUCCESS' })
    })

    test('after the intent was recorded, before Alipay was asked: the restarted server finds nothing at Alipay and sends it, once', async () => {
      child = await start({ ALIPAYHK_EXAMPLE_PAUSE_AT: 'refund-request' })
      const order = await paidOnChild('30.00')
      const r = rid('KILL-BEFORE')
      const pending = post(child, `/orders/${order}/refunds`, refundBody(r, '7.50')).then(
        (res) => `answered ${res.status}`,
        () => 'no answer',
      )
      await child.waitFor('paused at refund-request')
      await child.kill9()
      expect(await pending).toBe('no answer')
      expect(refundRequests(r)).toEqual([])

      child = await start()
      const done = await waitUntil(async () => {
        const view = await refundOf(order, r)
        return view.status !== 'PENDING' && view
      }, { timeoutMs: 10_000, what: 'the restarted server to settle the refund' })
      expect(done).toMatchObject({ status: 'SUCCESS', amount: '7.50' })
      expect(refundRequests(r)).toEqual(['T'])
      expect(simRefunds(order)).toEqual([[r, '7.50', 'SUCCESS']])
      expect(sim.gatewayRequests.some((q) => q.service === 'alipay.acquire.refund.query' && q.params.out_return_no === r)).toBe(true)
    })
  })
})
