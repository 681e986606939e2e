// Hostile input (issue 6): every exported function and class method, fed wrong types, odd
// objects (null-prototype, inherited keys, throwing getters, Proxies, frozen), too many or
// too large values, NUL bytes, lone surrogates, both Unicode normalisation forms, damaged and
// wrong-kind keys, broken percent-encoding and empty strings. Each case either returns a
// result checked independently (node:crypto, or the exact expected string), or throws /
// rejects with a documented `code` (and `field` where there is one); an exception raised by
// the caller's own getter or Proxy trap propagates unchanged. A handful of the nastiest
// cases also run in a child process, to prove that none aborts it; and the panic test hook
// (on the raw binding, index.js: the package entry does not export it) proves a Rust panic
// becomes ERR_ALIPAYHK_INTERNAL.
'use strict'

const crypto = require('node:crypto')
const path = require('node:path')
const util = require('node:util')
const { spawnSync } = require('node:child_process')

const addon = require('..')
const {
  buildOrderStr,
  buildOrderStrAsync,
  preSignString,
  signContent,
  OrderSigner,
  verifyNotify,
  verifyNotifyAsync,
  verifyTradePayResult,
  parseOrderStr,
  verifyOrderStr,
  checkNotifyMatchesOrder,
  isPaid,
  notifyVerifyUrl,
  AlipayHK,
} = addon
const H = require('./helpers')

const ROOT = path.join(__dirname, '..')

// --- keys and valid inputs, made for this run --------------------------------------------------

const MERCHANT = H.rsaPair(1024) // signs as RSA
const MERCHANT2 = H.rsaPair(2048) // signs as RSA2
const ALIPAY = H.rsaPair(1024)
const MD5_KEY = 'hostile' + crypto.randomBytes(12).toString('hex') + 'z' // 32 letters and digits

const KEYS = {
  RSA: { signType: 'RSA', privateKey: H.pkcs8Pem(MERCHANT) },
  RSA2: { signType: 'RSA2', privateKey: H.pkcs8Pem(MERCHANT2) },
  MD5: { signType: 'MD5', md5Key: MD5_KEY },
}
const SECRET = { RSA: MERCHANT.privateKey, RSA2: MERCHANT2.privateKey, MD5: MD5_KEY }
const PUBLIC = { RSA: MERCHANT.publicKey, RSA2: MERCHANT2.publicKey }
const ALIPAY_KEY = { alipayPublicKey: H.spkiPem(ALIPAY) }
const DER_RSA = MERCHANT.privateKey.export({ type: 'pkcs8', format: 'der' })
const SIGNER = new OrderSigner(KEYS.RSA2)
const MD5_SIGNER = new OrderSigner(KEYS.MD5)
const FRONT = new AlipayHK({
  partner: H.PARTNER,
  signType: 'RSA2',
  privateKey: H.pkcs8Pem(MERCHANT2),
  alipayPublicKey: H.spkiPem(ALIPAY),
})
const MD5_FRONT = new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY })

const P = H.validParams
const BODY = H.signedNotifyBody(H.notifyFields(), 'RSA', ALIPAY.privateKey)
// FRONT is an RSA2 account: it accepts RSA2-signed messages only (acceptSignTypes default).
const BODY2 = H.signedNotifyBody(H.notifyFields(), 'RSA2', ALIPAY.privateKey)
const MD5_BODY = H.signedNotifyBody(H.notifyFields(), 'MD5', MD5_KEY)
const ORDER_STR = H.refOrderStr(H.refPreSign(P()), 'RSA2', MERCHANT2.privateKey)
// What isPaid and checkNotifyMatchesOrder take: a notification that verified (notifyFields:
// HOSTILE-0001, 12.50 HKD, TRADE_FINISHED), and an order that matches it.
const NOTIFICATION = H.verifiedNotification(verifyNotify, H.notifyFields(), ALIPAY, 'RSA')
const EXPECTED = { outTradeNo: 'HOSTILE-0001', totalFee: '12.50' }

function tradePayResult(preSign = H.refPreSign(P()), signType = 'RSA') {
  const content = `${preSign}&success="true"`
  const sign = H.refSign(content, signType, ALIPAY.privateKey)
  return `resultStatus={9000};memo={};result={${content}&sign_type="${signType}"&sign="${sign}"}`
}
const RESULT = tradePayResult()
const RESULT2 = tradePayResult(H.refPreSign(P()), 'RSA2')

// --- independent checks ----------------------------------------------------------------------

/** `out` is exactly the orderStr of `preSign` signed with the run's `signType` key. */
function expectOrderStr(out, preSign, signType) {
  expect(typeof out).toBe('string')
  expect(out).toBe(H.refOrderStr(preSign, signType, SECRET[signType]))
  if (signType !== 'MD5') {
    const m = /&sign="([^"]*)"&sign_type="RSA2?"$/.exec(out)
    const sig = Buffer.from(decodeURIComponent(m[1]), 'base64')
    expect(crypto.verify(H.HASH[signType], Buffer.from(preSign, 'utf8'), PUBLIC[signType], sig)).toBe(true)
  }
}

function expectSignature(out, content, signType) {
  expect(out).toBe(H.refSign(content, signType, SECRET[signType]))
  if (signType !== 'MD5') {
    expect(crypto.verify(H.HASH[signType], Buffer.from(content, 'utf8'), PUBLIC[signType], Buffer.from(out, 'base64'))).toBe(true)
  }
}

const OK = (v) => {
  expect(v.ok).toBe(true)
  expect(v.reason).toBeUndefined()
}
const failed = (reason) => (v) => {
  expect(v.ok).toBe(false)
  expect(v.reason).toBe(reason)
  expect(typeof v.message).toBe('string')
}

// --- the table -------------------------------------------------------------------------------

const CASES = []
const add = (name, kind, run, expected) => CASES.push({ name, kind, run, expected })
/** The call returns (not a Promise) and `check(result)` passes. */
const returns = (name, run, check) => add(name, 'returns', run, check)
/** The call returns a Promise that resolves and `check(result)` passes. */
const resolves = (name, run, check) => add(name, 'resolves', run, check)
/** The call throws synchronously a coded error; `field` is checked when given. */
const throwsCode = (name, run, code, field) => add(name, 'throws', run, { code, field })
/** The call returns a Promise that rejects with a coded error. */
const rejectsCode = (name, run, code, field) => add(name, 'rejects', run, { code, field })
/** The call throws exactly `sentinel` (the caller's own exception, unchanged). */
const throwsSame = (name, run, sentinel) => add(name, 'throwsSame', run, sentinel)
/** The call returns a Promise that rejects with exactly `sentinel`. */
const rejectsSame = (name, run, sentinel) => add(name, 'rejectsSame', run, sentinel)
/** Sync or async: either the coded error, or a result that passes `check` (never a wrong one). */
const codeOrResult = (name, run, code, check) => add(name, 'either', run, { code, check })
/** The call throws the engine's own TypeError (a revoked Proxy, a wrong receiver). */
const throwsEngine = (name, run, pattern) => add(name, 'throwsEngine', run, pattern)

const INVALID_ARGUMENT = 'ERR_ALIPAYHK_INVALID_ARGUMENT'
const INVALID_PARAM = 'ERR_ALIPAYHK_INVALID_PARAM'
const MISSING_PARAM = 'ERR_ALIPAYHK_MISSING_PARAM'
const INVALID_KEY = 'ERR_ALIPAYHK_INVALID_KEY'
const SIGN_TYPE = 'ERR_ALIPAYHK_SIGN_TYPE'
const CODES = [MISSING_PARAM, INVALID_PARAM, INVALID_KEY, SIGN_TYPE, INVALID_ARGUMENT, 'ERR_ALIPAYHK_INTERNAL']

function expectCoded(err, { code, field }) {
  expect(util.types.isNativeError(err)).toBe(true)
  expect(CODES).toContain(err.code)
  expect(err.code).toBe(code)
  expect(err.name).toBe(code === INVALID_ARGUMENT ? 'TypeError' : 'Error')
  if (field !== undefined) expect(err.field).toBe(field)
  expect(typeof err.message).toBe('string')
  expect(err.message.length).toBeGreaterThan(0)
  // A message never echoes a huge input back.
  expect(err.message.length).toBeLessThan(2000)
}

async function runCase(c) {
  let value
  let thrown
  let threw = false
  try {
    value = c.run()
  } catch (e) {
    threw = true
    thrown = e
  }
  if (c.kind === 'either') {
    if (threw) return expectCoded(thrown, { code: c.expected.code })
    if (!util.types.isPromise(value)) return c.expected.check(value)
    const settled = await value.then((v) => ({ v }), (e) => ({ e }))
    return 'e' in settled ? expectCoded(settled.e, { code: c.expected.code }) : c.expected.check(settled.v)
  }
  const sync = ['returns', 'throws', 'throwsSame', 'throwsEngine'].includes(c.kind)
  if (sync && !threw) expect(util.types.isPromise(value)).toBe(false)
  if (!sync) {
    if (threw) throw new Error(`expected a Promise, but the call threw synchronously: ${util.inspect(thrown)}`)
    expect(util.types.isPromise(value)).toBe(true)
  }
  switch (c.kind) {
    case 'returns':
      if (threw) throw thrown
      return c.expected(value)
    case 'resolves':
      return c.expected(await value)
    case 'throws':
    case 'throwsSame':
    case 'throwsEngine':
      if (!threw) throw new Error(`expected a throw, got ${util.inspect(value).slice(0, 300)}`)
      if (c.kind === 'throws') return expectCoded(thrown, c.expected)
      if (c.kind === 'throwsSame') return expect(thrown).toBe(c.expected)
      expect(util.types.isNativeError(thrown)).toBe(true)
      expect(thrown.name).toBe('TypeError')
      expect(thrown.code).toBeUndefined()
      return expect(thrown.message).toMatch(c.expected)
    default: {
      const outcome = await value.then(
        (v) => ({ resolved: v }),
        (e) => ({ rejected: e }),
      )
      if (!('rejected' in outcome)) throw new Error(`expected a rejection, got ${util.inspect(outcome.resolved).slice(0, 300)}`)
      if (c.kind === 'rejects') return expectCoded(outcome.rejected, c.expected)
      return expect(outcome.rejected).toBe(c.expected)
    }
  }
}

// --- 1. a wrong type for every argument ------------------------------------------------------

const WRONG = [
  ['a number', () => 42],
  ['NaN', () => NaN],
  ['a boolean', () => false],
  ['a bigint', () => 12n],
  ['a symbol', () => Symbol('hostile')],
  ['a function', () => function params() {}],
  ['an array', () => [['service', 'mobile.securitypay.pay']]],
]

// [what, call with the value, 'sync' | 'async', field, refuse null/undefined too, refuse a string too]
const ARGUMENTS = [
  ['buildOrderStr(params)', (v) => buildOrderStr(v, KEYS.RSA), 'sync', 'params', true, true],
  ['buildOrderStr(…, key)', (v) => buildOrderStr(P(), v), 'sync', 'key', true, false],
  ['buildOrderStr(…, options)', (v) => buildOrderStr(P(), KEYS.MD5, v), 'sync', 'options', false, true],
  ['buildOrderStrAsync(params)', (v) => buildOrderStrAsync(v, KEYS.RSA), 'async', 'params', true, true],
  ['buildOrderStrAsync(…, key)', (v) => buildOrderStrAsync(P(), v), 'async', 'key', true, false],
  ['buildOrderStrAsync(…, options)', (v) => buildOrderStrAsync(P(), KEYS.MD5, v), 'async', 'options', false, true],
  ['preSignString(params)', (v) => preSignString(v), 'sync', 'params', true, true],
  ['preSignString(…, options)', (v) => preSignString(P(), v), 'sync', 'options', false, true],
  ['signContent(content)', (v) => signContent(v, KEYS.MD5), 'sync', 'content', true, false],
  ['signContent(…, key)', (v) => signContent('text', v), 'sync', 'key', true, false],
  ['new OrderSigner(key)', (v) => new OrderSigner(v), 'sync', 'key', true, false],
  ['OrderSigner#buildOrderStr(params)', (v) => SIGNER.buildOrderStr(v), 'sync', 'params', true, true],
  ['OrderSigner#buildOrderStr(…, options)', (v) => SIGNER.buildOrderStr(P(), v), 'sync', 'options', false, true],
  ['OrderSigner#buildOrderStrAsync(params)', (v) => SIGNER.buildOrderStrAsync(v), 'async', 'params', true, true],
  ['OrderSigner#buildOrderStrAsync(…, options)', (v) => SIGNER.buildOrderStrAsync(P(), v), 'async', 'options', false, true],
  ['OrderSigner#preSign(params)', (v) => SIGNER.preSign(v), 'sync', 'params', true, true],
  ['OrderSigner#preSign(…, options)', (v) => SIGNER.preSign(P(), v), 'sync', 'options', false, true],
  ['OrderSigner#signContent(content)', (v) => SIGNER.signContent(v), 'sync', 'content', true, false],
  ['verifyNotify(body)', (v) => verifyNotify(v, ALIPAY_KEY), 'sync', 'body', true, false],
  ['verifyNotify(…, key)', (v) => verifyNotify(BODY, v), 'sync', 'key', true, true],
  ['verifyNotifyAsync(body)', (v) => verifyNotifyAsync(v, ALIPAY_KEY), 'async', 'body', true, false],
  ['verifyNotifyAsync(…, key)', (v) => verifyNotifyAsync(BODY, v), 'async', 'key', true, true],
  ['verifyNotifyAsync(…, options)', (v) => verifyNotifyAsync(BODY, ALIPAY_KEY, v), 'async', 'options', false, true],
  ['verifyTradePayResult(result)', (v) => verifyTradePayResult(v, ALIPAY_KEY), 'sync', 'result', true, false],
  ['verifyTradePayResult(…, key)', (v) => verifyTradePayResult(RESULT, v), 'sync', 'key', true, true],
  ['parseOrderStr(orderStr)', (v) => parseOrderStr(v), 'sync', 'orderStr', true, false],
  ['verifyOrderStr(orderStr)', (v) => verifyOrderStr(v), 'sync', 'orderStr', true, false],
  ['verifyOrderStr(…, key)', (v) => verifyOrderStr(ORDER_STR, v), 'sync', 'key', false, true],
  ['checkNotifyMatchesOrder(notification)', (v) => checkNotifyMatchesOrder(v, EXPECTED), 'sync', 'notification', true, true],
  ['checkNotifyMatchesOrder(…, expected)', (v) => checkNotifyMatchesOrder(NOTIFICATION, v), 'sync', 'expected', true, true],
  ['isPaid(notification)', (v) => isPaid(v), 'sync', 'notification', true, true],
  ['notifyVerifyUrl(partner)', (v) => notifyVerifyUrl(v, 'n-1'), 'sync', 'partner', true, false],
  ['notifyVerifyUrl(…, notifyId)', (v) => notifyVerifyUrl(H.PARTNER, v), 'sync', 'notifyId', true, false],
  ['notifyVerifyUrl(…, gateway)', (v) => notifyVerifyUrl(H.PARTNER, 'n-1', v), 'sync', 'gateway', false, false],
  ['new AlipayHK(config)', (v) => new AlipayHK(v), 'sync', 'config', true, true],
  ['AlipayHK#buildOrderStr(order)', (v) => FRONT.buildOrderStr(v), 'sync', 'order', true, true],
  ['AlipayHK#buildOrderStr(…, options)', (v) => FRONT.buildOrderStr(H.validOrder(), v), 'sync', 'options', false, true],
  ['AlipayHK#buildOrderStrAsync(order)', (v) => FRONT.buildOrderStrAsync(v), 'async', 'order', true, true],
  ['AlipayHK#buildOrderStrAsync(…, options)', (v) => FRONT.buildOrderStrAsync(H.validOrder(), v), 'async', 'options', false, true],
  ['AlipayHK#verifyNotify(body)', (v) => FRONT.verifyNotify(v), 'sync', 'body', true, false],
  ['AlipayHK#verifyNotifyAsync(body)', (v) => FRONT.verifyNotifyAsync(v), 'async', 'body', true, false],
  ['AlipayHK#verifyNotifyAsync(…, options)', (v) => FRONT.verifyNotifyAsync(BODY, v), 'async', 'options', false, true],
  ['AlipayHK#verifyTradePayResult(result)', (v) => FRONT.verifyTradePayResult(v), 'sync', 'result', true, false],
]

for (const [what, call, mode, field, nullish, string] of ARGUMENTS) {
  const values = [...WRONG]
  if (nullish) values.push(['null', () => null], ['undefined', () => undefined])
  if (string) values.push(['a string', () => 'service=mobile.securitypay.pay'])
  for (const [label, make] of values) {
    const name = `${what} with ${label}: ${INVALID_ARGUMENT} (${field})`
    if (mode === 'sync') throwsCode(name, () => call(make()), INVALID_ARGUMENT, field)
    else rejectsCode(name, () => call(make()), INVALID_ARGUMENT, field)
  }
}

// Optional arguments left out, or null: the documented defaults.
returns('buildOrderStr(…, options null): the defaults', () => buildOrderStr(P(), KEYS.MD5, null), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'MD5'),
)
resolves('verifyNotifyAsync(…, options null): verifies', () => verifyNotifyAsync(BODY, ALIPAY_KEY, null), OK)
returns('verifyOrderStr(…, key null): the form only, signatureChecked false', () => verifyOrderStr(ORDER_STR, null), (v) => {
  OK(v)
  expect(v.signatureChecked).toBe(false)
})
returns('notifyVerifyUrl(…, gateway undefined): the default gateway', () => notifyVerifyUrl(H.PARTNER, 'n 1&x=y', undefined), (u) =>
  expect(u).toBe(`https://intlmapi.alipay.com/gateway.do?service=notify_verify&partner=${H.PARTNER}&notify_id=n%201%26x%3Dy`),
)

// --- 2. the baseline: every function's genuine use gives the independently computed result ------

for (const signType of ['RSA', 'RSA2', 'MD5']) {
  returns(`buildOrderStr, ${signType}: exact orderStr`, () => buildOrderStr(P(), KEYS[signType]), (s) =>
    expectOrderStr(s, H.refPreSign(P()), signType),
  )
  resolves(`buildOrderStrAsync, ${signType}: exact orderStr`, () => buildOrderStrAsync(P(), KEYS[signType]), (s) =>
    expectOrderStr(s, H.refPreSign(P()), signType),
  )
  returns(`signContent, ${signType}: node:crypto's signature`, () => signContent('a=1&b=2', KEYS[signType]), (s) =>
    expectSignature(s, 'a=1&b=2', signType),
  )
}
returns('preSignString: exact pre-sign string', () => preSignString(P()), (s) => expect(s).toBe(H.refPreSign(P())))
returns('OrderSigner#buildOrderStr: exact orderStr', () => SIGNER.buildOrderStr(P()), (s) => expectOrderStr(s, H.refPreSign(P()), 'RSA2'))
resolves('OrderSigner#buildOrderStrAsync: exact orderStr', () => SIGNER.buildOrderStrAsync(P()), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA2'),
)
returns('OrderSigner#preSign: exact pre-sign string', () => SIGNER.preSign(P()), (s) => expect(s).toBe(H.refPreSign(P())))
returns('OrderSigner#signContent (MD5): exact hex', () => MD5_SIGNER.signContent('x'), (s) => expectSignature(s, 'x', 'MD5'))
returns('verifyNotify: a genuine notification verifies', () => verifyNotify(BODY, ALIPAY_KEY), OK)
resolves('verifyNotifyAsync: a genuine notification verifies', () => verifyNotifyAsync(BODY, ALIPAY_KEY), OK)
returns('verifyNotify, MD5: a genuine notification verifies', () => verifyNotify(MD5_BODY, { md5Key: MD5_KEY }), OK)
returns('verifyTradePayResult: a genuine result is a success', () => verifyTradePayResult(RESULT, ALIPAY_KEY), (v) => {
  OK(v)
  expect(v.success).toBe(true)
  expect(v.resultStatus).toBe('9000')
})
returns('parseOrderStr: the exact parts', () => parseOrderStr(ORDER_STR), (v) => {
  expect(v.params).toEqual(Object.entries(P()))
  expect(v.preSign).toBe(H.refPreSign(P()))
  expect(v.sign).toBe(H.refSign(H.refPreSign(P()), 'RSA2', MERCHANT2.privateKey))
  expect(v.signType).toBe('RSA2')
})
returns('verifyOrderStr with the merchant public key: ok, signature checked', () =>
  verifyOrderStr(ORDER_STR, { publicKey: H.spkiPem(MERCHANT2) }), (v) => {
  OK(v)
  expect(v.signatureChecked).toBe(true)
  expect(v.mistakes).toEqual([])
})
returns('checkNotifyMatchesOrder: one entry per disagreeing field', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { outTradeNo: 'HOSTILE-0001', totalFee: '12.5', currency: 'CNY' }), (v) => {
  expect(v).toHaveLength(1)
  expect(v[0]).toMatchObject({ field: 'currency', notification: 'HKD', order: 'CNY' })
  expect(v[0].message).toMatch(/^currency/)
})
returns('isPaid: TRADE_FINISHED is paid', () => isPaid(NOTIFICATION), (v) => expect(v).toBe(true))
returns('AlipayHK#buildOrderStr: exact orderStr', () => FRONT.buildOrderStr(H.validOrder()), (s) =>
  expectOrderStr(s, H.refPreSign(H.frontParams(H.validOrder())), 'RSA2'),
)
resolves('AlipayHK#buildOrderStrAsync: exact orderStr', () => FRONT.buildOrderStrAsync(H.validOrder()), (s) =>
  expectOrderStr(s, H.refPreSign(H.frontParams(H.validOrder())), 'RSA2'),
)
returns('AlipayHK#verifyNotify: verifies', () => FRONT.verifyNotify(BODY2), OK)
resolves('AlipayHK#verifyNotifyAsync: verifies', () => FRONT.verifyNotifyAsync(BODY2), OK)
returns('AlipayHK#verifyTradePayResult: a success', () => FRONT.verifyTradePayResult(RESULT2), (v) => expect(v.success).toBe(true))
returns('AlipayHK#verifyNotify (RSA2 account): an RSA notification is SIGN_TYPE_NOT_ACCEPTED', () => FRONT.verifyNotify(BODY), failed('SIGN_TYPE_NOT_ACCEPTED'))
resolves('AlipayHK#verifyNotifyAsync (RSA2 account): an RSA notification is SIGN_TYPE_NOT_ACCEPTED', () => FRONT.verifyNotifyAsync(BODY), failed('SIGN_TYPE_NOT_ACCEPTED'))
returns('AlipayHK#verifyTradePayResult (RSA2 account): an RSA result is SIGN_TYPE_NOT_ACCEPTED, not a success', () => FRONT.verifyTradePayResult(RESULT), (v) => {
  failed('SIGN_TYPE_NOT_ACCEPTED')(v)
  expect(v.success).toBe(false)
})

// --- 3. odd objects --------------------------------------------------------------------------

const nullProto = (obj) => Object.assign(Object.create(null), obj)
class OrderRecord {
  constructor(fields) {
    Object.assign(this, fields)
  }
  get extraOnPrototype() {
    return 'never read'
  }
}
class AccessorOnly {
  get service() {
    return 'mobile.securitypay.pay'
  }
}
const inheriting = (proto, own) => Object.assign(Object.create(proto), own)

returns('buildOrderStr: a null-prototype params object signs like a plain one', () => buildOrderStr(nullProto(P()), KEYS.RSA), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA'),
)
returns('preSignString: a null-prototype params object', () => preSignString(nullProto(P())), (s) => expect(s).toBe(H.refPreSign(P())))
returns('buildOrderStr: a null-prototype key object', () => buildOrderStr(P(), nullProto(KEYS.MD5)), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'MD5'),
)
throwsCode('buildOrderStr: an empty null-prototype key object: SIGN_TYPE', () => buildOrderStr(P(), Object.create(null)), SIGN_TYPE)
returns('verifyNotify: a null-prototype decoded body', () => verifyNotify(nullProto(Object.fromEntries(new URLSearchParams(BODY))), ALIPAY_KEY), OK)
throwsCode('isPaid: null-prototype params, paid ones, are refused (not a verified notification)', () =>
  isPaid(nullProto({ trade_status: 'TRADE_SUCCESS' })), INVALID_ARGUMENT, 'notification')
returns('buildOrderStr: a class instance with own fields signs its own fields only', () => buildOrderStr(new OrderRecord(P()), KEYS.RSA2), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA2'),
)
throwsCode('buildOrderStr: a class instance whose fields are prototype getters: MISSING_PARAM service', () =>
  buildOrderStr(new AccessorOnly(), KEYS.RSA), MISSING_PARAM, 'service')
throwsCode('buildOrderStr: a required param only inherited (not own) is missing', () => {
  const own = P()
  delete own.subject
  return buildOrderStr(inheriting({ subject: 'inherited' }, own), KEYS.RSA)
}, MISSING_PARAM, 'subject')
returns('buildOrderStr: an inherited enumerable unknown name is not read (strict would refuse it)', () =>
  buildOrderStr(inheriting({ it_b_play: '30m' }, P()), KEYS.MD5), (s) => expectOrderStr(s, H.refPreSign(P()), 'MD5'))
// Keys, configs, orders and options are read from own properties only, like params: a
// polluted prototype must not supply a key (here the prototype is explicit, not global).
const ATTACKER_MD5 = 'attacker0000000000000000000000ab'
throwsCode('verifyNotify: an md5Key only on the prototype is not read (alipayPublicKey undefined)', () =>
  verifyNotify(H.signedNotifyBody(H.notifyFields(), 'MD5', ATTACKER_MD5), inheriting({ md5Key: ATTACKER_MD5 }, { alipayPublicKey: undefined })),
INVALID_ARGUMENT, 'key')
rejectsCode('verifyNotifyAsync: an md5Key only on the prototype is not read', () =>
  verifyNotifyAsync(H.signedNotifyBody(H.notifyFields(), 'MD5', ATTACKER_MD5), inheriting({ md5Key: ATTACKER_MD5 }, {})), INVALID_ARGUMENT, 'key')
throwsCode('verifyOrderStr: a publicKey only on the prototype is not read', () =>
  verifyOrderStr(ORDER_STR, inheriting({ publicKey: H.spkiPem(MERCHANT2) }, {})), INVALID_ARGUMENT, 'key')
throwsCode('buildOrderStr: signType and privateKey only on the prototype are not read', () =>
  buildOrderStr(P(), inheriting({ ...KEYS.RSA }, {})), SIGN_TYPE)
throwsCode('new AlipayHK: a partner only on the prototype is not read', () =>
  new AlipayHK(inheriting({ partner: H.PARTNER }, { signType: 'MD5', md5Key: MD5_KEY })), MISSING_PARAM, 'partner')
throwsCode('new AlipayHK (MD5): an md5Key only on the prototype is not read', () =>
  new AlipayHK(inheriting({ md5Key: ATTACKER_MD5 }, { partner: H.PARTNER, signType: 'MD5' })), INVALID_ARGUMENT, 'config.md5Key')
throwsCode('AlipayHK#buildOrderStr: a subject only on the prototype is not read', () => {
  const order = H.validOrder()
  delete order.subject
  return FRONT.buildOrderStr(inheriting({ subject: 'from the prototype' }, order))
}, MISSING_PARAM, 'subject')
throwsCode('buildOrderStr: an inherited options.strict = false is not read', () =>
  buildOrderStr({ a: 'b' }, KEYS.MD5, inheriting({ strict: false }, {})), INVALID_PARAM)
throwsCode('checkNotifyMatchesOrder: an inherited expected.totalFee is not read (so it is missing)', () =>
  checkNotifyMatchesOrder(NOTIFICATION, inheriting({ totalFee: '12.50' }, { outTradeNo: 'HOSTILE-0001' })), MISSING_PARAM, 'expected.totalFee')
returns('checkNotifyMatchesOrder: an inherited expected.currency is not compared', () =>
  checkNotifyMatchesOrder(NOTIFICATION, inheriting({ currency: 'CNY' }, { ...EXPECTED })), (v) => expect(v).toEqual([]))
throwsCode('isPaid: an object inheriting from a verified notification is refused', () => isPaid(Object.create(NOTIFICATION)), INVALID_ARGUMENT, 'notification')
throwsCode('isPaid: an inherited trade_status on a plain object is refused, not read', () =>
  isPaid(inheriting({ trade_status: 'TRADE_SUCCESS' }, {})), INVALID_ARGUMENT, 'notification')
throwsCode('checkNotifyMatchesOrder: an object inheriting from a verified notification is refused', () =>
  checkNotifyMatchesOrder(Object.create(NOTIFICATION), EXPECTED), INVALID_ARGUMENT, 'notification')
throwsCode('checkNotifyMatchesOrder: inherited notification params on a plain object are refused, not read', () =>
  checkNotifyMatchesOrder(inheriting({ out_trade_no: 'HOSTILE-0001' }, {}), EXPECTED), INVALID_ARGUMENT, 'notification')
returns('buildOrderStr: symbol keys are ignored', () => buildOrderStr({ ...P(), [Symbol('subject')]: 'x', [Symbol.iterator]: 'y' }, KEYS.RSA), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA'),
)
returns('verifyNotify: symbol keys on a decoded body are ignored', () =>
  verifyNotify({ ...Object.fromEntries(new URLSearchParams(BODY)), [Symbol('x')]: 'y' }, ALIPAY_KEY), OK)
returns('new AlipayHK: a symbol key on the config is ignored', () =>
  new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY, [Symbol('extra')]: 1 }).partner, (p) => expect(p).toBe(H.PARTNER))
throwsCode('preSignString: a numeric-looking name is refused (integer keys come first: "9")', () =>
  preSignString({ a: 'x', 10: 'b', 9: 'a' }, { strict: false }), INVALID_PARAM, '9')
throwsCode('preSignString: the name "1e3" is refused', () => preSignString({ a: 'x', '1e3': 'b' }, { strict: false }), INVALID_PARAM, '1e3')
throwsCode('buildOrderStr: a numeric-looking name in strict mode', () => buildOrderStr({ ...P(), 0: 'zero' }, KEYS.RSA), INVALID_PARAM, '0')
returns('verifyNotify: numeric-looking field names are sorted by bytes ("10" before "9")', () =>
  verifyNotify(H.signedNotifyBody([...H.notifyFields(), ['9', 'nine'], ['10', 'ten']], 'MD5', MD5_KEY), { md5Key: MD5_KEY }), OK)
returns('verifyNotify: a decoded body with numeric-looking names verifies (object order is not signed order)', () => {
  const fields = [...H.notifyFields(), ['9', 'nine'], ['10', 'ten']]
  const decoded = Object.fromEntries(new URLSearchParams(H.signedNotifyBody(fields, 'MD5', MD5_KEY)))
  return verifyNotify(decoded, { md5Key: MD5_KEY })
}, OK)
returns('preSignString: an own "__proto__" name (JSON.parse) is a plain name', () =>
  preSignString(JSON.parse('{"__proto__":"x","a":"b"}'), { strict: false }), (s) => expect(s).toBe('__proto__="x"&a="b"'))
throwsCode('buildOrderStr: an own "__proto__" name is an unknown parameter in strict mode', () =>
  buildOrderStr(JSON.parse(`{"__proto__":"x",${JSON.stringify(P()).slice(1)}`), KEYS.RSA), INVALID_PARAM, '__proto__')
for (const [label, asDecoded] of [['a form body', false], ['a decoded body', true]]) {
  returns(`verifyNotify: a "__proto__" field in ${label} is a plain field`, () => {
    const body = H.signedNotifyBody([...H.notifyFields(), ['__proto__', 'polluted']], 'MD5', MD5_KEY)
    return verifyNotify(asDecoded ? Object.fromEntries(new URLSearchParams(body)) : body, { md5Key: MD5_KEY })
  }, (v) => {
    OK(v)
    const { params } = v.notification
    expect(Object.getOwnPropertyNames(params)).toContain('__proto__')
    expect(Object.getOwnPropertyDescriptor(params, '__proto__').value).toBe('polluted')
    expect(typeof params.hasOwnProperty).toBe('function')
  })
}
returns('buildOrderStr: frozen params, key and options', () =>
  buildOrderStr(Object.freeze(P()), Object.freeze({ ...KEYS.RSA2 }), Object.freeze({ sortKeys: false })), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA2'))
returns('new AlipayHK: a frozen config, then a frozen order', () =>
  new AlipayHK(Object.freeze({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY })).buildOrderStr(Object.freeze(H.validOrder())), (s) =>
  expectOrderStr(s, H.refPreSign(H.frontParams(H.validOrder())), 'MD5'))
returns('verifyNotify: a frozen decoded body and a frozen key', () =>
  verifyNotify(Object.freeze(Object.fromEntries(new URLSearchParams(BODY))), Object.freeze({ ...ALIPAY_KEY })), OK)
returns('buildOrderStr: sortKeys sorts by bytes, exactly', () => buildOrderStr(P(), KEYS.MD5, { sortKeys: true }), (s) => {
  const sorted = Object.fromEntries(Object.entries(P()).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
  expectOrderStr(s, H.refPreSign(sorted), 'MD5')
})
throwsCode('buildOrderStr: options.strict as the string "false"', () => buildOrderStr(P(), KEYS.MD5, { strict: 'false' }), INVALID_ARGUMENT, 'options.strict')
throwsCode('buildOrderStr: options.sortKeys as 1', () => buildOrderStr(P(), KEYS.MD5, { sortKeys: 1 }), INVALID_ARGUMENT, 'options.sortKeys')
rejectsCode('buildOrderStrAsync: options.signal that is not an AbortSignal', () =>
  buildOrderStrAsync(P(), KEYS.MD5, { signal: { aborted: false } }), INVALID_ARGUMENT, 'options.signal')
rejectsCode('verifyNotifyAsync: options.signal that is a string', () =>
  verifyNotifyAsync(BODY, ALIPAY_KEY, { signal: 'abort' }), INVALID_ARGUMENT, 'options.signal')

// Objects that keep their data elsewhere: refused, never read as an empty record.
for (const [label, make] of [
  ['a Map', () => new Map(Object.entries(P()))],
  ['a Set', () => new Set(['service'])],
  ['a URLSearchParams', () => new URLSearchParams(P())],
  ['a Promise (forgotten await)', () => Promise.resolve(P())],
  ['a WeakMap', () => new WeakMap()],
  ['an ArrayBuffer', () => new ArrayBuffer(8)],
  ['a Uint16Array', () => new Uint16Array(4)],
  ['a DataView', () => new DataView(new ArrayBuffer(4))],
]) {
  throwsCode(`buildOrderStr(strict: false) with ${label} as params: refused, not signed as empty`, () =>
    buildOrderStr(make(), KEYS.MD5, { strict: false }), INVALID_ARGUMENT, 'params')
  rejectsCode(`buildOrderStrAsync with ${label} as params`, () => buildOrderStrAsync(make(), KEYS.MD5, { strict: false }), INVALID_ARGUMENT, 'params')
  throwsCode(`checkNotifyMatchesOrder with ${label} as expected: refused, not "all agree"`, () =>
    checkNotifyMatchesOrder(NOTIFICATION, make()), INVALID_ARGUMENT, 'expected')
}
throwsCode('preSignString with a Map', () => preSignString(new Map([['a', 'b']]), { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('OrderSigner#preSign with a Map', () => SIGNER.preSign(new Map(), { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('AlipayHK#buildOrderStr with a Map as extra', () => FRONT.buildOrderStr({ ...H.validOrder(), extra: new Map([['appenv', 'x']]) }), INVALID_ARGUMENT)
throwsCode('isPaid with a Promise of a verified notification (forgotten await)', () => isPaid(Promise.resolve(NOTIFICATION)), INVALID_ARGUMENT, 'notification')
throwsCode('checkNotifyMatchesOrder with a Map as the notification', () => checkNotifyMatchesOrder(new Map(), EXPECTED), INVALID_ARGUMENT, 'notification')
throwsCode('verifyNotify with a Map body', () => verifyNotify(new Map(new URLSearchParams(BODY)), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('verifyNotify with a Promise body', () => verifyNotify(Promise.resolve(BODY), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
rejectsCode('verifyNotifyAsync with a Set body', () => verifyNotifyAsync(new Set([BODY]), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('verifyNotify with a Uint16Array body (not bytes)', () => verifyNotify(new Uint16Array(Buffer.from(BODY)), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('verifyNotify with a DataView body', () => verifyNotify(new DataView(Buffer.from(BODY).buffer), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('AlipayHK#verifyNotify with a Float64Array body', () => FRONT.verifyNotify(new Float64Array(4)), INVALID_ARGUMENT, 'body')
returns('verifyNotify with a Uint8Array body', () => verifyNotify(new Uint8Array(Buffer.from(BODY)), ALIPAY_KEY), OK)
returns('verifyNotify with a Uint8Array view into the middle of a larger buffer', () => {
  const bytes = Buffer.from(`garbage-before${BODY}garbage-after`)
  return verifyNotify(new Uint8Array(bytes.buffer, bytes.byteOffset + 'garbage-before'.length, Buffer.byteLength(BODY)), ALIPAY_KEY)
}, OK)
returns('key.privateKey as a DER subarray of a larger Buffer', () => {
  const padded = Buffer.concat([Buffer.from('xxxxxxx'), DER_RSA, Buffer.from('yyyy')])
  return buildOrderStr(P(), { signType: 'RSA', privateKey: padded.subarray(7, 7 + DER_RSA.length) })
}, (s) => expectOrderStr(s, H.refPreSign(P()), 'RSA'))
returns('verifyNotify with an ArrayBuffer body', () => {
  const b = Buffer.from(BODY)
  return verifyNotify(b.buffer.slice(b.byteOffset, b.byteOffset + b.length), ALIPAY_KEY)
}, OK)
returns('verifyNotify with a URLSearchParams body', () => verifyNotify(new URLSearchParams(BODY), ALIPAY_KEY), OK)
throwsCode('buildOrderStr with a Map as key: SIGN_TYPE (no signType)', () => buildOrderStr(P(), new Map(Object.entries(KEYS.RSA))), SIGN_TYPE)
throwsCode('new AlipayHK with a Map config: MISSING_PARAM partner', () => new AlipayHK(new Map([['partner', H.PARTNER]])), MISSING_PARAM, 'partner')
throwsCode('key.privateKey as a Float64Array', () => buildOrderStr(P(), { signType: 'RSA', privateKey: new Float64Array(8) }), INVALID_ARGUMENT, 'key.privateKey')
throwsCode('key.privateKey as a KeyObject', () => buildOrderStr(P(), { signType: 'RSA', privateKey: MERCHANT.privateKey }), INVALID_ARGUMENT, 'key.privateKey')
throwsCode('key.alipayPublicKey as a DataView', () => verifyNotify(BODY, { alipayPublicKey: new DataView(new ArrayBuffer(8)) }), INVALID_ARGUMENT, 'key.alipayPublicKey')
returns('key.privateKey as PKCS#8 DER in a plain Uint8Array', () =>
  buildOrderStr(P(), { signType: 'RSA', privateKey: new Uint8Array(MERCHANT.privateKey.export({ type: 'pkcs8', format: 'der' })) }), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA'))
returns('key.alipayPublicKey as SPKI DER in a Buffer', () =>
  verifyNotify(BODY, { alipayPublicKey: ALIPAY.publicKey.export({ type: 'spki', format: 'der' }) }), OK)

// Classes used the wrong way.
throwsCode('OrderSigner(key) without new', () => OrderSigner(KEYS.MD5), INVALID_ARGUMENT, 'OrderSigner')
throwsCode('addon.OrderSigner(key) without new (this = the exports)', () => addon.OrderSigner(KEYS.MD5), INVALID_ARGUMENT, 'OrderSigner')
throwsCode('AlipayHK(config) without new', () => AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY }), INVALID_ARGUMENT, 'AlipayHK')
throwsCode('OrderSigner.call on a plain object', () => OrderSigner.call({}, KEYS.MD5), INVALID_ARGUMENT, 'OrderSigner')
throwsCode('Reflect.construct(OrderSigner) with another new.target', () => Reflect.construct(OrderSigner, [KEYS.MD5], class Other {}), INVALID_ARGUMENT, 'OrderSigner')
returns('a subclass of OrderSigner signs exactly', () => new (class Mine extends OrderSigner {})(KEYS.MD5).buildOrderStr(P()), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'MD5'))
returns('an OrderSigner as the key of buildOrderStr', () => buildOrderStr(P(), MD5_SIGNER), (s) => expectOrderStr(s, H.refPreSign(P()), 'MD5'))
throwsCode('Object.create(signer) as the key', () => buildOrderStr(P(), Object.create(SIGNER)), INVALID_ARGUMENT, 'key')
throwsCode('an AlipayHK as the key (its signType getter is inherited, not read)', () => buildOrderStr(P(), FRONT), SIGN_TYPE)
throwsCode('an OrderSigner as params', () => buildOrderStr(SIGNER, KEYS.MD5), MISSING_PARAM, 'service')
throwsEngine('OrderSigner#buildOrderStr on a plain object', () => OrderSigner.prototype.buildOrderStr.call({}, P()), /Illegal invocation/)
throwsEngine('AlipayHK#verifyNotify on an OrderSigner', () => AlipayHK.prototype.verifyNotify.call(SIGNER, BODY), /Illegal invocation/)

// --- 4. getters that throw, Proxies ----------------------------------------------------------

const BOOM = new Error('thrown by the caller’s getter')
const PRIMITIVE_BOOM = 'a thrown string'
/** `obj` with `name` replaced by an enumerable getter that throws `what`. */
const throwing = (obj, name, what = BOOM) =>
  Object.defineProperty({ ...obj }, name, {
    enumerable: true,
    get() {
      throw what
    },
  })

throwsSame('buildOrderStr: a params getter', () => buildOrderStr(throwing(P(), 'subject'), KEYS.RSA), BOOM)
throwsSame('buildOrderStr: a params getter throwing a string', () => buildOrderStr(throwing(P(), 'subject', PRIMITIVE_BOOM), KEYS.RSA), PRIMITIVE_BOOM)
throwsSame('buildOrderStr: key.signType getter', () => buildOrderStr(P(), throwing(KEYS.RSA, 'signType')), BOOM)
throwsSame('buildOrderStr: key.privateKey getter', () => buildOrderStr(P(), throwing(KEYS.RSA, 'privateKey')), BOOM)
throwsSame('buildOrderStr: key.md5Key getter', () => buildOrderStr(P(), throwing(KEYS.MD5, 'md5Key')), BOOM)
throwsSame('buildOrderStr: options.sortKeys getter', () => buildOrderStr(P(), KEYS.MD5, throwing({}, 'sortKeys')), BOOM)
throwsSame('buildOrderStr: options.strict getter', () => buildOrderStr(P(), KEYS.MD5, throwing({}, 'strict')), BOOM)
rejectsSame('buildOrderStrAsync: a params getter', () => buildOrderStrAsync(throwing(P(), 'subject'), KEYS.RSA), BOOM)
rejectsSame('buildOrderStrAsync: key.privateKey getter', () => buildOrderStrAsync(P(), throwing(KEYS.RSA, 'privateKey')), BOOM)
rejectsSame('buildOrderStrAsync: options.signal getter', () => buildOrderStrAsync(P(), KEYS.MD5, throwing({}, 'signal')), BOOM)
throwsSame('preSignString: a params getter', () => preSignString(throwing(P(), 'body')), BOOM)
throwsSame('signContent: key.privateKey getter', () => signContent('x', throwing(KEYS.RSA, 'privateKey')), BOOM)
throwsSame('new OrderSigner: key.signType getter', () => new OrderSigner(throwing(KEYS.RSA, 'signType')), BOOM)
throwsSame('OrderSigner#buildOrderStr: a params getter', () => SIGNER.buildOrderStr(throwing(P(), 'total_fee')), BOOM)
rejectsSame('OrderSigner#buildOrderStrAsync: a params getter', () => SIGNER.buildOrderStrAsync(throwing(P(), 'total_fee')), BOOM)
throwsSame('OrderSigner#preSign: an options getter', () => SIGNER.preSign(P(), throwing({}, 'strict')), BOOM)
throwsSame('verifyNotify: a decoded-body getter', () => verifyNotify(throwing(Object.fromEntries(new URLSearchParams(BODY)), 'sign'), ALIPAY_KEY), BOOM)
throwsSame('verifyNotify: key.alipayPublicKey getter', () => verifyNotify(BODY, throwing({}, 'alipayPublicKey')), BOOM)
throwsSame('verifyNotify: key.md5Key getter', () => verifyNotify(BODY, throwing({}, 'md5Key')), BOOM)
rejectsSame('verifyNotifyAsync: a decoded-body getter', () => verifyNotifyAsync(throwing({ a: 'b' }, 'sign'), ALIPAY_KEY), BOOM)
rejectsSame('verifyNotifyAsync: key getter', () => verifyNotifyAsync(BODY, throwing({}, 'alipayPublicKey')), BOOM)
rejectsSame('verifyNotifyAsync: options.signal getter', () => verifyNotifyAsync(BODY, ALIPAY_KEY, throwing({}, 'signal')), BOOM)
throwsSame('verifyTradePayResult: key getter', () => verifyTradePayResult(RESULT, throwing({}, 'alipayPublicKey')), BOOM)
throwsSame('verifyOrderStr: key.publicKey getter', () => verifyOrderStr(ORDER_STR, throwing({}, 'publicKey')), BOOM)
// A plain object is refused before any of its fields is read: its getter never runs.
throwsCode('checkNotifyMatchesOrder: a plain object with a throwing getter is refused unread', () =>
  checkNotifyMatchesOrder(throwing({}, 'total_fee'), EXPECTED), INVALID_ARGUMENT, 'notification')
throwsSame('checkNotifyMatchesOrder: an expected getter', () => checkNotifyMatchesOrder(NOTIFICATION, throwing({ ...EXPECTED }, 'totalFee')), BOOM)
throwsCode('isPaid: a plain object with a throwing getter is refused unread', () => isPaid(throwing({}, 'trade_status')), INVALID_ARGUMENT, 'notification')
throwsSame('new AlipayHK: config.partner getter', () => new AlipayHK(throwing({ signType: 'MD5', md5Key: MD5_KEY }, 'partner')), BOOM)
throwsSame('new AlipayHK: config.privateKey getter', () => new AlipayHK(throwing({ partner: H.PARTNER, signType: 'RSA' }, 'privateKey')), BOOM)
throwsSame('new AlipayHK: config.alipayPublicKey getter', () =>
  new AlipayHK(throwing({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY }, 'alipayPublicKey')), BOOM)
throwsSame('AlipayHK#buildOrderStr: an order getter', () => FRONT.buildOrderStr(throwing(H.validOrder(), 'subject')), BOOM)
throwsSame('AlipayHK#buildOrderStr: an extra getter', () => FRONT.buildOrderStr({ ...H.validOrder(), extra: throwing({}, 'appenv') }), BOOM)
rejectsSame('AlipayHK#buildOrderStrAsync: an order getter', () => FRONT.buildOrderStrAsync(throwing(H.validOrder(), 'totalFee')), BOOM)
throwsSame('AlipayHK#verifyNotify: a body getter', () => FRONT.verifyNotify(throwing({}, 'sign')), BOOM)
rejectsSame('AlipayHK#verifyNotifyAsync: a body getter', () => FRONT.verifyNotifyAsync(throwing({}, 'sign')), BOOM)
throwsSame('buildOrderStr: an empty object whose Symbol.toStringTag getter throws', () =>
  buildOrderStr(Object.defineProperty({}, Symbol.toStringTag, { get() { throw BOOM } }), KEYS.MD5, { strict: false }), BOOM)

const trap = (name) => ({
  [name]() {
    throw BOOM
  },
})
throwsSame('buildOrderStr: a Proxy whose ownKeys trap throws', () => buildOrderStr(new Proxy(P(), trap('ownKeys')), KEYS.RSA), BOOM)
throwsSame('buildOrderStr: a Proxy whose get trap throws', () => buildOrderStr(new Proxy(P(), trap('get')), KEYS.RSA), BOOM)
throwsSame('buildOrderStr: a Proxy whose getOwnPropertyDescriptor trap throws', () =>
  buildOrderStr(new Proxy(P(), trap('getOwnPropertyDescriptor')), KEYS.RSA), BOOM)
rejectsSame('buildOrderStrAsync: a Proxy whose ownKeys trap throws', () => buildOrderStrAsync(new Proxy(P(), trap('ownKeys')), KEYS.RSA), BOOM)
throwsSame('buildOrderStr: a key Proxy whose getPrototypeOf trap throws', () => buildOrderStr(P(), new Proxy({ ...KEYS.RSA }, trap('getPrototypeOf'))), BOOM)
throwsSame('verifyNotify: a body Proxy whose ownKeys trap throws', () => verifyNotify(new Proxy({}, trap('ownKeys')), ALIPAY_KEY), BOOM)
throwsSame('new AlipayHK: a config Proxy whose get trap throws', () => new AlipayHK(new Proxy({ partner: H.PARTNER }, trap('get'))), BOOM)
returns('buildOrderStr: a transparent Proxy signs like its target', () => buildOrderStr(new Proxy(P(), {}), new Proxy({ ...KEYS.RSA2 }, {})), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA2'))
returns('buildOrderStr: a Proxy that lies about one value is signed as it reads', () =>
  buildOrderStr(new Proxy(P(), { get: (t, k) => (k === 'subject' ? 'Proxy subject' : t[k]) }), KEYS.MD5), (s) =>
  expectOrderStr(s, H.refPreSign(P({ subject: 'Proxy subject' })), 'MD5'))
const revoked = () => {
  const r = Proxy.revocable({}, {})
  r.revoke()
  return r.proxy
}
throwsEngine('buildOrderStr: a revoked Proxy as params', () => buildOrderStr(revoked(), KEYS.RSA), /revoked/)
throwsEngine('buildOrderStr: a revoked Proxy as key', () => buildOrderStr(P(), revoked()), /revoked/)
throwsEngine('verifyNotify: a revoked Proxy as body', () => verifyNotify(revoked(), ALIPAY_KEY), /revoked/)
throwsEngine('new AlipayHK: a revoked Proxy as config', () => new AlipayHK(revoked()), /revoked/)

// --- 5. sizes: refused with a code before any work --------------------------------------------

const manyParams = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, 'v']))
const TEN_MB = 'x'.repeat(10 * 1024 * 1024)
const ONE_MB = 'A'.repeat(1 << 20)

throwsCode('buildOrderStr: 10,000 parameters', () => buildOrderStr(manyParams(10000), KEYS.RSA, { strict: false }), INVALID_ARGUMENT, 'params')
rejectsCode('buildOrderStrAsync: 10,000 parameters', () => buildOrderStrAsync(manyParams(10000), KEYS.RSA, { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('preSignString: 10,000 parameters', () => preSignString(manyParams(10000), { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('OrderSigner#preSign: 10,000 parameters', () => SIGNER.preSign(manyParams(10000), { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('AlipayHK#buildOrderStr: 10,000 extra parameters', () => FRONT.buildOrderStr({ ...H.validOrder(), extra: manyParams(10000) }), INVALID_ARGUMENT, 'params')
throwsCode('verifyNotify: a decoded body of 10,000 fields', () => verifyNotify(manyParams(10000), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('checkNotifyMatchesOrder: 10,000 params as the notification', () => checkNotifyMatchesOrder(manyParams(10000), EXPECTED), INVALID_ARGUMENT, 'notification')
throwsCode('checkNotifyMatchesOrder: an expected of 10,000 properties', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { ...EXPECTED, ...manyParams(10000) }), INVALID_ARGUMENT, 'expected')
throwsCode('new AlipayHK: a config of 2,000 properties', () => new AlipayHK(manyParams(2000)), INVALID_ARGUMENT, 'config')
returns('preSignString: exactly 1,000 parameters is allowed, exactly', () => preSignString(manyParams(1000), { strict: false }), (s) =>
  expect(s).toBe(H.refPreSign(manyParams(1000))))
throwsCode('preSignString: 1,001 parameters', () => preSignString(manyParams(1001), { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('buildOrderStr: a 10 MB subject', () => buildOrderStr(P({ subject: TEN_MB }), KEYS.RSA), INVALID_PARAM, 'subject')
rejectsCode('buildOrderStrAsync: a 10 MB subject', () => buildOrderStrAsync(P({ subject: TEN_MB }), KEYS.RSA), INVALID_PARAM, 'subject')
throwsCode('OrderSigner#buildOrderStr: a 10 MB value (strict: false)', () => SIGNER.buildOrderStr({ a: TEN_MB }, { strict: false }), INVALID_PARAM, 'a')
throwsCode('AlipayHK#buildOrderStr: a 10 MB subject', () => FRONT.buildOrderStr(H.validOrder({ subject: TEN_MB })), INVALID_PARAM, 'subject')
throwsCode('preSignString: a 10 MB parameter name', () => preSignString({ [TEN_MB]: 'x' }, { strict: false }), INVALID_PARAM)
returns('preSignString: a value of exactly 65,536 characters', () => preSignString({ a: 'é'.repeat(65536) }, { strict: false }), (s) =>
  expect(s).toBe(`a="${'é'.repeat(65536)}"`))
throwsCode('preSignString: a value of 65,537 characters', () => preSignString({ a: 'x'.repeat(65537) }, { strict: false }), INVALID_PARAM, 'a')
throwsCode('buildOrderStr: 17 values of 64 Ki (a pre-sign string over 1 MiB)', () =>
  buildOrderStr(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`a${i}`, 'x'.repeat(65536)])), KEYS.MD5, { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('signContent: 10 MB of text', () => signContent(TEN_MB, KEYS.RSA), INVALID_ARGUMENT, 'content')
throwsCode('OrderSigner#signContent: 10 MB of text', () => SIGNER.signContent(TEN_MB), INVALID_ARGUMENT, 'content')
throwsCode('signContent: 1 MiB + 1 characters', () => signContent('x'.repeat((1 << 20) + 1), KEYS.MD5), INVALID_ARGUMENT, 'content')
returns('signContent: exactly 1 MiB of text is signed, exactly', () => signContent('y'.repeat(1 << 20), KEYS.RSA2), (s) =>
  expectSignature(s, 'y'.repeat(1 << 20), 'RSA2'))
throwsCode('verifyNotify: a 10 MB string body', () => verifyNotify(TEN_MB, ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('verifyNotify: a 10 MB Buffer body', () => verifyNotify(Buffer.from(TEN_MB), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('verifyNotify: a 10 MB Uint8Array body', () => verifyNotify(new Uint8Array(10 << 20), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('verifyNotify: a decoded body with a 10 MB value', () => verifyNotify({ a: TEN_MB, sign: 'x', sign_type: 'RSA' }, ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('verifyNotify: a URLSearchParams of 10 MB', () => verifyNotify(new URLSearchParams({ a: TEN_MB }), ALIPAY_KEY), INVALID_ARGUMENT, 'body')
rejectsCode('verifyNotifyAsync: a 10 MB body', () => verifyNotifyAsync(TEN_MB, ALIPAY_KEY), INVALID_ARGUMENT, 'body')
throwsCode('AlipayHK#verifyNotify: a 10 MB body', () => FRONT.verifyNotify(TEN_MB), INVALID_ARGUMENT, 'body')
rejectsCode('AlipayHK#verifyNotifyAsync: a 10 MB body', () => FRONT.verifyNotifyAsync(Buffer.from(TEN_MB)), INVALID_ARGUMENT, 'body')
throwsCode('verifyTradePayResult: 10 MB', () => verifyTradePayResult(TEN_MB, ALIPAY_KEY), INVALID_ARGUMENT, 'result')
throwsCode('AlipayHK#verifyTradePayResult: 10 MB', () => FRONT.verifyTradePayResult(TEN_MB), INVALID_ARGUMENT, 'result')
throwsCode('parseOrderStr: 10 MB', () => parseOrderStr(TEN_MB), INVALID_ARGUMENT, 'orderStr')
throwsCode('verifyOrderStr: 10 MB', () => verifyOrderStr(TEN_MB, { md5Key: MD5_KEY }), INVALID_ARGUMENT, 'orderStr')
throwsCode('notifyVerifyUrl: a 10 MB notifyId', () => notifyVerifyUrl(H.PARTNER, TEN_MB), INVALID_ARGUMENT, 'notifyId')
throwsCode('isPaid: a plain object with a 10 MB trade_status', () => isPaid({ trade_status: TEN_MB }), INVALID_ARGUMENT, 'notification')
throwsCode('checkNotifyMatchesOrder: a 10 MB expected.outTradeNo', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { outTradeNo: TEN_MB, totalFee: '12.50' }), INVALID_ARGUMENT, 'expected.outTradeNo')
throwsCode('new AlipayHK: a 10 MB partner', () => new AlipayHK({ partner: TEN_MB, signType: 'MD5', md5Key: MD5_KEY }), INVALID_ARGUMENT, 'partner')
throwsCode('new AlipayHK: a 10 MB sellerId', () => new AlipayHK({ partner: H.PARTNER, sellerId: TEN_MB, signType: 'MD5', md5Key: MD5_KEY }), INVALID_ARGUMENT, 'sellerId')
for (const [label, big] of [['1 MiB', ONE_MB], ['10 MB', TEN_MB]]) {
  throwsCode(`buildOrderStr: a ${label} key string (names no sign type)`, () => buildOrderStr(P(), big), SIGN_TYPE, 'key.signType')
  throwsCode(`buildOrderStr: a ${label} privateKey string`, () => buildOrderStr(P(), { signType: 'RSA', privateKey: big }), INVALID_KEY)
  throwsCode(`buildOrderStr: a ${label} privateKey Buffer`, () => buildOrderStr(P(), { signType: 'RSA', privateKey: Buffer.from(big) }), INVALID_KEY)
  rejectsCode(`buildOrderStrAsync: a ${label} privateKey`, () => buildOrderStrAsync(P(), { signType: 'RSA2', privateKey: big }), INVALID_KEY)
  throwsCode(`new OrderSigner: a ${label} md5Key`, () => new OrderSigner({ signType: 'MD5', md5Key: big }), INVALID_KEY)
  throwsCode(`signContent: a ${label} md5Key`, () => signContent('x', { signType: 'MD5', md5Key: big }), INVALID_KEY)
  throwsCode(`verifyNotify: a ${label} alipayPublicKey`, () => verifyNotify(BODY, { alipayPublicKey: big }), INVALID_KEY)
  throwsCode(`verifyNotify: a ${label} md5Key`, () => verifyNotify(MD5_BODY, { md5Key: big }), INVALID_KEY)
  rejectsCode(`verifyNotifyAsync: a ${label} md5Key`, () => verifyNotifyAsync(MD5_BODY, { md5Key: big }), INVALID_KEY)
  throwsCode(`verifyTradePayResult: a ${label} alipayPublicKey`, () => verifyTradePayResult(RESULT, { alipayPublicKey: Buffer.from(big) }), INVALID_KEY)
  throwsCode(`verifyOrderStr: a ${label} publicKey`, () => verifyOrderStr(ORDER_STR, { publicKey: big }), INVALID_KEY)
  throwsCode(`new AlipayHK: a ${label} privateKey`, () => new AlipayHK({ partner: H.PARTNER, signType: 'RSA2', privateKey: big }), INVALID_KEY)
  throwsCode(`new AlipayHK: a ${label} md5Key`, () => new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: big }), INVALID_KEY)
  throwsCode(`new AlipayHK: a ${label} alipayPublicKey`, () =>
    new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY, alipayPublicKey: big }), INVALID_KEY)
}

// --- 6. NUL bytes, lone surrogates, Unicode normalisation --------------------------------------

throwsCode('buildOrderStr: a NUL in a value', () => buildOrderStr(P({ subject: 'a\0b' }), KEYS.RSA), INVALID_PARAM, 'subject')
rejectsCode('buildOrderStrAsync: a NUL in a value', () => buildOrderStrAsync(P({ body: '\0' }), KEYS.RSA), INVALID_PARAM, 'body')
throwsCode('preSignString: a NUL in a name', () => preSignString({ 'a\0b': 'x' }, { strict: false }), INVALID_PARAM, 'a\0b')
returns('signContent: NUL bytes in free text are signed as given', () => signContent('a\0b\0', KEYS.RSA), (s) => expectSignature(s, 'a\0b\0', 'RSA'))
throwsCode('signContent: a NUL in the md5Key', () => signContent('x', { signType: 'MD5', md5Key: `${MD5_KEY.slice(0, 16)}\0${MD5_KEY.slice(16)}` }), INVALID_KEY)
throwsCode('buildOrderStr: a NUL inside the PEM', () =>
  buildOrderStr(P(), { signType: 'RSA', privateKey: KEYS.RSA.privateKey.replace('\n', '\0') }), INVALID_KEY, 'key.privateKey')
returns('verifyNotify: a %00 value, genuinely signed, verifies and decodes to NUL', () =>
  verifyNotify(H.signedNotifyBody([...H.notifyFields(), ['memo', 'a\0b']], 'MD5', MD5_KEY), { md5Key: MD5_KEY }), (v) => {
  OK(v)
  expect(v.notification.params.memo).toBe('a\0b')
})
returns('parseOrderStr: a NUL inside quotes is kept', () => parseOrderStr('a="\0"&sign="x"&sign_type="MD5"'), (v) =>
  expect(v).toEqual({ params: [['a', '\0']], preSign: 'a="\0"', sign: 'x', signType: 'MD5' }))
returns('notifyVerifyUrl: a NUL in notifyId is percent-encoded', () => notifyVerifyUrl(H.PARTNER, 'a\0b'), (u) =>
  expect(u).toBe(`https://intlmapi.alipay.com/gateway.do?service=notify_verify&partner=${H.PARTNER}&notify_id=a%00b`))

for (const [label, s] of [['a lone high surrogate', 'a\uD800b'], ['a lone low surrogate', '\uDC00'], ['a reversed pair', '\uDC00\uD800']]) {
  throwsCode(`buildOrderStr: ${label} in a value`, () => buildOrderStr(P({ subject: s }), KEYS.RSA), INVALID_PARAM, 'subject')
  rejectsCode(`buildOrderStrAsync: ${label} in a value`, () => buildOrderStrAsync(P({ subject: s }), KEYS.RSA), INVALID_PARAM, 'subject')
  throwsCode(`AlipayHK#buildOrderStr: ${label} in the subject`, () => FRONT.buildOrderStr(H.validOrder({ subject: s })), INVALID_PARAM, 'subject')
  throwsCode(`signContent: ${label}`, () => signContent(s, KEYS.MD5), INVALID_ARGUMENT, 'content')
  throwsCode(`verifyTradePayResult: ${label}`, () => verifyTradePayResult(s, ALIPAY_KEY), INVALID_ARGUMENT, 'result')
  throwsCode(`parseOrderStr: ${label}`, () => parseOrderStr(`a="${s}"`), INVALID_ARGUMENT, 'orderStr')
  returns(`verifyNotify: ${label} in a string body: MALFORMED`, () => verifyNotify(`a=${s}&sign=x&sign_type=RSA`, ALIPAY_KEY), failed('MALFORMED'))
  returns(`verifyNotify: ${label} in a decoded field: MALFORMED`, () => verifyNotify({ a: s, sign: 'x', sign_type: 'RSA' }, ALIPAY_KEY), failed('MALFORMED'))
}
throwsCode('preSignString: a lone surrogate in a name', () => preSignString({ ['a\uD800']: 'x' }, { strict: false }), INVALID_PARAM)
throwsCode('new OrderSigner: a lone surrogate in the md5Key', () => new OrderSigner({ signType: 'MD5', md5Key: `\uD800${MD5_KEY}` }), INVALID_KEY)
throwsCode('buildOrderStr: a lone surrogate in the PEM string', () =>
  buildOrderStr(P(), { signType: 'RSA', privateKey: `${KEYS.RSA.privateKey}\uDFFF` }), INVALID_KEY)
throwsCode('notifyVerifyUrl: a lone surrogate in notifyId', () => notifyVerifyUrl(H.PARTNER, '\uD83D'), INVALID_ARGUMENT, 'notifyId')
returns('buildOrderStr: a real U+FFFD is signed as given (not taken for a replaced surrogate)', () =>
  buildOrderStr(P({ subject: 'a\uFFFDb' }), KEYS.RSA), (s) => expectOrderStr(s, H.refPreSign(P({ subject: 'a\uFFFDb' })), 'RSA'))
returns('buildOrderStr: a well-formed surrogate pair (emoji) is signed as UTF-8', () =>
  buildOrderStr(P({ subject: '付款 😀👨‍👩‍👧' }), KEYS.RSA2), (s) => expectOrderStr(s, H.refPreSign(P({ subject: '付款 😀👨‍👩‍👧' })), 'RSA2'))

const TEXT = '商品名稱 café Ωmega 가나다'
const NFC = TEXT.normalize('NFC')
const NFD = TEXT.normalize('NFD')
const MIXED = NFC.slice(0, 9) + NFD.slice(9)
for (const [form, text] of [['NFC', NFC], ['NFD', NFD], ['mixed NFC/NFD', MIXED]]) {
  for (const signType of ['RSA', 'RSA2', 'MD5']) {
    returns(`buildOrderStr, ${signType}: a ${form} subject is signed exactly as given`, () => buildOrderStr(P({ subject: text }), KEYS[signType]), (s) => {
      expectOrderStr(s, H.refPreSign(P({ subject: text })), signType)
      expect(s).toContain(`subject="${text}"`)
    })
  }
  returns(`signContent: ${form} text`, () => signContent(text, KEYS.RSA2), (s) => expectSignature(s, text, 'RSA2'))
  returns(`AlipayHK#buildOrderStr: a ${form} subject`, () => MD5_FRONT.buildOrderStr(H.validOrder({ subject: text })), (s) =>
    expectOrderStr(s, H.refPreSign(H.frontParams(H.validOrder({ subject: text }))), 'MD5'))
  returns(`verifyNotify: a ${form} notification signed over the same bytes verifies`, () =>
    verifyNotify(H.signedNotifyBody(H.notifyFields({ subject: text }), 'RSA', ALIPAY.privateKey), ALIPAY_KEY), (v) => {
    OK(v)
    expect(v.notification.params.subject).toBe(text)
  })
}
returns('NFC and NFD of the same text give byte-different orderStrs (nothing is normalised)', () =>
  [buildOrderStr(P({ subject: NFC }), KEYS.MD5), buildOrderStr(P({ subject: NFD }), KEYS.MD5)], ([a, b]) => {
  expect(NFC).not.toBe(NFD)
  expect(a).not.toBe(b)
  expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
})
returns('verifyNotify: an NFD body with a signature over its NFC form: BAD_SIGNATURE', () => {
  const fields = H.notifyFields({ subject: NFD })
  return verifyNotify(H.signedNotifyBody(fields, 'RSA', ALIPAY.privateKey, H.notifyContent(H.notifyFields({ subject: NFC }))), ALIPAY_KEY)
}, failed('BAD_SIGNATURE'))
returns('verifyNotify: an NFC body with a signature over its NFD form: BAD_SIGNATURE', () => {
  const fields = H.notifyFields({ subject: NFC })
  return verifyNotify(H.signedNotifyBody(fields, 'MD5', MD5_KEY, H.notifyContent(H.notifyFields({ subject: NFD }))), { md5Key: MD5_KEY })
}, failed('BAD_SIGNATURE'))

// --- 7. damaged keys and keys of the wrong kind ----------------------------------------------

const EC = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
const ED = crypto.generateKeyPairSync('ed25519')
const SMALL = crypto.generateKeyPairSync('rsa', { modulusLength: 512 })
const PSS = crypto.generateKeyPairSync('rsa-pss', { modulusLength: 1024 })
const PEM = KEYS.RSA.privateKey
const DER = MERCHANT.privateKey.export({ type: 'pkcs8', format: 'der' })
const flipped = Buffer.from(DER)
flipped[flipped.length - 20] ^= 0xff

const BAD_PRIVATE = [
  ['an EC PKCS#8 key', EC.privateKey.export({ type: 'pkcs8', format: 'pem' })],
  ['an EC SEC1 key', EC.privateKey.export({ type: 'sec1', format: 'pem' })],
  ['an Ed25519 key', ED.privateKey.export({ type: 'pkcs8', format: 'pem' })],
  ['a 512-bit RSA key', SMALL.privateKey.export({ type: 'pkcs8', format: 'pem' })],
  ['an RSA-PSS key', PSS.privateKey.export({ type: 'pkcs8', format: 'pem' })],
  ['an encrypted PKCS#8 PEM', MERCHANT.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })],
  ['an encrypted PKCS#1 PEM', MERCHANT.privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })],
  ['the public key (SPKI PEM)', H.spkiPem(MERCHANT)],
  ['the public key (PKCS#1 PEM)', MERCHANT.publicKey.export({ type: 'pkcs1', format: 'pem' })],
  ['the public key (SPKI DER Buffer)', MERCHANT.publicKey.export({ type: 'spki', format: 'der' })],
  ['a PEM labelled CERTIFICATE', PEM.replace(/PRIVATE KEY/g, 'CERTIFICATE')],
  ['the first half of the PEM', PEM.slice(0, PEM.length >> 1)],
  ['the PEM without its last 30 characters', PEM.slice(0, -30)],
  ['the PEM without its END line', PEM.replace(/-----END[^]*$/, '')],
  ['the PEM with mismatched labels', PEM.replace('END PRIVATE KEY', 'END RSA PRIVATE KEY')],
  ['a PEM with non-base64 text', '-----BEGIN PRIVATE KEY-----\nnot base64 at all !!\n-----END PRIVATE KEY-----\n'],
  ['a PEM of valid base64 that is not DER', '-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n'],
  ['a BEGIN line alone', '-----BEGIN PRIVATE KEY-----'],
  ['bare base64, truncated', DER.toString('base64').slice(0, 300)],
  ['DER, truncated', DER.subarray(0, 300)],
  ['600 random bytes', crypto.randomBytes(600)],
  ['whitespace only', ' \r\n\t '],
  ['an empty string', ''],
  ['an empty Buffer', Buffer.alloc(0)],
]
for (const [label, bad] of BAD_PRIVATE) {
  throwsCode(`buildOrderStr: ${label} as privateKey`, () => buildOrderStr(P(), { signType: 'RSA2', privateKey: bad }), INVALID_KEY)
  rejectsCode(`buildOrderStrAsync: ${label} as privateKey`, () => buildOrderStrAsync(P(), { signType: 'RSA', privateKey: bad }), INVALID_KEY)
  throwsCode(`new OrderSigner: ${label}`, () => new OrderSigner({ signType: 'RSA', privateKey: bad }), INVALID_KEY)
  throwsCode(`new AlipayHK: ${label} as privateKey`, () => new AlipayHK({ partner: H.PARTNER, signType: 'RSA2', privateKey: bad }), INVALID_KEY)
}
// A damaged key that still signs correctly may be used (the parse check is a pairwise
// sign/verify); what must never happen is a signature that does not verify.
codeOrResult('buildOrderStr: DER with a flipped byte near the end', () => buildOrderStr(P(), { signType: 'RSA', privateKey: flipped }), INVALID_KEY, (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA'))
codeOrResult('buildOrderStrAsync: DER with a flipped byte near the end', () => buildOrderStrAsync(P(), { signType: 'RSA', privateKey: flipped }), INVALID_KEY, (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA'))
returns('signContent: every single-byte corruption of a PKCS#8 DER key is refused or signs correctly', () => {
  const outcomes = { refused: 0, signed: 0 }
  for (let i = 0; i < DER.length; i++) {
    const damaged = Buffer.from(DER)
    damaged[i] ^= 0x5a
    let sig
    try {
      sig = signContent('corruption sweep', { signType: 'RSA2', privateKey: damaged })
    } catch (e) {
      expect(e.code).toBe(INVALID_KEY)
      outcomes.refused++
      continue
    }
    expect(crypto.verify('sha256', Buffer.from('corruption sweep'), MERCHANT.publicKey, Buffer.from(sig, 'base64'))).toBe(true)
    outcomes.signed++
  }
  return outcomes
}, (o) => {
  expect(o.refused + o.signed).toBe(DER.length)
  expect(o.refused).toBeGreaterThan(0)
})
for (const [label, bad] of BAD_PRIVATE) {
  throwsCode(`signContent: ${label} as privateKey`, () => signContent('x', { signType: 'RSA2', privateKey: bad }), INVALID_KEY, 'key.privateKey')
}
// A bare string names no sign type: refused for that before it is read as a key.
for (const [label, bad] of BAD_PRIVATE.filter(([, b]) => typeof b === 'string')) {
  throwsCode(`signContent: ${label} as the key string`, () => signContent('x', bad), SIGN_TYPE, 'key.signType')
}

const BAD_PUBLIC = [
  ['the merchant private key', PEM],
  ['a PKCS#1 private key', MERCHANT.privateKey.export({ type: 'pkcs1', format: 'pem' })],
  ['a private key as DER', DER],
  ['an EC public key', EC.publicKey.export({ type: 'spki', format: 'pem' })],
  ['an Ed25519 public key', ED.publicKey.export({ type: 'spki', format: 'pem' })],
  ['a 512-bit RSA public key', SMALL.publicKey.export({ type: 'spki', format: 'pem' })],
  ['a PEM labelled CERTIFICATE', H.spkiPem(ALIPAY).replace(/PUBLIC KEY/g, 'CERTIFICATE')],
  ['half a public PEM', H.spkiPem(ALIPAY).slice(0, 120)],
  ['truncated bare base64', ALIPAY.publicKey.export({ type: 'spki', format: 'der' }).toString('base64').slice(0, 100)],
  ['garbage', 'MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ'],
  ['an empty string', ''],
]
for (const [label, bad] of BAD_PUBLIC) {
  throwsCode(`verifyNotify: ${label} as alipayPublicKey`, () => verifyNotify(BODY, { alipayPublicKey: bad }), INVALID_KEY)
  rejectsCode(`verifyNotifyAsync: ${label} as alipayPublicKey`, () => verifyNotifyAsync(BODY, { alipayPublicKey: bad }), INVALID_KEY)
  throwsCode(`verifyTradePayResult: ${label} as alipayPublicKey`, () => verifyTradePayResult(RESULT, { alipayPublicKey: bad }), INVALID_KEY)
  throwsCode(`verifyOrderStr: ${label} as publicKey`, () => verifyOrderStr(ORDER_STR, { publicKey: bad }), INVALID_KEY)
  throwsCode(`new AlipayHK: ${label} as alipayPublicKey`, () =>
    new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY, alipayPublicKey: bad }), INVALID_KEY)
}
throwsCode('new AlipayHK: the merchant’s own public key as alipayPublicKey', () =>
  new AlipayHK({ partner: H.PARTNER, signType: 'RSA', privateKey: PEM, alipayPublicKey: H.spkiPem(MERCHANT) }), INVALID_KEY)
throwsCode('AlipayHK#verifyNotify without alipayPublicKey (RSA account)', () =>
  new AlipayHK({ partner: H.PARTNER, signType: 'RSA', privateKey: PEM }).verifyNotify(BODY), INVALID_KEY)
returns('buildOrderStr: two PEMs concatenated: the first is used, exactly', () => buildOrderStr(P(), { signType: 'RSA', privateKey: PEM + H.pkcs8Pem(MERCHANT2) }), (s) =>
  expectOrderStr(s, H.refPreSign(P()), 'RSA'))
throwsCode('md5Key with a space', () => buildOrderStr(P(), { signType: 'MD5', md5Key: ` ${MD5_KEY}` }), INVALID_KEY)
throwsCode('signType MD5 with a privateKey', () => buildOrderStr(P(), { signType: 'MD5', privateKey: PEM }), SIGN_TYPE)
throwsCode('signType RSA with an md5Key', () => buildOrderStr(P(), { signType: 'RSA', md5Key: MD5_KEY }), SIGN_TYPE)
throwsCode('signType "rsa2" (lower case)', () => buildOrderStr(P(), { signType: 'rsa2', privateKey: PEM }), SIGN_TYPE)
throwsCode('both privateKey and md5Key', () => buildOrderStr(P(), { signType: 'RSA', privateKey: PEM, md5Key: MD5_KEY }), INVALID_ARGUMENT, 'key')
throwsCode('both alipayPublicKey and md5Key', () => verifyNotify(BODY, { alipayPublicKey: H.spkiPem(ALIPAY), md5Key: MD5_KEY }), INVALID_ARGUMENT, 'key')
returns('verifyTradePayResult with only an md5Key: UNSUPPORTED_SIGN_TYPE, not a pass', () => verifyTradePayResult(RESULT, { md5Key: MD5_KEY }), (v) => {
  failed('UNSUPPORTED_SIGN_TYPE')(v)
  expect(v.success).toBe(false)
})

// --- 8. notification bodies with broken percent-encoding -------------------------------------

const genuine = H.signedNotifyBody(H.notifyFields(), 'RSA', ALIPAY.privateKey)
const BROKEN = [
  ['%zz', 'a=%zz&sign=x&sign_type=RSA'],
  ['a % with one hex digit', 'a=%4&sign=x&sign_type=RSA'],
  ['a % at the end', 'a=b&sign=x&sign_type=RSA&c=%'],
  ['a broken name', '%G1=b&sign=x&sign_type=RSA'],
  ['%FF (not UTF-8)', 'a=%FF&sign=x&sign_type=RSA'],
  ['an overlong UTF-8 encoding', 'a=%C0%AF&sign=x&sign_type=RSA'],
  ['an encoded surrogate (CESU)', 'a=%ED%A0%80&sign=x&sign_type=RSA'],
  ['a truncated multi-byte character', 'subject=%E5%95&sign=x&sign_type=RSA'],
  ['a genuine notification cut inside a %XX', genuine.slice(0, genuine.lastIndexOf('%') + 2)],
  ['a genuine notification with its first %XX damaged', genuine.replace(/%[0-9A-F]{2}/, '%Q9')],
]
for (const [label, body] of BROKEN) {
  returns(`verifyNotify: ${label}: MALFORMED`, () => verifyNotify(body, ALIPAY_KEY), (v) => {
    failed('MALFORMED')(v)
    expect(v.unverifiedParams).toEqual({})
    expect(v.params).toBeUndefined()
    expect(v.notification).toBeUndefined()
  })
  returns(`verifyNotify (Buffer): ${label}: MALFORMED`, () => verifyNotify(Buffer.from(body), ALIPAY_KEY), failed('MALFORMED'))
  resolves(`verifyNotifyAsync: ${label}: MALFORMED`, () => verifyNotifyAsync(body, ALIPAY_KEY), failed('MALFORMED'))
}
returns('AlipayHK#verifyNotify: broken percent-encoding: MALFORMED', () => FRONT.verifyNotify('a=%zz'), failed('MALFORMED'))
resolves('AlipayHK#verifyNotifyAsync: broken percent-encoding: MALFORMED', () => FRONT.verifyNotifyAsync(Buffer.from('a=%F0%9F')), failed('MALFORMED'))
returns('verifyNotify: raw bytes that are not UTF-8: MALFORMED', () => verifyNotify(Buffer.from([0x61, 0x3d, 0xff, 0xfe]), ALIPAY_KEY), failed('MALFORMED'))
returns('verifyNotify: a repeated sign: MALFORMED', () => verifyNotify(`${genuine}&sign=x`, ALIPAY_KEY), failed('MALFORMED'))

// --- 9. empty strings everywhere ---------------------------------------------------------------

throwsCode('buildOrderStr: empty params (strict)', () => buildOrderStr({}, KEYS.RSA), MISSING_PARAM, 'service')
throwsCode('buildOrderStr: empty params (strict: false): nothing to sign is refused', () => buildOrderStr({}, KEYS.MD5, { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('preSignString: every value empty: nothing to sign is refused (strict: false)', () => preSignString({ a: '', b: null, c: undefined }, { strict: false }), INVALID_ARGUMENT, 'params')
throwsCode('buildOrderStr: an empty required value is missing', () => buildOrderStr(P({ subject: '' }), KEYS.RSA), MISSING_PARAM, 'subject')
returns('buildOrderStr: an empty optional value is left out, exactly', () => buildOrderStr(P({ body: '' }), KEYS.RSA), (s) =>
  expectOrderStr(s, H.refPreSign(P({ body: undefined })), 'RSA'))
throwsCode('preSignString: an empty name', () => preSignString({ '': 'x' }, { strict: false }), INVALID_PARAM, '')
throwsCode('buildOrderStr: an empty key string (names no sign type)', () => buildOrderStr(P(), ''), SIGN_TYPE, 'key.signType')
throwsCode('buildOrderStr: an empty privateKey string', () => buildOrderStr(P(), { signType: 'RSA', privateKey: '' }), INVALID_KEY, 'key.privateKey')
throwsCode('buildOrderStr: an empty signType', () => buildOrderStr(P(), { signType: '', privateKey: PEM }), SIGN_TYPE)
throwsCode('new OrderSigner: an empty md5Key', () => new OrderSigner({ signType: 'MD5', md5Key: '' }), INVALID_KEY)
returns('signContent: the empty string, RSA2', () => signContent('', KEYS.RSA2), (s) => expectSignature(s, '', 'RSA2'))
returns('OrderSigner#signContent: the empty string, MD5', () => MD5_SIGNER.signContent(''), (s) => expectSignature(s, '', 'MD5'))
returns('verifyNotify: an empty body: MISSING_SIGN', () => verifyNotify('', ALIPAY_KEY), failed('MISSING_SIGN'))
returns('verifyNotify: an empty Buffer: MISSING_SIGN', () => verifyNotify(Buffer.alloc(0), ALIPAY_KEY), failed('MISSING_SIGN'))
returns('verifyNotify: an empty object: MISSING_SIGN', () => verifyNotify({}, ALIPAY_KEY), failed('MISSING_SIGN'))
returns('verifyNotify: an empty URLSearchParams: MISSING_SIGN', () => verifyNotify(new URLSearchParams(), ALIPAY_KEY), failed('MISSING_SIGN'))
returns('verifyNotify: an empty sign: MISSING_SIGN', () => verifyNotify('a=b&sign=&sign_type=RSA', ALIPAY_KEY), failed('MISSING_SIGN'))
returns('verifyNotify: only separators: MISSING_SIGN', () => verifyNotify('&&&', ALIPAY_KEY), failed('MISSING_SIGN'))
returns('verifyNotify: a lone "=": MALFORMED', () => verifyNotify('=', ALIPAY_KEY), failed('MALFORMED'))
resolves('verifyNotifyAsync: an empty body: MISSING_SIGN', () => verifyNotifyAsync('', { md5Key: MD5_KEY }), failed('MISSING_SIGN'))
throwsCode('verifyNotify: an empty md5Key', () => verifyNotify(MD5_BODY, { md5Key: '' }), INVALID_KEY)
throwsCode('verifyNotify: an empty key object', () => verifyNotify(BODY, {}), INVALID_ARGUMENT, 'key')
returns('verifyTradePayResult: the empty string: MISSING_SIGN', () => verifyTradePayResult('', ALIPAY_KEY), (v) => {
  failed('MISSING_SIGN')(v)
  expect(v.success).toBe(false)
})
returns('AlipayHK#verifyTradePayResult: an empty result inside the wrapper: MISSING_SIGN', () =>
  FRONT.verifyTradePayResult('resultStatus={9000};memo={};result={}'), (v) => {
  failed('MISSING_SIGN')(v)
  expect(v.success).toBe(false)
  expect(v.resultStatus).toBe('9000')
})
throwsCode('parseOrderStr: the empty string', () => parseOrderStr(''), INVALID_PARAM, 'orderStr')
throwsCode('parseOrderStr: no key="value" structure', () => parseOrderStr('&&&'), INVALID_PARAM, 'orderStr')
throwsCode('parseOrderStr: an unclosed quote', () => parseOrderStr('a="b'), INVALID_PARAM, 'orderStr')
returns('verifyOrderStr: the empty string: MALFORMED', () => verifyOrderStr(''), failed('MALFORMED'))
returns('verifyOrderStr: an unclosed quote: MALFORMED', () => verifyOrderStr('a="b', { md5Key: MD5_KEY }), failed('MALFORMED'))
returns('checkNotifyMatchesOrder: empty optional expected fields are compared, not skipped', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { ...EXPECTED, currency: '', sellerId: '' }), (v) => {
  expect(v.map((m) => m.field)).toEqual(['currency', 'seller_id'])
  expect(v.map((m) => m.order)).toEqual(['', ''])
})
throwsCode('checkNotifyMatchesOrder: an empty expected.outTradeNo is refused', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { ...EXPECTED, outTradeNo: '' }), INVALID_PARAM, 'expected.outTradeNo')
throwsCode('checkNotifyMatchesOrder: an empty expected.totalFee is refused', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { ...EXPECTED, totalFee: '' }), INVALID_PARAM, 'expected.totalFee')
throwsCode('checkNotifyMatchesOrder: {} expected: nothing to compare is refused', () => checkNotifyMatchesOrder(NOTIFICATION, {}), MISSING_PARAM, 'expected.outTradeNo')
throwsCode('isPaid: empty params are refused', () => isPaid({}), INVALID_ARGUMENT, 'notification')
returns('isPaid: an empty trade_status', () =>
  isPaid(H.verifiedNotification(verifyNotify, H.notifyFields({ trade_status: '' }), ALIPAY, 'RSA')), (v) => expect(v).toBe(false))
throwsCode('notifyVerifyUrl: an empty partner', () => notifyVerifyUrl('', 'n-1'), INVALID_PARAM, 'partner')
throwsCode('notifyVerifyUrl: an empty notifyId', () => notifyVerifyUrl(H.PARTNER, ''), INVALID_PARAM, 'notifyId')
throwsCode('notifyVerifyUrl: an empty gateway', () => notifyVerifyUrl(H.PARTNER, 'n-1', ''), INVALID_PARAM, 'gateway')
throwsCode('notifyVerifyUrl: a javascript: gateway', () => notifyVerifyUrl(H.PARTNER, 'n-1', 'javascript:alert(1)'), INVALID_PARAM, 'gateway')
throwsCode('new AlipayHK: an empty partner', () => new AlipayHK({ partner: '', signType: 'MD5', md5Key: MD5_KEY }), INVALID_PARAM, 'partner')
throwsCode('new AlipayHK: an empty config', () => new AlipayHK({}), MISSING_PARAM, 'partner')
throwsCode('new AlipayHK: an unknown config field', () => new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY, privatekey: 'x' }), INVALID_ARGUMENT, 'config.privatekey')
throwsCode('AlipayHK#buildOrderStr: an empty order', () => FRONT.buildOrderStr({}), MISSING_PARAM, 'out_trade_no')
throwsCode('AlipayHK#buildOrderStr: every order field empty', () =>
  FRONT.buildOrderStr({ outTradeNo: '', subject: '', totalFee: '', notifyUrl: '' }), MISSING_PARAM, 'out_trade_no')
rejectsCode('AlipayHK#buildOrderStrAsync: an empty subject', () => FRONT.buildOrderStrAsync(H.validOrder({ subject: '' })), MISSING_PARAM, 'subject')
throwsCode('AlipayHK#buildOrderStr: an unknown order field', () => FRONT.buildOrderStr({ ...H.validOrder(), total_fee: '1' }), INVALID_ARGUMENT, 'order.total_fee')
returns('AlipayHK#buildOrderStr: empty currency and paymentInst take their defaults, exactly', () =>
  MD5_FRONT.buildOrderStr(H.validOrder({ currency: '', paymentInst: '' })), (s) =>
  expectOrderStr(s, H.refPreSign(H.frontParams(H.validOrder())), 'MD5'))
returns('AlipayHK#verifyNotify: an empty body: MISSING_SIGN', () => FRONT.verifyNotify(''), failed('MISSING_SIGN'))

// --- 10. numbers, and values of the wrong type inside objects -----------------------------------

returns('buildOrderStr: total_fee 0.1 as a number is written "0.1", exactly', () => buildOrderStr(P({ total_fee: 0.1 }), KEYS.RSA), (s) =>
  expectOrderStr(s, H.refPreSign(P({ total_fee: '0.1' })), 'RSA'))
for (const [label, n] of [['0.1 + 0.2', 0.1 + 0.2], ['NaN', NaN], ['Infinity', Infinity], ['-0', -0], ['1e21', 1e21], ['-5', -5]]) {
  throwsCode(`buildOrderStr: total_fee ${label}`, () => buildOrderStr(P({ total_fee: n }), KEYS.RSA), INVALID_PARAM, 'total_fee')
}
for (const [label, v] of [
  ['a number', 5],
  ['a boolean', true],
  ['a bigint', 1n],
  ['a symbol', Symbol('v')],
  ['an object with toString', { toString: () => 'x' }],
  ['a String object', Object('x')],
  ['an array', ['x']],
  ['a function', () => 'x'],
]) {
  throwsCode(`buildOrderStr: subject as ${label}`, () => buildOrderStr(P({ subject: v }), KEYS.RSA), INVALID_PARAM, 'subject')
  throwsCode(`isPaid: a plain object with trade_status as ${label}`, () => isPaid({ trade_status: v }), INVALID_ARGUMENT, 'notification')
}
throwsCode('AlipayHK#buildOrderStr: totalFee as a bigint', () => FRONT.buildOrderStr(H.validOrder({ totalFee: 1n })), INVALID_PARAM, 'total_fee')
throwsCode('checkNotifyMatchesOrder: expected.totalFee as a boolean', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { ...EXPECTED, totalFee: true }), INVALID_ARGUMENT, 'expected.totalFee')
returns('checkNotifyMatchesOrder: expected.totalFee as a number equals its decimal', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { ...EXPECTED, totalFee: 12.5 }), (v) => expect(v).toEqual([]))
returns('checkNotifyMatchesOrder: expected.totalFee 12.51 as a number is a mismatch', () =>
  checkNotifyMatchesOrder(NOTIFICATION, { ...EXPECTED, totalFee: 12.51 }), (v) => expect(v.map((m) => m.field)).toEqual(['total_fee']))
returns('verifyNotify: a decoded body with an array value (repeated name): MALFORMED', () =>
  verifyNotify({ ...Object.fromEntries(new URLSearchParams(BODY)), total_fee: ['12.50', '0.01'] }, ALIPAY_KEY), failed('MALFORMED'))
returns('verifyNotify: a decoded body with a nested object: MALFORMED', () =>
  verifyNotify({ ...Object.fromEntries(new URLSearchParams(BODY)), extra: { a: '1' } }, ALIPAY_KEY), failed('MALFORMED'))
throwsCode('buildOrderStr: a value holding "', () => buildOrderStr(P({ subject: 'a"b' }), KEYS.RSA), INVALID_PARAM, 'subject')
throwsCode('buildOrderStr: a value holding & (strict)', () => buildOrderStr(P({ subject: 'a&b' }), KEYS.RSA), INVALID_PARAM, 'subject')
throwsCode('buildOrderStr: a sign among the params', () => buildOrderStr(P({ sign: 'forged' }), KEYS.RSA), INVALID_PARAM, 'sign')
throwsCode('buildOrderStr: a sign_type param that disagrees with the key', () => buildOrderStr(P({ sign_type: 'MD5' }), KEYS.RSA), SIGN_TYPE, 'sign_type')
throwsCode('buildOrderStr: both service and method', () => buildOrderStr(P({ method: 'mobile.securitypay.pay' }), KEYS.RSA), INVALID_PARAM, 'method')

// --- the run ---------------------------------------------------------------------------------

describe('hostile input: every case returns a checked result or a documented code', () => {
  test('the table is large and its names are unique', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150)
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length)
  })
  test.each(CASES.map((c) => [c.name, c]))('%s', (_, c) => runCase(c))
})

// --- the nastiest cases in a child process: nothing aborts it ------------------------------------

const FIXTURE = path.join(__dirname, 'fixtures', 'nasty-cases.js')

describe('in a child process', () => {
  test('the nastiest cases end in coded errors or results, and the process exits 0', () => {
    const r = spawnSync(process.execPath, [FIXTURE], { cwd: ROOT, encoding: 'utf8', timeout: 120000 })
    expect(r.error).toBeUndefined()
    expect(r.signal).toBeNull()
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.failures).toEqual([])
    expect(report.cases).toBeGreaterThanOrEqual(20)
  })
})

// --- the panic test hook ---------------------------------------------------------------------

function runHook(script, hooks) {
  const env = { ...process.env }
  delete env.ALIPAYHK_PAY_TEST_HOOKS
  if (hooks) env.ALIPAYHK_PAY_TEST_HOOKS = '1'
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 60000 })
  expect(r.error).toBeUndefined()
  expect(r.signal).toBeNull()
  return r
}

const HOOK_SCRIPT = `
const m = require(${JSON.stringify(path.join(ROOT, 'index.js'))})
const out = {}
const describe = (e) => ({ code: e && e.code, name: e && e.name, message: String(e && e.message) })
try { out.sync = { returned: m.__panicForTests('sync') } } catch (e) { out.sync = describe(e) }
let p
try { p = m.__panicForTests('async'); out.asyncIsPromise = p instanceof Promise } catch (e) { out.asyncThrew = describe(e) }
Promise.resolve(p).then(
  (v) => { out.async = { resolved: v } },
  (e) => { out.async = describe(e) },
).then(() => {
  // The addon still works after both panics.
  out.after = m.signContent('after', { signType: 'MD5', md5Key: 'k'.repeat(32) })
  process.stdout.write(JSON.stringify(out))
})
`

describe('__panicForTests', () => {
  test('with ALIPAYHK_PAY_TEST_HOOKS=1: a panic throws / rejects ERR_ALIPAYHK_INTERNAL and the process exits 0', () => {
    const r = runHook(HOOK_SCRIPT, true)
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.sync.code).toBe('ERR_ALIPAYHK_INTERNAL')
    expect(out.sync.name).toBe('Error')
    expect(out.sync.message).not.toMatch(/test hook/)
    expect(out.asyncIsPromise).toBe(true)
    expect(out.async.code).toBe('ERR_ALIPAYHK_INTERNAL')
    expect(out.async.name).toBe('Error')
    expect(out.after).toBe(crypto.createHash('md5').update(`after${'k'.repeat(32)}`).digest('hex'))
  })

  test('without the variable: ERR_ALIPAYHK_INVALID_ARGUMENT, thrown for both, and no panic', () => {
    const r = runHook(HOOK_SCRIPT, false)
    expect(r.status).toBe(0)
    expect(r.stderr).not.toMatch(/panicked/)
    const out = JSON.parse(r.stdout)
    expect(out.sync.code).toBe(INVALID_ARGUMENT)
    expect(out.sync.name).toBe('TypeError')
    expect(out.asyncThrew.code).toBe(INVALID_ARGUMENT)
    expect(out.async).toEqual({ resolved: undefined })
  })
})
