// The synchronous result string of a tradePay, as docs/protocol.md §5 specifies it:
// `resultStatus={9000};memo={…};result={…}`, where `result` is the merchant's pre-sign
// string, in the order sent, followed by `&success="true"&sign_type="RSA"&sign="<base64>"`
// (the signature NOT URL-encoded). sign_type and sign are cut off and everything else is
// verified byte for byte with Alipay's public key.
//
// The orderStr comes from buildOrderStr; the result is signed here with node:crypto by a
// test "Alipay" key pair generated for the run.
'use strict'

const crypto = require('node:crypto')

const { buildOrderStr, verifyTradePayResult } = require('..')
const { rsaPair, pkcs8Pem, spkiPem, HASH, thrown, validParams } = require('./helpers')

const ALIPAY = { 1024: rsaPair(1024), 2048: rsaPair(2048) }
const MERCHANT = rsaPair(2048)

const ALIPAY_KEY = { alipayPublicKey: spkiPem(ALIPAY[2048]) }
const MERCHANT_SIGNING_KEY = {
  signType: 'RSA2',
  privateKey: pkcs8Pem(MERCHANT),
}

/** A valid AlipayHK order (12.50 HKD) with a `+` in the subject and an emoji in the body. */
function orderParams(outTradeNo = 'ORDER-2024-0001') {
  return validParams({ out_trade_no: outTradeNo, subject: '商品名稱 A+B', body: 'Merchandise description 😀' })
}

/** The merchant's pre-sign string, cut from a real orderStr (everything before `&sign="`). */
function preSignOf(orderStr) {
  const at = orderStr.indexOf('&sign="')
  expect(at).toBeGreaterThan(0)
  return orderStr.slice(0, at)
}

/**
 * What Alipay returns: pre-sign + `&success="…"`, signed by Alipay, then
 * `&sign_type="…"&sign="<base64, not URL-encoded>"`.
 */
function alipayResult({
  outTradeNo,
  success = 'true',
  signType = 'RSA',
  key = ALIPAY[2048].privateKey,
} = {}) {
  const orderStr = buildOrderStr(orderParams(outTradeNo), MERCHANT_SIGNING_KEY)
  const content = `${preSignOf(orderStr)}&success="${success}"`
  const sign = crypto.sign(HASH[signType], Buffer.from(content, 'utf8'), key).toString('base64')
  return { content, sign, result: `${content}&sign_type="${signType}"&sign="${sign}"` }
}

const wrap = (result, resultStatus = '9000', memo = '') =>
  `resultStatus={${resultStatus}};memo={${memo}};result={${result}}`

function resultWithPlusInSign() {
  for (let i = 0; ; i++) {
    const r = alipayResult({ outTradeNo: `ORDER-${i}` })
    if (r.sign.includes('+')) return r
  }
}

describe('a genuine result verifies', () => {
  const { result, sign } = alipayResult()

  test('the whole resultStatus={9000};memo={};result={…} text: ok, success, resultStatus 9000', () => {
    const v = verifyTradePayResult(wrap(result), ALIPAY_KEY)
    expect(v).toMatchObject({ ok: true, success: true, resultStatus: '9000', signType: 'RSA' })
    expect(v.reason).toBeUndefined()
  })

  test('the inner result alone: ok and success, no resultStatus', () => {
    const v = verifyTradePayResult(result, ALIPAY_KEY)
    expect(v).toMatchObject({ ok: true, success: true, signType: 'RSA' })
    expect(v.resultStatus).toBeUndefined()
  })

  test('params hold every field of the result without quotes', () => {
    const v = verifyTradePayResult(wrap(result), ALIPAY_KEY)
    for (const [k, value] of Object.entries(orderParams())) {
      expect(v.params[k]).toBe(value)
    }
    expect(v.params.success).toBe('true')
    expect(v.params.sign_type).toBe('RSA')
    expect(v.params.sign).toBe(sign)
  })

  test('a memo with text does not disturb the result', () => {
    expect(verifyTradePayResult(wrap(result, '9000', '處理成功'), ALIPAY_KEY).success).toBe(true)
  })

  test('a 1024-bit Alipay key (as in Alipay’s demos) works the same', () => {
    const r = alipayResult({ key: ALIPAY[1024].privateKey })
    expect(verifyTradePayResult(wrap(r.result), { alipayPublicKey: spkiPem(ALIPAY[1024]) }).success).toBe(true)
  })

  test('RSA2: a SHA256 signature labelled RSA2 verifies', () => {
    const r = alipayResult({ signType: 'RSA2' })
    expect(verifyTradePayResult(wrap(r.result), ALIPAY_KEY)).toMatchObject({
      ok: true,
      success: true,
      signType: 'RSA2',
    })
  })

  test('sign_type and sign may come in either order', () => {
    const { content, sign: s } = alipayResult()
    const swapped = `${content}&sign="${s}"&sign_type="RSA"`
    expect(verifyTradePayResult(wrap(swapped), ALIPAY_KEY).success).toBe(true)
  })

  test('a sign someone URL-encoded still verifies', () => {
    const { content, sign: s } = alipayResult()
    const encoded = `${content}&sign_type="RSA"&sign="${encodeURIComponent(s)}"`
    expect(verifyTradePayResult(wrap(encoded), ALIPAY_KEY).ok).toBe(true)
  })
})

describe('a `+` of the sign turned into a space by a form decoder still verifies', () => {
  test('spaces in sign are read as `+`', () => {
    const { content, sign } = resultWithPlusInSign()
    const spaced = `${content}&sign_type="RSA"&sign="${sign.replace(/\+/g, ' ')}"`
    expect(spaced).toMatch(/sign="[^"]* /)
    expect(verifyTradePayResult(wrap(spaced), ALIPAY_KEY)).toMatchObject({ ok: true, success: true })
  })
})

describe('the signed bytes are everything but sign_type and sign, byte for byte', () => {
  const { result } = alipayResult()

  test('the amount changed → ok false, BAD_SIGNATURE, success false', () => {
    const tampered = result.replace('total_fee="12.50"', 'total_fee="0.01"')
    expect(tampered).not.toBe(result)
    const v = verifyTradePayResult(wrap(tampered), ALIPAY_KEY)
    expect(v).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE', success: false })
    expect(typeof v.message).toBe('string')
  })

  test('success="true" is part of the signed bytes: flipping it → BAD_SIGNATURE', () => {
    const r = alipayResult({ success: 'false' })
    const flipped = r.result.replace('success="false"', 'success="true"')
    expect(verifyTradePayResult(wrap(flipped), ALIPAY_KEY)).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
  })

  test('the quotes are part of the signed bytes: removing them → BAD_SIGNATURE', () => {
    const unquoted = result.replace('currency="HKD"', 'currency=HKD')
    expect(verifyTradePayResult(wrap(unquoted), ALIPAY_KEY).ok).toBe(false)
  })

  test('the order is part of the signed bytes: swapping two parameters → BAD_SIGNATURE', () => {
    const swapped = result.replace(
      'partner="2088101568358171"&seller_id="2088101568358171"',
      'seller_id="2088101568358171"&partner="2088101568358171"',
    )
    expect(swapped).not.toBe(result)
    expect(verifyTradePayResult(wrap(swapped), ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })

  test('a SHA1 signature labelled RSA2 → BAD_SIGNATURE', () => {
    const { content, sign } = alipayResult({ signType: 'RSA' })
    const relabelled = `${content}&sign_type="RSA2"&sign="${sign}"`
    expect(verifyTradePayResult(wrap(relabelled), ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })
})

describe('the key must be Alipay’s', () => {
  const { result } = alipayResult()

  test('the merchant’s own public key → BAD_SIGNATURE', () => {
    const v = verifyTradePayResult(wrap(result), { alipayPublicKey: spkiPem(MERCHANT) })
    expect(v).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE', success: false })
  })

  test('another Alipay key → BAD_SIGNATURE', () => {
    const v = verifyTradePayResult(wrap(result), { alipayPublicKey: spkiPem(ALIPAY[1024]) })
    expect(v.reason).toBe('BAD_SIGNATURE')
  })

  test('a garbage key throws ERR_ALIPAYHK_INVALID_KEY', () => {
    expect(thrown(() => verifyTradePayResult(result, { alipayPublicKey: 'garbage' })).code).toBe(
      'ERR_ALIPAYHK_INVALID_KEY',
    )
  })

  test('no key throws ERR_ALIPAYHK_INVALID_ARGUMENT', () => {
    expect(thrown(() => verifyTradePayResult(result)).code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
  })
})

describe('success needs a verified signature, success="true" and resultStatus 9000', () => {
  test('resultStatus 6001 (cancelled): the signature is good but success is false', () => {
    const { result } = alipayResult()
    const v = verifyTradePayResult(wrap(result, '6001'), ALIPAY_KEY)
    expect(v).toMatchObject({ ok: true, success: false, resultStatus: '6001' })
  })

  test.each(['8000', '4000', '6004'])('resultStatus %s: success is false', (status) => {
    const { result } = alipayResult()
    expect(verifyTradePayResult(wrap(result, status), ALIPAY_KEY)).toMatchObject({
      ok: true,
      success: false,
      resultStatus: status,
    })
  })

  test('success="false", genuinely signed: ok but success false', () => {
    const { result } = alipayResult({ success: 'false' })
    const v = verifyTradePayResult(wrap(result), ALIPAY_KEY)
    expect(v).toMatchObject({ ok: true, success: false, resultStatus: '9000' })
    expect(v.params.success).toBe('false')
  })

  test('a bad signature is never success, even with 9000 and success="true"', () => {
    const { result } = alipayResult()
    const v = verifyTradePayResult(wrap(result.replace('12.50', '12.51')), ALIPAY_KEY)
    expect(v.success).toBe(false)
    // Its fields are there for logging only, under a name that says so.
    expect(v.params).toBeUndefined()
    expect(v.unverifiedParams.total_fee).toBe('12.51')
  })
})

describe('what cannot be checked is named in reason', () => {
  const { content, sign } = alipayResult()

  test('sign missing → MISSING_SIGN', () => {
    const v = verifyTradePayResult(wrap(`${content}&sign_type="RSA"`), ALIPAY_KEY)
    expect(v).toMatchObject({ ok: false, reason: 'MISSING_SIGN', success: false })
  })

  test('sign empty → MISSING_SIGN', () => {
    expect(verifyTradePayResult(wrap(`${content}&sign_type="RSA"&sign=""`), ALIPAY_KEY).reason).toBe('MISSING_SIGN')
  })

  test('an empty result → MISSING_SIGN', () => {
    expect(verifyTradePayResult(wrap(''), ALIPAY_KEY).reason).toBe('MISSING_SIGN')
  })

  test('an unknown sign_type → UNSUPPORTED_SIGN_TYPE', () => {
    const v = verifyTradePayResult(wrap(`${content}&sign_type="RSA3"&sign="${sign}"`), ALIPAY_KEY)
    expect(v.reason).toBe('UNSUPPORTED_SIGN_TYPE')
  })

  test('a result that is not a string throws ERR_ALIPAYHK_INVALID_ARGUMENT', () => {
    const e = thrown(() => verifyTradePayResult({ resultStatus: '9000' }, ALIPAY_KEY))
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
    expect(e.field).toBe('result')
  })
})
