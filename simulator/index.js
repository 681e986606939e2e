#!/usr/bin/env node
// An Alipay stand-in on 127.0.0.1 for tests and demos: it reads an orderStr as the gateway would
// (with node:crypto, never with the addon under test), answers with a signed tradePay result,
// POSTs the signed notification to notify_url with Alipay's retries, and answers notify_verify.
// See simulator/README.md.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { checkOrderStr } = require('./gateway')
const { toPublicKey, toPrivateKey, publicKeyPem, publicKeyBase64, signWith } = require('./keys')
const { Notifier, signedNotifyBody, notifySignContent, alipayTime, ALIPAY_RETRY_DELAYS_MS } = require('./notifier')
const { SERVICES, signContent } = require('./gateway-request')
const { createServices } = require('./services')
const { createGatewayHandler } = require('./gateway-server')
const { Faults, FAULTS } = require('./faults')
const { reconciliationFiles: buildReconciliationFiles } = require('./reconciliation')

const CHOICES = ['pay', 'cancel', 'fail']
const MAX_REQUEST_BYTES = 256 * 1024

function randomDigits(n) {
  let s = ''
  while (s.length < n) s += crypto.randomInt(0, 1e9).toString().padStart(9, '0')
  return s.slice(0, n)
}

/** 28 digits like Alipay's: the date, a fixed middle, random digits. */
function newTradeNo(now = new Date()) {
  return alipayTime(now).slice(0, 10).replace(/-/g, '') + '2100100' + randomDigits(13)
}

function gatewayError(mistakes) {
  const first = mistakes[0]
  return {
    status: 400,
    json: {
      resultStatus: '4000',
      error: first.error,
      reason: first.reason,
      message: first.message,
      mistakes: mistakes.map(({ reason, error, message, field }) => (field ? { reason, error, message, field } : { reason, error, message })),
    },
  }
}

/**
 * Starts the simulator.
 * @param {object} options
 * @param {string|Buffer|crypto.KeyObject} [options.merchantPublicKey] checks RSA / RSA2 orderStrs
 * @param {string} [options.md5Key] checks MD5 orderStrs (give this, the public key, or both)
 * @param {string|Buffer|crypto.KeyObject} [options.alipayPrivateKey] "Alipay's" key; generated when absent
 * @param {string} [options.partner] when given, orders for another partner are refused
 * @param {number[]} [options.retryDelaysMs] waits between notification tries; Alipay's 4m…15h by default
 * @param {number} [options.notifyTimeoutMs] per try, default 10000
 * @param {number} [options.port] default 0: the OS picks
 * @param {string} [options.host] default 127.0.0.1
 * @param {string} [options.buyerId] the payer's Alipay ID written into notifications
 * @param {(line: string) => void} [options.log]
 * Gateway services (docs/protocol.md §8), all changeable later with setSettings() or POST /admin/settings:
 * @param {number} [options.refundSpacingMs] least time between two refunds of one partner, default 3000
 * @param {string} [options.refundSpacingError] the answer to a refund too soon, default SYSTEM_EXCEPTION
 * @param {number} [options.refundProcessingMs] how long an is_sync=N refund stays PROCESSING, default 0
 * @param {'utf-8'|'gbk'} [options.replyCharset] the XML replies' encoding, default utf-8
 * @param {boolean} [options.replyIndent] indent the XML replies, default false
 * @param {string[]} [options.contractedServices] services this merchant has a contract for (others: ILLEGAL_PARTNER_EXTERFACE)
 * @param {number} [options.feeBasisPoints] the fee in the reconciliation files, default 100 (1%)
 * @param {number} [options.settleDelayDays] Settle_date in the reconciliation files: the day + this, default 1
 * @param {() => Date} [options.now] the clock for trades, refunds and notifications, default () => new Date()
 */
async function startSimulator(options = {}) {
  const {
    merchantPublicKey,
    md5Key,
    alipayPrivateKey,
    partner,
    retryDelaysMs = ALIPAY_RETRY_DELAYS_MS,
    notifyTimeoutMs = 10000,
    port = 0,
    host = '127.0.0.1',
    buyerId = '2088' + randomDigits(12),
    log = () => {},
    now = () => new Date(),
  } = options
  if (!merchantPublicKey && !md5Key) throw new TypeError('startSimulator needs merchantPublicKey or md5Key to check orderStrs with')
  if (!Array.isArray(retryDelaysMs) || !retryDelaysMs.every((ms) => Number.isFinite(ms) && ms >= 0)) {
    throw new TypeError('retryDelaysMs must be an array of milliseconds')
  }
  const merchantKeys = {
    publicKey: merchantPublicKey ? toPublicKey(merchantPublicKey, 'merchantPublicKey') : null,
    md5Key: md5Key || null,
    partner: partner || null,
  }
  const alipayKey = alipayPrivateKey
    ? toPrivateKey(alipayPrivateKey, 'alipayPrivateKey')
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey

  const settings = {
    refundSpacingMs: 3000,
    refundSpacingError: 'SYSTEM_EXCEPTION',
    refundProcessingMs: 0,
    replyCharset: 'utf-8',
    replyIndent: false,
    contractedServices: [...SERVICES],
    feeBasisPoints: 100,
    settleDelayDays: 1,
    buyerId,
    buyerEmail: 'hk***@alitest.com',
    sellerEmail: 'merchant***@alitest.com',
  }
  setSettings(options)

  const deliveries = []
  const notifications = []
  const trades = new Map() // `${partner}/${out_trade_no}` -> trade
  const sentNotifyIds = new Map() // notify_id -> partner
  const waiters = new Set()
  const faults = new Faults()
  const gatewayRequests = []
  const state = { trades, refunds: new Map(), lastRefundAt: new Map(), sentNotifyIds, timers: new Set() }

  /** Changes the gateway settings at run time (only the names given); throws a TypeError on a bad value. */
  function setSettings(patch = {}) {
    const checks = {
      refundSpacingMs: (v) => Number.isFinite(v) && v >= 0,
      refundSpacingError: (v) => typeof v === 'string' && /^[A-Z_]+$/.test(v),
      refundProcessingMs: (v) => Number.isFinite(v) && v >= 0,
      replyCharset: (v) => v === 'utf-8' || v === 'gbk',
      replyIndent: (v) => typeof v === 'boolean',
      contractedServices: (v) => Array.isArray(v) && v.every((x) => SERVICES.includes(x)),
      feeBasisPoints: (v) => Number.isInteger(v) && v >= 0,
      settleDelayDays: (v) => Number.isInteger(v) && v >= 0,
      buyerEmail: (v) => typeof v === 'string',
      sellerEmail: (v) => typeof v === 'string',
    }
    for (const [name, check] of Object.entries(checks)) {
      if (patch[name] === undefined) continue
      if (!check(patch[name])) throw new TypeError(`setting ${name}: ${JSON.stringify(patch[name])} is not allowed`)
    }
    for (const name of Object.keys(checks)) if (patch[name] !== undefined) settings[name] = Array.isArray(patch[name]) ? [...patch[name]] : patch[name]
    return { ...settings }
  }

  const notifier = new Notifier({
    retryDelaysMs,
    timeoutMs: notifyTimeoutMs,
    onDelivery(delivery) {
      deliveries.push(delivery)
      log(`notify ${delivery.kind} #${delivery.attempt} ${delivery.outTradeNo || ''} -> ${delivery.status ?? delivery.error} ${JSON.stringify(delivery.response ?? '')}`)
      for (const w of waiters) w.check()
    },
  })

  function signNotification(params, signType, signWithKey = 'alipay') {
    if (signType === 'MD5') {
      const key = signWithKey === 'alipay' ? md5Key : signWithKey && signWithKey.md5Key
      return signedNotifyBody(params, 'MD5', { md5Key: key })
    }
    const privateKey = signWithKey === 'alipay' ? alipayKey : signWithKey
    return signedNotifyBody(params, signType, { privateKey })
  }

  function notificationFor(trade, signType) {
    const p = trade.params
    const params = {
      notify_time: alipayTime(now()),
      notify_type: 'trade_status_sync',
      notify_id: crypto.randomBytes(16).toString('hex'),
      trade_no: trade.tradeNo,
      out_trade_no: p.out_trade_no,
      subject: p.subject,
      body: p.body,
      total_fee: p.total_fee,
      rmb_fee: p.rmb_fee,
      currency: p.currency,
      // Cross-border accounts report a paid order as TRADE_FINISHED, not TRADE_SUCCESS.
      trade_status: 'TRADE_FINISHED',
      buyer_id: buyerId,
      seller_id: p.seller_id,
      gmt_create: trade.gmtCreate,
      gmt_payment: trade.gmtPayment,
    }
    for (const k of Object.keys(params)) if (params[k] === undefined || params[k] === '') delete params[k]
    return {
      notifyId: params.notify_id,
      notifyType: 'trade_status_sync',
      outTradeNo: p.out_trade_no,
      tradeNo: trade.tradeNo,
      partner: p.partner,
      notifyUrl: p.notify_url,
      signType,
      params,
      body: signNotification(params, signType),
    }
  }

  /** Records a notification and starts its deliveries, unless a drop_notification fault takes it. */
  function queueNotification(notification) {
    notifications.push(notification)
    sentNotifyIds.set(notification.notifyId, notification.partner)
    const drop = faults.take(['drop_notification'], { notifyType: notification.notifyType, outTradeNo: notification.outTradeNo, outReturnNo: notification.outReturnNo })
    if (drop) notification.dropTries = drop.tries === undefined ? Infinity : drop.tries
    setImmediate(() => notifier.start(notification))
  }

  /** refund_status_sync (docs/protocol.md §8.4), signed like a payment notification, to the refund's notify_url. */
  function sendRefundNotification(refund) {
    const params = {
      notify_time: alipayTime(now()),
      notify_type: 'refund_status_sync',
      notify_id: crypto.randomBytes(16).toString('hex'),
      out_trade_no: refund.outTradeNo,
      out_return_no: refund.outReturnNo,
      refund_status: refund.status === 'SUCCESS' ? 'REFUND_SUCCESS' : 'REFUND_FAIL',
      return_amount: refund.amount,
      currency: refund.currency,
      error_code: refund.errorCode || '',
    }
    if (!params.error_code) delete params.error_code
    const notification = {
      notifyId: params.notify_id,
      notifyType: 'refund_status_sync',
      outTradeNo: refund.outTradeNo,
      outReturnNo: refund.outReturnNo,
      tradeNo: refund.tradeNo,
      partner: refund.partner,
      notifyUrl: refund.notifyUrl,
      signType: refund.signType,
      params,
      body: signNotification(params, refund.signType),
    }
    refund.notifyId = notification.notifyId
    queueNotification(notification)
    log(`refund ${refund.outReturnNo}: ${params.refund_status}; notifying ${refund.notifyUrl}`)
  }

  /** The gateway's answer to `orderStr` with the payer's choice: { status, body, json?, tradeNo? }. */
  async function pay(orderStr, choice = 'pay') {
    if (!CHOICES.includes(choice)) {
      const json = { resultStatus: '4000', error: 'ILLEGAL_ARGUMENT', message: `choice must be one of ${CHOICES.join(', ')}` }
      return { status: 400, body: JSON.stringify(json), json }
    }
    const checked = checkOrderStr(orderStr, merchantKeys)
    if (!checked.ok) {
      const { status, json } = gatewayError(checked.mistakes)
      log(`pay refused: ${json.error} ${json.reason}: ${json.message}`)
      return { status, body: JSON.stringify(json), json }
    }
    const p = checked.params
    const tradeKey = `${p.partner}/${p.out_trade_no}`
    const previous = trades.get(tradeKey)
    if (previous && previous.status === 'TRADE_FINISHED') {
      const json = { resultStatus: '4000', error: 'TRADE_HAS_SUCCESS', reason: 'TRADE_HAS_SUCCESS', message: `out_trade_no ${p.out_trade_no} is already paid` }
      return { status: 400, body: JSON.stringify(json), json }
    }
    if (previous && previous.status === 'TRADE_CLOSED') {
      const json = { resultStatus: '4000', error: 'TRADE_HAS_CLOSED', reason: 'TRADE_HAS_CLOSED', message: `out_trade_no ${p.out_trade_no} is closed` }
      return { status: 400, body: JSON.stringify(json), json }
    }
    if (choice !== 'pay' && !previous) {
      // The payer opened the cashier: from now on the gateway knows the trade, unpaid.
      const at = now()
      trades.set(tradeKey, { tradeNo: newTradeNo(at), gmtCreate: alipayTime(at), params: p, partner: p.partner, status: 'WAIT_BUYER_PAY' })
    }
    if (choice === 'cancel') {
      log(`pay ${p.out_trade_no}: cancelled by the payer`)
      return { status: 200, body: 'resultStatus={6001};memo={用户中途取消};result={}' }
    }
    if (choice === 'fail') {
      log(`pay ${p.out_trade_no}: failed`)
      return { status: 200, body: 'resultStatus={4000};memo={订单支付失败};result={}' }
    }
    const at = now()
    const trade = trades.get(tradeKey) || { tradeNo: newTradeNo(at), gmtCreate: alipayTime(at) }
    Object.assign(trade, { params: p, partner: p.partner, status: 'TRADE_FINISHED', gmtPayment: alipayTime(at), gmtLastModified: alipayTime(at) })
    trades.set(tradeKey, trade)

    // The sync result: the merchant's pre-sign string as sent, success="true", signed by "Alipay"
    // with SHA1withRSA; this signature is not URL-encoded (docs/protocol.md §5).
    const content = `${checked.preSign}&success="true"`
    const sign = signWith('RSA', content, { privateKey: alipayKey })
    const body = `resultStatus={9000};memo={};result={${content}&sign_type="RSA"&sign="${sign}"}`

    const notification = notificationFor(trade, checked.signType)
    queueNotification(notification)
    log(`pay ${p.out_trade_no}: paid, trade_no ${trade.tradeNo}; notifying ${p.notify_url}`)
    return { status: 200, body, tradeNo: trade.tradeNo, notifyId: notification.notifyId }
  }

  /**
   * POSTs a hand-made notification once, without retries. `signWith`: 'alipay' (the simulator's
   * own key, default; its notify_id then passes notify_verify), 'none' (no signature added), an
   * RSA private key (a forger's), or { md5Key }. `sign` replaces the computed signature.
   */
  async function sendNotification({ notifyUrl, params, signType = 'RSA', signWith: key = 'alipay', sign, body } = {}) {
    if (!notifyUrl) throw new TypeError('sendNotification needs notifyUrl')
    let formBody = body
    if (formBody === undefined) {
      if (!params) throw new TypeError('sendNotification needs params or body')
      if (key === 'none') formBody = new URLSearchParams({ ...params, ...(sign ? { sign } : {}), sign_type: signType }).toString()
      else if (sign !== undefined) formBody = new URLSearchParams({ ...params, sign, sign_type: signType }).toString()
      else formBody = signNotification(params, signType, key)
    }
    const fields = Object.fromEntries(new URLSearchParams(formBody))
    if (key === 'alipay' && sign === undefined && body === undefined && fields.notify_id) sentNotifyIds.set(fields.notify_id, partner || null)
    return notifier.deliver({ notifyId: fields.notify_id || null, outTradeNo: fields.out_trade_no || null, notifyUrl, body: formBody }, { kind: 'forged' })
  }

  /** Sends a notification that was already sent once more, byte for byte (same notify_id). */
  async function redeliver(notifyId) {
    const n = notifications.find((x) => x.notifyId === notifyId)
    if (!n) throw new Error(`no notification with notify_id ${notifyId}`)
    return notifier.deliver(n, { kind: 'redelivery' })
  }

  function waitFor(predicate, n, what, timeoutMs) {
    return new Promise((resolve, reject) => {
      const waiter = {
        cancel() {
          cleanup()
          reject(new Error(`${what}(${n}): the simulator was closed`))
        },
        check() {
          const got = predicate()
          if (got.length >= n) {
            cleanup()
            resolve(got)
          }
        },
      }
      const timer = setTimeout(() => {
        cleanup()
        const seen = deliveries.map((d) => `${d.kind}#${d.attempt} ${d.outTradeNo}: ${d.status ?? d.error} ${JSON.stringify(d.response ?? '')}`)
        reject(new Error(`${what}(${n}): ${predicate().length} after ${timeoutMs} ms; deliveries so far: ${seen.join('; ') || 'none'}`))
      }, timeoutMs)
      function cleanup() {
        clearTimeout(timer)
        waiters.delete(waiter)
      }
      waiters.add(waiter)
      waiter.check()
    })
  }

  // Narrows deliveries to one order, one refund (outReturnNo) or one kind of notification
  // (notifyType: 'trade_status_sync' | 'refund_status_sync'); hand-made ones carry no notifyType.
  const forOrder = (outTradeNo, { outReturnNo, notifyType } = {}) => (d) =>
    (outTradeNo === undefined || d.outTradeNo === outTradeNo) &&
    (outReturnNo === undefined || d.outReturnNo === outReturnNo) &&
    (notifyType === undefined || d.notifyType === notifyType)

  /**
   * Resolves with the first n scheduled notifications the merchant acknowledged with `success`
   * (of one order when outTradeNo is given); rejects after timeoutMs, listing what happened.
   */
  function waitForNotifications(n = 1, { timeoutMs = 10000, outTradeNo, outReturnNo, notifyType } = {}) {
    const mine = forOrder(outTradeNo, { outReturnNo, notifyType })
    return waitFor(() => deliveries.filter((d) => d.kind === 'scheduled' && d.acknowledged && mine(d)), n, 'waitForNotifications', timeoutMs)
  }

  /** Resolves once n scheduled tries, answered or not, have been made (of one order when outTradeNo is given). */
  function waitForDeliveries(n = 1, { timeoutMs = 10000, outTradeNo, outReturnNo, notifyType } = {}) {
    const mine = forOrder(outTradeNo, { outReturnNo, notifyType })
    return waitFor(() => deliveries.filter((d) => d.kind === 'scheduled' && mine(d)), n, 'waitForDeliveries', timeoutMs)
  }

  const services = createServices({ state, settings, faults, now, log, sendRefundNotification })
  const handleGateway = createGatewayHandler({ services, faults, settings, merchant: merchantKeys, alipayKey, requests: gatewayRequests, log })

  function findTradeByOutTradeNo(outTradeNo, forPartner = partner) {
    for (const t of trades.values()) if (t.params.out_trade_no === outTradeNo && (!forPartner || t.partner === forPartner)) return t
    return null
  }

  function findRefund(outReturnNo, forPartner = partner) {
    for (const r of state.refunds.values()) if (r.outReturnNo === outReturnNo && (!forPartner || r.partner === forPartner)) return r
    return null
  }

  /** Closes an unpaid trade, as its it_b_pay running out would: the query then says TRADE_CLOSED. */
  function closeTrade(outTradeNo, { partner: forPartner } = {}) {
    const trade = findTradeByOutTradeNo(outTradeNo, forPartner)
    if (!trade) throw new Error(`no trade with out_trade_no ${outTradeNo}`)
    if (trade.status === 'TRADE_FINISHED') throw new Error(`out_trade_no ${outTradeNo} is paid and cannot close`)
    trade.status = 'TRADE_CLOSED'
    trade.gmtLastModified = alipayTime(now())
    return viewTrade(trade)
  }

  /** Settles a refund left PROCESSING (fault refund_processing): status 'SUCCESS' or 'FAIL', then its notification. */
  function completeRefund(outReturnNo, { status = 'SUCCESS', errorCode, partner: forPartner } = {}) {
    const refund = findRefund(outReturnNo, forPartner)
    if (!refund) throw new Error(`no refund with out_return_no ${outReturnNo}`)
    if (status !== 'SUCCESS' && status !== 'FAIL') throw new TypeError("status must be 'SUCCESS' or 'FAIL'")
    services.complete(refund, status === 'SUCCESS' ? 'SUCCESS' : 'FAILED', errorCode || refund.errorCode || 'MERCHANT_BALANCE_NOT_ENOUGH')
    return { ...refund }
  }

  function viewTrade(t) {
    return {
      partner: t.partner,
      outTradeNo: t.params.out_trade_no,
      tradeNo: t.tradeNo,
      status: t.status,
      totalFee: t.params.total_fee || t.params.rmb_fee,
      currency: t.params.currency,
      gmtCreate: t.gmtCreate,
      gmtPayment: t.gmtPayment || null,
      refunded: services.tradeFields(t).to_buyer_fee,
    }
  }

  /**
   * The reconciliation files of one day (docs/protocol.md §8.7) from this simulator's paid orders and
   * successful refunds; see reconciliation.js. `date`: 'YYYYMMDD', 'YYYY-MM-DD' or a Date (its day
   * in GMT+8), today by default. `partner`: needed only when trades of several partners exist.
   */
  function reconciliationFiles({ date = now(), partner: forPartner, lineEnding } = {}) {
    let pid = forPartner || partner
    if (!pid) {
      const seen = new Set([...trades.values()].map((t) => t.partner))
      if (seen.size > 1) throw new TypeError(`trades of ${seen.size} partners: say which partner`)
      pid = seen.size === 1 ? [...seen][0] : null
      if (!pid) throw new TypeError('no trades yet and no partner given: say which partner')
    }
    const payments = [...trades.values()]
      .filter((t) => t.partner === pid && t.status === 'TRADE_FINISHED')
      .map((t) => ({
        outTradeNo: t.params.out_trade_no,
        tradeNo: t.tradeNo,
        amount: t.params.total_fee || t.params.rmb_fee,
        currency: t.params.currency,
        time: t.gmtPayment,
        issue: t.params.payment_inst || 'ALIPAYCN',
        remarks: t.params.subject,
      }))
    const refunds = [...state.refunds.values()]
      .filter((r) => r.partner === pid && r.status === 'SUCCESS')
      .map((r) => ({ outReturnNo: r.outReturnNo, outTradeNo: r.outTradeNo, tradeNo: r.tradeNo, amount: r.amount, currency: r.currency, time: r.gmtFinished, issue: r.issue, remarks: r.reason }))
    return buildReconciliationFiles({ partner: pid, date, payments, refunds, feeBasisPoints: settings.feeBasisPoints, settleDelayDays: settings.settleDelayDays, lineEnding })
  }

  /** Writes the day's files into `dir` (the CSVs and PID_YYYYMMDD.zip); resolves with their paths. */
  async function writeReconciliationFiles(dir, options = {}) {
    const files = reconciliationFiles(options)
    await fs.promises.mkdir(dir, { recursive: true })
    const out = [
      [files.transactions.name, files.transactions.text],
      [files.settleBatch.name, files.settleBatch.text],
      ...files.settlements.map((f) => [f.name, f.text]),
      [files.zip.name, files.zip.body],
    ]
    const paths = []
    for (const [name, content] of out) {
      const file = path.join(dir, name)
      await fs.promises.writeFile(file, content)
      paths.push(file)
    }
    return paths
  }

  const alipayPublicKey = publicKeyPem(alipayKey)

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      send(res, 500, { error: 'SYSTEM_ERROR', message: err.message })
    })
  })

  function send(res, status, payload, type) {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
    res.writeHead(status, { 'content-type': type || (typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8') })
    res.end(text)
  }

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = []
      let size = 0
      req.on('data', (c) => {
        size += c.length
        if (size > MAX_REQUEST_BYTES) {
          reject(Object.assign(new Error('request body too large'), { status: 413 }))
          req.destroy()
        } else chunks.push(c)
      })
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      req.on('error', reject)
    })
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://simulator')
    const route = `${req.method} ${url.pathname}`
    if (route === 'GET /gateway.do' || route === 'POST /gateway.do') {
      return handleGateway(req, res, url, req.method === 'POST' ? await readBody(req) : '')
    }
    if (url.pathname.startsWith('/admin/')) return handleAdmin(req, res, url)
    if (route === 'POST /pay') {
      let input
      try {
        const text = await readBody(req)
        input = (req.headers['content-type'] || '').includes('json') ? JSON.parse(text) : { orderStr: text, choice: url.searchParams.get('choice') || undefined }
      } catch (err) {
        return send(res, err.status || 400, { resultStatus: '4000', error: 'ILLEGAL_ARGUMENT', message: `the body is not JSON { orderStr, choice } (${err.message})` })
      }
      if (!input || typeof input.orderStr !== 'string') {
        return send(res, 400, { resultStatus: '4000', error: 'ILLEGAL_ARGUMENT', message: 'orderStr (a string) is required' })
      }
      const answer = await pay(input.orderStr, input.choice || 'pay')
      return send(res, answer.status, answer.json || answer.body)
    }
    if (route === 'POST /notify') {
      let input
      try {
        input = JSON.parse(await readBody(req))
      } catch (err) {
        return send(res, 400, { error: 'ILLEGAL_ARGUMENT', message: `the body is not JSON (${err.message})` })
      }
      const signWithKey = input.signWith === 'none' ? 'none' : 'alipay'
      try {
        return send(res, 200, await sendNotification({ ...input, signWith: signWithKey }))
      } catch (err) {
        return send(res, 400, { error: 'ILLEGAL_ARGUMENT', message: err.message })
      }
    }
    const redeliverMatch = /^\/notifications\/([0-9a-f]+)\/redeliver$/.exec(url.pathname)
    if (req.method === 'POST' && redeliverMatch) {
      try {
        return send(res, 200, await redeliver(redeliverMatch[1]))
      } catch (err) {
        return send(res, 404, { error: 'NOT_FOUND', message: err.message })
      }
    }
    if (route === 'GET /deliveries') return send(res, 200, deliveries)
    if (route === 'GET /notifications') return send(res, 200, notifications)
    if (route === 'GET /alipay_public_key.pem') return send(res, 200, alipayPublicKey, 'application/x-pem-file')
    if (route === 'GET /') {
      return send(res, 200, {
        simulator: 'alipayhk-pay Alipay simulator (TEST ONLY)',
        alipayPublicKey: publicKeyBase64(alipayKey),
        endpoints: [
          'POST /pay  JSON { orderStr, choice: "pay" | "cancel" | "fail" }',
          'GET|POST /gateway.do  single_trade_query, forex_refund, alipay.acquire.refund.query, notify_verify (docs/protocol.md §8)',
          'GET|POST|DELETE /admin/faults[/:id]  fault switches',
          'GET|POST /admin/settings',
          'GET  /admin/trades, /admin/refunds, /admin/gateway-requests',
          'POST /admin/trades/:outTradeNo/close, /admin/refunds/:outReturnNo/complete',
          'GET  /admin/reconciliation?date=YYYYMMDD[&partner=…], /admin/reconciliation/:fileName; POST /admin/reconciliation { date, dir, partner }',
          'POST /notify  JSON { notifyUrl, params, signType, signWith: "alipay" | "none", sign } (a hand-made notification, sent once)',
          'POST /notifications/:notifyId/redeliver',
          'GET  /deliveries',
          'GET  /notifications',
          'GET  /alipay_public_key.pem',
        ],
      })
    }
    return send(res, 404, { error: 'NOT_FOUND', message: `no route ${route}` })
  }

  async function readJson(req) {
    const text = await readBody(req)
    if (!text) return {}
    try {
      return JSON.parse(text)
    } catch (err) {
      throw Object.assign(new Error(`the body is not JSON (${err.message})`), { status: 400 })
    }
  }

  // Test switches and views; every answer is JSON except the reconciliation files themselves.
  async function handleAdmin(req, res, url) {
    const route = `${req.method} ${url.pathname}`
    const param = (re) => {
      const m = re.exec(url.pathname)
      return m ? decodeURIComponent(m[1]) : null
    }
    const attempt = async (status, fn) => {
      try {
        return send(res, status, await fn())
      } catch (err) {
        return send(res, err.status || (err instanceof TypeError ? 400 : 404), { error: err instanceof TypeError ? 'ILLEGAL_ARGUMENT' : 'NOT_FOUND', message: err.message })
      }
    }
    if (route === 'GET /admin/faults') return send(res, 200, { faults: faults.list(), kinds: FAULTS })
    if (route === 'POST /admin/faults') {
      return attempt(201, async () => {
        const input = await readJson(req)
        const added = (Array.isArray(input) ? input : [input]).map((rule) => faults.add(rule))
        return Array.isArray(input) ? added : added[0]
      })
    }
    if (route === 'DELETE /admin/faults') return (faults.clear(), send(res, 200, { faults: [] }))
    const faultId = param(/^\/admin\/faults\/(\d+)$/)
    if (req.method === 'DELETE' && faultId) return faults.remove(faultId) ? send(res, 200, { removed: Number(faultId) }) : send(res, 404, { error: 'NOT_FOUND', message: `no fault ${faultId}` })
    if (route === 'GET /admin/settings') return send(res, 200, { ...settings })
    if (route === 'POST /admin/settings') return attempt(200, async () => setSettings(await readJson(req)))
    if (route === 'GET /admin/trades') return send(res, 200, [...trades.values()].map(viewTrade))
    if (route === 'GET /admin/refunds') return send(res, 200, [...state.refunds.values()])
    if (route === 'GET /admin/gateway-requests') return send(res, 200, gatewayRequests)
    const closing = param(/^\/admin\/trades\/([^/]+)\/close$/)
    if (req.method === 'POST' && closing) return attempt(200, async () => closeTrade(closing, await readJson(req)))
    const completing = param(/^\/admin\/refunds\/([^/]+)\/complete$/)
    if (req.method === 'POST' && completing) return attempt(200, async () => completeRefund(completing, await readJson(req)))
    if (route === 'GET /admin/reconciliation') {
      return attempt(200, async () => {
        const files = reconciliationFiles({ date: url.searchParams.get('date') || undefined, partner: url.searchParams.get('partner') || undefined })
        return {
          date: files.date,
          partner: files.partner,
          files: [files.transactions, files.settleBatch, ...files.settlements.map(({ name, text }) => ({ name, text }))],
          zip: files.zip.name,
        }
      })
    }
    if (route === 'POST /admin/reconciliation') {
      return attempt(200, async () => {
        const input = await readJson(req)
        if (typeof input.dir !== 'string' || !input.dir) throw new TypeError('dir (a directory to write the files into) is required')
        return { files: await writeReconciliationFiles(input.dir, { date: input.date, partner: input.partner }) }
      })
    }
    const fileName = param(/^\/admin\/reconciliation\/([^/]+)$/)
    if (req.method === 'GET' && fileName) {
      const m = /^(2088\d{12})_(?:fptrade_|settlebatch_|settle_)?(\d{8})(?:_\d+)?\.(csv|zip)$/.exec(fileName)
      if (!m) return send(res, 404, { error: 'NOT_FOUND', message: `${fileName} is not a PID_fptrade_YYYYMMDD.csv, PID_settlebatch_…, PID_settle_… or PID_YYYYMMDD.zip name` })
      let files
      try {
        files = reconciliationFiles({ date: m[2], partner: m[1] })
      } catch (err) {
        return send(res, 400, { error: 'ILLEGAL_ARGUMENT', message: err.message })
      }
      if (fileName === files.zip.name) {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': files.zip.body.length })
        return res.end(files.zip.body)
      }
      const found = [files.transactions, files.settleBatch, ...files.settlements].find((f) => f.name === fileName)
      if (!found) return send(res, 404, { error: 'NOT_FOUND', message: `no file ${fileName} for that day` })
      return send(res, 200, found.text, 'text/csv; charset=utf-8')
    }
    return send(res, 404, { error: 'NOT_FOUND', message: `no route ${route}` })
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const url = `http://${host}:${address.port}`

  let closing = null
  function close() {
    if (!closing) {
      notifier.close()
      for (const t of state.timers) clearTimeout(t)
      state.timers.clear()
      for (const w of waiters) w.cancel()
      closing = new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
    return closing
  }

  return {
    url,
    port: address.port,
    alipayPublicKey,
    alipayPublicKeyBase64: publicKeyBase64(alipayKey),
    gatewayUrl: `${url}/gateway.do`,
    pay,
    sendNotification,
    redeliver,
    signNotification: (params, signType = 'RSA') => signNotification(params, signType),
    deliveries,
    notifications,
    waitForNotifications,
    waitForDeliveries,
    // Gateway services (docs/protocol.md §8) and their test switches.
    faults: {
      add: (rule) => faults.add(rule),
      list: () => faults.list(),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
    },
    setSettings,
    get settings() {
      return { ...settings }
    },
    gatewayRequests,
    trades: () => [...trades.values()].map(viewTrade),
    refunds: () => [...state.refunds.values()].map((r) => ({ ...r })),
    closeTrade,
    completeRefund,
    reconciliationFiles,
    writeReconciliationFiles,
    close,
  }
}

module.exports = { startSimulator, checkOrderStr, notifySignContent, signedNotifyBody, signContent, ALIPAY_RETRY_DELAYS_MS }

// `node simulator` runs it on its own, with the shipped TEST keys unless told otherwise.
if (require.main === module) {
  const keysDir = path.join(__dirname, '..', 'examples', 'test-keys')
  const env = process.env
  const readKey = (file) => fs.readFileSync(file, 'utf8')
  const retry = env.SIMULATOR_RETRY_DELAYS_MS ? env.SIMULATOR_RETRY_DELAYS_MS.split(',').map(Number) : undefined
  startSimulator({
    merchantPublicKey: env.ALIPAYHK_MD5_KEY_FILE && !env.ALIPAYHK_MERCHANT_PUBLIC_KEY_FILE
      ? undefined
      : readKey(env.ALIPAYHK_MERCHANT_PUBLIC_KEY_FILE || path.join(keysDir, 'merchant_public_key.TEST-ONLY.pem')),
    md5Key: env.ALIPAYHK_MD5_KEY_FILE ? readKey(env.ALIPAYHK_MD5_KEY_FILE).trim() : undefined,
    alipayPrivateKey: readKey(env.ALIPAYHK_ALIPAY_PRIVATE_KEY_FILE || path.join(keysDir, 'alipay_private_key.TEST-ONLY.pem')),
    retryDelaysMs: retry,
    refundSpacingMs: env.SIMULATOR_REFUND_SPACING_MS ? Number(env.SIMULATOR_REFUND_SPACING_MS) : undefined,
    refundProcessingMs: env.SIMULATOR_REFUND_PROCESSING_MS ? Number(env.SIMULATOR_REFUND_PROCESSING_MS) : undefined,
    replyCharset: env.SIMULATOR_REPLY_CHARSET || undefined,
    port: Number(env.PORT || 0),
    log: (line) => console.log(line),
  }).then(
    (sim) => {
      console.log(`Alipay simulator (TEST ONLY) listening on ${sim.url}`)
      const stop = () => sim.close().then(() => process.exit(0))
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    },
    (err) => {
      console.error(`simulator: ${err.message}`)
      process.exit(2)
    },
  )
}
