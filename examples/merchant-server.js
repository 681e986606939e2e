#!/usr/bin/env node
// An example merchant backend for AlipayHK on plain node:http, no framework:
//   POST /orders                         { subject, totalFee, body?, currency?, outTradeNo?, timeout? }
//                                        -> 201 { outTradeNo, orderStr, status: 'UNPAID' }
//   POST /alipay/notify                  Alipay's notification (payment or refund), through
//                                        AlipayHK#handleNotify -> `success` once recorded, `fail` otherwise
//   GET  /orders/:id                     -> { outTradeNo, status: UNPAID | PAID | CLOSED, totalFee, currency,
//                                             tradeNo?, paidAt?, paidVia?, refundedAmount, refunds: [...] }
//   POST /orders/:id/refunds             { refundId, amount, reason } -> the refund (see below)
//   GET  /orders/:id/refunds/:refundId   -> the refund as recorded, without asking Alipay
//
// A refund is { refundId, outTradeNo, amount, currency, reason, status: PENDING | SUCCESS | FAILED,
// errorCode?, requestedAt, settledAt? }. POST answers 200 once its outcome is known (SUCCESS, or
// FAILED with Alipay's errorCode), 202 while it is PENDING (Alipay unreachable, PROCESSING, or
// being worked on by another request or process; send the same request again later), 409
// REFUND_EXCEEDS_PAID (with paid, refunded, available) when it would take the refunds above the
// paid amount, 409 NOT_PAID, 409 REFUND_ID_CONFLICT when the refundId names another refund, 404
// for no such order, 400 for a bad field, 503 NO_GATEWAY when no gateway is configured.
// The refundId is the idempotency key (it is Alipay's out_return_no): the same request sent
// again, by a client retry or to another process, never refunds twice. The intent is recorded
// first, then Alipay is asked, then the result is recorded; a process that dies in between
// leaves the refund PENDING, and the next one to take it up asks Alipay for its status
// (alipay.acquire.refund.query) before sending anything.
//
// The recovery loop (when a gateway is configured) asks Alipay about orders still UNPAID some
// minutes after their orderStr (single_trade_query) and records those it reports PAID, and takes
// up refunds left PENDING. A payment is recorded once whichever comes first, the notification or
// the query.
//
// The ledger (examples/ledger): PostgreSQL when DATABASE_URL is set, for any number of
// processes behind one database (the database's constraints keep one payment per order, one
// refund per refundId, refunds within the paid amount); otherwise an append-only JSON-lines
// file (ledger.jsonl in the data folder) for one process.
//
// Run: node examples/merchant-server.js
//   PORT, HOST (127.0.0.1), DATABASE_URL or ALIPAYHK_DATA_DIR, ALIPAYHK_PARTNER,
//   ALIPAYHK_SELLER_ID, ALIPAYHK_SIGN_TYPE (RSA2), ALIPAYHK_PRIVATE_KEY_FILE,
//   ALIPAYHK_ALIPAY_PUBLIC_KEY_FILE, ALIPAYHK_MD5_KEY_FILE (with ALIPAYHK_SIGN_TYPE=MD5),
//   ALIPAYHK_NOTIFY_BASE_URL (the public address Alipay can reach), ALIPAYHK_GATEWAY
//   (production | sandbox | a URL such as the simulator's: needed for refunds, the recovery loop
//   and notify_verify), ALIPAYHK_RECOVER_AFTER_MS (300000), ALIPAYHK_RECOVERY_INTERVAL_MS (60000),
//   ALIPAYHK_REFUND_RETRY_AFTER_MS (60000).
// Without key files it uses the TEST-ONLY keys in examples/test-keys/: fine for the simulator,
// refused by the real Alipay.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { AlipayHK, parseOrderStr } = require('..')
const { openLedger, toCents, fromCents } = require('./ledger')
const { pausePoint } = require('./ledger/common')

const TEST_KEYS = path.join(__dirname, 'test-keys')
const TEST_PRIVATE_KEY_FILE = path.join(TEST_KEYS, 'merchant_private_key.TEST-ONLY.pem')
const TEST_ALIPAY_PUBLIC_KEY_FILE = path.join(TEST_KEYS, 'alipay_public_key.TEST-ONLY.pem')
// The partner ID of Alipay's documented sample: a placeholder, not an account.
const TEST_PARTNER = '2088101568358171'

const MAX_BODY_BYTES = 64 * 1024
const ID = /^[A-Za-z0-9_-]{1,64}$/

// Gateway answers to a refund request that mean "not made, and it never will be with these terms".
const REFUND_REFUSED = new Set([
  'RETURN_AMOUNT_EXCEED',
  'CURRENCY_NOT_SAME',
  'PURCHASE_TRADE_NOT_EXIST',
  'TRADE_NOT_EXIST',
  'REFUNDMENT_VALID_DATE_EXCEED',
  'ILLEGAL_ARGUMENT',
])

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
  const gateway = options.gateway || options.gatewayUrl
  if (gateway) config.gateway = gateway
  for (const name of ['timeoutMs', 'retries', 'backoffMs']) if (options[name] !== undefined) config[name] = options[name]
  return { config, usingTestKeys, gateway }
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

async function readJsonObject(req) {
  let input
  try {
    input = JSON.parse((await readBody(req)).toString('utf8'))
  } catch (err) {
    throw Object.assign(new Error('the body must be JSON'), { status: err.status || 400, error: 'BAD_REQUEST' })
  }
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw Object.assign(new Error('the body must be a JSON object'), { status: 400, error: 'BAD_REQUEST' })
  }
  return input
}

function sendJson(res, status, payload) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(payload))
}

function sendText(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  res.end(text)
}

function refundView(r) {
  const view = {
    refundId: r.outReturnNo,
    outTradeNo: r.outTradeNo,
    amount: fromCents(r.amountCents),
    currency: r.currency,
    reason: r.reason,
    status: r.status,
    requestedAt: r.requestedAt,
  }
  if (r.errorCode) view.errorCode = r.errorCode
  if (r.settledAt) view.settledAt = r.settledAt
  return view
}

// --- the server -------------------------------------------------------------------------------

/**
 * Starts the example merchant server.
 * @param {object} options
 * @param {string} [options.databaseUrl]      PostgreSQL (postgres://…): the ledger for several processes
 * @param {string} [options.dataDir]          otherwise: where ledger.jsonl lives (one process)
 * @param {string} [options.partner]          16 digits starting with 2088 (default: the documented sample's, for tests)
 * @param {string} [options.sellerId]         defaults to partner
 * @param {'RSA'|'RSA2'|'MD5'} [options.signType] default RSA2
 * @param {string} [options.privateKey]       PEM or bare base64; or privateKeyFile; default the TEST-ONLY key
 * @param {string} [options.alipayPublicKey]  Alipay's, from the portal; or alipayPublicKeyFile; default the TEST-ONLY one
 * @param {string} [options.md5Key]           for signType MD5; or md5KeyFile
 * @param {number} [options.port]             default 0: the OS picks
 * @param {string} [options.host]             default 127.0.0.1
 * @param {string} [options.notifyBaseUrl]    the address Alipay reaches this server at; default its own URL
 * @param {string} [options.gateway]          'production' | 'sandbox' | a URL (gatewayUrl is the same): refunds,
 *                                            the recovery loop and notify_verify need it; without it they are off
 * @param {boolean} [options.confirmNotifyId] ask notify_verify about each notification (default: when a gateway is set)
 * @param {boolean} [options.recovery]        run the recovery loop (default: when a gateway is set)
 * @param {number} [options.recoverAfterMs]   query an order still UNPAID this long after its orderStr (300000)
 * @param {number} [options.recoveryIntervalMs] between passes of the loop, and between two queries of one order (60000)
 * @param {number} [options.refundRetryAfterMs] take up a refund still PENDING this long after it was asked for (60000)
 * @param {number} [options.giveUpAfterMs]    stop querying an order this long after its orderStr (86400000)
 * @param {number} [options.timeoutMs]        AlipayHK HTTP settings: one try's time-out, retries, back-off
 * @param {number} [options.retries]
 * @param {number} [options.backoffMs]
 * @param {(line: string) => void} [options.log]
 * @param {string} [options.pauseAt]          test hook: stop forever at 'payment' (inside the ledger's write) or
 *                                            'refund-request' (the intent recorded, Alipay not asked yet)
 * @param {(name: string) => void} [options.onPause]
 */
async function startMerchantServer(options = {}) {
  if (!options.dataDir && !options.databaseUrl) throw new TypeError('startMerchantServer needs dataDir (a JSON-lines ledger) or databaseUrl (PostgreSQL)')
  const log = options.log || (() => {})
  const { config, usingTestKeys, gateway } = resolveConfig(options)
  const alipay = new AlipayHK(config) // parses the keys now: a bad key stops the start, not the first order
  if (usingTestKeys.length) log(`using the TEST-ONLY ${usingTestKeys.join(' and ')} from examples/test-keys: the real Alipay refuses them`)
  const confirmNotifyIds = options.confirmNotifyId ?? Boolean(gateway)
  const recovery = {
    on: (options.recovery ?? true) && Boolean(gateway),
    afterMs: options.recoverAfterMs ?? 300_000,
    intervalMs: options.recoveryIntervalMs ?? 60_000,
    refundRetryAfterMs: options.refundRetryAfterMs ?? 60_000,
    giveUpAfterMs: options.giveUpAfterMs ?? 86_400_000,
  }
  if (!gateway) log('no gateway configured (ALIPAYHK_GATEWAY): refunds, the recovery loop and notify_verify are off')

  const ledger = await openLedger({
    databaseUrl: options.databaseUrl,
    dataDir: options.databaseUrl ? undefined : options.dataDir,
    log,
    pauseAt: options.pauseAt,
    onPause: options.onPause,
  })
  log(`ledger: ${ledger.kind} ${ledger.where}`)

  const stopping = new AbortController()
  const signal = stopping.signal
  let notifyUrl = null // set once the port is known

  async function createOrder(req, res) {
    const input = await readJsonObject(req)
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
    let orderStr
    try {
      // The addon applies every parameter rule (amount format and range, lengths, currency…).
      orderStr = alipay.buildOrderStr({ outTradeNo, subject, body, totalFee, currency: currency || 'HKD', notifyUrl, timeout })
    } catch (err) {
      if (!err.code || !err.code.startsWith('ERR_ALIPAYHK_')) throw err
      return sendJson(res, 400, { error: 'INVALID_ORDER', code: err.code, field: err.field, message: err.message })
    }
    const sent = Object.fromEntries(parseOrderStr(orderStr).params)
    const amountCents = toCents(sent.total_fee)
    if (amountCents === null) {
      return sendJson(res, 400, { error: 'INVALID_ORDER', field: 'totalFee', message: 'totalFee must be above 0, with at most 2 decimals' })
    }
    const recorded = await ledger.createOrder({
      outTradeNo,
      subject,
      body: body || undefined,
      // As written into the orderStr: the notification is held against these exact values.
      amountCents,
      currency: sent.currency,
      sellerId: alipay.sellerId,
      checkAfterMs: recovery.afterMs,
    })
    if (recorded === 'duplicate') {
      return sendJson(res, 409, { error: 'DUPLICATE_ORDER', field: 'outTradeNo', message: `order ${outTradeNo} exists` })
    }
    log(`order ${outTradeNo}: ${sent.total_fee} ${sent.currency} "${subject}"`)
    return sendJson(res, 201, { outTradeNo, orderStr, status: 'UNPAID' })
  }

  // --- notifications ---

  // Answers `success` only once what the notification says is recorded; `fail` makes Alipay try again later.
  async function receiveNotify(req, res) {
    const raw = await readBody(req)
    // Verifies the raw body (decoded once, by the addon), looks the order up by the verified
    // out_trade_no, and applies the decision table.
    let order = null
    const d = await alipay.handleNotify(raw, async (outTradeNo) => {
      order = outTradeNo ? await ledger.order(outTradeNo) : null
      return order && { outTradeNo: order.outTradeNo, totalFee: fromCents(order.amountCents), currency: order.currency, sellerId: order.sellerId }
    })
    const answer = (text, why) => {
      if (why) log(why)
      sendText(res, text === 'success' ? 200 : 400, text)
    }
    if (!d.verified) return answer(d.answer, `notify refused (${d.reason}): ${d.message}`)
    const n = d.notification
    const p = n.params
    if (confirmNotifyIds) {
      if (!p.notify_id) return answer('fail', 'notify refused: no notify_id to confirm')
      let genuine
      try {
        genuine = await alipay.confirmNotifyId(p.notify_id, { signal })
      } catch (err) {
        // The signature verified: an unreachable notify_verify is no reason to refuse it.
        log(`notify ${p.notify_id}: notify_verify could not be asked (${err.message}); the signature verified, going on`)
        genuine = true
      }
      if (!genuine) return answer('fail', `notify refused: notify_verify says Alipay never sent notify_id ${p.notify_id}`)
    }

    switch (d.action) {
      case 'RECORD_PAYMENT': {
        // The decision held total_fee and currency against the order: they are the order's.
        const recorded = await ledger.recordPayment({
          outTradeNo: order.outTradeNo,
          tradeNo: p.trade_no,
          amountCents: order.amountCents,
          currency: order.currency,
          source: 'notification',
          notifyId: p.notify_id,
          buyerId: p.buyer_id,
          gmtPayment: p.gmt_payment,
        })
        return answer('success', `notify ${p.notify_id}: order ${n.outTradeNo} PAID (trade_no ${p.trade_no}) ${recorded === 'recorded' ? 'recorded' : 'already recorded, acknowledged again'}`)
      }
      case 'RECORD_CLOSED':
        await ledger.recordClosed({ outTradeNo: n.outTradeNo, tradeNo: p.trade_no })
        return answer('success', `notify ${p.notify_id}: order ${n.outTradeNo} closed`)
      case 'RECORD_REFUND':
      case 'RECORD_REFUND_FAILURE': {
        const refund = await ledger.refund(p.out_return_no || '')
        if (!refund || refund.outTradeNo !== n.outTradeNo) {
          return answer('success', `INVESTIGATE: refund notification for ${p.out_return_no} of order ${n.outTradeNo}, a refund this ledger never asked for`)
        }
        if (toCents(p.return_amount) !== refund.amountCents) {
          return answer('success', `INVESTIGATE: refund ${refund.outReturnNo} notified for ${p.return_amount}, asked for ${fromCents(refund.amountCents)}`)
        }
        const status = d.action === 'RECORD_REFUND' ? 'SUCCESS' : 'FAILED'
        const recorded = await ledger.recordRefundResult({ outReturnNo: refund.outReturnNo, status, errorCode: p.error_code })
        if (recorded === 'conflict') {
          return answer('success', `INVESTIGATE: refund ${refund.outReturnNo} notified ${status}, recorded ${(await ledger.refund(refund.outReturnNo)).status}`)
        }
        return answer('success', `notify ${p.notify_id}: refund ${refund.outReturnNo} ${status} (${recorded})`)
      }
      case 'INVESTIGATE':
        return answer(d.answer, `INVESTIGATE notify ${p.notify_id}: ${d.message}`)
      default: // NOTHING
        return answer(d.answer, `notify ${p.notify_id}: ${d.message}`)
    }
  }

  // --- orders ---

  async function orderStatus(res, id) {
    const order = await ledger.order(id)
    if (!order) return sendJson(res, 404, { error: 'NOT_FOUND', message: `no order ${id}` })
    const view = {
      outTradeNo: order.outTradeNo,
      status: order.status,
      subject: order.subject,
      totalFee: fromCents(order.amountCents),
      currency: order.currency,
      createdAt: order.createdAt,
    }
    if (order.payment) {
      Object.assign(view, {
        tradeNo: order.payment.tradeNo,
        paidAt: order.payment.recordedAt,
        paidVia: order.payment.source,
        refundedAmount: fromCents(order.refunds.filter((r) => r.status === 'SUCCESS').reduce((sum, r) => sum + r.amountCents, 0)),
        refunds: order.refunds.map(refundView),
      })
    }
    return sendJson(res, 200, view)
  }

  // --- refunds ---

  /** What Alipay's signed refund query says, as an outcome: { status, errorCode } | 'NOT_FOUND' | null (not known yet). */
  function outcomeOf(s) {
    if (!s || !s.signedByAlipay) return s && s.status === 'NOT_FOUND' ? 'NOT_FOUND' : null
    if (s.status === 'SUCCESS') return { status: 'SUCCESS' }
    if (s.status === 'FAILED' || s.status === 'CANCELED') return { status: 'FAILED', errorCode: (s.refund && s.refund.refundErrorCode) || s.status }
    if (s.status === 'NOT_FOUND') return 'NOT_FOUND'
    return null // PROCESSING
  }

  async function askRefundStatus(r) {
    return outcomeOf(await alipay.refundStatus({ outTradeNo: r.outTradeNo, outReturnNo: r.outReturnNo }, { signal }))
  }

  /** Sends the refund to Alipay: the outcome, or null while it is not known. */
  async function sendRefund(r) {
    try {
      const res = await alipay.refund(
        { outTradeNo: r.outTradeNo, outReturnNo: r.outReturnNo, amount: fromCents(r.amountCents), currency: r.currency, reason: r.reason, sync: true },
        { signal },
      )
      const outcome = outcomeOf(res)
      return outcome === 'NOT_FOUND' ? null : outcome
    } catch (err) {
      if (err.code === 'ERR_ALIPAYHK_GATEWAY_ERROR') {
        if (err.retryable) {
          log(`refund ${r.outReturnNo}: the gateway answered ${err.gatewayError}, try again later; left PENDING`)
          return null
        }
        // The refund reply is unsigned: what became of the refund is the signed refund
        // query's to say (REPEATED_REFUNDMENT_REQUEST: sent before, by a process that did not
        // live to record the answer; a refund that failed at once: FAILED with its code).
        const outcome = await askRefundStatus(r)
        if (outcome && outcome !== 'NOT_FOUND') return outcome
        if (outcome === 'NOT_FOUND' && REFUND_REFUSED.has(err.gatewayError)) return { status: 'FAILED', errorCode: err.gatewayError }
        log(`refund ${r.outReturnNo}: the gateway answered ${err.gatewayError} (${err.message}); left PENDING`)
        return null
      }
      if (['ERR_ALIPAYHK_INVALID_PARAM', 'ERR_ALIPAYHK_MISSING_PARAM', 'ERR_ALIPAYHK_INVALID_ARGUMENT'].includes(err.code)) {
        // Refused before anything was sent: these terms can never be sent.
        return { status: 'FAILED', errorCode: err.code }
      }
      throw err
    }
  }

  /**
   * Takes a PENDING refund to its outcome if it can: only one worker at a time (claimRefund),
   * the first try sends it, any later try asks Alipay first and sends only if Alipay has never
   * seen it. Returns the refund as recorded afterwards.
   */
  async function settleRefund(outReturnNo) {
    const release = await ledger.claimRefund(outReturnNo)
    if (!release) return ledger.refund(outReturnNo) // another request or process has it
    try {
      const r = await ledger.refund(outReturnNo)
      if (!r || r.status !== 'PENDING') return r
      const attempt = await ledger.markRefundAttempt(outReturnNo)
      // 0: no longer PENDING (a refund notification settled it since the read above); never
      // send it again.
      if (attempt === 0) return ledger.refund(outReturnNo)
      let outcome = null
      try {
        if (attempt > 1) outcome = await askRefundStatus(r)
        if (attempt <= 1 || outcome === 'NOT_FOUND') {
          await pausePoint(options, 'refund-request') // test hook: the intent is recorded, Alipay not asked
          outcome = await sendRefund(r)
        }
      } catch (err) {
        log(`refund ${outReturnNo}: outcome not known yet (${err.code || err.name}: ${err.message}); left PENDING`)
        outcome = null
      }
      if (outcome && outcome !== 'NOT_FOUND') {
        const recorded = await ledger.recordRefundResult({ outReturnNo, status: outcome.status, errorCode: outcome.errorCode })
        log(`refund ${outReturnNo}: ${outcome.status}${outcome.errorCode ? ` (${outcome.errorCode})` : ''} ${recorded}`)
      }
      return ledger.refund(outReturnNo)
    } finally {
      await release()
    }
  }

  async function createRefund(req, res, outTradeNo) {
    const input = await readJsonObject(req)
    const { refundId, amount, reason } = input
    if (typeof refundId !== 'string' || !ID.test(refundId)) {
      return sendJson(res, 400, { error: 'INVALID_REFUND', field: 'refundId', message: 'refundId is required: 1 to 64 of A-Z a-z 0-9 _ -, the same for every retry of one refund' })
    }
    const amountCents = typeof amount === 'string' ? toCents(amount) : null
    if (amountCents === null) {
      return sendJson(res, 400, { error: 'INVALID_REFUND', field: 'amount', message: 'amount is required: a decimal string above 0 with at most 2 decimals, such as "10.00"' })
    }
    if (typeof reason !== 'string' || reason.trim() === '' || [...reason].length > 100) {
      return sendJson(res, 400, { error: 'INVALID_REFUND', field: 'reason', message: 'reason is required: 1 to 100 characters' })
    }
    if (!gateway) return sendJson(res, 503, { error: 'NO_GATEWAY', message: 'no gateway is configured (ALIPAYHK_GATEWAY): refunds are off' })
    const order = await ledger.order(outTradeNo)
    if (!order) return sendJson(res, 404, { error: 'NOT_FOUND', message: `no order ${outTradeNo}` })
    if (!order.payment) return sendJson(res, 409, { error: 'NOT_PAID', message: `order ${outTradeNo} is ${order.status}: only a paid order can be refunded` })

    const recorded = await ledger.recordRefund({ outReturnNo: refundId, outTradeNo, amountCents, currency: order.currency, reason })
    if (recorded === 'exceeds') {
      const now = await ledger.order(outTradeNo)
      const taken = now.payment.refundedCents
      return sendJson(res, 409, {
        error: 'REFUND_EXCEEDS_PAID',
        message: `a refund of ${fromCents(amountCents)} would take the refunds of order ${outTradeNo} above the ${fromCents(now.payment.amountCents)} paid (${fromCents(taken)} refunded or being refunded)`,
        paid: fromCents(now.payment.amountCents),
        refunded: fromCents(taken),
        available: fromCents(now.payment.amountCents - taken),
      })
    }
    if (recorded === 'not_paid') return sendJson(res, 409, { error: 'NOT_PAID', message: `order ${outTradeNo} is not paid` })
    if (recorded === 'duplicate') {
      const existing = await ledger.refund(refundId)
      if (existing.outTradeNo !== outTradeNo || existing.amountCents !== amountCents) {
        return sendJson(res, 409, {
          error: 'REFUND_ID_CONFLICT',
          field: 'refundId',
          message: `refundId ${refundId} is a refund of ${fromCents(existing.amountCents)} on order ${existing.outTradeNo}: a new refund needs a new refundId`,
          refund: refundView(existing),
        })
      }
    } else if (recorded !== 'recorded') {
      throw new Error(`the ledger answered ${recorded} for refund ${refundId}`)
    } else {
      log(`refund ${refundId}: ${fromCents(amountCents)} ${order.currency} of order ${outTradeNo} asked for`)
    }
    const refund = await settleRefund(refundId)
    return sendJson(res, refund.status === 'PENDING' ? 202 : 200, refundView(refund))
  }

  async function refundStatus(res, outTradeNo, refundId) {
    const r = await ledger.refund(refundId)
    if (!r || r.outTradeNo !== outTradeNo) return sendJson(res, 404, { error: 'NOT_FOUND', message: `no refund ${refundId} of order ${outTradeNo}` })
    return sendJson(res, 200, refundView(r))
  }

  // --- the recovery loop ---

  async function checkOrder(o) {
    const q = await alipay.queryOrder({ outTradeNo: o.outTradeNo }, { signal })
    if (!q.signedByAlipay) return // only a signed state is final
    const t = q.trade || {}
    if (q.status === 'PAID') {
      if (t.sellerId && t.sellerId !== o.sellerId) {
        return log(`INVESTIGATE: order ${o.outTradeNo} reported paid to seller ${t.sellerId}, not ${o.sellerId}; not recorded`)
      }
      if (!t.tradeNo) return log(`INVESTIGATE: order ${o.outTradeNo} reported paid without a trade_no; not recorded`)
      // The query's total_fee can be in CNY for a buyer paying from a mainland wallet: the
      // amount recorded is the order's, which the signed orderStr fixed.
      const recorded = await ledger.recordPayment({
        outTradeNo: o.outTradeNo,
        tradeNo: t.tradeNo,
        amountCents: o.amountCents,
        currency: o.currency,
        source: 'query',
        buyerId: t.buyerId,
        gmtPayment: t.gmtPayment,
      })
      log(`recovery: order ${o.outTradeNo} PAID by Alipay's query (trade_no ${t.tradeNo}) ${recorded}`)
    } else if (q.status === 'CLOSED') {
      await ledger.recordClosed({ outTradeNo: o.outTradeNo, tradeNo: t.tradeNo })
      log(`recovery: order ${o.outTradeNo} CLOSED`)
    }
  }

  let timer = null
  let pass = null
  let firstPass = true

  /** One pass of the recovery loop: due orders, then refunds left PENDING. */
  async function recoverNow() {
    if (!gateway) return undefined
    if (pass) return pass
    pass = (async () => {
      const orders = await ledger.ordersToCheck({ limit: 20, againAfterMs: recovery.intervalMs, giveUpAfterMs: recovery.giveUpAfterMs })
      for (const o of orders) {
        if (signal.aborted) return
        try {
          await checkOrder(o)
        } catch (err) {
          if (!signal.aborted) log(`recovery: order ${o.outTradeNo}: ${err.code || err.name}: ${err.message}`)
        }
      }
      // On start, every refund left PENDING (a process died mid-refund); later, those older than refundRetryAfterMs.
      const pending = await ledger.pendingRefunds({ olderThanMs: firstPass ? 0 : recovery.refundRetryAfterMs })
      firstPass = false
      for (const r of pending) {
        if (signal.aborted) return
        try {
          await settleRefund(r.outReturnNo)
        } catch (err) {
          if (!signal.aborted) log(`recovery: refund ${r.outReturnNo}: ${err.code || err.name}: ${err.message}`)
        }
      }
    })().finally(() => {
      pass = null
    })
    return pass
  }

  function schedule(delayMs) {
    timer = setTimeout(() => {
      recoverNow()
        .catch((err) => log(`recovery: ${err.code || err.name}: ${err.message}`))
        .finally(() => {
          if (!signal.aborted) schedule(recovery.intervalMs)
        })
    }, delayMs)
    timer.unref()
  }

  // --- routing ---

  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://merchant')
    const parts = pathname.split('/').slice(1).map((p) => {
      try {
        return decodeURIComponent(p)
      } catch {
        return null
      }
    })
    let work
    if (req.method === 'POST' && pathname === '/orders') work = createOrder(req, res)
    else if (req.method === 'POST' && pathname === '/alipay/notify') work = receiveNotify(req, res)
    else if (req.method === 'GET' && parts.length === 2 && parts[0] === 'orders' && parts[1]) work = orderStatus(res, parts[1])
    else if (req.method === 'POST' && parts.length === 3 && parts[0] === 'orders' && parts[1] && parts[2] === 'refunds') work = createRefund(req, res, parts[1])
    else if (req.method === 'GET' && parts.length === 4 && parts[0] === 'orders' && parts[1] && parts[2] === 'refunds' && parts[3]) work = refundStatus(res, parts[1], parts[3])
    else work = Promise.resolve(sendJson(res, 404, { error: 'NOT_FOUND', message: `no route ${req.method} ${pathname}` }))
    work.catch((err) => {
      if (!err.error) log(`error on ${req.method} ${pathname}: ${err.code ? err.code + ': ' : ''}${err.message}`)
      if (!res.headersSent) {
        if (pathname === '/alipay/notify') sendText(res, err.status || 500, 'fail')
        else if (err.error) sendJson(res, err.status, { error: err.error, message: err.message })
        else sendJson(res, err.status || 500, { error: 'INTERNAL', message: 'internal error' })
      }
    })
  })

  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port || 0, options.host || '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await ledger.close()
    throw err
  }
  const { port } = server.address()
  const url = `http://${options.host || '127.0.0.1'}:${port}`
  notifyUrl = `${(options.notifyBaseUrl || url).replace(/\/+$/, '')}/alipay/notify`
  if (recovery.on) schedule(0)

  let closing = null
  return {
    url,
    port,
    notifyUrl,
    partner: alipay.partner,
    /** The JSON-lines file of the file ledger (null on PostgreSQL). */
    ledgerFile: ledger.file,
    ledger,
    /** Runs one pass of the recovery loop now (the loop runs by itself every recoveryIntervalMs). */
    recoverNow,
    close() {
      if (!closing) {
        closing = (async () => {
          stopping.abort()
          clearTimeout(timer)
          await new Promise((resolve) => {
            server.close(() => resolve())
            server.closeAllConnections()
          })
          if (pass) await pass.catch(() => {})
          await ledger.close()
        })()
      }
      return closing
    },
  }
}

module.exports = { startMerchantServer }

if (require.main === module) {
  const env = process.env
  const ms = (name) => (env[name] ? Number(env[name]) : undefined)
  startMerchantServer({
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.ALIPAYHK_DATA_DIR || path.join(process.cwd(), 'alipayhk-merchant-data'),
    partner: env.ALIPAYHK_PARTNER,
    sellerId: env.ALIPAYHK_SELLER_ID,
    signType: env.ALIPAYHK_SIGN_TYPE,
    privateKeyFile: env.ALIPAYHK_PRIVATE_KEY_FILE,
    alipayPublicKeyFile: env.ALIPAYHK_ALIPAY_PUBLIC_KEY_FILE,
    md5KeyFile: env.ALIPAYHK_MD5_KEY_FILE,
    notifyBaseUrl: env.ALIPAYHK_NOTIFY_BASE_URL,
    gateway: env.ALIPAYHK_GATEWAY,
    recoverAfterMs: ms('ALIPAYHK_RECOVER_AFTER_MS'),
    recoveryIntervalMs: ms('ALIPAYHK_RECOVERY_INTERVAL_MS'),
    refundRetryAfterMs: ms('ALIPAYHK_REFUND_RETRY_AFTER_MS'),
    retries: ms('ALIPAYHK_GATEWAY_RETRIES'),
    // Test hook (never set it in production): stop forever at that point, for a kill -9 there.
    pauseAt: env.ALIPAYHK_EXAMPLE_PAUSE_AT || undefined,
    onPause: (name) => console.log(`paused at ${name}`),
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
