// HTTP to Alipay's gateway with Node's own `fetch` (or the one the merchant passes), so that
// proxies, time-outs, mocks and tracing stay on the merchant's HTTP stack.
//
// This file sends what the core built (`gatewayRequest`) and hands the reply's bytes back
// to the core (`parseGatewayReply`); the rules, the signatures and the typed outcome are the
// core's. What is decided here is transport: which failures are worth another try, and how
// long to wait. A request is built once and sent again byte for byte, so a retried refund
// always carries the same out_return_no, amount and gmt_return.
'use strict'

// The core refuses a larger reply (core/src/limits.rs MAX_REPLY_BYTES); reading stops one
// byte past it, so a hostile 100 MB body is never buffered.
const MAX_REPLY_BYTES = 1024 * 1024

const DEFAULTS = { timeoutMs: 10_000, retries: 2, backoffMs: 200 }

function codedError(code, message, extra = {}) {
  const err = new Error(message)
  err.code = code
  Object.assign(err, extra)
  return err
}

function invalidArgument(field, message) {
  const err = new TypeError(message)
  err.code = 'ERR_ALIPAYHK_INVALID_ARGUMENT'
  err.field = field
  return err
}

/** Reads the HTTP settings of a config: `fetch`, `timeoutMs`, `retries`, `backoffMs`. */
function httpSettings(config) {
  const own = (name) => (Object.prototype.hasOwnProperty.call(config, name) ? config[name] : undefined)
  const s = { ...DEFAULTS, fetch: own('fetch') }
  if (s.fetch !== undefined && typeof s.fetch !== 'function') {
    throw invalidArgument('config.fetch', `config.fetch must be a fetch-compatible function; got ${typeof s.fetch}`)
  }
  for (const [name, min, max] of [
    ['timeoutMs', 1, 600_000],
    ['retries', 0, 10],
    ['backoffMs', 0, 60_000],
  ]) {
    const v = own(name)
    if (v === undefined) continue
    if (!Number.isInteger(v) || v < min || v > max) {
      throw invalidArgument(`config.${name}`, `config.${name} must be a whole number from ${min} to ${max}; got ${String(v)}`)
    }
    s[name] = v
  }
  return s
}

function unreachable(request, why, cause) {
  return codedError(
    'ERR_ALIPAYHK_GATEWAY_UNREACHABLE',
    `${request.service}: the gateway could not be reached (${why}); nothing is known of the outcome`,
    cause === undefined ? {} : { cause },
  )
}

function abortError(signal) {
  const err = new Error('The operation was aborted')
  err.name = 'AbortError'
  err.code = 'ABORT_ERR'
  err.cause = signal.reason
  return err
}

/** Aborted when either is (AbortSignal.any, which Node has from 18.17 and 20.3 on). */
function anySignal(a, b) {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b])
  const c = new AbortController()
  for (const s of [a, b]) {
    if (s.aborted) {
      c.abort(s.reason)
      break
    }
    s.addEventListener('abort', () => c.abort(s.reason), { once: true })
  }
  return c.signal
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(abortError(signal))
    const t = setTimeout(done, ms)
    function done() {
      if (signal) signal.removeEventListener('abort', onAbort)
      resolve()
    }
    function onAbort() {
      clearTimeout(t)
      reject(abortError(signal))
    }
    if (signal) signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** The body, or a `MALFORMED_REPLY` error past the limit (read no further). */
async function readCapped(response) {
  if (!response.body || typeof response.body.getReader !== 'function') {
    const buf = Buffer.from(await response.arrayBuffer())
    return buf.length > MAX_REPLY_BYTES ? buf.subarray(0, MAX_REPLY_BYTES + 1) : buf
  }
  const reader = response.body.getReader()
  const parts = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    parts.push(value)
    size += value.length
    if (size > MAX_REPLY_BYTES) {
      await reader.cancel().catch(() => {})
      break
    }
  }
  return Buffer.concat(parts, size)
}

/**
 * Sends `request` once and returns the reply's bytes. A network error, a time-out or an
 * HTTP 5xx is `ERR_ALIPAYHK_GATEWAY_UNREACHABLE` (the caller decides whether to try again);
 * the caller's `signal` ends it with an AbortError.
 */
async function send(request, http, signal) {
  const doFetch = http.fetch || globalThis.fetch
  if (signal && signal.aborted) throw abortError(signal)
  const timeout = AbortSignal.timeout(http.timeoutMs)
  const both = signal ? anySignal(signal, timeout) : timeout
  let res
  try {
    res = await doFetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body === undefined || request.body === null ? undefined : request.body,
      signal: both,
      redirect: 'error',
    })
    if (res.status < 500) return await readCapped(res)
  } catch (err) {
    if (signal && signal.aborted) throw abortError(signal)
    if (err && err.code === 'ERR_ALIPAYHK_MALFORMED_REPLY') throw err
    throw unreachable(request, timeout.aborted ? `no answer within ${http.timeoutMs} ms` : (err && err.message) || String(err), err)
  }
  await res.body?.cancel?.().catch(() => {})
  throw unreachable(request, `HTTP ${res.status}`)
}

/**
 * One gateway call: builds the signed request once, sends it (retrying transport failures
 * and retryable gateway errors such as SYSTEM_ERROR), and returns the checked reply. `lost`
 * is set when a try got no usable answer, so a refund knows its first request may have
 * arrived.
 */
async function call(alipay, http, service, params, expected, signal, state = {}) {
  const request = alipay.gatewayRequest(service, params)
  let last
  for (let attempt = 0; attempt <= http.retries; attempt++) {
    if (attempt > 0) await sleep(http.backoffMs * 2 ** (attempt - 1), signal)
    let body
    try {
      body = await send(request, http, signal)
    } catch (err) {
      if (err.code !== 'ERR_ALIPAYHK_GATEWAY_UNREACHABLE') throw err
      state.lost = true
      last = err
      continue
    }
    try {
      return alipay.parseGatewayReply(service, body, expected)
    } catch (err) {
      // A retryable gateway error (SYSTEM_ERROR …) is asked again; a bad signature or a
      // malformed reply is not a state, and asking again is safe for every service: the
      // refund request is the same bytes.
      const retry =
        (err.code === 'ERR_ALIPAYHK_GATEWAY_ERROR' && err.retryable) ||
        err.code === 'ERR_ALIPAYHK_REPLY_SIGNATURE' ||
        err.code === 'ERR_ALIPAYHK_MALFORMED_REPLY'
      if (!retry) throw err
      if (err.code !== 'ERR_ALIPAYHK_GATEWAY_ERROR') state.lost = true
      last = err
    }
  }
  throw last
}

function ids(query, allowed, what) {
  if (query === null || typeof query !== 'object' || Array.isArray(query)) {
    throw invalidArgument(what, `${what} must be an object such as { ${allowed[0]} }; got ${query === null ? 'null' : typeof query}`)
  }
  for (const k of Object.keys(query)) {
    if (!allowed.includes(k)) throw invalidArgument(`${what}.${k}`, `${what}.${k} is not a known field (known: ${allowed.join(', ')})`)
  }
  return query
}

function signalOf(options) {
  if (options === undefined || options === null) return undefined
  if (typeof options !== 'object') throw invalidArgument('options', `options must be an object such as { signal }; got ${typeof options}`)
  return options.signal
}

/** The methods `AlipayHK` gains in JavaScript; `this` is the account, `http` its settings. */
const methods = {
  async queryOrder(http, query, options) {
    const q = ids(query, ['outTradeNo', 'tradeNo'], 'query')
    const r = await call(
      this,
      http,
      'single_trade_query',
      { out_trade_no: q.outTradeNo, trade_no: q.tradeNo },
      { outTradeNo: q.outTradeNo, tradeNo: q.tradeNo },
      signalOf(options),
    )
    return { status: r.status, signedByAlipay: r.signedByAlipay, signType: r.signType, trade: r.trade }
  },

  async refundStatus(http, query, options) {
    const q = ids(query, ['outTradeNo', 'outReturnNo'], 'query')
    const r = await call(
      this,
      http,
      'alipay.acquire.refund.query',
      { out_trade_no: q.outTradeNo, out_return_no: q.outReturnNo },
      { outTradeNo: q.outTradeNo, outReturnNo: q.outReturnNo },
      signalOf(options),
    )
    return { status: r.status, signedByAlipay: r.signedByAlipay, signType: r.signType, refund: r.refund }
  },

  async refund(http, refund, options) {
    const r = ids(refund, ['outTradeNo', 'outReturnNo', 'amount', 'currency', 'reason', 'sync', 'notifyUrl'], 'refund')
    if (r.sync !== undefined && typeof r.sync !== 'boolean') throw invalidArgument('refund.sync', 'refund.sync must be true or false')
    const sync = r.sync !== false
    const signal = signalOf(options)
    const state = {}
    const params = {
      out_trade_no: r.outTradeNo,
      out_return_no: r.outReturnNo,
      return_amount: r.amount,
      currency: r.currency === undefined ? 'HKD' : r.currency, // AlipayHK's currency, as for orders
      reason: r.reason,
      is_sync: sync ? 'Y' : 'N',
      notify_url: r.notifyUrl,
    }
    const expected = { outTradeNo: r.outTradeNo, outReturnNo: r.outReturnNo }
    try {
      await call(this, http, 'forex_refund', params, expected, signal, state)
    } catch (err) {
      // The same refund id after a try whose reply was lost: the first request arrived.
      // What happened to it is the refund query's to say, not an error.
      if (!(err.code === 'ERR_ALIPAYHK_GATEWAY_ERROR' && err.gatewayError === 'REPEATED_REFUNDMENT_REQUEST' && state.lost)) throw err
    }
    if (!sync) {
      return { status: 'ACCEPTED', signedByAlipay: false, outTradeNo: r.outTradeNo, outReturnNo: r.outReturnNo }
    }
    // The refund reply is unsigned: the state is the signed refund query's.
    const s = await methods.refundStatus.call(this, http, { outTradeNo: r.outTradeNo, outReturnNo: r.outReturnNo }, options)
    return { ...s, outTradeNo: r.outTradeNo, outReturnNo: r.outReturnNo }
  },

  async confirmNotifyId(http, notifyId, options) {
    if (typeof notifyId !== 'string' || notifyId === '') {
      throw invalidArgument('notifyId', "notifyId must be the notification's notify_id (a non-empty string)")
    }
    const r = await call(this, http, 'notify_verify', { notify_id: notifyId }, null, signalOf(options))
    return r.status === 'GENUINE'
  },
}

module.exports = { httpSettings, methods, send, MAX_REPLY_BYTES }
