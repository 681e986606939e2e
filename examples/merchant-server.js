#!/usr/bin/env node
// An example merchant backend for AlipayHK on plain node:http, no framework:
//   POST /orders          { subject, totalFee, body?, currency?, outTradeNo?, timeout? } -> { outTradeNo, orderStr, status }
//   POST /alipay/notify   Alipay's asynchronous notification -> `success` once recorded, `fail` otherwise
//   GET  /orders/:id      -> { outTradeNo, status: UNPAID | PAID | CLOSED, ... }
//
// Orders and payments go to an append-only JSON-lines ledger (ledger.jsonl in the data folder),
// each line fsynced before the answer that depends on it, and replayed on start. A crash at any
// point loses nothing the merchant has acknowledged: until `success` is written the notification
// is not acknowledged, and Alipay sends it again.
//
// Run: node examples/merchant-server.js
//   PORT, HOST (127.0.0.1), ALIPAYHK_DATA_DIR, ALIPAYHK_PARTNER, ALIPAYHK_SELLER_ID,
//   ALIPAYHK_SIGN_TYPE (RSA2), ALIPAYHK_PRIVATE_KEY_FILE, ALIPAYHK_ALIPAY_PUBLIC_KEY_FILE,
//   ALIPAYHK_MD5_KEY_FILE (with ALIPAYHK_SIGN_TYPE=MD5), ALIPAYHK_NOTIFY_BASE_URL (the public
//   address Alipay can reach), ALIPAYHK_GATEWAY (to confirm each notify_id with notify_verify).
// Without key files it uses the TEST-ONLY keys in examples/test-keys/: fine for the simulator,
// refused by the real Alipay.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { AlipayHK, checkNotifyMatchesOrder, isPaid, notifyVerifyUrl, parseOrderStr } = require('..')

const TEST_KEYS = path.join(__dirname, 'test-keys')
const TEST_PRIVATE_KEY_FILE = path.join(TEST_KEYS, 'merchant_private_key.TEST-ONLY.pem')
const TEST_ALIPAY_PUBLIC_KEY_FILE = path.join(TEST_KEYS, 'alipay_public_key.TEST-ONLY.pem')
// The partner ID of Alipay's documented sample: a placeholder, not an account.
const TEST_PARTNER = '2088101568358171'

const MAX_BODY_BYTES = 64 * 1024

// --- the ledger -------------------------------------------------------------------------------

/**
 * Append-only JSON lines. Each append is written and fsynced before it returns, synchronously:
 * between "is this already recorded?" and "record it" nothing else runs, so two deliveries of
 * the same notification arriving together cannot both record a payment.
 */
class Ledger {
  constructor(dataDir) {
    fs.mkdirSync(dataDir, { recursive: true })
    this.file = path.join(dataDir, 'ledger.jsonl')
    const existed = fs.existsSync(this.file)
    this.entries = []
    if (existed) {
      let text = fs.readFileSync(this.file, 'utf8')
      // A line without its newline is a write cut short by a crash: it was never acknowledged
      // to anyone, so it is dropped (and cut off, so the next line does not glue onto it).
      const end = text.lastIndexOf('\n') + 1
      if (end < text.length) {
        fs.truncateSync(this.file, Buffer.byteLength(text.slice(0, end)))
        text = text.slice(0, end)
      }
      for (const line of text.split('\n')) if (line) this.entries.push(JSON.parse(line))
    }
    this.fd = fs.openSync(this.file, 'a')
    if (!existed) {
      // The new file's name must survive a crash too.
      const dir = fs.openSync(dataDir, 'r')
      fs.fsyncSync(dir)
      fs.closeSync(dir)
    }
  }

  append(entry) {
    fs.writeSync(this.fd, JSON.stringify(entry) + '\n')
    fs.fsyncSync(this.fd)
    this.entries.push(entry)
  }

  close() {
    if (this.fd !== null) fs.closeSync(this.fd)
    this.fd = null
  }
}

// --- configuration ----------------------------------------------------------------------------

function readKeyFile(file, what) {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new Error(`cannot read the ${what} file ${file} (${err.code || err.message})`)
  }
}

function resolveConfig(options) {
  const signType = options.signType || 'RSA2'
  const partner = options.partner || TEST_PARTNER
  const config = { partner, sellerId: options.sellerId || partner, signType }
  const usingTestKeys = []
  if (signType === 'MD5') {
    config.md5Key = options.md5Key || (options.md5KeyFile && readKeyFile(options.md5KeyFile, 'MD5 key').trim())
    if (!config.md5Key) throw new Error('signType MD5 needs md5Key or md5KeyFile')
  } else {
    config.privateKey = options.privateKey || readKeyFile(options.privateKeyFile || TEST_PRIVATE_KEY_FILE, 'merchant private key')
    if (!options.privateKey && !options.privateKeyFile) usingTestKeys.push('merchant private key')
    config.alipayPublicKey =
      options.alipayPublicKey || readKeyFile(options.alipayPublicKeyFile || TEST_ALIPAY_PUBLIC_KEY_FILE, 'Alipay public key')
    if (!options.alipayPublicKey && !options.alipayPublicKeyFile) usingTestKeys.push('Alipay public key')
  }
  return { config, usingTestKeys }
}

// --- HTTP helpers -----------------------------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('body too large'), { status: 413 }))
        req.destroy()
      } else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function sendJson(res, status, payload) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(payload))
}

function sendText(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  res.end(text)
}

function httpGetText(url, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve(text))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

// --- the server -------------------------------------------------------------------------------

/**
 * Starts the example merchant server.
 * @param {object} options
 * @param {string} options.dataDir            where ledger.jsonl lives
 * @param {string} [options.partner]          16 digits starting with 2088 (default: the documented sample's, for tests)
 * @param {string} [options.sellerId]         defaults to partner
 * @param {'RSA'|'RSA2'|'MD5'} [options.signType] default RSA2
 * @param {string} [options.privateKey]       PEM or bare base64; or privateKeyFile; default the TEST-ONLY key
 * @param {string} [options.alipayPublicKey]  Alipay's, from the portal; or alipayPublicKeyFile; default the TEST-ONLY one
 * @param {string} [options.md5Key]           for signType MD5; or md5KeyFile
 * @param {number} [options.port]             default 0: the OS picks
 * @param {string} [options.host]             default 127.0.0.1
 * @param {string} [options.notifyBaseUrl]    the address Alipay reaches this server at; default its own URL
 * @param {string} [options.gatewayUrl]       when given, each notify_id is confirmed with notify_verify there
 * @param {(line: string) => void} [options.log]
 * @returns {Promise<{ url: string, port: number, notifyUrl: string, partner: string, ledgerFile: string, close(): Promise<void> }>}
 */
async function startMerchantServer(options = {}) {
  if (!options.dataDir) throw new TypeError('startMerchantServer needs dataDir')
  const log = options.log || (() => {})
  const { config, usingTestKeys } = resolveConfig(options)
  const alipay = new AlipayHK(config) // parses the keys now: a bad key stops the start, not the first order
  if (usingTestKeys.length) log(`using the TEST-ONLY ${usingTestKeys.join(' and ')} from examples/test-keys: the real Alipay refuses them`)

  const ledger = new Ledger(options.dataDir)
  const orders = new Map() // outTradeNo -> order, with status and payment folded in
  for (const entry of ledger.entries) apply(entry)
  log(`ledger ${ledger.file}: ${orders.size} orders replayed`)

  function apply(entry) {
    if (entry.type === 'order') orders.set(entry.outTradeNo, { ...entry, status: 'UNPAID' })
    else if (entry.type === 'payment') {
      const order = orders.get(entry.outTradeNo)
      if (order) Object.assign(order, { status: 'PAID', payment: entry })
    } else if (entry.type === 'closed') {
      const order = orders.get(entry.outTradeNo)
      if (order && order.status === 'UNPAID') order.status = 'CLOSED'
    }
  }

  function record(entry) {
    ledger.append(entry)
    apply(entry)
  }

  let notifyUrl = null // set once the port is known

  async function createOrder(req, res) {
    let input
    try {
      input = JSON.parse((await readBody(req)).toString('utf8'))
    } catch (err) {
      return sendJson(res, err.status || 400, { error: 'BAD_REQUEST', message: 'the body must be JSON' })
    }
    if (!input || typeof input !== 'object' || Array.isArray(input)) {
      return sendJson(res, 400, { error: 'BAD_REQUEST', message: 'the body must be a JSON object' })
    }
    const { subject, body, totalFee, currency, timeout } = input
    if (typeof subject !== 'string' || subject.trim() === '') {
      return sendJson(res, 400, { error: 'INVALID_ORDER', field: 'subject', message: 'subject is required' })
    }
    if (typeof totalFee !== 'string' && typeof totalFee !== 'number') {
      return sendJson(res, 400, { error: 'INVALID_ORDER', field: 'totalFee', message: 'totalFee is required, as a decimal string such as "12.50"' })
    }
    for (const [name, value] of Object.entries({ body, currency, timeout, outTradeNo: input.outTradeNo })) {
      if (value !== undefined && typeof value !== 'string') {
        return sendJson(res, 400, { error: 'INVALID_ORDER', field: name, message: `${name} must be a string` })
      }
    }
    const outTradeNo = input.outTradeNo || `ORD${Date.now()}${crypto.randomBytes(4).toString('hex').toUpperCase()}`
    if (orders.has(outTradeNo)) {
      return sendJson(res, 409, { error: 'DUPLICATE_ORDER', field: 'outTradeNo', message: `order ${outTradeNo} exists` })
    }
    let orderStr
    try {
      // The addon applies every parameter rule (amount format and range, lengths, currency…).
      orderStr = alipay.buildOrderStr({ outTradeNo, subject, body, totalFee, currency: currency || 'HKD', notifyUrl, timeout })
    } catch (err) {
      if (!err.code || !err.code.startsWith('ERR_ALIPAYHK_')) throw err
      return sendJson(res, 400, { error: 'INVALID_ORDER', code: err.code, field: err.field, message: err.message })
    }
    const sent = Object.fromEntries(parseOrderStr(orderStr).params)
    record({
      type: 'order',
      outTradeNo,
      subject,
      body: body || undefined,
      // As written into the orderStr: the notification is held against these exact values.
      totalFee: sent.total_fee,
      currency: sent.currency,
      sellerId: alipay.sellerId,
      createdAt: new Date().toISOString(),
    })
    log(`order ${outTradeNo}: ${sent.total_fee} ${sent.currency} "${subject}"`)
    return sendJson(res, 201, { outTradeNo, orderStr, status: 'UNPAID' })
  }

  // Answers `success` only once the payment is on disk; `fail` makes Alipay try again later.
  async function receiveNotify(req, res) {
    const raw = await readBody(req)
    const refuse = (why) => {
      log(`notify refused: ${why}`)
      sendText(res, 400, 'fail')
    }
    const verified = alipay.verifyNotify(raw) // the raw body, decoded exactly once by the addon
    if (!verified.ok) return refuse(`${verified.reason}: ${verified.message}`)
    // Only a verified result has a notification: what isPaid and checkNotifyMatchesOrder take.
    const notification = verified.notification
    const p = notification.params
    if (options.gatewayUrl) {
      let answer
      try {
        answer = await httpGetText(notifyVerifyUrl(alipay.partner, p.notify_id || '', options.gatewayUrl), 5000)
      } catch (err) {
        return refuse(`notify_verify unreachable (${err.message})`)
      }
      if (answer.trim() !== 'true') return refuse(`notify_verify answered ${JSON.stringify(answer.slice(0, 40))} for notify_id ${p.notify_id}`)
    }
    const order = orders.get(p.out_trade_no)
    if (!order) return refuse(`no order ${p.out_trade_no}`)
    const mismatches = checkNotifyMatchesOrder(notification, {
      outTradeNo: order.outTradeNo,
      totalFee: order.totalFee,
      currency: order.currency,
      sellerId: order.sellerId,
    })
    if (mismatches.length) return refuse(`does not match order ${order.outTradeNo}: ${mismatches.map((m) => m.message).join('; ')}`)

    if (isPaid(notification)) {
      if (order.status === 'PAID') {
        log(`notify ${p.notify_id}: order ${order.outTradeNo} already paid (trade_no ${order.payment.tradeNo}), acknowledged again`)
      } else {
        record({
          type: 'payment',
          outTradeNo: order.outTradeNo,
          tradeNo: p.trade_no,
          notifyId: p.notify_id,
          tradeStatus: p.trade_status,
          totalFee: p.total_fee,
          currency: p.currency,
          buyerId: p.buyer_id,
          gmtPayment: p.gmt_payment,
          receivedAt: new Date().toISOString(),
        })
        log(`notify ${p.notify_id}: order ${order.outTradeNo} PAID (trade_no ${p.trade_no})`)
      }
    } else if (p.trade_status === 'TRADE_CLOSED' && order.status === 'UNPAID') {
      record({ type: 'closed', outTradeNo: order.outTradeNo, tradeNo: p.trade_no, notifyId: p.notify_id, receivedAt: new Date().toISOString() })
    }
    return sendText(res, 200, 'success')
  }

  function orderStatus(res, id) {
    const order = orders.get(id)
    if (!order) return sendJson(res, 404, { error: 'NOT_FOUND', message: `no order ${id}` })
    const view = {
      outTradeNo: order.outTradeNo,
      status: order.status,
      subject: order.subject,
      totalFee: order.totalFee,
      currency: order.currency,
      createdAt: order.createdAt,
    }
    if (order.payment) Object.assign(view, { tradeNo: order.payment.tradeNo, paidAt: order.payment.receivedAt })
    return sendJson(res, 200, view)
  }

  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://merchant')
    let work
    if (req.method === 'POST' && pathname === '/orders') work = createOrder(req, res)
    else if (req.method === 'POST' && pathname === '/alipay/notify') work = receiveNotify(req, res)
    else if (req.method === 'GET' && pathname.startsWith('/orders/')) work = Promise.resolve(orderStatus(res, decodeURIComponent(pathname.slice(8))))
    else work = Promise.resolve(sendJson(res, 404, { error: 'NOT_FOUND', message: `no route ${req.method} ${pathname}` }))
    work.catch((err) => {
      log(`error on ${req.method} ${pathname}: ${err.message}`)
      if (!res.headersSent) {
        if (pathname === '/alipay/notify') sendText(res, err.status || 500, 'fail')
        else sendJson(res, err.status || 500, { error: 'INTERNAL', message: 'internal error' })
      }
    })
  })

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port || 0, options.host || '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address()
  const url = `http://${options.host || '127.0.0.1'}:${port}`
  notifyUrl = `${(options.notifyBaseUrl || url).replace(/\/+$/, '')}/alipay/notify`

  let closing = null
  return {
    url,
    port,
    notifyUrl,
    partner: alipay.partner,
    ledgerFile: ledger.file,
    close() {
      if (!closing) {
        closing = new Promise((resolve) => {
          server.close(() => {
            ledger.close()
            resolve()
          })
          server.closeAllConnections()
        })
      }
      return closing
    },
  }
}

module.exports = { startMerchantServer, Ledger }

if (require.main === module) {
  const env = process.env
  startMerchantServer({
    dataDir: env.ALIPAYHK_DATA_DIR || path.join(process.cwd(), 'alipayhk-merchant-data'),
    partner: env.ALIPAYHK_PARTNER,
    sellerId: env.ALIPAYHK_SELLER_ID,
    signType: env.ALIPAYHK_SIGN_TYPE,
    privateKeyFile: env.ALIPAYHK_PRIVATE_KEY_FILE,
    alipayPublicKeyFile: env.ALIPAYHK_ALIPAY_PUBLIC_KEY_FILE,
    md5KeyFile: env.ALIPAYHK_MD5_KEY_FILE,
    notifyBaseUrl: env.ALIPAYHK_NOTIFY_BASE_URL,
    gatewayUrl: env.ALIPAYHK_GATEWAY,
    port: Number(env.PORT || 0),
    host: env.HOST,
    log: (line) => console.log(line),
  }).then(
    (server) => {
      console.log(`merchant server listening on ${server.url} (notify_url ${server.notifyUrl})`)
      const stop = () => server.close().then(() => process.exit(0))
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    },
    (err) => {
      // err.message never holds key material: the addon's key errors describe, they do not quote.
      console.error(`merchant server: ${err.code ? err.code + ': ' : ''}${err.message}`)
      process.exit(2)
    },
  )
}
