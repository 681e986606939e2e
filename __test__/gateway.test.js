// The gateway services from JavaScript (issue 14): AlipayHK#queryOrder, #refund, #refundStatus,
// #confirmNotifyId over HTTP, and gatewayRequest / parseGatewayReply, all against the Alipay
// simulator (simulator/, node:crypto only) started here on 127.0.0.1. What the library says is
// checked against independent readings: requests are re-signed here with node:crypto, replies
// are re-read with fast-xml-parser and re-verified with node:crypto, and the simulator's own
// books (sim.refunds(), sim.gatewayRequests) say what really happened at "Alipay".
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { XMLParser } = require('fast-xml-parser')

const { AlipayHK, ErrorCode, decideNotify, gatewayRequest, parseGatewayReply } = require('..')
const { startSimulator } = require('../simulator')
const { mulberry32 } = require('./helpers')

jest.setTimeout(60000)

const KEYS = path.join(__dirname, '..', 'examples', 'test-keys')
const readKey = (name) => fs.readFileSync(path.join(KEYS, name), 'utf8')
const MERCHANT_PRIVATE = readKey('merchant_private_key.TEST-ONLY.pem')
const MERCHANT_PUBLIC = readKey('merchant_public_key.TEST-ONLY.pem')
const ALIPAY_PRIVATE = readKey('alipay_private_key.TEST-ONLY.pem')
const ALIPAY_PUBLIC = readKey('alipay_public_key.TEST-ONLY.pem')
const PARTNER = '2088101568358171'
const MD5_KEY = crypto.randomBytes(16).toString('hex')
const HASH = { RSA: 'sha1', RSA2: 'sha256' }

// ---- independent helpers (no addon) ------------------------------------------------------------

// §8.1 / §8.2, written again here: every field but sign and sign_type, empty values out, sorted
// by name in byte order, name=value joined with &, values raw.
function sortedString(params) {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== '' && params[k] !== undefined)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((k) => `${k}=${params[k]}`)
    .join('&')
}

function refSign(signType, content, { privateKey = MERCHANT_PRIVATE, md5Key = MD5_KEY } = {}) {
  if (signType === 'MD5') return crypto.createHash('md5').update(content + md5Key, 'utf8').digest('hex')
  return crypto.sign(HASH[signType], Buffer.from(content, 'utf8'), privateKey).toString('base64')
}

const xml = new XMLParser({ ignoreAttributes: false, parseTagValue: false, trimValues: false, processEntities: true })

/** The reply's signed fields and signature, read with fast-xml-parser. */
function readReply(text) {
  const a = xml.parse(text).alipay
  const response = a && a.response
  const [element] = response ? Object.keys(response) : []
  return { isSuccess: a && a.is_success, error: a && a.error, fields: element ? response[element] : undefined, sign: a && a.sign, signType: a && a.sign_type }
}

/** §8.2 checked with node:crypto: the reference the library's verdict is compared with. */
function independentlyVerified(text, { publicKey = ALIPAY_PUBLIC, md5Key = MD5_KEY } = {}) {
  let r
  try {
    r = readReply(text)
  } catch {
    return false
  }
  if (!r.fields || typeof r.fields !== 'object' || typeof r.sign !== 'string') return false
  if (Object.values(r.fields).some((v) => typeof v !== 'string')) return false
  const content = sortedString(r.fields)
  if (r.signType === 'MD5') return refSign('MD5', content, { md5Key }) === r.sign
  if (!HASH[r.signType]) return false
  return crypto.verify(HASH[r.signType], Buffer.from(content, 'utf8'), publicKey, Buffer.from(r.sign, 'base64'))
}

/** The GMT+8 wall clock of `ms`, as gmt_return is written. */
function gmt8(ms, format) {
  const d = new Date(ms + 8 * 3600 * 1000).toISOString()
  const [date, time] = [d.slice(0, 10), d.slice(11, 19)]
  return format === 'yyyyMMddHHmmss' ? date.replace(/-/g, '') + time.replace(/:/g, '') : `${date} ${time}`
}

/** The error `promise` rejects with; fails the test if it resolves. */
async function rejection(promise) {
  let value
  try {
    value = await promise
  } catch (err) {
    return err
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`)
}

function thrownBy(fn) {
  let value
  try {
    value = fn()
  } catch (err) {
    return err
  }
  throw new Error(`expected a throw, got ${JSON.stringify(value)}`)
}

// ---- the simulator, a notification receiver, accounts and orders ---------------------------------

let sim
let receiver
let receiverUrl
const received = [] // raw bodies POSTed to the receiver

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'))
      res.end('success')
    })
  })
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  receiverUrl = `http://127.0.0.1:${receiver.address().port}/alipay/notify`
  sim = await startSimulator({
    merchantPublicKey: MERCHANT_PUBLIC,
    md5Key: MD5_KEY,
    alipayPrivateKey: ALIPAY_PRIVATE,
    refundSpacingMs: 0,
    retryDelaysMs: [20, 40],
  })
})

afterAll(async () => {
  if (sim) await sim.close()
  if (receiver) {
    receiver.closeAllConnections()
    await new Promise((resolve) => receiver.close(resolve))
  }
})

afterEach(() => {
  sim.faults.clear()
  sim.setSettings({ refundSpacingMs: 0, replyCharset: 'utf-8', replyIndent: false, contractedServices: ['single_trade_query', 'forex_refund', 'alipay.acquire.refund.query', 'notify_verify'] })
})

function account(overrides = {}) {
  const base = { partner: PARTNER, alipayPublicKey: ALIPAY_PUBLIC, gateway: sim.gatewayUrl, retries: 2, backoffMs: 10, timeoutMs: 5000 }
  const signType = overrides.signType || 'RSA2'
  const key = signType === 'MD5' ? { signType, md5Key: MD5_KEY } : { signType, privateKey: MERCHANT_PRIVATE }
  const config = { ...base, ...key, ...overrides }
  if (signType === 'MD5') delete config.alipayPublicKey
  return new AlipayHK(config)
}

let serial = 0
const newId = (prefix) => `${prefix}-${process.pid}-${Date.now()}-${++serial}`

function orderStrFor(alipay, { totalFee = '10.00', currency, subject = 'Gateway test 港式奶茶' } = {}) {
  const outTradeNo = newId('GW')
  return { outTradeNo, orderStr: alipay.buildOrderStr({ outTradeNo, subject, totalFee, currency, notifyUrl: receiverUrl }) }
}

async function paidOrder(alipay, options) {
  const { outTradeNo, orderStr } = orderStrFor(alipay, options)
  const r = await sim.pay(orderStr, 'pay')
  expect(r.status).toBe(200)
  return { outTradeNo, tradeNo: r.tradeNo }
}

const requestsOf = (service, pick = () => true) => sim.gatewayRequests.filter((r) => r.service === service && pick(r.params))
const refundsOf = (outTradeNo) => sim.refunds().filter((r) => r.outTradeNo === outTradeNo)
const cents = (s) => Math.round(Number(s) * 100)

/** The reply's bytes as the gateway sent them, for a request the library built. */
async function rawReply(alipay, service, params) {
  const req = alipay.gatewayRequest(service, params)
  const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body })
  expect(res.status).toBe(200)
  return res.text()
}

// ---- queryOrder ----------------------------------------------------------------------------------

describe('queryOrder', () => {
  test.each(['RSA2', 'RSA', 'MD5'])('%s: NOT_FOUND right after the orderStr, then PAID signed by Alipay, by outTradeNo and by tradeNo', async (signType) => {
    const alipay = account({ signType })
    const { outTradeNo, orderStr } = orderStrFor(alipay, { totalFee: '36.50' })
    expect(await alipay.queryOrder({ outTradeNo })).toEqual({ status: 'NOT_FOUND', signedByAlipay: false, signType: undefined, trade: undefined })

    const paid = await sim.pay(orderStr, 'pay')
    expect(paid.status).toBe(200)
    const r = await alipay.queryOrder({ outTradeNo })
    expect(r).toMatchObject({ status: 'PAID', signedByAlipay: true, signType })
    expect(r.trade).toMatchObject({ tradeStatus: 'TRADE_FINISHED', outTradeNo, tradeNo: paid.tradeNo, totalFee: '36.50', sellerId: PARTNER })

    // The same reply read independently: its signature verifies and it says what the library said.
    const text = await rawReply(alipay, 'single_trade_query', { out_trade_no: outTradeNo })
    expect(independentlyVerified(text)).toBe(true)
    expect(readReply(text).fields).toEqual(r.trade.fields)

    const byTradeNo = await alipay.queryOrder({ tradeNo: paid.tradeNo })
    expect(byTradeNo).toMatchObject({ status: 'PAID', signedByAlipay: true, trade: { outTradeNo, tradeNo: paid.tradeNo } })
  })

  test('WAIT_BUYER_PAY after a cancelled payment, CLOSED once the trade is closed', async () => {
    const alipay = account()
    const { outTradeNo, orderStr } = orderStrFor(alipay)
    expect((await sim.pay(orderStr, 'cancel')).status).toBe(200)
    expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'WAIT_BUYER_PAY', signedByAlipay: true, trade: { tradeStatus: 'WAIT_BUYER_PAY' } })
    sim.closeTrade(outTradeNo)
    expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'CLOSED', signedByAlipay: true, trade: { tradeStatus: 'TRADE_CLOSED' } })
  })

  test('POST (a form body, _input_charset in the URL), indented replies and GBK-declared replies give the same answer', async () => {
    const subject = '雞蛋仔 Egg waffle'
    const alipay = account({ method: 'POST' })
    const { outTradeNo } = await paidOrder(alipay, { subject })
    const r = await alipay.queryOrder({ outTradeNo })
    expect(r).toMatchObject({ status: 'PAID', trade: { subject } })
    const [last] = requestsOf('single_trade_query', (p) => p.out_trade_no === outTradeNo).slice(-1)
    expect(last).toMatchObject({ method: 'POST' })

    sim.setSettings({ replyIndent: true })
    expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'PAID', trade: { subject } })
    sim.setSettings({ replyIndent: false, replyCharset: 'gbk' })
    const gbk = await alipay.queryOrder({ outTradeNo })
    expect(gbk).toMatchObject({ status: 'PAID', signedByAlipay: true, trade: { subject } })
    expect(gbk.trade.fields).toEqual(r.trade.fields)
  })

  test('bad arguments are coded errors before anything is sent', async () => {
    const alipay = account()
    const before = sim.gatewayRequests.length
    expect(await rejection(alipay.queryOrder({ outTradNo: 'A1' }))).toMatchObject({ code: ErrorCode.InvalidArgument, field: 'query.outTradNo' })
    expect(await rejection(alipay.queryOrder(null))).toMatchObject({ code: ErrorCode.InvalidArgument, field: 'query' })
    expect(await rejection(alipay.queryOrder({}))).toMatchObject({ code: ErrorCode.MissingParam, field: 'out_trade_no' })
    expect(await rejection(alipay.queryOrder({ outTradeNo: 'bad"id' }))).toMatchObject({ code: ErrorCode.InvalidParam, field: 'out_trade_no' })
    expect(sim.gatewayRequests.length).toBe(before)
  })
})

// ---- refunds -------------------------------------------------------------------------------------

describe('refund and refundStatus', () => {
  test('partial refunds add up to the paid amount; one more cent is RETURN_AMOUNT_EXCEED and refunds nothing', async () => {
    const alipay = account()
    const { outTradeNo, tradeNo } = await paidOrder(alipay, { totalFee: '10.00' })
    const refund = (outReturnNo, amount) => alipay.refund({ outTradeNo, outReturnNo, amount, reason: 'partial refund' })

    const r1 = await refund(newId('R'), '3.00')
    expect(r1).toMatchObject({ status: 'SUCCESS', signedByAlipay: true, signType: 'RSA2', outTradeNo, refund: { refundResultCode: 'SUCCESS', outTradeNo, tradeNo } })
    expect((await refund(newId('R'), '4.50')).status).toBe('SUCCESS')

    const over = newId('R')
    const err = await rejection(refund(over, '2.51'))
    expect(err).toMatchObject({ code: ErrorCode.GatewayError, gatewayError: 'RETURN_AMOUNT_EXCEED', retryable: false })
    expect(err.explanation).toMatch(/above the amount paid/)
    expect(err.message).toMatch(/forex_refund: the gateway answered RETURN_AMOUNT_EXCEED/)
    // Alipay knows no refund by that id (a signed response_code NOT_FOUND).
    expect(await alipay.refundStatus({ outTradeNo, outReturnNo: over })).toMatchObject({ status: 'NOT_FOUND', refund: { responseCode: 'NOT_FOUND' } })

    const last = newId('R')
    expect(await refund(last, '2.50')).toMatchObject({ status: 'SUCCESS', outReturnNo: last })
    expect(await rejection(refund(newId('R'), '0.01'))).toMatchObject({ gatewayError: 'RETURN_AMOUNT_EXCEED' })

    // Alipay's books: three refunds, 10.00 in all; the query's to_buyer_fee says the same.
    const made = refundsOf(outTradeNo)
    expect(made.map((r) => r.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS'])
    expect(made.reduce((s, r) => s + cents(r.amount), 0)).toBe(1000)
    const q = await alipay.queryOrder({ outTradeNo })
    expect(q.trade.fields.to_buyer_fee).toBe('10.00')
    expect(await alipay.refundStatus({ outTradeNo, outReturnNo: last })).toMatchObject({ status: 'SUCCESS', signedByAlipay: true, refund: { outReturnNo: last } })
  })

  test('CURRENCY_NOT_SAME and PURCHASE_TRADE_NOT_EXIST (unknown, unpaid) are refused, not retried, and refund nothing', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay)
    const before = sim.gatewayRequests.length
    const usd = await rejection(alipay.refund({ outTradeNo, outReturnNo: newId('R'), amount: '1.00', currency: 'USD', reason: 'wrong currency' }))
    expect(usd).toMatchObject({ code: ErrorCode.GatewayError, gatewayError: 'CURRENCY_NOT_SAME', retryable: false })
    expect(usd.explanation).toMatch(/currency/)
    expect(sim.gatewayRequests.length - before).toBe(1) // refused at once: not retried

    const unknown = await rejection(alipay.refund({ outTradeNo: newId('NOPE'), outReturnNo: newId('R'), amount: '1.00', reason: 'r' }))
    expect(unknown).toMatchObject({ gatewayError: 'PURCHASE_TRADE_NOT_EXIST', retryable: false })
    const unpaid = orderStrFor(alipay)
    await sim.pay(unpaid.orderStr, 'cancel')
    expect(await rejection(alipay.refund({ outTradeNo: unpaid.outTradeNo, outReturnNo: newId('R'), amount: '1.00', reason: 'r' }))).toMatchObject({
      gatewayError: 'PURCHASE_TRADE_NOT_EXIST',
    })
    expect(refundsOf(outTradeNo)).toHaveLength(0)
    expect(refundsOf(unpaid.outTradeNo)).toHaveLength(0)
  })

  test('a refund id used again is REPEATED_REFUNDMENT_REQUEST and refunds nothing more', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay)
    const outReturnNo = newId('R')
    expect((await alipay.refund({ outTradeNo, outReturnNo, amount: '1.00', reason: 'r' })).status).toBe('SUCCESS')
    const err = await rejection(alipay.refund({ outTradeNo, outReturnNo, amount: '1.00', reason: 'r' }))
    expect(err).toMatchObject({ code: ErrorCode.GatewayError, gatewayError: 'REPEATED_REFUNDMENT_REQUEST' })
    expect(err.explanation).toMatch(/alipay\.acquire\.refund\.query/)
    expect(refundsOf(outTradeNo)).toHaveLength(1)
  })

  test('sync: false is ACCEPTED; the refund_status_sync notification verifies and decideNotify says RECORD_REFUND (RECORD_REFUND_FAILURE when it failed)', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay, { totalFee: '20.00' })
    const expected = { outTradeNo, totalFee: '20.00' }

    const ok = newId('R')
    const accepted = await alipay.refund({ outTradeNo, outReturnNo: ok, amount: '5.00', reason: 'async refund', sync: false, notifyUrl: receiverUrl })
    expect(accepted).toEqual({ status: 'ACCEPTED', signedByAlipay: false, outTradeNo, outReturnNo: ok })
    const [delivery] = await sim.waitForNotifications(1, { outReturnNo: ok, notifyType: 'refund_status_sync' })
    const body = received.find((b) => new URLSearchParams(b).get('out_return_no') === ok)
    expect(body).toBe(sim.notifications.find((n) => n.notifyId === delivery.notifyId).body)

    const v = alipay.verifyNotify(body)
    expect(v.ok).toBe(true)
    expect(v.notification.kind).toBe('refund')
    expect(v.notification.outTradeNo).toBe(outTradeNo)
    expect(v.notification.get('refund_status')).toBe('REFUND_SUCCESS')
    expect(v.notification.isPaid()).toBe(false)
    expect(decideNotify(v, expected)).toMatchObject({ action: 'RECORD_REFUND', answer: 'success', kind: 'refund' })
    expect(await alipay.refundStatus({ outTradeNo, outReturnNo: ok })).toMatchObject({ status: 'SUCCESS', signedByAlipay: true })
    expect(await alipay.confirmNotifyId(v.notification.get('notify_id'))).toBe(true)
    expect(await alipay.confirmNotifyId('0123456789abcdef0123456789abcdef')).toBe(false)

    // The same body with one field changed does not verify and is rejected.
    const forged = alipay.verifyNotify(body.replace('refund_status=REFUND_SUCCESS', 'refund_status=REFUND_FAIL'))
    expect(forged).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
    expect(decideNotify(forged, expected)).toMatchObject({ action: 'REJECT' })

    const failed = newId('R')
    sim.faults.add({ fault: 'refund_fail', outReturnNo: failed })
    await alipay.refund({ outTradeNo, outReturnNo: failed, amount: '5.00', reason: 'no funds', sync: false })
    await sim.waitForNotifications(1, { outReturnNo: failed, notifyType: 'refund_status_sync' })
    const failBody = received.find((b) => new URLSearchParams(b).get('out_return_no') === failed)
    const vf = alipay.verifyNotify(failBody)
    expect(vf.ok).toBe(true)
    expect(decideNotify(vf, expected)).toMatchObject({ action: 'RECORD_REFUND_FAILURE', answer: 'success', kind: 'refund' })
    expect(await alipay.refundStatus({ outTradeNo, outReturnNo: failed })).toMatchObject({
      status: 'FAILED',
      signedByAlipay: true,
      refund: { refundErrorCode: 'MERCHANT_BALANCE_NOT_ENOUGH' },
    })
  })

  test('a refund still PROCESSING says so (signed), then SUCCESS once Alipay completes it', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay)
    const outReturnNo = newId('R')
    sim.faults.add({ fault: 'refund_processing', outReturnNo })
    await alipay.refund({ outTradeNo, outReturnNo, amount: '6.00', reason: 'slow', sync: false })
    expect(await alipay.refundStatus({ outTradeNo, outReturnNo })).toMatchObject({ status: 'PROCESSING', signedByAlipay: true })
    // A refund in progress holds its amount.
    expect(await rejection(alipay.refund({ outTradeNo, outReturnNo: newId('R'), amount: '4.01', reason: 'r' }))).toMatchObject({ gatewayError: 'RETURN_AMOUNT_EXCEED' })
    sim.completeRefund(outReturnNo, { status: 'SUCCESS' })
    expect(await alipay.refundStatus({ outTradeNo, outReturnNo })).toMatchObject({ status: 'SUCCESS', signedByAlipay: true })
  })

  test('refunds too close together (the 3-second rule) are retried with the same request until the spacing has passed', async () => {
    sim.setSettings({ refundSpacingMs: 300 })
    const alipay = account({ retries: 4, backoffMs: 100 })
    const { outTradeNo } = await paidOrder(alipay)
    const first = newId('R')
    const second = newId('R')
    expect((await alipay.refund({ outTradeNo, outReturnNo: first, amount: '1.00', reason: 'r' })).status).toBe('SUCCESS')
    expect((await alipay.refund({ outTradeNo, outReturnNo: second, amount: '2.00', reason: 'r' })).status).toBe('SUCCESS')
    const tries = requestsOf('forex_refund', (p) => p.out_return_no === second)
    expect(tries.length).toBeGreaterThan(1)
    expect(tries[0].answer).toBe('F SYSTEM_EXCEPTION')
    expect(tries[tries.length - 1].answer).toBe('T')
    // Byte for byte the same request each time (same gmt_return, same signature).
    expect(new Set(tries.map((t) => JSON.stringify(t.params))).size).toBe(1)
    expect(refundsOf(outTradeNo).map((r) => r.amount)).toEqual(['1.00', '2.00'])
  })

  test('bad refund arguments are coded errors: a missing outReturnNo or reason, an amount with 3 decimals, sync not a boolean', async () => {
    const alipay = account()
    const base = { outTradeNo: 'A1', outReturnNo: 'R1', amount: '1.00', reason: 'r' }
    const before = sim.gatewayRequests.length
    expect(await rejection(alipay.refund({ ...base, outReturnNo: undefined }))).toMatchObject({ code: ErrorCode.MissingParam, field: 'out_return_no' })
    expect(await rejection(alipay.refund({ ...base, reason: undefined }))).toMatchObject({ code: ErrorCode.MissingParam, field: 'reason' })
    expect(await rejection(alipay.refund({ ...base, amount: '1.001' }))).toMatchObject({ code: ErrorCode.InvalidParam, field: 'return_amount' })
    expect(await rejection(alipay.refund({ ...base, sync: 'N' }))).toMatchObject({ code: ErrorCode.InvalidArgument, field: 'refund.sync' })
    expect(await rejection(alipay.refund({ ...base, amont: '1.00' }))).toMatchObject({ code: ErrorCode.InvalidArgument, field: 'refund.amont' })
    expect(sim.gatewayRequests.length).toBe(before)
  })
})

// ---- retries that cannot lose money --------------------------------------------------------------

describe('retries', () => {
  test.each([
    ['cut', {}],
    ['http_502', {}],
    ['delay', { delayMs: 1500 }],
  ])('a refund whose reply is lost (%s after applying) is retried with the same request: one refund, resolved as SUCCESS by the signed refund query', async (fault, extra) => {
    const alipay = account({ timeoutMs: 500 })
    const { outTradeNo } = await paidOrder(alipay)
    const outReturnNo = newId('R')
    sim.faults.add({ fault, afterApply: true, service: 'forex_refund', outReturnNo, ...extra })
    const r = await alipay.refund({ outTradeNo, outReturnNo, amount: '4.00', reason: 'lost reply' })
    expect(r).toMatchObject({ status: 'SUCCESS', signedByAlipay: true, outReturnNo, refund: { outReturnNo, refundResultCode: 'SUCCESS' } })

    expect(refundsOf(outTradeNo)).toHaveLength(1)
    expect(refundsOf(outTradeNo)[0]).toMatchObject({ outReturnNo, amount: '4.00', status: 'SUCCESS' })
    const tries = requestsOf('forex_refund', (p) => p.out_return_no === outReturnNo)
    expect(tries).toHaveLength(2)
    expect(tries[1].answer).toBe('F REPEATED_REFUNDMENT_REQUEST')
    expect(JSON.stringify(tries[1].params)).toBe(JSON.stringify(tries[0].params))
    expect(requestsOf('alipay.acquire.refund.query', (p) => p.out_return_no === outReturnNo)).toHaveLength(1)
  })

  test('without retries a lost refund reply is GATEWAY_UNREACHABLE ("nothing is known"), and refundStatus then finds the refund made', async () => {
    const alipay = account({ retries: 0 })
    const { outTradeNo } = await paidOrder(alipay)
    const outReturnNo = newId('R')
    sim.faults.add({ fault: 'cut', afterApply: true, service: 'forex_refund', outReturnNo })
    const err = await rejection(alipay.refund({ outTradeNo, outReturnNo, amount: '4.00', reason: 'r' }))
    expect(err.code).toBe(ErrorCode.GatewayUnreachable)
    expect(err.message).toMatch(/nothing is known of the outcome/)
    expect(err.cause).toMatchObject({ message: expect.any(String) })
    expect(await alipay.refundStatus({ outTradeNo, outReturnNo })).toMatchObject({ status: 'SUCCESS', signedByAlipay: true })
    expect(refundsOf(outTradeNo)).toHaveLength(1)
  })

  test('HTTP 502 is retried; when every try gets it the error is GATEWAY_UNREACHABLE after retries + 1 tries', async () => {
    const alipay = account({ retries: 2 })
    const { outTradeNo } = await paidOrder(alipay)
    sim.faults.add({ fault: 'http_502', service: 'single_trade_query', outTradeNo, times: 2 })
    expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'PAID', signedByAlipay: true })
    expect(requestsOf('single_trade_query', (p) => p.out_trade_no === outTradeNo)).toHaveLength(3)

    sim.faults.add({ fault: 'http_502', service: 'single_trade_query', outTradeNo, always: true })
    const err = await rejection(alipay.queryOrder({ outTradeNo }))
    expect(err).toMatchObject({ code: ErrorCode.GatewayUnreachable })
    expect(err.message).toMatch(/HTTP 502/)
    expect(requestsOf('single_trade_query', (p) => p.out_trade_no === outTradeNo)).toHaveLength(6)
  })

  test('a retryable gateway error (SYSTEM_ERROR) is asked again; a cut connection on a query too', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay)
    sim.faults.add({ fault: 'error', error: 'SYSTEM_ERROR', service: 'single_trade_query', outTradeNo })
    sim.faults.add({ fault: 'cut', service: 'single_trade_query', outTradeNo })
    expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'PAID', signedByAlipay: true })
    expect(requestsOf('single_trade_query', (p) => p.out_trade_no === outTradeNo)).toHaveLength(3)
  })
})

// ---- signatures on replies -------------------------------------------------------------------------

describe('a reply without a valid signature is never a state', () => {
  test.each([
    ['wrong_key', 'BAD_SIGNATURE', {}],
    ['unsigned', 'MISSING_SIGN', {}],
    ['tamper', 'BAD_SIGNATURE', { field: 'trade_status', value: 'TRADE_FINISHED' }],
  ])('%s on every try of a query for an unpaid order: ERR_ALIPAYHK_REPLY_SIGNATURE with reason %s, never PAID', async (fault, reason, extra) => {
    for (const signType of ['RSA2', 'MD5']) {
      const alipay = account({ signType })
      const { outTradeNo, orderStr } = orderStrFor(alipay)
      await sim.pay(orderStr, 'cancel')
      sim.faults.add({ fault, service: 'single_trade_query', outTradeNo, always: true, ...extra })
      const err = await rejection(alipay.queryOrder({ outTradeNo }))
      expect(err).toMatchObject({ code: ErrorCode.ReplySignature, reason })
      expect(err.message).not.toMatch(/BEGIN|PRIVATE/)
      expect(requestsOf('single_trade_query', (p) => p.out_trade_no === outTradeNo)).toHaveLength(3)
      sim.faults.clear()
      expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'WAIT_BUYER_PAY', signedByAlipay: true })
    }
  })

  test('a refund query tampered to SUCCESS for a refund that failed is refused: refundStatus rejects, never SUCCESS', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay)
    const outReturnNo = newId('R')
    sim.faults.add({ fault: 'refund_fail', outReturnNo })
    await alipay.refund({ outTradeNo, outReturnNo, amount: '1.00', reason: 'r', sync: false })
    await sim.waitForNotifications(1, { outReturnNo, notifyType: 'refund_status_sync' })
    sim.faults.add({ fault: 'tamper', service: 'alipay.acquire.refund.query', outReturnNo, field: 'refund_result_code', value: 'SUCCESS', always: true })
    expect(await rejection(alipay.refundStatus({ outTradeNo, outReturnNo }))).toMatchObject({ code: ErrorCode.ReplySignature, reason: 'BAD_SIGNATURE' })
  })

  test('one forged reply, then the genuine one: the state is the genuine, signed one', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay)
    sim.faults.add({ fault: 'wrong_key', service: 'single_trade_query', outTradeNo })
    expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'PAID', signedByAlipay: true })
    expect(requestsOf('single_trade_query', (p) => p.out_trade_no === outTradeNo)).toHaveLength(2)
  })

  test('changing any one byte of any signed field (value or name), adding or removing a field, or signing with the merchant key fails; indentation does not matter', async () => {
    const alipay = account({ signType: 'RSA2' })
    const { outTradeNo } = await paidOrder(alipay, { subject: 'Plain ASCII subject 42' })
    const text = await rawReply(alipay, 'single_trade_query', { out_trade_no: outTradeNo })
    const parse = (t) => alipay.parseGatewayReply('single_trade_query', t, { outTradeNo })
    expect(parse(text)).toMatchObject({ status: 'PAID', signedByAlipay: true })
    expect(independentlyVerified(text)).toBe(true)

    const inner = /<trade>(.*)<\/trade>/s.exec(text)
    const start = inner.index + '<trade>'.length
    const fields = [...inner[1].matchAll(/<([a-z_]+)>([^<]*)<\/\1>/g)]
    expect(fields.length).toBeGreaterThan(15)
    const other = (c) => (/[0-9]/.test(c) ? String((Number(c) + 1) % 10) : /[a-y]/i.test(c) ? String.fromCharCode(c.charCodeAt(0) + 1) : /[zZ]/.test(c) ? 'a' : 'x')
    let changed = 0
    for (const m of fields) {
      const [whole, name, value] = m
      const at = start + m.index
      for (let i = 0; i < value.length; i++) {
        const v = value.slice(0, i) + other(value[i]) + value.slice(i + 1)
        const t = text.slice(0, at) + `<${name}>${v}</${name}>` + text.slice(at + whole.length)
        expect(independentlyVerified(t)).toBe(false)
        expect([name, i, thrownBy(() => parse(t))]).toMatchObject([name, i, { code: ErrorCode.ReplySignature, reason: 'BAD_SIGNATURE' }])
        changed++
      }
      for (let i = 0; i < name.length; i++) {
        const n = name.slice(0, i) + other(name[i]) + name.slice(i + 1)
        const t = text.slice(0, at) + `<${n}>${value}</${n}>` + text.slice(at + whole.length)
        expect([name, i, thrownBy(() => parse(t))]).toMatchObject([name, i, { code: ErrorCode.ReplySignature, reason: 'BAD_SIGNATURE' }])
        changed++
      }
      // The field left out.
      const removed = text.slice(0, at) + text.slice(at + whole.length)
      expect([name, thrownBy(() => parse(removed))]).toMatchObject([name, { code: ErrorCode.ReplySignature, reason: 'BAD_SIGNATURE' }])
    }
    expect(changed).toBeGreaterThan(300)
    const added = text.replace('<trade>', '<trade><aaa_extra>1</aaa_extra>')
    expect(thrownBy(() => parse(added))).toMatchObject({ code: ErrorCode.ReplySignature, reason: 'BAD_SIGNATURE' })

    // Signed with the merchant's own key (the usual mix-up), over exactly the right content.
    const own = refSign('RSA2', sortedString(readReply(text).fields), { privateKey: MERCHANT_PRIVATE })
    const ownSigned = text.replace(/<sign>[^<]*<\/sign>/, `<sign>${own}</sign>`)
    expect(independentlyVerified(ownSigned, { publicKey: MERCHANT_PUBLIC })).toBe(true)
    expect(thrownBy(() => parse(ownSigned))).toMatchObject({ code: ErrorCode.ReplySignature, reason: 'BAD_SIGNATURE' })
    // Any byte of the signature itself.
    const sign = /<sign>([^<]*)<\/sign>/.exec(text)[1]
    for (let i = 0; i < sign.length - 2; i += 7) {
      const s = sign.slice(0, i) + (sign[i] === 'A' ? 'B' : 'A') + sign.slice(i + 1)
      expect(thrownBy(() => parse(text.replace(sign, s))).code).toBe(ErrorCode.ReplySignature)
    }
    // Whitespace and indentation between elements are outside the signature.
    const indented = text.replace(/></g, '>\n    <')
    expect(parse(indented)).toMatchObject({ status: 'PAID', signedByAlipay: true })
    // A reply about another order, signed, is refused.
    expect(thrownBy(() => alipay.parseGatewayReply('single_trade_query', text, { outTradeNo: 'SOMEONE-ELSE' })).code).toMatch(/^ERR_ALIPAYHK_/)
  })

  test('MD5: a refund query reply with any one byte of a signed field changed fails', async () => {
    const alipay = account({ signType: 'MD5' })
    const { outTradeNo } = await paidOrder(alipay)
    const outReturnNo = newId('R')
    await alipay.refund({ outTradeNo, outReturnNo, amount: '2.00', reason: 'r' })
    const text = await rawReply(alipay, 'alipay.acquire.refund.query', { out_trade_no: outTradeNo, out_return_no: outReturnNo })
    const parse = (t) => alipay.parseGatewayReply('alipay.acquire.refund.query', t, { outTradeNo, outReturnNo })
    expect(parse(text)).toMatchObject({ status: 'SUCCESS', signedByAlipay: true, signType: 'MD5' })
    expect(independentlyVerified(text)).toBe(true)
    const body = /<response><alipay>(.*)<\/alipay><\/response>/s.exec(text)
    const start = body.index + '<response><alipay>'.length
    let n = 0
    for (const m of body[1].matchAll(/<([a-z_]+)>([^<]*)<\/\1>/g)) {
      const [whole, name, value] = m
      for (let i = 0; i < value.length; i++) {
        const v = value.slice(0, i) + (value[i] === '0' ? '1' : '0') + value.slice(i + 1)
        const t = text.slice(0, start + m.index) + `<${name}>${v}</${name}>` + text.slice(start + m.index + whole.length)
        expect(independentlyVerified(t)).toBe(false)
        expect([name, i, thrownBy(() => parse(t))]).toMatchObject([name, i, { code: ErrorCode.ReplySignature, reason: 'BAD_SIGNATURE' }])
        n++
      }
    }
    expect(n).toBeGreaterThan(60)
  })
})

// ---- transport ---------------------------------------------------------------------------------------

describe('transport: time-outs, AbortSignal, an injected fetch', () => {
  test('no answer within timeoutMs on every try: ERR_ALIPAYHK_GATEWAY_UNREACHABLE with the cause, in bounded time', async () => {
    const alipay = account({ timeoutMs: 200, retries: 1, backoffMs: 10 })
    const { outTradeNo } = await paidOrder(alipay)
    sim.faults.add({ fault: 'delay', delayMs: 3000, service: 'single_trade_query', outTradeNo, always: true })
    const t0 = Date.now()
    const err = await rejection(alipay.queryOrder({ outTradeNo }))
    const took = Date.now() - t0
    expect(err).toMatchObject({ code: ErrorCode.GatewayUnreachable })
    expect(err.message).toMatch(/no answer within 200 ms/)
    expect(err.cause).toMatchObject({ name: expect.stringMatching(/TimeoutError|AbortError/) })
    expect(took).toBeGreaterThanOrEqual(400)
    expect(took).toBeLessThan(2500)
  })

  test('an AbortSignal ends the call at once with an AbortError; an aborted one sends nothing', async () => {
    const alipay = account({ timeoutMs: 10000 })
    const { outTradeNo } = await paidOrder(alipay)
    sim.faults.add({ fault: 'delay', delayMs: 3000, service: 'single_trade_query', outTradeNo })
    const controller = new AbortController()
    const t0 = Date.now()
    setTimeout(() => controller.abort(new Error('the customer left')), 100)
    const err = await rejection(alipay.queryOrder({ outTradeNo }, { signal: controller.signal }))
    expect(err.name).toBe('AbortError')
    expect(err.cause).toMatchObject({ message: 'the customer left' })
    expect(Date.now() - t0).toBeLessThan(1500)

    const before = sim.gatewayRequests.length
    const aborted = AbortSignal.abort()
    expect((await rejection(alipay.refund({ outTradeNo, outReturnNo: newId('R'), amount: '1.00', reason: 'r' }, { signal: aborted }))).name).toBe('AbortError')
    expect((await rejection(alipay.refundStatus({ outTradeNo, outReturnNo: 'R' }, { signal: aborted }))).name).toBe('AbortError')
    expect(sim.gatewayRequests.length).toBe(before)
    expect(refundsOf(outTradeNo)).toHaveLength(0)
  })

  test('an injected fetch is the one used, with what gatewayRequest built; a fake reply from it is not believed', async () => {
    const calls = []
    const spy = async (url, init) => {
      calls.push({ url, init })
      return fetch(url, init)
    }
    const alipay = account({ fetch: spy })
    const { outTradeNo } = await paidOrder(alipay)
    expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'PAID' })
    expect(calls).toHaveLength(1)
    const req = alipay.gatewayRequest('single_trade_query', { out_trade_no: outTradeNo })
    expect(calls[0].url.startsWith(`${sim.gatewayUrl}?`)).toBe(true)
    const sent = Object.fromEntries(new URL(calls[0].url).searchParams)
    expect(sent).toEqual(Object.fromEntries(new URL(req.url).searchParams))
    expect(sent.sign).toBe(refSign('RSA2', sortedString(sent)))
    expect(calls[0].init).toMatchObject({ method: 'GET', redirect: 'error' })
    expect(calls[0].init.signal).toBeInstanceOf(AbortSignal)

    // A mock (or a man in the middle) answering "paid" without Alipay's signature.
    const forged = `<?xml version="1.0" encoding="utf-8"?><alipay><is_success>T</is_success><response><trade><out_trade_no>${outTradeNo}</out_trade_no><trade_status>TRADE_FINISHED</trade_status></trade></response></alipay>`
    const liar = account({ fetch: async () => new Response(forged, { status: 200, headers: { 'content-type': 'text/xml' } }), retries: 0 })
    expect(await rejection(liar.queryOrder({ outTradeNo }))).toMatchObject({ code: ErrorCode.ReplySignature, reason: 'MISSING_SIGN' })
    const broken = account({ fetch: async () => Promise.reject(new TypeError('fetch failed')), retries: 1 })
    const err = await rejection(broken.queryOrder({ outTradeNo }))
    expect(err).toMatchObject({ code: ErrorCode.GatewayUnreachable, cause: { message: 'fetch failed' } })
    expect(thrownBy(() => account({ fetch: 'yes' }))).toMatchObject({ code: ErrorCode.InvalidArgument, field: 'config.fetch' })
  })

  test('a gateway nobody listens on: GATEWAY_UNREACHABLE with the connection error as the cause', async () => {
    const closed = http.createServer()
    await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = closed.address().port
    await new Promise((resolve) => closed.close(resolve))
    const alipay = account({ gateway: `http://127.0.0.1:${port}/gateway.do`, retries: 1 })
    const err = await rejection(alipay.queryOrder({ outTradeNo: 'A1' }))
    expect(err.code).toBe(ErrorCode.GatewayUnreachable)
    let c = err.cause
    const codes = []
    while (c) {
      codes.push(c.code)
      c = c.cause
    }
    expect(codes).toContain('ECONNREFUSED')
  })

  test('the gateway setting: production, sandbox, or an https URL; plain http only to a loopback host', () => {
    const make = (gateway) => new AlipayHK({ partner: PARTNER, signType: 'RSA2', privateKey: MERCHANT_PRIVATE, gateway })
    expect(make('production').gatewayUrl).toBe('https://intlmapi.alipay.com/gateway.do')
    expect(make('sandbox').gatewayUrl).toBe('https://mapi.alipaydev.com/gateway.do')
    expect(make(sim.gatewayUrl).gatewayUrl).toBe(sim.gatewayUrl)
    expect(thrownBy(() => make('http://gateway.example.com/gateway.do'))).toMatchObject({ field: 'config.gateway' })
  })
})

// ---- hostile replies -------------------------------------------------------------------------------

describe('hostile replies: each a coded error in bounded time and memory, never PAID', () => {
  const entityBomb =
    '<?xml version="1.0"?><!DOCTYPE alipay [<!ENTITY a "aaaaaaaaaa">' +
    Array.from({ length: 9 }, (_, i) => `<!ENTITY ${String.fromCharCode(98 + i)} "${`&${String.fromCharCode(97 + i)};`.repeat(10)}">`).join('') +
    ']><alipay><is_success>T</is_success><response><trade><trade_status>TRADE_FINISHED&j;</trade_status></trade></response></alipay>'
  const HOSTILE = [
    ['a DTD naming an outside file', { body: '<?xml version="1.0"?><!DOCTYPE alipay SYSTEM "http://127.0.0.1:9/evil.dtd"><alipay><is_success>T</is_success></alipay>' }, /DTD/],
    ['an entity bomb (a billion laughs)', { body: entityBomb }, /DTD/],
    ['a 100 MB body', { body: 'x'.repeat(1024), repeat: 100 * 1024 }, /at most 1048576 bytes/],
    ['10,000-deep nesting', { body: `<alipay><is_success>T</is_success><response><trade>${'<a>'.repeat(10000)}TRADE_FINISHED${'</a>'.repeat(10000)}</trade></response></alipay>` }, /nested/],
    ['an HTML error page with 200', { body: '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>', contentType: 'text/html' }, /HTML/],
    ['an HTML page with 404', { body: '<!DOCTYPE html><html><body>Not Found</body></html>', status: 404, contentType: 'text/html' }, /HTML/],
    ['an empty 200', { body: '', contentType: 'text/plain' }, /empty/],
    ['truncated XML', { body: '<?xml version="1.0" encoding="utf-8"?><alipay><is_success>T</is_success><response><trade><trade_status>TRADE_FINI' }, /truncated|ends/],
    ['duplicate <is_success>', { body: '<alipay><is_success>F</is_success><is_success>T</is_success></alipay>' }, /more than once/],
  ]

  /** A fetch that counts the bytes the library pulls from the body (one chunk at a time). */
  function countingFetch(counter) {
    return async (url, init) => {
      const res = await fetch(url, init)
      if (!res.body) return res
      const reader = res.body.getReader()
      const body = new ReadableStream(
        {
          async pull(controller) {
            const { done, value } = await reader.read()
            if (done) return controller.close()
            counter.bytes += value.length
            controller.enqueue(value)
          },
          cancel(reason) {
            return reader.cancel(reason)
          },
        },
        { highWaterMark: 0 },
      )
      return new Response(body, { status: res.status, headers: res.headers })
    }
  }

  test.each(HOSTILE)('%s', async (_, raw, message) => {
    const counter = { bytes: 0 }
    const alipay = account({ fetch: countingFetch(counter), retries: 1, timeoutMs: 10000 })
    const { outTradeNo } = await paidOrder(alipay)
    sim.faults.add({ fault: 'raw', service: 'single_trade_query', outTradeNo, always: true, ...raw })
    const heap = process.memoryUsage().heapUsed
    const t0 = Date.now()
    const err = await rejection(alipay.queryOrder({ outTradeNo }))
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(err.code).toBe(ErrorCode.MalformedReply)
    expect(err.message).toMatch(message)
    expect(counter.bytes).toBeLessThan(2 * (1024 * 1024 + 64 * 1024)) // two tries, each read no further than the limit
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 * 1024 * 1024)
  })

  test('a genuine signed reply for an unpaid order with a second <trade_status>TRADE_FINISHED</trade_status> added: refused, never PAID', async () => {
    const alipay = account()
    const { outTradeNo, orderStr } = orderStrFor(alipay)
    await sim.pay(orderStr, 'cancel')
    const text = await rawReply(alipay, 'single_trade_query', { out_trade_no: outTradeNo })
    expect(alipay.parseGatewayReply('single_trade_query', text, { outTradeNo }).status).toBe('WAIT_BUYER_PAY')
    for (const doubled of [
      text.replace('<trade_status>WAIT_BUYER_PAY</trade_status>', '<trade_status>WAIT_BUYER_PAY</trade_status><trade_status>TRADE_FINISHED</trade_status>'),
      text.replace('<trade_status>WAIT_BUYER_PAY</trade_status>', '<trade_status>TRADE_FINISHED</trade_status><trade_status>WAIT_BUYER_PAY</trade_status>'),
      text.replace('</trade></response>', '</trade><trade><trade_status>TRADE_FINISHED</trade_status></trade></response>'),
      text.replace('</response>', '</response><response><trade><trade_status>TRADE_FINISHED</trade_status></trade></response>'),
    ]) {
      expect(doubled).not.toBe(text)
      sim.faults.add({ fault: 'raw', service: 'single_trade_query', outTradeNo, always: true, body: doubled })
      expect(await rejection(alipay.queryOrder({ outTradeNo }))).toMatchObject({ code: ErrorCode.MalformedReply })
      sim.faults.clear()
    }
  })

  test('a genuine PAID reply cut at every byte: a coded error each time, never a state', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay)
    const text = await rawReply(alipay, 'single_trade_query', { out_trade_no: outTradeNo })
    const bytes = Buffer.from(text)
    expect(alipay.parseGatewayReply('single_trade_query', bytes, { outTradeNo }).status).toBe('PAID')
    const seen = new Set()
    for (let n = 0; n < bytes.length; n++) {
      const err = thrownBy(() => alipay.parseGatewayReply('single_trade_query', bytes.subarray(0, n), { outTradeNo }))
      expect([n, err.code]).toEqual([n, ErrorCode.MalformedReply])
      seen.add(err.code)
    }
    expect([...seen]).toEqual([ErrorCode.MalformedReply])
    // And once over HTTP.
    sim.faults.add({ fault: 'raw', service: 'single_trade_query', outTradeNo, always: true, body: text.slice(0, text.length - 20) })
    expect(await rejection(alipay.queryOrder({ outTradeNo }))).toMatchObject({ code: ErrorCode.MalformedReply })
  })
})

// ---- request signing ------------------------------------------------------------------------------

describe('request signing (§8.1)', () => {
  const VECTOR_PARTNER = '2088101122136241'
  const VECTOR_KEY = '760bdzec6y9goq7ctyx96ezkz78287de'

  test('MD5 equals the published vectors exactly', () => {
    const settings = { partner: VECTOR_PARTNER, signType: 'MD5', md5Key: VECTOR_KEY }
    const q = gatewayRequest('single_trade_query', { out_trade_no: 'SAMPLE_TRANSACTION_ID' }, settings)
    expect(q.signContent).toBe('_input_charset=utf-8&out_trade_no=SAMPLE_TRANSACTION_ID&partner=2088101122136241&service=single_trade_query')
    expect(q.params.sign).toBe('d4d3825356fd0799ee16829acffc1460')
    expect(q.url).toBe(
      'https://intlmapi.alipay.com/gateway.do?_input_charset=utf-8&out_trade_no=SAMPLE_TRANSACTION_ID&partner=2088101122136241&service=single_trade_query&sign=d4d3825356fd0799ee16829acffc1460&sign_type=MD5',
    )
    expect(q.method).toBe('GET')

    const refund = { out_return_no: 'SAMPLE_REFUND_ID', out_trade_no: 'SAMPLE_TRANSACTION_ID', return_rmb_amount: '200.00', currency: 'USD', reason: 'hello' }
    const expected =
      '_input_charset=utf-8&currency=USD&gmt_return=20150320120000&out_return_no=SAMPLE_REFUND_ID&out_trade_no=SAMPLE_TRANSACTION_ID&partner=2088101122136241&reason=hello&return_rmb_amount=200.00&service=forex_refund'
    // gmt_return given, or filled in from the clock (2015-03-20 12:00:00 in GMT+8).
    const given = gatewayRequest('forex_refund', { ...refund, gmt_return: '20150320120000' }, { ...settings, gmtReturnFormat: 'yyyyMMddHHmmss' })
    const clocked = gatewayRequest('forex_refund', refund, { ...settings, gmtReturnFormat: 'yyyyMMddHHmmss', now: Date.UTC(2015, 2, 20, 4, 0, 0) })
    for (const r of [given, clocked]) {
      expect(r.signContent).toBe(expected)
      expect(r.params.sign).toBe('a77e894e71491f41e73ebe40319cc300')
    }
    // The reference here agrees with the vectors too (so it can judge the random sets below).
    expect(refSign('MD5', expected, { md5Key: VECTOR_KEY })).toBe('a77e894e71491f41e73ebe40319cc300')
  })

  test('RSA and RSA2 equal node:crypto on random parameter sets (GET and POST, every service)', () => {
    const rand = mulberry32(0x14_2024)
    const pick = (xs) => xs[Math.floor(rand() * xs.length)]
    const ALPHABET = [...'abcXYZ019 _-.&=+%#?/:;,!*()[]{}@$~^|\\\'<>', '港', '式', '奶', '茶', 'é', 'ß', '😀', '\u00a0']
    const text = (min, max) => Array.from({ length: min + Math.floor(rand() * (max - min + 1)) }, () => pick(ALPHABET)).join('')
    const id = (max) => Array.from({ length: 1 + Math.floor(rand() * max) }, () => pick([...'ABCxyz0129_-'])).join('')
    const amount = () => `${Math.floor(rand() * 100000)}.${String(Math.floor(rand() * 100)).padStart(2, '0')}`.replace(/^0\./, '1.')
    const pairs = {
      RSA: crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }),
      RSA2: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
    }
    let checked = 0
    for (let i = 0; i < 48; i++) {
      const signType = i % 2 ? 'RSA' : 'RSA2'
      const method = i % 3 === 0 ? 'POST' : 'GET'
      const format = i % 4 < 2 ? 'yyyy-MM-dd HH:mm:ss' : 'yyyyMMddHHmmss'
      const privateKey = pairs[signType].privateKey.export({ type: 'pkcs8', format: 'pem' })
      const partner = '2088' + String(Math.floor(rand() * 1e12)).padStart(12, '0')
      const now = Date.UTC(2020, 0, 1) + Math.floor(rand() * 5 * 365 * 86400) * 1000
      const service = pick(['single_trade_query', 'forex_refund', 'alipay.acquire.refund.query'])
      let params
      if (service === 'single_trade_query') params = rand() < 0.5 ? { out_trade_no: id(64) } : { trade_no: id(64), out_trade_no: rand() < 0.5 ? id(64) : undefined }
      else if (service === 'alipay.acquire.refund.query') params = { out_trade_no: id(64), out_return_no: id(64) }
      else {
        params = { out_return_no: id(64), out_trade_no: id(64), return_amount: amount(), currency: pick(['HKD', 'USD']), reason: text(1, 100), is_sync: pick(['Y', 'N', undefined]) }
        if (rand() < 0.3) params.notify_url = `https://shop.example.com/refund/${id(20)}?x=${id(5)}`
        if (rand() < 0.3) params.gmt_return = gmt8(now - 60000, format)
      }
      const req = gatewayRequest(service, params, { partner, signType, privateKey, method, gmtReturnFormat: format, now, gateway: 'sandbox' })

      const expected = { _input_charset: 'utf-8', partner, service }
      for (const [k, v] of Object.entries(params)) if (v !== undefined) expected[k] = v
      if (service === 'forex_refund' && !expected.gmt_return) expected.gmt_return = gmt8(now, format)
      const content = sortedString(expected)
      expect(req.signContent).toBe(content)
      const sign = refSign(signType, content, { privateKey })
      expect(req.params).toEqual({ ...expected, sign, sign_type: signType })
      expect(crypto.verify(HASH[signType], Buffer.from(content, 'utf8'), pairs[signType].publicKey, Buffer.from(req.params.sign, 'base64'))).toBe(true)

      // On the wire, decoded, the same parameters: in the query string (GET) or the body (POST).
      const url = new URL(req.url)
      expect(url.origin + url.pathname).toBe('https://mapi.alipaydev.com/gateway.do')
      const wire = method === 'GET' ? Object.fromEntries(url.searchParams) : Object.fromEntries(new URLSearchParams(req.body))
      if (method === 'POST') {
        expect(req.method).toBe('POST')
        expect(url.searchParams.get('_input_charset')).toBe('utf-8')
        expect(req.headers['Content-Type']).toMatch(/application\/x-www-form-urlencoded/)
      }
      expect(wire).toEqual({ ...expected, sign, sign_type: signType })
      checked++
    }
    expect(checked).toBe(48)
  })

  test('signed requests are accepted by the simulator (an independent verifier); notify_verify is unsigned', async () => {
    const alipay = account({ signType: 'RSA' })
    const { outTradeNo } = await paidOrder(alipay)
    const req = alipay.gatewayRequest('single_trade_query', { out_trade_no: outTradeNo })
    const res = await fetch(req.url)
    expect(readReply(await res.text())).toMatchObject({ isSuccess: 'T', signType: 'RSA' })
    const nv = gatewayRequest('notify_verify', { notify_id: 'abc' }, { partner: PARTNER, gateway: sim.gatewayUrl })
    expect(Object.fromEntries(new URL(nv.url).searchParams)).toEqual({ _input_charset: 'utf-8', notify_id: 'abc', partner: PARTNER, service: 'notify_verify' })
    expect(nv.signContent).toBe('')
  })
})

// ---- gateway errors ---------------------------------------------------------------------------------

describe('gateway errors say what usually causes them', () => {
  test('ILLEGAL_PARTNER_EXTERFACE: no contract for the service (not retried)', async () => {
    const alipay = account()
    const { outTradeNo } = await paidOrder(alipay)
    sim.setSettings({ contractedServices: ['single_trade_query', 'notify_verify'] })
    const outReturnNo = newId('R')
    const err = await rejection(alipay.refund({ outTradeNo, outReturnNo, amount: '1.00', reason: 'r' }))
    expect(err).toMatchObject({ code: ErrorCode.GatewayError, gatewayError: 'ILLEGAL_PARTNER_EXTERFACE', retryable: false })
    expect(err.message).toMatch(/no contract for this service/)
    expect(err.explanation).toMatch(/no contract for this service/)
    expect(requestsOf('forex_refund', (p) => p.out_return_no === outReturnNo)).toHaveLength(1)
    expect(await alipay.queryOrder({ outTradeNo })).toMatchObject({ status: 'PAID' })
  })

  test('ILLEGAL_SIGN: a key the gateway does not have on file', async () => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })
    const alipay = account({ privateKey: other })
    const err = await rejection(alipay.queryOrder({ outTradeNo: 'A1' }))
    expect(err).toMatchObject({ code: ErrorCode.GatewayError, gatewayError: 'ILLEGAL_SIGN', retryable: false })
    expect(err.message).toMatch(/key or sign type/)
    expect(err.message).not.toMatch(/BEGIN|PRIVATE KEY/)
  })

  test('parseGatewayReply alone: an <error> reply is thrown with gatewayError; TRADE_NOT_EXIST is NOT_FOUND', () => {
    const key = { alipayPublicKey: ALIPAY_PUBLIC }
    const err = thrownBy(() => parseGatewayReply('forex_refund', '<?xml version="1.0" encoding="utf-8"?><alipay><is_success>F</is_success><error>ILLEGAL_PARTNER_EXTERFACE</error></alipay>', key))
    expect(err).toMatchObject({ code: ErrorCode.GatewayError, gatewayError: 'ILLEGAL_PARTNER_EXTERFACE', retryable: false })
    expect(err.message).toMatch(/no contract for this service/)
    expect(parseGatewayReply('single_trade_query', '<alipay><is_success>F</is_success><error>TRADE_NOT_EXIST</error></alipay>', key)).toMatchObject({
      status: 'NOT_FOUND',
      signedByAlipay: false,
    })
    expect(parseGatewayReply('forex_refund', '<alipay><is_success>T</is_success></alipay>', key)).toMatchObject({ status: 'ACCEPTED', signedByAlipay: false })
  })
})
