// The simulator's gateway services (docs/protocol.md §8), checked from outside: requests are signed here
// with node:crypto, replies are parsed with fast-xml-parser and their signatures checked with
// node:crypto, notifications are received by a plain node:http server in this file.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { XMLParser } = require('fast-xml-parser')

const { startSimulator, signContent } = require('../simulator')

jest.setTimeout(20000)

const KEYS = path.join(__dirname, '..', 'examples', 'test-keys')
const readKey = (name) => fs.readFileSync(path.join(KEYS, name), 'utf8')
const MERCHANT_PRIVATE = readKey('merchant_private_key.TEST-ONLY.pem')
const MERCHANT_PUBLIC = readKey('merchant_public_key.TEST-ONLY.pem')
const ALIPAY_PRIVATE = readKey('alipay_private_key.TEST-ONLY.pem')
const ALIPAY_PUBLIC = readKey('alipay_public_key.TEST-ONLY.pem')
const PARTNER = '2088101122136241' // the partner of the published vectors
const MD5_KEY = '760bdzec6y9goq7ctyx96ezkz78287de' // the key of the published vectors

// ---- Independent helpers: signing, parsing, verifying ----

const HASH = { RSA: 'sha1', RSA2: 'sha256' }

// docs/protocol.md §8.1, written again here: sorted by name, empty values out, name=value, no quotes.
function sortedString(params) {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== '' && params[k] !== undefined)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&')
}

function md5Hex(text) {
  return crypto.createHash('md5').update(text, 'utf8').digest('hex')
}

function sign(signType, content, { privateKey = MERCHANT_PRIVATE, md5Key = MD5_KEY } = {}) {
  if (signType === 'MD5') return md5Hex(content + md5Key)
  return crypto.sign(HASH[signType], Buffer.from(content, 'utf8'), privateKey).toString('base64')
}

function signedParams(params, signType = 'RSA', keys) {
  return { ...params, sign: sign(signType, sortedString(params), keys), sign_type: signType }
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  isArray: (name, jpath) => jpath === 'alipay.request.param',
})

/** { isSuccess, error, request, element, fields, sign, signType, doc } of a reply's XML text. */
function parseReply(text) {
  const doc = parser.parse(text)
  expect(doc).toHaveProperty('alipay')
  const a = doc.alipay
  const reply = { isSuccess: a.is_success, error: a.error, sign: a.sign, signType: a.sign_type, doc: a }
  if (a.request) reply.request = Object.fromEntries(a.request.param.map((p) => [p['@name'], p['#text'] ?? '']))
  if (a.response) {
    const [element] = Object.keys(a.response)
    reply.element = element
    reply.fields = a.response[element]
  }
  return reply
}

/** Checks a reply's signature by 8.2: the fields of the element inside <response>, sorted. */
function replySignatureValid(reply, { publicKey = ALIPAY_PUBLIC, md5Key = MD5_KEY } = {}) {
  if (!reply.sign || !reply.fields) return false
  const content = sortedString(reply.fields)
  if (reply.signType === 'MD5') return md5Hex(content + md5Key) === reply.sign
  return crypto.verify(HASH[reply.signType], Buffer.from(content, 'utf8'), publicKey, Buffer.from(reply.sign, 'base64'))
}

function notificationSignatureValid(fields, { publicKey = ALIPAY_PUBLIC, md5Key = MD5_KEY } = {}) {
  const content = sortedString(fields)
  if (fields.sign_type === 'MD5') return md5Hex(content + md5Key) === fields.sign
  return crypto.verify(HASH[fields.sign_type], Buffer.from(content, 'utf8'), publicKey, Buffer.from(fields.sign, 'base64'))
}

/** One HTTP exchange on a fresh connection; resolves { status, headers, bytes, text } or rejects with the socket error. */
function httpRequest(url, { method = 'GET', body, headers = {}, timeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? null : Buffer.from(body)
    const req = http.request(url, { method, agent: false, headers: payload ? { 'content-length': payload.length, ...headers } : headers }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const bytes = Buffer.concat(chunks)
        resolve({ status: res.statusCode, headers: res.headers, bytes, text: bytes.toString('utf8') })
      })
      res.on('error', reject)
    })
    if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })))
    req.on('error', reject)
    req.end(payload)
  })
}

/** A signed gateway call; `method: 'POST'` sends a form with `_input_charset` in the URL too. */
function callGateway(sim, params, { signType = 'RSA', keys, method = 'GET', raw, timeoutMs, charsetInUrl = true } = {}) {
  const signed = raw || signedParams({ _input_charset: 'utf-8', partner: PARTNER, ...params }, signType, keys)
  const form = new URLSearchParams(signed).toString()
  if (method === 'POST') {
    const url = charsetInUrl ? `${sim.gatewayUrl}?_input_charset=utf-8` : sim.gatewayUrl
    return httpRequest(url, { method, body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' }, timeoutMs })
  }
  return httpRequest(`${sim.gatewayUrl}?${form}`, { timeoutMs })
}

async function gateway(sim, params, options) {
  const res = await callGateway(sim, params, options)
  expect(res.status).toBe(200)
  return parseReply(res.text)
}

/** A merchant's notify_url: records every POST, answers from `answers` in turn, then `success`. */
async function startReceiver() {
  const received = []
  const answers = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      received.push({ body, fields: Object.fromEntries(new URLSearchParams(body)) })
      res.end(answers.length ? answers.shift() : 'success')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/notify`,
    received,
    answers,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  }
}

function orderStr(params, signType = 'RSA', keys) {
  const pre = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${v}"`)
    .join('&')
  return `${pre}&sign="${encodeURIComponent(sign(signType, pre, keys))}"&sign_type="${signType}"`
}

let orderCount = 0
function order(receiver, overrides = {}) {
  orderCount++
  return {
    service: 'mobile.securitypay.pay',
    partner: PARTNER,
    _input_charset: 'utf-8',
    notify_url: receiver.url,
    out_trade_no: `T${Date.now()}${orderCount}`,
    subject: '雞蛋仔 Egg waffle',
    payment_type: '1',
    seller_id: PARTNER,
    total_fee: '25.00',
    currency: 'HKD',
    forex_biz: 'FP',
    product_code: 'NEW_WAP_OVERSEAS_SELLER',
    payment_inst: 'ALIPAYHK',
    ...overrides,
  }
}

async function payOrder(sim, receiver, overrides, signType = 'RSA') {
  const o = order(receiver, overrides)
  const paid = await sim.pay(orderStr(o, signType), 'pay')
  expect(paid.status).toBe(200)
  await sim.waitForNotifications(1, { outTradeNo: o.out_trade_no, timeoutMs: 5000 })
  return { ...o, tradeNo: paid.tradeNo }
}

function refundParams(outTradeNo, outReturnNo, amount, extra = {}) {
  return {
    service: 'forex_refund',
    out_trade_no: outTradeNo,
    out_return_no: outReturnNo,
    return_amount: amount,
    currency: 'HKD',
    gmt_return: '2024-05-01 12:00:00',
    reason: 'customer returned it',
    is_sync: 'Y',
    ...extra,
  }
}

const refundQuery = (outTradeNo, outReturnNo) => ({ service: 'alipay.acquire.refund.query', out_trade_no: outTradeNo, out_return_no: outReturnNo })

function baseOptions(extra = {}) {
  return {
    merchantPublicKey: MERCHANT_PUBLIC,
    md5Key: MD5_KEY,
    alipayPrivateKey: ALIPAY_PRIVATE,
    retryDelaysMs: [20, 20, 20],
    refundSpacingMs: 0,
    ...extra,
  }
}

// ---- The shared simulator and merchant ----

let sim
let receiver
beforeAll(async () => {
  receiver = await startReceiver()
  sim = await startSimulator(baseOptions())
})
afterAll(async () => {
  await sim.close()
  await receiver.close()
})
afterEach(() => {
  sim.faults.clear()
  sim.setSettings({ refundSpacingMs: 0, replyCharset: 'utf-8', replyIndent: false, refundProcessingMs: 0 })
})

describe('requests are checked by the signing rule of docs/protocol.md §8.1', () => {
  const vectors = [
    {
      params: { service: 'single_trade_query', partner: PARTNER, _input_charset: 'utf-8', out_trade_no: 'SAMPLE_TRANSACTION_ID' },
      string: '_input_charset=utf-8&out_trade_no=SAMPLE_TRANSACTION_ID&partner=2088101122136241&service=single_trade_query',
      md5: 'd4d3825356fd0799ee16829acffc1460',
      answer: 'TRADE_NOT_EXIST',
    },
    {
      params: {
        service: 'forex_refund',
        partner: PARTNER,
        _input_charset: 'utf-8',
        out_return_no: 'SAMPLE_REFUND_ID',
        out_trade_no: 'SAMPLE_TRANSACTION_ID',
        return_rmb_amount: '200.00',
        currency: 'USD',
        gmt_return: '20150320120000',
        reason: 'hello',
      },
      string:
        '_input_charset=utf-8&currency=USD&gmt_return=20150320120000&out_return_no=SAMPLE_REFUND_ID&out_trade_no=SAMPLE_TRANSACTION_ID&partner=2088101122136241&reason=hello&return_rmb_amount=200.00&service=forex_refund',
      md5: 'a77e894e71491f41e73ebe40319cc300',
      answer: 'PURCHASE_TRADE_NOT_EXIST',
    },
  ]

  test.each(vectors)('the published vector for $params.service: the sorted string and its MD5', ({ params, string, md5 }) => {
    expect(signContent({ ...params, sign: 'x', sign_type: 'MD5', empty: '' })).toBe(string)
    expect(md5Hex(string + MD5_KEY)).toBe(md5)
  })

  test.each(vectors)('the published signature for $params.service passes, one changed digit does not', async ({ params, md5, answer }) => {
    const good = await gateway(sim, null, { raw: { ...params, sign: md5, sign_type: 'MD5' } })
    expect(good).toMatchObject({ isSuccess: 'F', error: answer })
    const flipped = md5.slice(0, -1) + (md5.endsWith('0') ? '1' : '0')
    const bad = await gateway(sim, null, { raw: { ...params, sign: flipped, sign_type: 'MD5' } })
    expect(bad).toMatchObject({ isSuccess: 'F', error: 'ILLEGAL_SIGN' })
  })

  test('random parameter sets signed here with MD5, RSA and RSA2 pass; a changed value fails', async () => {
    const rand = (n) => crypto.randomBytes(n).toString('base64url')
    const alphabet = ['a', 'Z', '9', ' ', '+', '&', '=', '%', '雞', 'é', '/', '?', '😀']
    for (let i = 0; i < 12; i++) {
      const noise = Array.from({ length: 1 + (i % 5) }, () => alphabet[crypto.randomInt(alphabet.length)]).join('')
      const params = { service: 'single_trade_query', out_trade_no: `R${rand(6)}`, [`x_${rand(3)}`]: noise, empty_one: '' }
      const signType = ['MD5', 'RSA', 'RSA2'][i % 3]
      const method = i % 2 ? 'POST' : 'GET'
      const ok = await gateway(sim, params, { signType, method })
      expect(ok).toMatchObject({ isSuccess: 'F', error: 'TRADE_NOT_EXIST' })
      const signed = signedParams({ _input_charset: 'utf-8', partner: PARTNER, ...params }, signType)
      const tampered = await gateway(sim, null, { raw: { ...signed, out_trade_no: signed.out_trade_no + 'x' }, method })
      expect(tampered).toMatchObject({ isSuccess: 'F', error: 'ILLEGAL_SIGN' })
    }
  })

  test('a request signed with a key that is not the merchant\'s is ILLEGAL_SIGN', async () => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey
    const reply = await gateway(sim, { service: 'single_trade_query', out_trade_no: 'X1' }, { keys: { privateKey: other } })
    expect(reply).toMatchObject({ isSuccess: 'F', error: 'ILLEGAL_SIGN' })
  })

  test.each([
    ['no service', 'ILLEGAL_SERVICE', { service: '' }],
    ['an unknown service', 'ILLEGAL_SERVICE', { service: 'alipay.trade.close' }],
    ['a partner that is not 2088 + 12 digits', 'ILLEGAL_PARTNER', { partner: '208810112213624' }],
    ['_input_charset gbk', 'ILLEGAL_CHARSET', { _input_charset: 'gbk' }],
    ['no out_trade_no nor trade_no', 'ILLEGAL_ARGUMENT', { out_trade_no: '' }],
  ])('%s is %s', async (_, error, change) => {
    const reply = await gateway(sim, null, { raw: signedParams({ service: 'single_trade_query', partner: PARTNER, _input_charset: 'utf-8', out_trade_no: 'X2', ...change }, 'MD5') })
    expect(reply).toMatchObject({ isSuccess: 'F', error })
    expect(reply.fields).toBeUndefined()
  })

  test('a sign_type that is not RSA, RSA2 or MD5 is ILLEGAL_SIGN_TYPE; a missing sign is ILLEGAL_SIGN', async () => {
    const base = { service: 'single_trade_query', partner: PARTNER, _input_charset: 'utf-8', out_trade_no: 'X3' }
    expect(await gateway(sim, null, { raw: { ...base, sign: 'abc', sign_type: 'DSA' } })).toMatchObject({ error: 'ILLEGAL_SIGN_TYPE' })
    expect(await gateway(sim, null, { raw: { ...base, sign_type: 'RSA' } })).toMatchObject({ error: 'ILLEGAL_SIGN' })
  })

  test('a sign type with no key on file is ILLEGAL_SECURITY_PROFILE; a service without contract ILLEGAL_PARTNER_EXTERFACE', async () => {
    const rsaOnly = await startSimulator(baseOptions({ md5Key: undefined, contractedServices: ['single_trade_query', 'notify_verify'] }))
    try {
      expect(await gateway(rsaOnly, { service: 'single_trade_query', out_trade_no: 'X4' }, { signType: 'MD5' })).toMatchObject({ error: 'ILLEGAL_SECURITY_PROFILE' })
      expect(await gateway(rsaOnly, { service: 'single_trade_query', out_trade_no: 'X4' }, { signType: 'RSA' })).toMatchObject({ error: 'TRADE_NOT_EXIST' })
      expect(await gateway(rsaOnly, refundParams('X4', 'R4', '1.00'), { signType: 'RSA' })).toMatchObject({ error: 'ILLEGAL_PARTNER_EXTERFACE' })
    } finally {
      await rsaOnly.close()
    }
  })

  test('a POST form whose URL does not name _input_charset is read as GBK: non-ASCII values then fail the signature', async () => {
    const params = { service: 'single_trade_query', out_trade_no: 'X5', note: '雞蛋仔' }
    expect(await gateway(sim, params, { method: 'POST', charsetInUrl: true })).toMatchObject({ error: 'TRADE_NOT_EXIST' })
    expect(await gateway(sim, params, { method: 'POST', charsetInUrl: false })).toMatchObject({ error: 'ILLEGAL_SIGN' })
    expect(await gateway(sim, { ...params, note: 'ascii' }, { method: 'POST', charsetInUrl: false })).toMatchObject({ error: 'TRADE_NOT_EXIST' })
  })

  test('a parameter sent twice with two values is ILLEGAL_ARGUMENT', async () => {
    const signed = signedParams({ service: 'single_trade_query', partner: PARTNER, _input_charset: 'utf-8', out_trade_no: 'X6' }, 'MD5')
    const res = await httpRequest(`${sim.gatewayUrl}?${new URLSearchParams(signed)}&out_trade_no=X7`)
    expect(parseReply(res.text)).toMatchObject({ isSuccess: 'F', error: 'ILLEGAL_ARGUMENT' })
  })
})

describe('single_trade_query answers with the trade, signed by 8.2', () => {
  test('an order nobody has paid is TRADE_NOT_EXIST, unsigned', async () => {
    const reply = await gateway(sim, { service: 'single_trade_query', out_trade_no: 'NEVER_SEEN' })
    expect(reply).toMatchObject({ isSuccess: 'F', error: 'TRADE_NOT_EXIST' })
    expect(reply.sign).toBeUndefined()
  })

  test.each(['RSA', 'RSA2', 'MD5'])('a paid order, asked with %s: TRADE_FINISHED, the request echoed, the signature valid', async (signType) => {
    const o = await payOrder(sim, receiver, { subject: 'Tom & Jerry <café> 雞蛋仔' })
    const reply = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no }, { signType })
    expect(reply).toMatchObject({ isSuccess: 'T', element: 'trade', signType })
    expect(reply.request).toEqual({ _input_charset: 'utf-8', partner: PARTNER, service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(reply.fields).toMatchObject({
      out_trade_no: o.out_trade_no,
      trade_no: o.tradeNo,
      trade_status: 'TRADE_FINISHED',
      total_fee: '25.00',
      subject: 'Tom & Jerry <café> 雞蛋仔',
      to_buyer_fee: '0.00',
      to_seller_fee: '25.00',
      buyer_email: 'hk***@alitest.com',
    })
    expect(replySignatureValid(reply)).toBe(true)
    // The same check with the merchant's own public key (the classic mistake) fails.
    expect(replySignatureValid(reply, { publicKey: MERCHANT_PUBLIC, md5Key: 'wrong' })).toBe(false)
    // is_success and <request> are outside the signature; any signed field is inside it.
    expect(replySignatureValid({ ...reply, fields: { ...reply.fields, trade_status: 'TRADE_SUCCESS' } })).toBe(false)
  })

  test('trade_no wins over out_trade_no', async () => {
    const a = await payOrder(sim, receiver)
    const b = await payOrder(sim, receiver)
    const reply = await gateway(sim, { service: 'single_trade_query', trade_no: b.tradeNo, out_trade_no: a.out_trade_no })
    expect(reply.fields.out_trade_no).toBe(b.out_trade_no)
    expect(replySignatureValid(reply)).toBe(true)
  })

  test('an order the payer cancelled is WAIT_BUYER_PAY; closed, TRADE_CLOSED and no longer payable', async () => {
    const o = order(receiver)
    expect((await sim.pay(orderStr(o), 'cancel')).status).toBe(200)
    const waiting = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(waiting.fields).toMatchObject({ trade_status: 'WAIT_BUYER_PAY', to_seller_fee: '0.00' })
    expect(waiting.fields.gmt_payment).toBeUndefined()
    expect(replySignatureValid(waiting)).toBe(true)
    sim.closeTrade(o.out_trade_no)
    const closed = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(closed.fields.trade_status).toBe('TRADE_CLOSED')
    expect((await sim.pay(orderStr(o), 'pay')).json).toMatchObject({ error: 'TRADE_HAS_CLOSED' })
  })

  test('indented replies carry the same signed fields', async () => {
    const o = await payOrder(sim, receiver)
    sim.setSettings({ replyIndent: true })
    const res = await callGateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(res.text).toMatch(/\n {6}<trade_no>/)
    expect(replySignatureValid(parseReply(res.text))).toBe(true)
  })
})

describe('forex_refund: partial refunds up to the paid amount, one per out_return_no', () => {
  test('refunds add up to at most the paid amount; beyond it RETURN_AMOUNT_EXCEED; the query shows the sum', async () => {
    const o = await payOrder(sim, receiver)
    expect(await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-r1`, '10.00'))).toEqual(expect.objectContaining({ isSuccess: 'T' }))
    expect(await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-r2`, '10'))).toMatchObject({ isSuccess: 'T' })
    expect(await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-r3`, '5.01'))).toMatchObject({ isSuccess: 'F', error: 'RETURN_AMOUNT_EXCEED' })
    expect(await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-r3`, '5.00'))).toMatchObject({ isSuccess: 'T' })
    expect(await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-r4`, '0.01'))).toMatchObject({ isSuccess: 'F', error: 'RETURN_AMOUNT_EXCEED' })
    const q = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(q.fields).toMatchObject({ to_buyer_fee: '25.00', total_fee: '25.00' })
    expect(replySignatureValid(q)).toBe(true)
  })

  test('the forex_refund reply is is_success alone: no <response>, nothing signed', async () => {
    const o = await payOrder(sim, receiver)
    const res = await callGateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-r1`, '1.00'))
    const reply = parseReply(res.text)
    expect(reply).toMatchObject({ isSuccess: 'T' })
    expect(reply.doc.response).toBeUndefined()
    expect(reply.sign).toBeUndefined()
  })

  test('a second request with the same out_return_no is REPEATED_REFUNDMENT_REQUEST, same amount or not, and refunds nothing', async () => {
    const o = await payOrder(sim, receiver)
    const id = `${o.out_trade_no}-once`
    expect(await gateway(sim, refundParams(o.out_trade_no, id, '3.00'))).toMatchObject({ isSuccess: 'T' })
    expect(await gateway(sim, refundParams(o.out_trade_no, id, '3.00'))).toMatchObject({ isSuccess: 'F', error: 'REPEATED_REFUNDMENT_REQUEST' })
    expect(await gateway(sim, refundParams(o.out_trade_no, id, '4.00'))).toMatchObject({ isSuccess: 'F', error: 'REPEATED_REFUNDMENT_REQUEST' })
    const q = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(q.fields.to_buyer_fee).toBe('3.00')
  })

  test('CURRENCY_NOT_SAME, and PURCHASE_TRADE_NOT_EXIST for an unknown or unpaid order', async () => {
    const o = await payOrder(sim, receiver)
    expect(await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-usd`, '1.00', { currency: 'USD' }))).toMatchObject({ error: 'CURRENCY_NOT_SAME' })
    expect(await gateway(sim, refundParams('NO_SUCH_ORDER', 'NO_SUCH_REFUND', '1.00'))).toMatchObject({ error: 'PURCHASE_TRADE_NOT_EXIST' })
    const unpaid = order(receiver)
    await sim.pay(orderStr(unpaid), 'cancel')
    expect(await gateway(sim, refundParams(unpaid.out_trade_no, `${unpaid.out_trade_no}-r`, '1.00'))).toMatchObject({ error: 'PURCHASE_TRADE_NOT_EXIST' })
  })

  test.each([
    ['no reason', { reason: '' }],
    ['an amount with 3 decimals', { return_amount: '1.005' }],
    ['gmt_return that is not a time', { gmt_return: '2024-13-01 12:00:00' }],
    ['is_sync=X', { is_sync: 'X' }],
    ['both return_amount and return_rmb_amount', { return_rmb_amount: '1.00' }],
  ])('%s is ILLEGAL_ARGUMENT', async (_, change) => {
    const o = await payOrder(sim, receiver)
    expect(await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-bad`, '1.00', change))).toMatchObject({ error: 'ILLEGAL_ARGUMENT' })
  })

  test('refunds of one partner closer than refundSpacingMs are refused, then pass once the time has gone by', async () => {
    let clock = Date.parse('2024-05-01T04:00:00Z')
    const timed = await startSimulator(baseOptions({ refundSpacingMs: 3000, now: () => new Date(clock) }))
    try {
      const o = await payOrder(timed, receiver, { total_fee: '9.00' })
      expect(await gateway(timed, refundParams(o.out_trade_no, 'S1', '1.00'))).toMatchObject({ isSuccess: 'T' })
      clock += 2999
      expect(await gateway(timed, refundParams(o.out_trade_no, 'S2', '1.00'))).toMatchObject({ isSuccess: 'F', error: 'SYSTEM_EXCEPTION' })
      clock += 1
      expect(await gateway(timed, refundParams(o.out_trade_no, 'S2', '1.00'))).toMatchObject({ isSuccess: 'T' })
      timed.setSettings({ refundSpacingMs: 50, refundSpacingError: 'REFUND_TOO_FREQUENT' })
      expect(await gateway(timed, refundParams(o.out_trade_no, 'S3', '1.00'))).toMatchObject({ error: 'REFUND_TOO_FREQUENT' })
      clock += 50
      expect(await gateway(timed, refundParams(o.out_trade_no, 'S3', '1.00'))).toMatchObject({ isSuccess: 'T' })
    } finally {
      await timed.close()
    }
  })
})

describe('alipay.acquire.refund.query answers inside <response><alipay>, signed', () => {
  test('SUCCESS for a refund made, NOT_FOUND for an unknown out_return_no, TRADE_NOT_EXIST for an unknown order', async () => {
    const o = await payOrder(sim, receiver)
    await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-q`, '2.50'))
    for (const signType of ['RSA', 'RSA2', 'MD5']) {
      const made = await gateway(sim, refundQuery(o.out_trade_no, `${o.out_trade_no}-q`), { signType })
      expect(made).toMatchObject({ isSuccess: 'T', element: 'alipay', signType })
      expect(made.fields).toMatchObject({ response_code: 'SUCCESS', refund_result_code: 'SUCCESS', out_return_no: `${o.out_trade_no}-q`, trade_no: o.tradeNo })
      expect(made.fields.refund_error_code).toBeUndefined()
      expect(replySignatureValid(made)).toBe(true)
    }
    const unknown = await gateway(sim, refundQuery(o.out_trade_no, 'nope'))
    expect(unknown.fields).toMatchObject({ response_code: 'NOT_FOUND' })
    expect(replySignatureValid(unknown)).toBe(true)
    const noTrade = await gateway(sim, refundQuery('NO_SUCH_ORDER', 'nope'))
    expect(noTrade.fields).toMatchObject({ response_code: 'TRADE_NOT_EXIST' })
    expect(replySignatureValid(noTrade)).toBe(true)
  })
})

describe('is_sync=N: accepted now, then a refund_status_sync notification with retries', () => {
  test.each(['RSA2', 'MD5'])('the notification (%s) reaches notify_url signed, is retried until `success`, and passes notify_verify', async (signType) => {
    const o = await payOrder(sim, receiver)
    const id = `${o.out_trade_no}-async`
    receiver.answers.push('fail')
    const before = receiver.received.length
    expect(await gateway(sim, refundParams(o.out_trade_no, id, '7.00', { is_sync: 'N' }), { signType })).toMatchObject({ isSuccess: 'T' })
    await waitFor(() => receiver.received.slice(before).filter((r) => r.fields.out_return_no === id).length >= 2)
    const mine = receiver.received.slice(before).filter((r) => r.fields.out_return_no === id)
    expect(mine).toHaveLength(2)
    const n = mine[1].fields
    expect(mine[0].body).toBe(mine[1].body) // a retry is the same notification
    expect(n).toMatchObject({ notify_type: 'refund_status_sync', out_trade_no: o.out_trade_no, out_return_no: id, refund_status: 'REFUND_SUCCESS', return_amount: '7.00', currency: 'HKD', sign_type: signType })
    expect(n.trade_status).toBeUndefined()
    expect(notificationSignatureValid(n)).toBe(true)
    expect(notificationSignatureValid({ ...n, return_amount: '70.00' })).toBe(false)
    const verify = await httpRequest(`${sim.gatewayUrl}?service=notify_verify&partner=${PARTNER}&notify_id=${n.notify_id}`)
    expect(verify.text).toBe('true')
    const forged = await httpRequest(`${sim.gatewayUrl}?service=notify_verify&partner=${PARTNER}&notify_id=${crypto.randomBytes(16).toString('hex')}`)
    expect(forged.text).toBe('false')
    const otherPartner = await httpRequest(`${sim.gatewayUrl}?service=notify_verify&partner=2088999999999999&notify_id=${n.notify_id}`)
    expect(otherPartner.text).toBe('false')
    // Signed, it is checked like the other services.
    expect((await callGateway(sim, { service: 'notify_verify', notify_id: n.notify_id }, { signType })).text).toBe('true')
    const badlySigned = await callGateway(sim, { service: 'notify_verify', notify_id: n.notify_id }, { signType, keys: { privateKey: ALIPAY_PRIVATE, md5Key: 'x'.repeat(32) } })
    expect(parseReply(badlySigned.text)).toMatchObject({ isSuccess: 'F', error: 'ILLEGAL_SIGN' })
    const status = await gateway(sim, refundQuery(o.out_trade_no, id))
    expect(status.fields.refund_result_code).toBe('SUCCESS')
  })

  test('a notify_url given with the refund wins over the order\'s', async () => {
    const other = await startReceiver()
    try {
      const o = await payOrder(sim, receiver)
      await gateway(sim, refundParams(o.out_trade_no, `${o.out_trade_no}-elsewhere`, '1.00', { is_sync: 'N', notify_url: other.url }))
      await waitFor(() => other.received.length === 1)
      expect(other.received[0].fields).toMatchObject({ out_return_no: `${o.out_trade_no}-elsewhere`, refund_status: 'REFUND_SUCCESS' })
    } finally {
      await other.close()
    }
  })
})

describe('fault switches', () => {
  test('drop_notification: the payment notification is never sent (the query still says paid); with tries: 1 only the first try is lost', async () => {
    sim.faults.add({ fault: 'drop_notification', notifyType: 'trade_status_sync' })
    const o = order(receiver)
    const before = receiver.received.length
    expect((await sim.pay(orderStr(o), 'pay')).status).toBe(200)
    await waitFor(() => sim.notifications.some((n) => n.outTradeNo === o.out_trade_no && n.state === 'dropped'))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(receiver.received.slice(before).filter((r) => r.fields.out_trade_no === o.out_trade_no)).toHaveLength(0)
    const q = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(q.fields.trade_status).toBe('TRADE_FINISHED')

    sim.faults.add({ fault: 'drop_notification', tries: 1 })
    const p = order(receiver)
    await sim.pay(orderStr(p), 'pay')
    await sim.waitForNotifications(1, { outTradeNo: p.out_trade_no })
    const tries = sim.deliveries.filter((d) => d.outTradeNo === p.out_trade_no)
    expect(tries.map((d) => [d.kind, d.attempt])).toEqual([
      ['dropped', 1],
      ['scheduled', 2],
    ])
  })

  test('delay: the answer comes after delayMs, so a client that waits less gives up', async () => {
    sim.faults.add({ fault: 'delay', delayMs: 250, service: 'single_trade_query' })
    await expect(callGateway(sim, { service: 'single_trade_query', out_trade_no: 'D1' }, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'CLIENT_TIMEOUT' })
    expect(parseReply((await callGateway(sim, { service: 'single_trade_query', out_trade_no: 'D1' }, { timeoutMs: 1000 })).text)).toMatchObject({ error: 'TRADE_NOT_EXIST' })
  })

  test('cut: the socket closes without an answer and no refund is made', async () => {
    const o = await payOrder(sim, receiver)
    const id = `${o.out_trade_no}-cut`
    sim.faults.add({ fault: 'cut', service: 'forex_refund' })
    await expect(callGateway(sim, refundParams(o.out_trade_no, id, '1.00'))).rejects.toMatchObject({ code: 'ECONNRESET' })
    expect((await gateway(sim, refundQuery(o.out_trade_no, id))).fields.response_code).toBe('NOT_FOUND')
    expect(await gateway(sim, refundParams(o.out_trade_no, id, '1.00'))).toMatchObject({ isSuccess: 'T' })
  })

  test('cut with afterApply: the refund is made, the reply is lost; a retry with the same id is REPEATED and refunds nothing more', async () => {
    const o = await payOrder(sim, receiver)
    const id = `${o.out_trade_no}-lost`
    sim.faults.add({ fault: 'cut', afterApply: true, outReturnNo: id })
    await expect(callGateway(sim, refundParams(o.out_trade_no, id, '4.00'))).rejects.toMatchObject({ code: 'ECONNRESET' })
    expect((await gateway(sim, refundQuery(o.out_trade_no, id))).fields).toMatchObject({ response_code: 'SUCCESS', refund_result_code: 'SUCCESS' })
    expect(await gateway(sim, refundParams(o.out_trade_no, id, '4.00'))).toMatchObject({ error: 'REPEATED_REFUNDMENT_REQUEST' })
    expect((await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })).fields.to_buyer_fee).toBe('4.00')
  })

  test('http_502: an HTML error page with status 502, nothing done; with afterApply the refund is made', async () => {
    const o = await payOrder(sim, receiver)
    sim.faults.add({ fault: 'http_502', outReturnNo: 'B1' })
    const res = await callGateway(sim, refundParams(o.out_trade_no, 'B1', '1.00'))
    expect(res.status).toBe(502)
    expect(res.text).toMatch(/<title>502 Bad Gateway<\/title>/)
    expect((await gateway(sim, refundQuery(o.out_trade_no, 'B1'))).fields.response_code).toBe('NOT_FOUND')
    sim.faults.add({ fault: 'http_502', afterApply: true, outReturnNo: 'B1' })
    expect((await callGateway(sim, refundParams(o.out_trade_no, 'B1', '1.00'))).status).toBe(502)
    expect((await gateway(sim, refundQuery(o.out_trade_no, 'B1'))).fields.refund_result_code).toBe('SUCCESS')
  })

  test.each(['RSA', 'MD5'])('wrong_key (%s): the reply is signed, but not by Alipay\'s key', async (signType) => {
    const o = await payOrder(sim, receiver)
    sim.faults.add({ fault: 'wrong_key' })
    const forged = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no }, { signType })
    expect(forged.sign).toEqual(expect.any(String))
    expect(forged.fields.trade_status).toBe('TRADE_FINISHED')
    expect(replySignatureValid(forged)).toBe(false)
    expect(replySignatureValid(await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no }, { signType }))).toBe(true)
  })

  test('tamper changes a signed field after signing; unsigned leaves the signature out', async () => {
    const o = order(receiver)
    await sim.pay(orderStr(o), 'cancel')
    sim.faults.add({ fault: 'tamper', field: 'trade_status', value: 'TRADE_FINISHED' })
    const tampered = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(tampered.fields.trade_status).toBe('TRADE_FINISHED')
    expect(replySignatureValid(tampered)).toBe(false)
    sim.faults.add({ fault: 'unsigned' })
    const unsigned = await gateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(unsigned).toMatchObject({ isSuccess: 'T', fields: expect.objectContaining({ trade_status: 'WAIT_BUYER_PAY' }) })
    expect(unsigned.sign).toBeUndefined()
    expect(unsigned.signType).toBeUndefined()
  })

  test('raw answers any bytes: a repeated body streamed with its length, an empty 200, an HTML page with another status', async () => {
    sim.faults.add({ fault: 'raw', body: '<a>', repeat: 100000, service: 'single_trade_query' })
    const big = await callGateway(sim, { service: 'single_trade_query', out_trade_no: 'W1' })
    expect(big.status).toBe(200)
    expect(big.headers['content-length']).toBe('300000')
    expect(big.bytes.equals(Buffer.from('<a>'.repeat(100000)))).toBe(true)
    sim.faults.add({ fault: 'raw', body: '' })
    expect(await callGateway(sim, { service: 'single_trade_query', out_trade_no: 'W1' })).toMatchObject({ status: 200, text: '' })
    sim.faults.add({ fault: 'raw', body: '<html>busy</html>', status: 503, contentType: 'text/html' })
    const page = await callGateway(sim, { service: 'single_trade_query', out_trade_no: 'W1' })
    expect(page).toMatchObject({ status: 503, text: '<html>busy</html>' })
    expect(page.headers['content-type']).toBe('text/html')
    expect(() => sim.faults.add({ fault: 'raw' })).toThrow(/body/)
  })

  test('error answers F with the given code; times and always control how often a fault acts', async () => {
    sim.faults.add({ fault: 'error', error: 'SYSTEM_ERROR', service: 'single_trade_query', times: 2 })
    const ask = () => gateway(sim, { service: 'single_trade_query', out_trade_no: 'E1' })
    expect(await ask()).toMatchObject({ error: 'SYSTEM_ERROR' })
    expect(await ask()).toMatchObject({ error: 'SYSTEM_ERROR' })
    expect(await ask()).toMatchObject({ error: 'TRADE_NOT_EXIST' })
    const rule = sim.faults.add({ fault: 'error', error: 'ILLEGAL_PARTNER_EXTERFACE', always: true })
    for (let i = 0; i < 3; i++) expect(await ask()).toMatchObject({ error: 'ILLEGAL_PARTNER_EXTERFACE' })
    expect(sim.faults.remove(rule.id)).toBe(true)
    expect(await ask()).toMatchObject({ error: 'TRADE_NOT_EXIST' })
  })

  test('refund_fail: is_sync=Y answers F with the error; is_sync=N notifies REFUND_FAIL; the amount is not held', async () => {
    const o = await payOrder(sim, receiver, { total_fee: '10.00' })
    sim.faults.add({ fault: 'refund_fail', outReturnNo: 'F1' })
    expect(await gateway(sim, refundParams(o.out_trade_no, 'F1', '10.00'))).toMatchObject({ isSuccess: 'F', error: 'MERCHANT_BALANCE_NOT_ENOUGH' })
    expect((await gateway(sim, refundQuery(o.out_trade_no, 'F1'))).fields).toMatchObject({ refund_result_code: 'FAILED', refund_error_code: 'MERCHANT_BALANCE_NOT_ENOUGH' })
    sim.faults.add({ fault: 'refund_fail', outReturnNo: 'F2', error: 'REFUND_CHARGE_ERROR' })
    expect(await gateway(sim, refundParams(o.out_trade_no, 'F2', '10.00', { is_sync: 'N' }))).toMatchObject({ isSuccess: 'T' })
    await waitFor(() => receiver.received.some((r) => r.fields.out_return_no === 'F2' && r.fields.out_trade_no === o.out_trade_no))
    const n = receiver.received.find((r) => r.fields.out_return_no === 'F2' && r.fields.out_trade_no === o.out_trade_no).fields
    expect(n).toMatchObject({ refund_status: 'REFUND_FAIL', error_code: 'REFUND_CHARGE_ERROR' })
    expect(notificationSignatureValid(n)).toBe(true)
    expect(await gateway(sim, refundParams(o.out_trade_no, 'F3', '10.00'))).toMatchObject({ isSuccess: 'T' })
  })

  test('refund_processing: the refund stays PROCESSING, holds its amount, and completeRefund settles and notifies it', async () => {
    const o = await payOrder(sim, receiver, { total_fee: '10.00' })
    sim.faults.add({ fault: 'refund_processing', outReturnNo: 'P1' })
    expect(await gateway(sim, refundParams(o.out_trade_no, 'P1', '6.00', { is_sync: 'N' }))).toMatchObject({ isSuccess: 'T' })
    expect((await gateway(sim, refundQuery(o.out_trade_no, 'P1'))).fields).toMatchObject({ refund_result_code: 'PROCESSING', refund_error_code: 'MERCHANT_BALANCE_NOT_ENOUGH' })
    expect(await gateway(sim, refundParams(o.out_trade_no, 'P2', '5.00'))).toMatchObject({ error: 'RETURN_AMOUNT_EXCEED' })
    sim.completeRefund('P1', { status: 'SUCCESS' })
    const [acked] = await sim.waitForNotifications(1, { outReturnNo: 'P1', notifyType: 'refund_status_sync', timeoutMs: 5000 })
    expect(acked).toMatchObject({ outTradeNo: o.out_trade_no, outReturnNo: 'P1', notifyType: 'refund_status_sync', acknowledged: true })
    expect(receiver.received.find((r) => r.fields.out_return_no === 'P1').fields.refund_status).toBe('REFUND_SUCCESS')
    expect((await gateway(sim, refundQuery(o.out_trade_no, 'P1'))).fields.refund_result_code).toBe('SUCCESS')
  })

  test('the switches over HTTP: POST, GET and DELETE /admin/faults, POST /admin/settings', async () => {
    const json = async (method, p, body) => {
      const res = await httpRequest(`${sim.url}${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } })
      return { status: res.status, body: JSON.parse(res.text) }
    }
    const added = await json('POST', '/admin/faults', { fault: 'error', error: 'SYSTEM_ERROR', service: 'single_trade_query' })
    expect(added).toMatchObject({ status: 201, body: { id: expect.any(Number), fault: 'error', times: 1 } })
    expect((await json('GET', '/admin/faults')).body.faults).toEqual([expect.objectContaining({ id: added.body.id, left: 1 })])
    expect(await gateway(sim, { service: 'single_trade_query', out_trade_no: 'H1' })).toMatchObject({ error: 'SYSTEM_ERROR' })
    expect((await json('GET', '/admin/faults')).body.faults[0].left).toBe(0)
    expect(await json('POST', '/admin/faults', { fault: 'explode' })).toMatchObject({ status: 400, body: { error: 'ILLEGAL_ARGUMENT' } })
    expect((await json('DELETE', '/admin/faults')).body.faults).toEqual([])
    expect((await json('POST', '/admin/settings', { refundSpacingMs: 5 })).body.refundSpacingMs).toBe(5)
    expect(sim.settings.refundSpacingMs).toBe(5)
    expect(await json('POST', '/admin/settings', { replyCharset: 'latin1' })).toMatchObject({ status: 400 })
  })
})

describe('GBK-declared replies', () => {
  test('the prolog says GBK, the bytes are GBK, and the signature is over the decoded text', async () => {
    const o = await payOrder(sim, receiver, { subject: '雞蛋仔 港式' })
    sim.setSettings({ replyCharset: 'gbk' })
    const res = await callGateway(sim, { service: 'single_trade_query', out_trade_no: o.out_trade_no })
    expect(res.headers['content-type']).toMatch(/charset=GBK/i)
    expect(res.bytes.toString('latin1')).toMatch(/^<\?xml version="1.0" encoding="GBK"\?>/)
    expect(res.bytes.includes(Buffer.from('雞蛋仔', 'utf8'))).toBe(false)
    const text = new TextDecoder('gbk').decode(res.bytes)
    const reply = parseReply(text)
    expect(reply.fields.subject).toBe('雞蛋仔 港式')
    expect(replySignatureValid(reply)).toBe(true)
  })
})

describe('reconciliation files in the format of 8.7, quirks included', () => {
  test('a day of payments and refunds: 15 fields under 14 names, trailing spaces, batch totals that add up', async () => {
    let clock = Date.parse('2024-05-01T02:00:00Z') // 10:00 in GMT+8
    const day = await startSimulator(baseOptions({ now: () => new Date(clock) }))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-recon-'))
    try {
      const a = await payOrder(day, receiver, { total_fee: '100.00', subject: 'plain subject' })
      clock += 60000
      const b = await payOrder(day, receiver, { total_fee: '50.50', subject: 'with, a comma' })
      clock += 60000
      await gateway(day, refundParams(a.out_trade_no, 'RF1', '30.00', { reason: 'broken' }))
      const usd = await payOrder(day, receiver, { total_fee: '9.99', currency: 'USD', payment_inst: '' })
      clock += 24 * 3600 * 1000 // the next day: not in the file of 2024-05-01
      await payOrder(day, receiver, { total_fee: '1.00' })

      const files = day.reconciliationFiles({ date: '20240501' })
      expect(files.transactions.name).toBe(`${PARTNER}_fptrade_20240501.csv`)
      const [header, ...rows] = files.transactions.text.trimEnd().split('\n')
      expect(header.split(',')).toHaveLength(14)
      expect(header).toBe(
        'Partner_transaction_id,Transaction_id,Amount,Fee,Settlement,Currency,Payment_time,Settlement_time,Issue,Product,Type,Status,Remarks,Original_partner_transaction_ID',
      )
      expect(rows).toHaveLength(4)
      const plain = rows.filter((r) => !r.includes('"')).map((r) => r.split(','))
      for (const f of plain) expect(f).toHaveLength(15)
      const payA = plain.find((f) => f[0] === `${a.out_trade_no} `)
      expect(payA).toEqual([`${a.out_trade_no} `, `${a.tradeNo} `, '100.00', '1.00', '', '99.00', 'HKD', '2024-05-01 10:00:00', '2024-05-02 15:36:00', 'ALIPAYHK', 'Cross_wap', 'P', 'P', 'plain subject', ''])
      const refund = plain.find((f) => f[0] === 'RF1 ')
      expect(refund).toEqual(['RF1 ', `${a.tradeNo} `, '30.00', '0.30', '', '29.70', 'HKD', '2024-05-01 10:02:00', '2024-05-02 15:36:00', 'ALIPAYHK', 'Cross_wap', 'R', 'P', 'broken', a.out_trade_no])
      expect(plain.find((f) => f[0] === `${usd.out_trade_no} `)).toEqual(expect.arrayContaining(['9.99', '0.10', '9.89', 'USD', 'ALIPAYCN']))
      expect(rows.find((r) => r.includes('"'))).toContain(`${b.out_trade_no} ,${b.tradeNo} ,50.50,0.51,,49.99,HKD,`)
      expect(rows.find((r) => r.includes('"'))).toContain(',"with, a comma",')

      const [batchHeader, ...batches] = files.settleBatch.text.trimEnd().split('\n')
      expect(batchHeader).toBe('Settle_batch_no,Settle_date,Amount,Fee,Settlement,Currency')
      expect(batches).toHaveLength(2)
      const hkd = batches.map((r) => r.split(',')).find((f) => f[5] === 'HKD')
      // 100.00 + 50.50 - 30.00 = 120.50; fees 1.00 + 0.51 - 0.30 = 1.21
      expect(hkd).toEqual([expect.stringMatching(/^50002024050100000000000000000001 $/), '2024-05-02 15:36:00', '120.50 ', '1.21 ', '119.29 ', 'HKD'])
      const hkdSettle = files.settlements.find((s) => s.currency === 'HKD')
      expect(hkdSettle.name).toBe(`${PARTNER}_settle_20240501_${hkd[0].trim()}.csv`)
      expect(hkdSettle.text.trimEnd().split('\n')).toHaveLength(1 + 3)

      // The same over HTTP, and written to a directory with the zip.
      const listed = JSON.parse((await httpRequest(`${day.url}/admin/reconciliation?date=20240501`)).text)
      expect(listed.files.map((f) => f.name)).toEqual([files.transactions.name, files.settleBatch.name, ...files.settlements.map((s) => s.name)])
      const one = await httpRequest(`${day.url}/admin/reconciliation/${files.transactions.name}`)
      expect(one.text).toBe(files.transactions.text)
      const written = JSON.parse((await httpRequest(`${day.url}/admin/reconciliation`, { method: 'POST', body: JSON.stringify({ date: '2024-05-01', dir }) })).text)
      expect(written.files.map((f) => path.basename(f)).sort()).toEqual([files.transactions.name, files.settleBatch.name, ...files.settlements.map((s) => s.name), `${PARTNER}_20240501.zip`].sort())
      expect(fs.readFileSync(path.join(dir, files.settleBatch.name), 'utf8')).toBe(files.settleBatch.text)
      const zip = fs.readFileSync(path.join(dir, `${PARTNER}_20240501.zip`))
      expect(zip.readUInt32LE(0)).toBe(0x04034b50)
      expect(zip.includes(Buffer.from(files.settleBatch.text))).toBe(true)

      // An empty day: the headers alone, no batch.
      const empty = day.reconciliationFiles({ date: '20240430' })
      expect(empty.transactions.text).toBe(`${header}\n`)
      expect(empty.settlements).toEqual([])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
      await day.close()
    }
  })
})

async function waitFor(predicate, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`waitFor: still false after ${timeoutMs} ms: ${predicate}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
