// The asynchronous notification (docs/protocol.md §4): the fields, the signature over the
// sorted `k=v` string, and delivery with Alipay's retry schedule.
'use strict'

const http = require('node:http')
const { signWith } = require('./keys')

// Alipay's documented schedule: after the first try, 4m, 10m, 10m, 1h, 2h, 6h, 15h: 8 tries in about 25 hours.
const ALIPAY_RETRY_DELAYS_MS = [4, 10, 10, 60, 120, 360, 900].map((minutes) => minutes * 60 * 1000)

const MAX_RESPONSE_BYTES = 64 * 1024

/** The string Alipay signs: keys sorted by byte, `k=v` joined with `&`, no quotes, sign/sign_type/empty left out. */
function notifySignContent(params) {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== undefined && params[k] !== null && params[k] !== '')
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((k) => `${k}=${params[k]}`)
    .join('&')
}

/** The form body of a notification signed with `keys` ({ privateKey } for RSA/RSA2, { md5Key } for MD5). */
function signedNotifyBody(params, signType, keys) {
  const sign = signWith(signType, notifySignContent(params), keys)
  return new URLSearchParams({ ...params, sign, sign_type: signType }).toString()
}

/** Beijing time (UTC+8), `yyyy-MM-dd HH:mm:ss`, as Alipay writes notify_time and gmt_*. */
function alipayTime(date = new Date()) {
  const d = new Date(date.getTime() + 8 * 3600 * 1000)
  const p = (n) => String(n).padStart(2, '0')
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`
}

class Notifier {
  /**
   * @param {object} o
   * @param {number[]} o.retryDelaysMs  wait before each retry; tries = length + 1
   * @param {number} o.timeoutMs        per try; a silent server counts as a failed try
   * @param {(delivery) => void} o.onDelivery
   */
  constructor({ retryDelaysMs, timeoutMs, onDelivery }) {
    this.retryDelaysMs = retryDelaysMs
    this.timeoutMs = timeoutMs
    this.onDelivery = onDelivery
    this.timers = new Set()
    this.requests = new Set()
    this.closed = false
  }

  /** One POST of `body` to `url`; resolves (never rejects) with what happened. */
  post(url, body) {
    return new Promise((resolve) => {
      if (this.closed) return resolve({ status: null, response: null, error: 'simulator closed' })
      let target
      try {
        target = new URL(url)
      } catch {
        return resolve({ status: null, response: null, error: `notify_url ${JSON.stringify(url)} is not a URL` })
      }
      if (target.protocol !== 'http:') {
        return resolve({ status: null, response: null, error: `the simulator posts over http only, not ${target.protocol}` })
      }
      const payload = Buffer.from(body, 'utf8')
      let settled = false
      const done = (outcome) => {
        if (settled) return
        settled = true
        this.requests.delete(req)
        resolve(outcome)
      }
      const req = http.request(
        target,
        {
          method: 'POST',
          agent: false, // a fresh connection per try, none left open after close()
          timeout: this.timeoutMs,
          headers: {
            'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
            'content-length': payload.length,
            'user-agent': 'alipayhk-pay-simulator',
          },
        },
        (res) => {
          const chunks = []
          let size = 0
          res.on('data', (c) => {
            size += c.length
            if (size <= MAX_RESPONSE_BYTES) chunks.push(c)
          })
          res.on('end', () => done({ status: res.statusCode, response: Buffer.concat(chunks).toString('utf8'), error: null }))
          res.on('error', (err) => done({ status: res.statusCode, response: null, error: err.code || err.message }))
        },
      )
      this.requests.add(req)
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'TIMEOUT' })))
      req.on('error', (err) => done({ status: null, response: null, error: err.code || err.message }))
      req.end(payload)
    })
  }

  /**
   * Delivers `notification` ({ notifyId, notifyUrl, body, outTradeNo, ... }) until the answer is
   * exactly `success` (Alipay ignores anything else, a trailing newline included) or the
   * schedule runs out. Updates notification.state and notification.attempts.
   */
  start(notification) {
    notification.attempts = 0
    if (notification.dropTries === Infinity) {
      // A fault switch dropped it whole: never sent, shown once as a delivery of kind 'dropped'.
      notification.state = 'dropped'
      if (!this.closed) this.onDelivery(this.record(notification, 'dropped', 0, { status: null, response: null, error: 'DROPPED by a fault switch' }))
      return
    }
    notification.state = 'pending'
    const attempt = async () => {
      if (this.closed) return
      await this.deliver(notification, { kind: 'scheduled' })
      if (this.closed || notification.state !== 'pending') return
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        attempt()
      }, this.retryDelaysMs[notification.attempts - 1])
      // Never the only thing keeping a process alive: close() clears it anyway.
      timer.unref()
      this.timers.add(timer)
    }
    attempt()
  }

  record(notification, kind, attempt, outcome, at = new Date().toISOString()) {
    const delivery = {
      notifyId: notification.notifyId,
      outTradeNo: notification.outTradeNo,
      url: notification.notifyUrl,
      kind,
      attempt,
      at,
      status: outcome.status,
      response: outcome.response,
      error: outcome.error,
      acknowledged: outcome.response === 'success',
    }
    if (notification.notifyType) delivery.notifyType = notification.notifyType
    if (notification.outReturnNo) delivery.outReturnNo = notification.outReturnNo
    return delivery
  }

  /**
   * One try, recorded through onDelivery. kind: 'scheduled' | 'redelivery' | 'forged'. A scheduled
   * try that a fault switch drops (notification.dropTries > 0) is not sent and is recorded as
   * kind 'dropped'; it still counts as a try of the schedule.
   */
  async deliver(notification, { kind }) {
    const at = new Date().toISOString()
    if (kind !== 'forged') notification.attempts = (notification.attempts || 0) + 1
    const dropped = kind === 'scheduled' && notification.dropTries > 0
    let outcome
    if (dropped) {
      notification.dropTries--
      outcome = { status: null, response: null, error: 'DROPPED by a fault switch' }
    } else {
      outcome = await this.post(notification.notifyUrl, notification.body)
    }
    const delivery = this.record(notification, dropped ? 'dropped' : kind, kind === 'forged' ? 1 : notification.attempts, outcome, at)
    // The state is settled before anyone waiting on onDelivery looks at it.
    if (kind === 'scheduled') {
      if (delivery.acknowledged) notification.state = 'acknowledged'
      else if (notification.attempts > this.retryDelaysMs.length) notification.state = 'gave_up'
    }
    if (!this.closed) this.onDelivery(delivery)
    return delivery
  }

  close() {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const r of this.requests) r.destroy()
    this.requests.clear()
  }
}

module.exports = { Notifier, notifySignContent, signedNotifyBody, alipayTime, ALIPAY_RETRY_DELAYS_MS }
