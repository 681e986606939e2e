// Reading an orderStr back (docs/protocol.md §3 and §7): parseOrderStr takes apart what
// buildOrderStr makes, and verifyOrderStr checks it as Alipay's gateway would, naming every
// known mistake — in particular those of the documented sample in seed/.
//
// Signatures are made in this file with node:crypto (or md5) by merchant keys generated
// for the run; nothing is hard-coded except the documented sample, copied verbatim
// (helpers.js sampleParams).
'use strict'

const crypto = require('node:crypto')

const { buildOrderStr, preSignString, parseOrderStr, verifyOrderStr } = require('..')
const { rsaPair, pkcs8Pem, spkiPem, HASH, thrown, mulberry32: prng, sampleParams } = require('./helpers')

// --- keys -----------------------------------------------------------------------------------

const MERCHANT = { 1024: rsaPair(1024), 2048: rsaPair(2048) }
const OTHER = rsaPair(2048)
const MD5_KEY = 'k9x8c7v6b5n4m3l2k1j0h9g8f7d6s5a4'

/** Independent signer: base64 SHA1/SHA256withRSA, or md5(preSign + key) hex. */
function sign(preSign, signType, pair = MERCHANT[2048]) {
  if (signType === 'MD5') return crypto.createHash('md5').update(preSign + MD5_KEY, 'utf8').digest('hex')
  return crypto.sign(HASH[signType], Buffer.from(preSign, 'utf8'), pair.privateKey).toString('base64')
}

/** orderStr = preSign + &sign="encodeURIComponent(sign)" + &sign_type="type" (docs/protocol.md §3). */
function assemble(preSign, signature, signType, { encode = true } = {}) {
  return `${preSign}&sign="${encode ? encodeURIComponent(signature) : signature}"&sign_type="${signType}"`
}

const signingKey = (signType, pair = MERCHANT[2048]) =>
  signType === 'MD5' ? { signType, md5Key: MD5_KEY } : { signType, privateKey: pkcs8Pem(pair) }
const verifyKey = (signType, pair = MERCHANT[2048]) =>
  signType === 'MD5' ? { md5Key: MD5_KEY } : { publicKey: spkiPem(pair) }

const byteOrder = ([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))

// --- random orders ----------------------------------------------------------------------------

const SEED = 20240501
const rand = prng(SEED)
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1))
const pick = (xs) => xs[int(0, xs.length - 1)]
const chance = (p) => rand() < p

const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((c) => c !== '"')
const CHINESE = [...'商品名稱描述信息支付寶香港測試訂單金額']
const EMOJI = ['😀', '🎉', '🛒', '💳', '🇭🇰', '👍🏽']

/** Text of ASCII (no `"`), Chinese, emoji and spaces; `&` only when allowed. */
function randomText(maxParts, allowAmp) {
  let s = ''
  const parts = int(1, maxParts)
  for (let i = 0; i < parts; i++) {
    const kind = int(0, 3)
    if (kind === 0) s += pick(ASCII)
    else if (kind === 1) s += pick(CHINESE)
    else if (kind === 2) s += pick(EMOJI)
    else s += ' '
  }
  if (!allowAmp) s = s.replace(/&/g, '+')
  else if (chance(0.5)) s += ' & more'
  return s.trim() === '' ? `x${s}` : s
}

const TRADE_NO_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'

/** A valid amount: 0.01 to 999999.99, 0 to 2 decimals; sometimes a number. */
function randomAmount() {
  const whole = int(0, 999999)
  const fraction = pick(['', '.5', '.05', '.50', '.99', '.1'])
  const text = whole === 0 ? `0${fraction || '.01'}` : `${whole}${fraction}`
  return chance(0.2) ? Number(text) : text
}

function shuffle(xs) {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(0, i)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

function randomOrder(i) {
  const strict = chance(0.75)
  const partner = `2088${String(int(0, 999999)).padStart(6, '0')}${String(int(0, 999999)).padStart(6, '0')}`
  const entries = [
    [chance(0.2) ? 'method' : 'service', 'mobile.securitypay.pay'],
    ['partner', partner],
    ['seller_id', partner],
    ['out_trade_no', Array.from({ length: int(1, 64) }, () => pick([...TRADE_NO_CHARS])).join('')],
    ['subject', randomText(40, !strict)],
    ['total_fee', randomAmount()],
    ['notify_url', `https://shop${i}.example.com/alipay/notify`],
    ['payment_type', '1'],
    ['_input_charset', pick(['utf-8', 'UTF-8'])],
    ['currency', 'HKD'],
    ['product_code', 'NEW_WAP_OVERSEAS_SELLER'],
    ['forex_biz', 'FP'],
  ]
  if (chance(0.6)) entries.push(['body', randomText(80, !strict)])
  if (chance(0.5)) entries.push(['it_b_pay', pick(['30m', '90m', '2h', '15d', '1c'])])
  if (chance(0.5)) entries.push(['return_url', 'm.alipay.com'])
  if (chance(0.7)) entries.push(['payment_inst', pick(['ALIPAYHK', 'ALIPAYCN'])])
  if (chance(0.2)) entries.push(['trade_information', JSON.stringify({ business_type: '5', goods_info: randomText(8, false) })])
  if (!strict && chance(0.5)) entries.push(['x_custom_note', randomText(20, true)])
  const params = Object.fromEntries(chance(0.5) ? shuffle(entries) : entries)
  const options = { strict, sortKeys: chance(0.2) }
  const signType = pick(['RSA', 'RSA2', 'MD5'])
  const pair = pick([MERCHANT[1024], MERCHANT[2048]])
  return { params, options, signType, pair }
}

const ORDERS = Array.from({ length: 200 }, (_, i) => randomOrder(i))

/** What parseOrderStr should give back: the entries in order, method written as service. */
function expectedParams({ params, options }) {
  let entries = Object.entries(params).map(([k, v]) => [k === 'method' ? 'service' : k, String(v)])
  if (options.sortKeys) entries = entries.sort(byteOrder)
  return entries
}

// --- tests ----------------------------------------------------------------------------------

describe(`parseOrderStr inverts buildOrderStr (200 random orders, seed ${SEED})`, () => {
  test('the random orders cover strict and non-strict, method, `&`, Chinese, emoji, JSON, sorting and every sign type', () => {
    const all = ORDERS.map((o) => JSON.stringify(o.params)).join('')
    expect(ORDERS.some((o) => !o.options.strict && /&/.test(o.params.body || o.params.subject))).toBe(true)
    expect(ORDERS.some((o) => 'method' in o.params)).toBe(true)
    expect(ORDERS.some((o) => o.options.sortKeys)).toBe(true)
    expect(ORDERS.some((o) => 'trade_information' in o.params)).toBe(true)
    expect(ORDERS.some((o) => typeof o.params.total_fee === 'number')).toBe(true)
    expect(all).toMatch(/[\u4e00-\u9fff]/)
    expect(all).toMatch(/\p{Extended_Pictographic}/u)
    for (const t of ['RSA', 'RSA2', 'MD5']) expect(ORDERS.some((o) => o.signType === t)).toBe(true)
  })

  test.each(ORDERS.map((o, i) => [i, o]))('order %i: params, preSign, sign and signType come back', (_, order) => {
    const { params, options, signType, pair } = order
    const orderStr = buildOrderStr(params, signingKey(signType, pair), options)
    const parsed = parseOrderStr(orderStr)

    const entries = expectedParams(order)
    expect(parsed.params).toEqual(entries)
    expect(parsed.preSign).toBe(preSignString(params, options))
    expect(parsed.preSign).toBe(entries.map(([k, v]) => `${k}="${v}"`).join('&'))
    expect(parsed.sign).toBe(sign(parsed.preSign, signType, pair))
    expect(parsed.signType).toBe(signType)
    expect(orderStr).toBe(assemble(parsed.preSign, parsed.sign, signType))
  })

  test.each(ORDERS.map((o, i) => [i, o]))('order %i: verifyOrderStr with the merchant key is ok', (_, order) => {
    const { params, options, signType, pair } = order
    const orderStr = buildOrderStr(params, signingKey(signType, pair), options)
    expect(verifyOrderStr(orderStr, verifyKey(signType, pair))).toEqual({ ok: true, mistakes: [], signatureChecked: true })
  })
})

describe('verifyOrderStr names each mistake planted in a correctly built orderStr', () => {
  const params = sampleParams()
  const PUBLIC = verifyKey('RSA')
  const good = buildOrderStr(params, signingKey('RSA'))
  const preSign = preSignString(params)
  const rsaSign = sign(preSign, 'RSA')
  const reasons = (v) => v.mistakes.map((m) => m.reason)

  /** Checks that `orderStr` has exactly `expected` mistakes, the first one as `reason`. */
  function expectOnly(orderStr, expected, key = PUBLIC) {
    const v = verifyOrderStr(orderStr, key)
    expect(reasons(v)).toEqual(expected)
    expect(v.ok).toBe(false)
    expect(v.reason).toBe(expected[0])
    expect(typeof v.message).toBe('string')
    for (const m of v.mistakes) expect(m.message.length).toBeGreaterThan(0)
    return v
  }

  test('the correctly built string (our own assembly of it, too) has no mistake', () => {
    expect(good).toBe(assemble(preSign, rsaSign, 'RSA'))
    expect(verifyOrderStr(good, PUBLIC)).toEqual({ ok: true, mistakes: [], signatureChecked: true })
  })

  test('METHOD_INSTEAD_OF_SERVICE: `method` where the gateway reads `service` (re-signed)', () => {
    const renamed = preSign.replace(/^service="/, 'method="')
    expect(renamed).not.toBe(preSign)
    expectOnly(assemble(renamed, sign(renamed, 'RSA'), 'RSA'), ['METHOD_INSTEAD_OF_SERVICE'])
  })

  test('DUPLICATE_PARAM: payment_type twice (re-signed)', () => {
    const doubled = `${preSign}&payment_type="1"`
    const v = expectOnly(assemble(doubled, sign(doubled, 'RSA'), 'RSA'), ['DUPLICATE_PARAM'])
    expect(v.mistakes[0].message).toContain('payment_type')
  })

  test('SIGN_NOT_URL_ENCODED: the base64 signature left raw', () => {
    expect(rsaSign).toMatch(/[+/=]/)
    expectOnly(assemble(preSign, rsaSign, 'RSA', { encode: false }), ['SIGN_NOT_URL_ENCODED'])
  })

  test('TEXT_OUTSIDE_QUOTES: the sample’s `"=` (the last `=` of the signature after the quote)', () => {
    expect(rsaSign.endsWith('=')).toBe(true)
    const str = `${preSign}&sign="${encodeURIComponent(rsaSign.slice(0, -1))}"=&sign_type="RSA"`
    expectOnly(str, ['TEXT_OUTSIDE_QUOTES'])
  })

  test('TEXT_OUTSIDE_QUOTES with a raw signature, exactly as in the sample, is also SIGN_NOT_URL_ENCODED', () => {
    const str = `${preSign}&sign="${rsaSign.slice(0, -1)}"=&sign_type="RSA"`
    const v = verifyOrderStr(str, PUBLIC)
    expect(v.ok).toBe(false)
    expect(reasons(v)).toEqual(expect.arrayContaining(['TEXT_OUTSIDE_QUOTES', 'SIGN_NOT_URL_ENCODED']))
  })

  test('SIGN_TYPE_MISMATCH: an RSA signature labelled MD5 (checked with the public key)', () => {
    const v = expectOnly(assemble(preSign, rsaSign, 'MD5'), ['SIGN_TYPE_MISMATCH'])
    expect(v.message).toMatch(/valid RSA signature/)
  })

  test('SIGN_TYPE_MISMATCH: an RSA signature labelled MD5 (checked with an md5Key: not 32 hex digits)', () => {
    expectOnly(assemble(preSign, rsaSign, 'MD5'), ['SIGN_TYPE_MISMATCH'], { md5Key: MD5_KEY })
  })

  test('SIGN_TYPE_MISMATCH: an RSA (SHA1) signature labelled RSA2 — the message says it is a valid RSA signature', () => {
    const v = expectOnly(assemble(preSign, rsaSign, 'RSA2'), ['SIGN_TYPE_MISMATCH'])
    expect(v.message).toMatch(/valid RSA signature/)
    expect(v.message).not.toMatch(/valid RSA2 signature/)
  })

  test('SIGN_TYPE_MISMATCH: an RSA2 (SHA256) signature labelled RSA — a valid RSA2 signature', () => {
    const v = expectOnly(assemble(preSign, sign(preSign, 'RSA2'), 'RSA'), ['SIGN_TYPE_MISMATCH'])
    expect(v.message).toMatch(/valid RSA2 signature/)
  })

  test('SIGN_TYPE_MISMATCH: an MD5 digest labelled RSA (32 hex digits)', () => {
    expectOnly(assemble(preSign, sign(preSign, 'MD5'), 'RSA'), ['SIGN_TYPE_MISMATCH'])
  })

  test('BAD_SIGNATURE: a value changed after signing', () => {
    const changed = good.replace('total_fee="0.1"', 'total_fee="0.2"')
    expect(changed).not.toBe(good)
    expectOnly(changed, ['BAD_SIGNATURE'])
  })

  test('BAD_SIGNATURE: signed with another key', () => {
    expectOnly(assemble(preSign, sign(preSign, 'RSA', OTHER), 'RSA'), ['BAD_SIGNATURE'])
  })

  test('BAD_SIGNATURE: checked with another public key', () => {
    expectOnly(good, ['BAD_SIGNATURE'], verifyKey('RSA', OTHER))
  })

  test('BAD_SIGNATURE: MD5 with another md5Key', () => {
    const md5 = assemble(preSign, sign(preSign, 'MD5'), 'MD5')
    expect(verifyOrderStr(md5, { md5Key: MD5_KEY }).ok).toBe(true)
    expectOnly(md5, ['BAD_SIGNATURE'], { md5Key: 'q'.repeat(32) })
  })

  test('MISSING_SIGN: no sign at all', () => {
    expectOnly(`${preSign}&sign_type="RSA"`, ['MISSING_SIGN'])
  })

  test('MISSING_SIGN: an empty sign', () => {
    expectOnly(`${preSign}&sign=""&sign_type="RSA"`, ['MISSING_SIGN'])
  })

  test('UNSUPPORTED_SIGN_TYPE: sign_type RSA3', () => {
    expectOnly(assemble(preSign, rsaSign, 'RSA3'), ['UNSUPPORTED_SIGN_TYPE'])
  })

  test('UNSUPPORTED_SIGN_TYPE: no sign_type', () => {
    expectOnly(`${preSign}&sign="${encodeURIComponent(rsaSign)}"`, ['UNSUPPORTED_SIGN_TYPE'])
  })

  test('UNQUOTED_VALUE: a value without its double quotes (re-signed)', () => {
    const unquoted = preSign.replace('total_fee="0.1"', 'total_fee=0.1')
    expect(unquoted).not.toBe(preSign)
    const v = expectOnly(assemble(unquoted, sign(unquoted, 'RSA'), 'RSA'), ['UNQUOTED_VALUE'])
    expect(v.mistakes[0].message).toContain('total_fee')
  })

  test('several mistakes at once are all listed', () => {
    const bad = `${preSign.replace(/^service=/, 'method=')}&payment_type="1"`
    const v = verifyOrderStr(assemble(bad, sign(bad, 'RSA'), 'RSA', { encode: false }), PUBLIC)
    expect(reasons(v)).toEqual(
      expect.arrayContaining(['METHOD_INSTEAD_OF_SERVICE', 'DUPLICATE_PARAM', 'SIGN_NOT_URL_ENCODED']),
    )
    expect(v.mistakes).toHaveLength(3)
  })
})

describe('the documented sample (seed/alipayhk-tradepay-integration-flow.txt) has the five known mistakes', () => {
  // Copied verbatim from the seed document.
  const SAMPLE_ORIGIN_ORDER_STRING = "method=\"mobile.securitypay.pay\"&partner=\"2088101568358171\"&seller_id=\"2088101568358171\"&out_trade_no=\"ALIPAYTEST2016081622560194853\"&subject=\"Merchandise subject\"&body=\"Merchandise description\"&total_fee=\"0.1\"&notify_url=\"http://www.xxx.com\"&payment_type=\"1\"&_input_charset=\"utf-8\"&it_b_pay=\"30m\"&return_url=\"m.alipay.com\"&payment_inst=\"ALIPAYHK\"&currency=\"HKD\"&product_code=\"NEW_WAP_OVERSEAS_SELLER\"&forex_biz=\"FP\"&payment_type=\"1\""
  const SAMPLE_SIGN = 'aueDw0PaUqVMvbiButPCmWy8VsNJIgNKRV4tDEz3mSgIpa5ODnZKVCd1GGCtu7hNzxnwLOiku+TRJUVM24aHkKWrdyBHECjkUBvrziWiZBESLCyJPwT1YHGnioRUhLvL1MqTTm85urPeqAUUir4UyxyWowHitjkxh3ru6nSLkLU=';
  const SAMPLE_ORDER_STR = "method=\"mobile.securitypay.pay\"&partner=\"2088101568358171\"&seller_id=\"2088101568358171\"&out_trade_no=\"ALIPAYTEST2016081622560194853\"&subject=\"商品名稱\"&body=\"商品描述信息\"&total_fee=\"0.1\"&notify_url=\"http://www.xxx.com\"&payment_type=\"1\"&_input_charset=\"utf-8\"&it_b_pay=\"30m\"&return_url=\"m.alipay.com\"&payment_inst=\"ALIPAYHK\"&currency=\"HKD\"&product_code=\"NEW_WAP_OVERSEAS_SELLER\"&forex_biz=\"FP\"&payment_type=\"1\"&sign=\"aueDw0PaUqVMvbiButPCmWy8VsNJIgNKRV4tDEz3mSgIpa5ODnZKVCd1GGCtu7hNzxnwLOiku+TRJUVM24aHkKWrdyBHECjkUBvrziWiZBESLCyJPwT1YHGnioRUhLvL1MqTTm85urPeqAUUir4UyxyWowHitjkxh3ru6nSLkLU\"=&sign_type=\"MD5\"";

  test('the copy is the sample as printed; its signature is 172 base64 characters, the size of 1024-bit RSA', () => {
    expect(SAMPLE_ORDER_STR.startsWith('method="mobile.securitypay.pay"&partner="2088101568358171"')).toBe(true)
    expect(SAMPLE_ORDER_STR.endsWith('nSLkLU"=&sign_type="MD5"')).toBe(true)
    expect(SAMPLE_SIGN).toHaveLength(172)
  })

  test.each([
    ['a 2048-bit public key', () => verifyKey('RSA', MERCHANT[2048])],
    ['a 1024-bit public key', () => verifyKey('RSA', MERCHANT[1024])],
  ])('verifyOrderStr with %s reports all five', (_, key) => {
    const v = verifyOrderStr(SAMPLE_ORDER_STR, key())
    expect(v.ok).toBe(false)
    const reasons = v.mistakes.map((m) => m.reason)
    for (const r of [
      'METHOD_INSTEAD_OF_SERVICE',
      'DUPLICATE_PARAM',
      'TEXT_OUTSIDE_QUOTES',
      'SIGN_NOT_URL_ENCODED',
      'SIGN_TYPE_MISMATCH',
    ]) {
      expect(reasons).toContain(r)
    }
    const mismatch = v.mistakes.find((m) => m.reason === 'SIGN_TYPE_MISMATCH')
    expect(mismatch.message).toMatch(/MD5/)
  })

  test('with an md5Key the MD5 label on a 172-character signature is still SIGN_TYPE_MISMATCH', () => {
    const reasons = verifyOrderStr(SAMPLE_ORDER_STR, { md5Key: MD5_KEY }).mistakes.map((m) => m.reason)
    expect(reasons).toContain('SIGN_TYPE_MISMATCH')
  })

  test('parseOrderStr reads the sample: method kept as written, payment_type twice, sign cut at the quote', () => {
    const parsed = parseOrderStr(SAMPLE_ORDER_STR)
    expect(parsed.params[0]).toEqual(['method', 'mobile.securitypay.pay'])
    expect(parsed.params.filter(([k]) => k === 'payment_type')).toHaveLength(2)
    expect(parsed.params).toHaveLength(17)
    expect(parsed.signType).toBe('MD5')
    expect(parsed.sign).toBe(SAMPLE_SIGN.slice(0, -1))
  })

  test('the sent pre-sign string is not the one the sample says it signed (商品名稱 vs Merchandise subject)', () => {
    const parsed = parseOrderStr(SAMPLE_ORDER_STR)
    expect(parsed.preSign).not.toBe(SAMPLE_ORIGIN_ORDER_STRING)
    expect(
      parsed.preSign
        .replace('subject="商品名稱"', 'subject="Merchandise subject"')
        .replace('body="商品描述信息"', 'body="Merchandise description"'),
    ).toBe(SAMPLE_ORIGIN_ORDER_STRING)
  })
})

describe('parseOrderStr throws only when there is no key="value" structure', () => {
  test.each(['garbage', 'no equals sign here', 'a="1"&garbage'])('%p → ERR_ALIPAYHK_INVALID_PARAM, field orderStr', (text) => {
    const e = thrown(() => parseOrderStr(text))
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
    expect(e.field).toBe('orderStr')
  })

  test('a value without a closing quote → ERR_ALIPAYHK_INVALID_PARAM', () => {
    expect(thrown(() => parseOrderStr('a="1')).code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
  })

  test('a non-string → ERR_ALIPAYHK_INVALID_ARGUMENT', () => {
    expect(thrown(() => parseOrderStr(42)).code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
  })

  test('verifyOrderStr reports garbage as MALFORMED instead of throwing', () => {
    const v = verifyOrderStr('garbage', verifyKey('RSA'))
    expect(v).toMatchObject({ ok: false, reason: 'MALFORMED' })
  })

  test('without sign, parseOrderStr gives sign "" and signType ""', () => {
    const parsed = parseOrderStr('service="mobile.securitypay.pay"&partner="2088101568358171"')
    expect(parsed).toEqual({
      params: [
        ['service', 'mobile.securitypay.pay'],
        ['partner', '2088101568358171'],
      ],
      preSign: 'service="mobile.securitypay.pay"&partner="2088101568358171"',
      sign: '',
      signType: '',
    })
  })
})
