// Fault switches for tests: rules that make the gateway or the notifier misbehave on purpose,
// each used up after `times` matches (or never, with `always`).
'use strict'

/** What each fault does, and where it acts. */
const FAULTS = {
  // Gateway replies. `afterApply: true` does the request's work first (a refund is made), then fails.
  cut: 'close the socket without an answer',
  delay: 'wait delayMs, then answer',
  http_502: 'answer HTTP 502 with an HTML error page',
  wrong_key: 'sign the reply with a key that is not Alipay\'s',
  unsigned: 'leave <sign> and <sign_type> out of the reply',
  tamper: 'change one field of <response> after signing (field, value)',
  error: 'answer is_success=F with the code in `error` (SYSTEM_ERROR, ILLEGAL_PARTNER_EXTERFACE, …) without doing the work',
  raw: 'answer `body` (repeated `repeat` times, streamed) with `status` (200) and `contentType` (text/xml): hostile or broken replies',
  // Refunds.
  refund_fail: 'the refund fails (refund_error_code `error`, MERCHANT_BALANCE_NOT_ENOUGH by default)',
  refund_processing: 'an is_sync=N refund stays PROCESSING until completeRefund()',
  // Notifications.
  drop_notification: 'do not send a notification (`tries`: drop only the first n tries)',
}

const GATEWAY_FAULTS = ['cut', 'delay', 'http_502', 'wrong_key', 'unsigned', 'tamper', 'error', 'raw']
const MATCH_FIELDS = ['service', 'outTradeNo', 'outReturnNo', 'notifyType']

class Faults {
  constructor() {
    this.rules = []
    this.nextId = 1
  }

  /** Adds a rule; returns it (with its id). Throws a TypeError saying what is wrong. */
  add(input) {
    if (!input || typeof input !== 'object') throw new TypeError('a fault is an object such as { fault: "cut", service: "forex_refund" }')
    const { fault } = input
    if (!Object.prototype.hasOwnProperty.call(FAULTS, fault)) {
      throw new TypeError(`fault must be one of ${Object.keys(FAULTS).join(', ')}, not ${JSON.stringify(fault)}`)
    }
    const times = input.times === undefined ? 1 : input.times
    if (!input.always && !(Number.isInteger(times) && times > 0)) throw new TypeError('times must be a whole number above 0 (or give always: true)')
    if (fault === 'delay' && !(Number.isFinite(input.delayMs) && input.delayMs >= 0)) throw new TypeError('a delay needs delayMs (milliseconds)')
    if (fault === 'tamper' && (typeof input.field !== 'string' || typeof input.value !== 'string')) throw new TypeError('tamper needs field and value (strings)')
    if (fault === 'error' && !/^[A-Z_]+$/.test(input.error || '')) throw new TypeError('the error fault needs error: an upper-case code such as SYSTEM_ERROR')
    if (fault === 'raw') {
      if (typeof input.body !== 'string') throw new TypeError('raw needs body (a string; "" for an empty answer)')
      if (input.repeat !== undefined && !(Number.isInteger(input.repeat) && input.repeat > 0)) throw new TypeError('repeat must be a whole number above 0')
      if (input.status !== undefined && !(Number.isInteger(input.status) && input.status >= 200 && input.status <= 599)) throw new TypeError('status must be an HTTP status, 200 to 599')
    }
    if (input.tries !== undefined && !(Number.isInteger(input.tries) && input.tries > 0)) throw new TypeError('tries must be a whole number above 0')
    const rule = { id: this.nextId++, fault, times: input.always ? null : times, always: Boolean(input.always), used: 0 }
    for (const k of MATCH_FIELDS) if (input[k] !== undefined) rule[k] = String(input[k])
    for (const k of ['afterApply', 'delayMs', 'field', 'value', 'error', 'tries', 'body', 'repeat', 'status', 'contentType']) if (input[k] !== undefined) rule[k] = input[k]
    if (GATEWAY_FAULTS.includes(fault)) rule.afterApply = Boolean(rule.afterApply)
    this.rules.push(rule)
    return rule
  }

  /**
   * The first live rule of one of `kinds` whose match fields all equal the context's, used up
   * once; null when none. `accept(rule)` may narrow the choice further.
   */
  take(kinds, context, accept = () => true) {
    const rule = this.rules.find((r) => kinds.includes(r.fault) && (r.always || r.used < r.times) && MATCH_FIELDS.every((k) => r[k] === undefined || r[k] === context[k]) && accept(r))
    if (!rule) return null
    rule.used++
    return rule
  }

  list() {
    return this.rules.map((r) => ({ ...r, left: r.always ? null : r.times - r.used }))
  }

  remove(id) {
    const before = this.rules.length
    this.rules = this.rules.filter((r) => r.id !== Number(id))
    return this.rules.length < before
  }

  clear() {
    this.rules = []
  }
}

module.exports = { Faults, FAULTS, GATEWAY_FAULTS }
