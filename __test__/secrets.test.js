// Secret hygiene (issue 6): key material never shows up where it could end up in a log.
// Keys (valid, damaged, of the wrong kind, in the wrong field) carry a recognisable marker
// run in their base64 body, or are real keys whose every 16-character slice is looked for;
// every function and class that takes a key is called with them (sync and async), and the
// marker / slices must be absent from every error's message, stack, util.inspect and JSON,
// from every result, and from util.inspect / JSON of OrderSigner and AlipayHK instances.
'use strict'

const crypto = require('node:crypto')
const util = require('node:util')

const {
  buildOrderStr,
  buildOrderStrAsync,
  preSignString,
  signContent,
  OrderSigner,
  verifyNotify,
  verifyNotifyAsync,
  verifyTradePayResult,
  verifyOrderStr,
  AlipayHK,
} = require('..')
const H = require('./helpers')

const MARKER = 'SECRETMARKERxyz'
const MARKER_RUN = `${MARKER}A`.repeat(4) // 64 base64 characters, a whole PEM line

// --- keys ------------------------------------------------------------------------------------

const MERCHANT = H.rsaPair(1024)
const MERCHANT2 = H.rsaPair(2048)
const ALIPAY = H.rsaPair(1024)
const MD5_KEY = crypto.randomBytes(16).toString('hex') // 32 letters and digits

const pkcs8Der = (pair) => pair.privateKey.export({ type: 'pkcs8', format: 'der' })
const pkcs1Der = (pair) => pair.privateKey.export({ type: 'pkcs1', format: 'der' })
const wrap64 = (b64) => b64.match(/.{1,64}/g).join('\n')
const pem = (label, b64) => `-----BEGIN ${label}-----\n${wrap64(b64)}\n-----END ${label}-----\n`
/** The base64 of `der` with the marker run written over its middle. */
const marked = (der) => {
  const b64 = der.toString('base64')
  const at = Math.floor(b64.length / 2 / 4) * 4
  return b64.slice(0, at) + MARKER_RUN + b64.slice(at + MARKER_RUN.length)
}

// The secret strings whose 16-character slices must never appear: every base64 form of
// the real private keys, and the MD5 key.
const REAL_SECRETS = [
  pkcs8Der(MERCHANT).toString('base64'),
  pkcs1Der(MERCHANT).toString('base64'),
  pkcs8Der(MERCHANT2).toString('base64'),
  pkcs1Der(MERCHANT2).toString('base64'),
  MD5_KEY,
]
// A DER key starts with the same structural bytes as every other key of its size; those
// are not secret, and a message may name them (e.g. "MIIE…" in a hint). The slices checked
// start after the first 48 base64 characters (36 bytes of headers and the modulus start).
const SLICES = [...new Set(REAL_SECRETS.flatMap((s, i) => H.slices(i === REAL_SECRETS.length - 1 ? s : s.slice(48))))]

/** Private keys that must not leak, with the marker or as real keys. */
const PRIVATE_KEYS = [
  ['a real PKCS#8 PEM (1024)', H.pkcs8Pem(MERCHANT)],
  ['a real PKCS#1 PEM (2048)', MERCHANT2.privateKey.export({ type: 'pkcs1', format: 'pem' })],
  ['the real bare base64 body', pkcs8Der(MERCHANT2).toString('base64')],
  ['a real DER Buffer', pkcs8Der(MERCHANT)],
  ['a garbage PEM of marker text', pem('PRIVATE KEY', `MIIE${MARKER_RUN.repeat(6)}`)],
  ['a damaged PEM with the marker', pem('PRIVATE KEY', marked(pkcs8Der(MERCHANT)))],
  ['a truncated PEM with the marker', pem('PRIVATE KEY', marked(pkcs8Der(MERCHANT))).slice(0, 500)],
  ['a PEM with the marker and no END line', `-----BEGIN RSA PRIVATE KEY-----\n${wrap64(marked(pkcs1Der(MERCHANT)))}\n`],
  ['bare base64 with the marker', marked(pkcs8Der(MERCHANT2))],
  ['bare base64 of marker text only', MARKER_RUN.repeat(10)],
  ['a public-key PEM with the marker', pem('PUBLIC KEY', marked(MERCHANT.publicKey.export({ type: 'spki', format: 'der' })))],
  ['an RSA PUBLIC KEY PEM with the marker', pem('RSA PUBLIC KEY', marked(MERCHANT.publicKey.export({ type: 'pkcs1', format: 'der' })))],
  ['an encrypted PEM with the marker', `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,${'0'.repeat(32)}\n\n${wrap64(MARKER_RUN.repeat(8))}\n-----END RSA PRIVATE KEY-----\n`],
  ['a certificate PEM with the marker', pem('CERTIFICATE', MARKER_RUN.repeat(8))],
  ['an EC key with the marker', pem('EC PRIVATE KEY', marked(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'der' })))],
  ['a DER Buffer with the marker bytes', Buffer.concat([pkcs8Der(MERCHANT).subarray(0, 40), Buffer.from(MARKER.repeat(8)), pkcs8Der(MERCHANT).subarray(40 + 8 * MARKER.length)])],
  ['a PEM Buffer with the marker', Buffer.from(pem('PRIVATE KEY', marked(pkcs8Der(MERCHANT))))],
  ['the marker text with a lone surrogate', `${MARKER_RUN}\uD800`],
  ['the marker text with a NUL', `-----BEGIN PRIVATE KEY-----\n${MARKER_RUN}\0${MARKER_RUN}\n-----END PRIVATE KEY-----\n`],
]

const PUBLIC_KEYS = [
  ['a real merchant private key (the wrong kind)', H.pkcs8Pem(MERCHANT)],
  ['a real private key as bare base64', pkcs1Der(MERCHANT2).toString('base64')],
  ['a private-key PEM with the marker', pem('PRIVATE KEY', marked(pkcs8Der(MERCHANT)))],
  ['a public-key PEM with the marker', pem('PUBLIC KEY', marked(ALIPAY.publicKey.export({ type: 'spki', format: 'der' })))],
  ['bare base64 with the marker', marked(ALIPAY.publicKey.export({ type: 'spki', format: 'der' }))],
  ['a truncated PEM with the marker', pem('PUBLIC KEY', MARKER_RUN.repeat(3)).slice(0, 100)],
  ['a marker Buffer', Buffer.from(MARKER_RUN.repeat(4))],
]

const MD5_KEYS = [
  ['the real MD5 key', MD5_KEY],
  ['an MD5 key with the marker', `${MARKER}${MD5_KEY.slice(MARKER.length)}`],
  ['an MD5 key with the marker and a space', `${MARKER} ${MD5_KEY.slice(MARKER.length + 1)}`],
  ['an MD5 key with the marker and a line break', `${MARKER}${MD5_KEY.slice(MARKER.length)}\n`],
  ['an MD5 key with the marker and a lone surrogate', `${MARKER}\uDC00`],
  ['the real MD5 key with a NUL', `${MD5_KEY}\0`],
  ['a long MD5 key of marker text', MARKER.repeat(5000)],
]

// --- what is looked at ----------------------------------------------------------------------

const BODY = H.signedNotifyBody(H.notifyFields(), 'RSA', ALIPAY.privateKey)
const MD5_BODY = H.signedNotifyBody(H.notifyFields(), 'MD5', MD5_KEY)
const ORDER_STR = H.refOrderStr(H.refPreSign(H.validParams()), 'RSA', MERCHANT.privateKey)
const RESULT = (() => {
  const content = `${H.refPreSign(H.validParams())}&success="true"`
  return `resultStatus={9000};memo={};result={${content}&sign_type="RSA"&sign="${H.refSign(content, 'RSA', ALIPAY.privateKey)}"}`
})()

/** Every text a log could get from `x`. */
function surfaces(x) {
  const out = []
  const add = (s) => out.push(String(s))
  add(util.inspect(x, { showHidden: true, depth: Infinity, getters: true }))
  try {
    add(JSON.stringify(x))
  } catch (e) {
    add(e.message)
  }
  if (x !== null && (typeof x === 'object' || typeof x === 'function')) {
    if (util.types.isNativeError(x) || x instanceof Error) {
      add(x.message)
      add(x.stack)
      add(String(x))
      add(util.format('%s %o %j', x, x, x))
    }
    for (const name of Object.getOwnPropertyNames(x)) add(util.inspect(x[name], { depth: Infinity }))
    // Instances: every getter of the class.
    for (const name of ['signType', 'keyBits', 'fingerprint', 'partner', 'sellerId']) {
      if (name in x) add(x[name])
    }
  } else {
    add(x)
  }
  return out
}

function expectNoSecret(x, where) {
  for (const text of surfaces(x)) {
    if (text.includes(MARKER)) throw new Error(`${where}: the marker shows: ${text.slice(0, 400)}`)
    for (const slice of SLICES) {
      if (text.includes(slice)) throw new Error(`${where}: a 16-character slice of a real key shows (${slice}): ${text.slice(0, 400)}`)
    }
  }
}

/** Runs `fn` (sync or async) and checks whatever comes out: the error or the result. */
async function outcome(fn) {
  let value
  try {
    value = fn()
  } catch (e) {
    return { error: e }
  }
  if (util.types.isPromise(value)) {
    return value.then(
      (v) => ({ value: v }),
      (e) => ({ error: e }),
    )
  }
  return { value }
}

// --- the calls -------------------------------------------------------------------------------

const P = H.validParams
const CALLS = []
const call = (kind, name, fn) => CALLS.push({ kind, name, fn })

for (const signType of ['RSA', 'RSA2']) {
  call('private', `buildOrderStr({ signType: ${signType}, privateKey })`, (k) => buildOrderStr(P(), { signType, privateKey: k }))
  call('private', `buildOrderStrAsync({ signType: ${signType}, privateKey })`, (k) => buildOrderStrAsync(P(), { signType, privateKey: k }))
}
call('private', 'buildOrderStr(params, keyString)', (k) => buildOrderStr(P(), typeof k === 'string' ? k : { signType: 'RSA', privateKey: k }))
call('private', 'signContent(text, { privateKey })', (k) => signContent('text', { signType: 'RSA2', privateKey: k }))
call('private', 'new OrderSigner({ privateKey })', (k) => new OrderSigner({ signType: 'RSA', privateKey: k }))
call('private', 'OrderSigner: build, pre-sign, sign, then inspect', (k) => {
  const s = new OrderSigner({ signType: 'RSA2', privateKey: k })
  return [s, s.buildOrderStr(P()), s.preSign(P()), s.signContent('x')]
})
call('private', 'OrderSigner#buildOrderStrAsync', (k) => new OrderSigner({ signType: 'RSA', privateKey: k }).buildOrderStrAsync(P()))
call('private', 'new AlipayHK({ privateKey })', (k) => new AlipayHK({ partner: H.PARTNER, signType: 'RSA2', privateKey: k }))
call('private', 'new AlipayHK({ privateKey, alipayPublicKey }) then buildOrderStr', (k) => {
  const a = new AlipayHK({ partner: H.PARTNER, signType: 'RSA', privateKey: k, alipayPublicKey: H.spkiPem(ALIPAY) })
  return [a, a.buildOrderStr(H.validOrder()), a.verifyNotify(BODY)]
})
call('private', 'AlipayHK#buildOrderStrAsync', (k) => new AlipayHK({ partner: H.PARTNER, signType: 'RSA2', privateKey: k }).buildOrderStrAsync(H.validOrder()))
call('private', 'the key in the wrong field: signType', (k) => buildOrderStr(P(), { signType: typeof k === 'string' ? k : k.toString('latin1'), privateKey: k }))
call('private', 'the key as the alipayPublicKey', (k) => verifyNotify(BODY, { alipayPublicKey: k }))
call('private', 'the key as verifyNotify’s key argument', (k) => verifyNotify(BODY, k))
call('private', 'arguments swapped: buildOrderStr(key, params)', (k) => buildOrderStr({ signType: 'RSA', privateKey: k }, P()))
call('private', 'the key object as params of preSignString', (k) => preSignString({ signType: 'RSA', privateKey: k }))

call('public', 'verifyNotify({ alipayPublicKey })', (k) => verifyNotify(BODY, { alipayPublicKey: k }))
call('public', 'verifyNotifyAsync({ alipayPublicKey })', (k) => verifyNotifyAsync(BODY, { alipayPublicKey: k }))
call('public', 'verifyTradePayResult({ alipayPublicKey })', (k) => verifyTradePayResult(RESULT, { alipayPublicKey: k }))
call('public', 'verifyOrderStr({ publicKey })', (k) => verifyOrderStr(ORDER_STR, { publicKey: k }))
call('public', 'new AlipayHK({ alipayPublicKey })', (k) =>
  new AlipayHK({ partner: H.PARTNER, signType: 'RSA', privateKey: H.pkcs8Pem(MERCHANT2), alipayPublicKey: k }))
call('public', 'new AlipayHK (MD5) with alipayPublicKey', (k) => new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY, alipayPublicKey: k }))

call('md5', 'buildOrderStr({ md5Key })', (k) => buildOrderStr(P(), { signType: 'MD5', md5Key: k }))
call('md5', 'buildOrderStrAsync({ md5Key })', (k) => buildOrderStrAsync(P(), { signType: 'MD5', md5Key: k }))
call('md5', 'signContent({ md5Key })', (k) => signContent('text', { signType: 'MD5', md5Key: k }))
call('md5', 'OrderSigner (MD5): build, then inspect', (k) => {
  const s = new OrderSigner({ signType: 'MD5', md5Key: k })
  return [s, s.buildOrderStr(P()), s.signContent('')]
})
call('md5', 'verifyNotify({ md5Key })', (k) => verifyNotify(MD5_BODY, { md5Key: k }))
call('md5', 'verifyNotifyAsync({ md5Key })', (k) => verifyNotifyAsync(MD5_BODY, { md5Key: k }))
call('md5', 'verifyTradePayResult({ md5Key })', (k) => verifyTradePayResult(RESULT, { md5Key: k }))
call('md5', 'verifyOrderStr({ md5Key })', (k) => verifyOrderStr(ORDER_STR, { md5Key: k }))
call('md5', 'new AlipayHK({ md5Key }): inspect, build, verify', (k) => {
  const a = new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: k })
  return [a, a.buildOrderStr(H.validOrder()), a.verifyNotify(MD5_BODY)]
})
call('md5', 'AlipayHK (MD5)#verifyNotifyAsync', (k) => new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: k }).verifyNotifyAsync(MD5_BODY))
call('md5', 'the MD5 key in signType', (k) => buildOrderStr(P(), { signType: k, md5Key: k }))
call('md5', 'the MD5 key given with RSA', (k) => buildOrderStr(P(), { signType: 'RSA', md5Key: k }))
call('md5', 'the MD5 key as a private key string', (k) => buildOrderStr(P(), k))
call('md5', 'the MD5 key with both key kinds', (k) => verifyNotify(BODY, { alipayPublicKey: H.spkiPem(ALIPAY), md5Key: k }))

const KEYS = { private: PRIVATE_KEYS, public: PUBLIC_KEYS, md5: MD5_KEYS }
const MATRIX = CALLS.flatMap((c) => KEYS[c.kind].map(([label, key]) => [`${c.name} with ${label}`, c, key]))

// --- tests -----------------------------------------------------------------------------------

describe('no key material in errors, results or instances', () => {
  test('the checks can fail: the marker and the slices are found where they are', () => {
    expect(() => expectNoSecret(new Error(`x${MARKER}y`), 'probe')).toThrow(/marker/)
    expect(() => expectNoSecret({ message: `…${REAL_SECRETS[0].slice(100, 120)}…` }, 'probe')).toThrow(/slice/)
    expect(() => expectNoSecret(`${MD5_KEY.slice(3, 19)}`, 'probe')).toThrow(/slice/)
    expect(PRIVATE_KEYS.filter(([, k]) => Buffer.from(k).includes(MARKER)).length).toBeGreaterThan(10)
  })

  test.each(MATRIX)('%s', async (name, c, key) => {
    const r = await outcome(() => c.fn(key))
    if ('error' in r) {
      // Refused, with one of this package's codes, and nothing of the key in it.
      expect(util.types.isNativeError(r.error)).toBe(true)
      expect(String(r.error.code)).toMatch(/^ERR_ALIPAYHK_/)
      expectNoSecret(r.error, name)
    } else {
      for (const v of [].concat(r.value)) expectNoSecret(v, name)
    }
  })

  test('the real keys are used for real: the checks above saw working signers too', async () => {
    const signer = new OrderSigner({ signType: 'RSA2', privateKey: H.pkcs8Pem(MERCHANT2) })
    const front = new AlipayHK({ partner: H.PARTNER, signType: 'MD5', md5Key: MD5_KEY, alipayPublicKey: H.spkiPem(ALIPAY) })
    expect(signer.buildOrderStr(P())).toBe(H.refOrderStr(H.refPreSign(P()), 'RSA2', MERCHANT2.privateKey))
    expect(await front.buildOrderStrAsync(H.validOrder())).toBe(H.refOrderStr(H.refPreSign(H.frontParams(H.validOrder())), 'MD5', MD5_KEY))
    for (const x of [signer, front]) {
      expectNoSecret(x, 'instance')
      expect(Object.getOwnPropertyNames(x)).toEqual([])
      expect(JSON.stringify(x)).toBe('{}')
    }
    // The fingerprint says which key is loaded without being it.
    expect(signer.fingerprint).toMatch(/^[0-9a-f]{64}$/)
    expect(front.fingerprint).toMatch(/^[0-9a-f]{64}$/)
  })
})
