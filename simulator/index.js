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

  const deliveries = []
  const notifications = []
  const trades = new Map() // `${partner}/${out_trade_no}` -> trade
  const sentNotifyIds = new Map() // notify_id -> partner
  const waiters = new Set()

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
      notify_time: alipayTime(),
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
      outTradeNo: p.out_trade_no,
      tradeNo: trade.tradeNo,
      partner: p.partner,
      notifyUrl: p.notify_url,
      signType,
      params,
      body: signNotification(params, signType),
    }
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
    if (choice === 'cancel') {
      log(`pay ${p.out_trade_no}: cancelled by the payer`)
      return { status: 200, body: 'resultStatus={6001};memo={用户中途取消};result={}' }
    }
    if (choice === 'fail') {
      log(`pay ${p.out_trade_no}: failed`)
      return { status: 200, body: 'resultStatus={4000};memo={订单支付失败};result={}' }
    }
    const now = new Date()
    const trade = previous || { tradeNo: newTradeNo(now), gmtCreate: alipayTime(now) }
    Object.assign(trade, { params: p, status: 'TRADE_FINISHED', gmtPayment: alipayTime(now) })
    trades.set(tradeKey, trade)

    // The sync result: the merchant's pre-sign string as sent, success="true", signed by "Alipay"
    // with SHA1withRSA; this signature is not URL-encoded (PROTOCOL.md section 5).
    const content = `${checked.preSign}&success="true"`
    const sign = signWith('RSA', content, { privateKey: alipayKey })
    const body = `resultStatus={9000};memo={};result={${content}&sign_type="RSA"&sign="${sign}"}`

    const notification = notificationFor(trade, checked.signType)
    notifications.push(notification)
    sentNotifyIds.set(notification.notifyId, p.partner)
    log(`pay ${p.out_trade_no}: paid, trade_no ${trade.tradeNo}; notifying ${p.notify_url}`)
    setImmediate(() => notifier.start(notification))
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

  const forOrder = (outTradeNo) => (d) => outTradeNo === undefined || d.outTradeNo === outTradeNo

  /**
   * Resolves with the first n scheduled notifications the merchant acknowledged with `success`
   * (of one order when outTradeNo is given); rejects after timeoutMs, listing what happened.
   */
  function waitForNotifications(n = 1, { timeoutMs = 10000, outTradeNo } = {}) {
    const mine = forOrder(outTradeNo)
    return waitFor(() => deliveries.filter((d) => d.kind === 'scheduled' && d.acknowledged && mine(d)), n, 'waitForNotifications', timeoutMs)
  }

  /** Resolves once n scheduled tries, answered or not, have been made (of one order when outTradeNo is given). */
  function waitForDeliveries(n = 1, { timeoutMs = 10000, outTradeNo } = {}) {
    const mine = forOrder(outTradeNo)
    return waitFor(() => deliveries.filter((d) => d.kind === 'scheduled' && mine(d)), n, 'waitForDeliveries', timeoutMs)
  }

  function notifyVerify(query) {
    const notifyId = query.get('notify_id')
    const forPartner = query.get('partner')
    if (!notifyId || !sentNotifyIds.has(notifyId)) return false
    const sentFor = sentNotifyIds.get(notifyId)
    return !sentFor || sentFor === forPartner
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
    if (route === 'GET /gateway.do') {
      if (url.searchParams.get('service') !== 'notify_verify') return send(res, 400, 'ILLEGAL_SERVICE')
      return send(res, 200, String(notifyVerify(url.searchParams)))
    }
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
          'GET  /gateway.do?service=notify_verify&partner=…&notify_id=…',
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
    close,
  }
}

module.exports = { startSimulator, checkOrderStr, notifySignContent, signedNotifyBody, ALIPAY_RETRY_DELAYS_MS }

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
