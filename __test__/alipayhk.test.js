// `AlipayHK`, the front most merchants use: one account's keys parsed once, a typed order
// in, the same orderStr out as buildOrderStr would give for the parameters written out by
// hand (in the order of Alipay's demo, core/src/merchant.rs order_params), and
// notifications / tradePay results checked with Alipay's public key.
//
// Signatures are made in this file with node:crypto by key pairs generated for the run.
'use strict'

const crypto = require('node:crypto')

const { AlipayHK, buildOrderStr, parseOrderStr, verifyNotify, verifyTradePayResult } = require('..')
const { rsaPair, pkcs8Pem, spkiPem, spkiDer, PARTNER, HASH, thrown, verificationData } = require('./helpers')

const MERCHANT = rsaPair(2048)
const ALIPAY = rsaPair(2048)
const MD5_KEY = 'm1n2b3v4c5x6z7l8k9j0h1g2f3d4s5a6'

const front = (signType = 'RSA2', extra = {}) =>
  new AlipayHK(
    signType === 'MD5'
      ? { partner: PARTNER, signType, md5Key: MD5_KEY, ...extra }
      : { partner: PARTNER, signType, privateKey: pkcs8Pem(MERCHANT), alipayPublicKey: spkiPem(ALIPAY), ...extra },
  )
const signingKey = (signType) =>
  signType === 'MD5' ? { signType, md5Key: MD5_KEY } : { signType, privateKey: pkcs8Pem(MERCHANT) }

const ORDER = {
  outTradeNo: 'ORDER-2024-0001',
  subject: '商品名稱 😀',
  body: 'Merchandise description',
  totalFee: '12.50',
  notifyUrl: 'https://shop.example.com/alipay/notify',
  returnUrl: 'm.alipay.com',
  timeout: '30m',
}

/** ORDER written out by hand, in the order of core/src/merchant.rs order_params. */
function writtenOut(overrides = {}) {
  return {
    service: 'mobile.securitypay.pay',
    partner: PARTNER,
    seller_id: PARTNER,
    out_trade_no: ORDER.outTradeNo,
    subject: ORDER.subject,
    body: ORDER.body,
    total_fee: ORDER.totalFee,
    notify_url: ORDER.notifyUrl,
    payment_type: '1',
    _input_charset: 'utf-8',
    it_b_pay: ORDER.timeout,
    return_url: ORDER.returnUrl,
    payment_inst: 'ALIPAYHK',
    currency: 'HKD',
    product_code: 'NEW_WAP_OVERSEAS_SELLER',
    forex_biz: 'FP',
    ...overrides,
  }
}

/** Independent assembly: `k="v"&…`, then &sign="encodeURIComponent(sig)"&sign_type="t". */
function referenceOrderStr(params, signType) {
  const preSign = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}="${v}"`)
    .join('&')
  const sig =
    signType === 'MD5'
      ? crypto.createHash('md5').update(preSign + MD5_KEY, 'utf8').digest('hex')
      : crypto.sign(HASH[signType], Buffer.from(preSign, 'utf8'), MERCHANT.privateKey).toString('base64')
  return `${preSign}&sign="${encodeURIComponent(sig)}"&sign_type="${signType}"`
}

/** An Alipay notification signed with Alipay's key (or the MD5 key), as a form body. */
function notifyBody(signType = 'RSA2', fields = {}) {
  const all = {
    notify_id: 'n-1',
    notify_type: 'trade_status_sync',
    out_trade_no: ORDER.outTradeNo,
    total_fee: '12.50',
    currency: 'HKD',
    trade_status: 'TRADE_FINISHED',
    seller_id: PARTNER,
    subject: ORDER.subject,
    ...fields,
  }
  const content = Object.keys(all)
    .sort()
    .map((k) => `${k}=${all[k]}`)
    .join('&')
  const sign =
    signType === 'MD5'
      ? crypto.createHash('md5').update(content + MD5_KEY, 'utf8').digest('hex')
      : crypto.sign(HASH[signType], Buffer.from(content, 'utf8'), ALIPAY.privateKey).toString('base64')
  return new URLSearchParams({ ...all, sign_type: signType, sign }).toString()
}

describe('new AlipayHK(config) holds one merchant account', () => {
  test('the getters report partner, sellerId (the partner by default) and signType', () => {
    const a = front('RSA2')
    expect(a.partner).toBe(PARTNER)
    expect(a.sellerId).toBe(PARTNER)
    expect(a.signType).toBe('RSA2')
  })

  test('sellerId can be configured', () => {
    expect(front('RSA', { sellerId: 'seller@example.com' }).sellerId).toBe('seller@example.com')
  })

  test('fingerprint is the SHA-256 hex of the merchant’s SubjectPublicKeyInfo DER', () => {
    const expected = crypto.createHash('sha256').update(spkiDer(MERCHANT)).digest('hex')
    expect(front('RSA2').fingerprint).toBe(expected)
  })

  test('fingerprint of an MD5 front is the SHA-256 hex of the MD5 key', () => {
    expect(front('MD5').fingerprint).toBe(crypto.createHash('sha256').update(MD5_KEY).digest('hex'))
  })
})

describe('buildOrderStr(order) equals buildOrderStr of the same parameters written out', () => {
  test.each(['RSA', 'RSA2', 'MD5'])('%s: same string as the function, and as an independent signer', (signType) => {
    const fromFront = front(signType).buildOrderStr(ORDER)
    expect(fromFront).toBe(buildOrderStr(writtenOut(), signingKey(signType)))
    expect(fromFront).toBe(referenceOrderStr(writtenOut(), signType))
  })

  test('the fixed parameters are filled in, in the demo’s order', () => {
    const names = parseOrderStr(front().buildOrderStr(ORDER)).params.map(([k]) => k)
    expect(names).toEqual(Object.keys(writtenOut()))
  })

  test('currency defaults to HKD, paymentInst to ALIPAYHK, seller_id to the partner', () => {
    const params = Object.fromEntries(parseOrderStr(front().buildOrderStr(ORDER)).params)
    expect(params.currency).toBe('HKD')
    expect(params.payment_inst).toBe('ALIPAYHK')
    expect(params.seller_id).toBe(PARTNER)
  })

  test('currency, paymentInst and a configured sellerId are written as given', () => {
    const a = front('RSA2', { sellerId: '2088000000000001' })
    const str = a.buildOrderStr({ ...ORDER, currency: 'USD', paymentInst: 'ALIPAYCN' })
    expect(str).toBe(
      buildOrderStr(
        writtenOut({ seller_id: '2088000000000001', currency: 'USD', payment_inst: 'ALIPAYCN' }),
        signingKey('RSA2'),
      ),
    )
  })

  test('optional fields left out are not written', () => {
    const { body, returnUrl, timeout, ...minimal } = ORDER
    const str = front().buildOrderStr(minimal)
    expect(str).toBe(
      buildOrderStr(writtenOut({ body: undefined, return_url: undefined, it_b_pay: undefined }), signingKey('RSA2')),
    )
    expect(str).not.toContain('body=')
    expect(str).not.toContain('return_url=')
    expect(str).not.toContain('it_b_pay=')
  })

  test('totalFee as a number is written as JavaScript prints it', () => {
    expect(front().buildOrderStr({ ...ORDER, totalFee: 12.5 })).toBe(
      buildOrderStr(writtenOut({ total_fee: '12.5' }), signingKey('RSA2')),
    )
  })

  test('extra parameters are appended after the others, in their order', () => {
    const extra = { secondary_merchant_id: 'S-001', secondary_merchant_name: '小店', secondary_merchant_industry: '5812' }
    const str = front().buildOrderStr({ ...ORDER, extra })
    expect(str).toBe(buildOrderStr(writtenOut(extra), signingKey('RSA2')))
    const names = parseOrderStr(str).params.map(([k]) => k)
    expect(names.slice(-3)).toEqual(Object.keys(extra))
  })

  test('options are passed on: strict: false allows `&` in body, sortKeys sorts', () => {
    const a = front()
    const order = { ...ORDER, body: 'fish & chips' }
    expect(thrown(() => a.buildOrderStr(order)).code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
    expect(a.buildOrderStr(order, { strict: false })).toBe(
      buildOrderStr(writtenOut({ body: 'fish & chips' }), signingKey('RSA2'), { strict: false }),
    )
    expect(a.buildOrderStr(ORDER, { sortKeys: true })).toBe(
      buildOrderStr(writtenOut(), signingKey('RSA2'), { sortKeys: true }),
    )
  })
})

describe('order mistakes throw coded errors that name the field', () => {
  const a = front()

  test('an unknown order field (total_fee instead of totalFee) → ERR_ALIPAYHK_INVALID_ARGUMENT, field order.total_fee', () => {
    const { totalFee, ...rest } = ORDER
    const e = thrown(() => a.buildOrderStr({ ...rest, total_fee: '12.50' }))
    expect(e.name).toBe('TypeError')
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
    expect(e.field).toBe('order.total_fee')
  })

  test('a missing totalFee → ERR_ALIPAYHK_MISSING_PARAM, field total_fee', () => {
    const { totalFee, ...rest } = ORDER
    const e = thrown(() => a.buildOrderStr(rest))
    expect(e.code).toBe('ERR_ALIPAYHK_MISSING_PARAM')
    expect(e.field).toBe('total_fee')
  })

  test('a missing notifyUrl → ERR_ALIPAYHK_MISSING_PARAM, field notify_url (the wire name)', () => {
    const { notifyUrl, ...rest } = ORDER
    const e = thrown(() => a.buildOrderStr(rest))
    expect(e.code).toBe('ERR_ALIPAYHK_MISSING_PARAM')
    expect(e.field).toBe('notify_url')
  })

  test('a bad timeout → ERR_ALIPAYHK_INVALID_PARAM, field it_b_pay', () => {
    const e = thrown(() => a.buildOrderStr({ ...ORDER, timeout: '1.5h' }))
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
    expect(e.field).toBe('it_b_pay')
  })

  test('an order that is not an object → ERR_ALIPAYHK_INVALID_ARGUMENT', () => {
    expect(thrown(() => a.buildOrderStr('ORDER-1')).code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
  })
})

describe('the constructor checks the configuration', () => {
  test.each([
    ['SPKI PEM', () => spkiPem(MERCHANT)],
    ['bare base64', () => spkiDer(MERCHANT).toString('base64')],
    ['DER Buffer', () => spkiDer(MERCHANT)],
    ['PKCS#1 PEM', () => MERCHANT.publicKey.export({ type: 'pkcs1', format: 'pem' })],
  ])('alipayPublicKey equal to the merchant’s own public key (%s) → ERR_ALIPAYHK_INVALID_KEY, “your own public key”', (_, key) => {
    const e = thrown(
      () => new AlipayHK({ partner: PARTNER, signType: 'RSA2', privateKey: pkcs8Pem(MERCHANT), alipayPublicKey: key() }),
    )
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_KEY')
    expect(e.field).toBe('config.alipayPublicKey')
    expect(e.message).toContain('your own public key')
  })

  test.each(['123', '1088101568358171', '2088abcd68358171', '20881015683581710'])(
    'a bad partner %p → ERR_ALIPAYHK_INVALID_PARAM, field partner',
    (partner) => {
      const e = thrown(() => new AlipayHK({ partner, signType: 'MD5', md5Key: MD5_KEY }))
      expect(e.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
      expect(e.field).toBe('partner')
    },
  )

  test('no partner → ERR_ALIPAYHK_MISSING_PARAM', () => {
    expect(thrown(() => new AlipayHK({ signType: 'MD5', md5Key: MD5_KEY })).code).toBe('ERR_ALIPAYHK_MISSING_PARAM')
  })

  test('an unknown config field → ERR_ALIPAYHK_INVALID_ARGUMENT naming it', () => {
    const e = thrown(() => new AlipayHK({ partner: PARTNER, signType: 'MD5', md5Key: MD5_KEY, alipayPubKey: 'x' }))
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
    expect(e.field).toBe('config.alipayPubKey')
  })

  test('a garbage alipayPublicKey → ERR_ALIPAYHK_INVALID_KEY, field config.alipayPublicKey', () => {
    const e = thrown(
      () => new AlipayHK({ partner: PARTNER, signType: 'RSA', privateKey: pkcs8Pem(MERCHANT), alipayPublicKey: 'nope' }),
    )
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_KEY')
    expect(e.field).toBe('config.alipayPublicKey')
  })
})

describe('verifyNotify and verifyTradePayResult on the front work like the functions', () => {
  const a = front('RSA2')
  // The front accepts messages in its own sign type only, unless acceptSignTypes widens it.
  const key = { alipayPublicKey: spkiPem(ALIPAY), acceptSignTypes: ['RSA2'] }

  test.each([
    ['a genuine notification', () => notifyBody('RSA2')],
    ['a genuine RSA (SHA1) notification', () => notifyBody('RSA')],
    ['a tampered notification', () => notifyBody('RSA2').replace('total_fee=12.50', 'total_fee=0.01')],
    ['a notification without sign', () => notifyBody('RSA2').replace(/&sign=[^&]*/, '')],
    ['a malformed body', () => `${notifyBody('RSA2')}&x=%zz`],
  ])('%s gives the same result', (_, body) => {
    const b = body()
    expect(verificationData(a.verifyNotify(b))).toEqual(verificationData(verifyNotify(b, key)))
  })

  test('a genuine RSA (SHA1) notification: an RSA2 front refuses it (SIGN_TYPE_NOT_ACCEPTED); widened with acceptSignTypes it verifies like the function', () => {
    const b = notifyBody('RSA')
    const refused = a.verifyNotify(b)
    expect(refused).toMatchObject({ ok: false, reason: 'SIGN_TYPE_NOT_ACCEPTED', signType: 'RSA' })
    expect(refused.notification).toBeUndefined()
    const widened = front('RSA2', { acceptSignTypes: ['RSA2', 'RSA'] }).verifyNotify(b)
    expect(widened).toMatchObject({ ok: true, signType: 'RSA' })
    expect(verificationData(widened)).toEqual(verificationData(verifyNotify(b, { alipayPublicKey: spkiPem(ALIPAY) })))
  })

  test('the verified notification carries the fields and the fingerprint of the Alipay key', () => {
    const v = a.verifyNotify(notifyBody('RSA2'))
    expect(v.ok).toBe(true)
    const fingerprint = crypto.createHash('sha256').update(spkiDer(ALIPAY)).digest('hex')
    expect(v.keyFingerprint).toBe(fingerprint)
    expect(a.alipayKeyFingerprints).toEqual([fingerprint])
    expect(v.notification.keyFingerprint).toBe(fingerprint)
    expect(v.notification.params.total_fee).toBe('12.50')
    expect(v.notification.outTradeNo).toBe(ORDER.outTradeNo)
  })

  test('a genuine notification verifies on the front', () => {
    expect(a.verifyNotify(Buffer.from(notifyBody()))).toMatchObject({ ok: true, signType: 'RSA2' })
  })

  test('a tampered notification is BAD_SIGNATURE on the front', () => {
    expect(a.verifyNotify(notifyBody().replace('total_fee=12.50', 'total_fee=0.01')).reason).toBe('BAD_SIGNATURE')
  })

  test('verifyTradePayResult: genuine and tampered, same as the function', () => {
    const orderStr = a.buildOrderStr(ORDER)
    const content = `${orderStr.slice(0, orderStr.indexOf('&sign="'))}&success="true"`
    const sig = crypto.sign('sha256', Buffer.from(content, 'utf8'), ALIPAY.privateKey).toString('base64')
    const text = `resultStatus={9000};memo={};result={${content}&sign_type="RSA2"&sign="${sig}"}`
    expect(a.verifyTradePayResult(text)).toMatchObject({ ok: true, success: true, resultStatus: '9000' })
    expect(a.verifyTradePayResult(text).params.total_fee).toBe('12.50')
    expect(a.verifyTradePayResult(text)).toEqual(verifyTradePayResult(text, key))
    const tampered = text.replace('total_fee="12.50"', 'total_fee="1.00"')
    expect(a.verifyTradePayResult(tampered)).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE', success: false })
    expect(a.verifyTradePayResult(tampered).params).toBeUndefined()
    expect(a.verifyTradePayResult(tampered).unverifiedParams.total_fee).toBe('1.00')
    expect(a.verifyTradePayResult(tampered)).toEqual(verifyTradePayResult(tampered, key))
  })

  test('verifyTradePayResult: an RSA (SHA1) result on an RSA2 front is SIGN_TYPE_NOT_ACCEPTED; widened, it verifies', () => {
    const orderStr = a.buildOrderStr(ORDER)
    const content = `${orderStr.slice(0, orderStr.indexOf('&sign="'))}&success="true"`
    const sig = crypto.sign('sha1', Buffer.from(content, 'utf8'), ALIPAY.privateKey).toString('base64')
    const text = `resultStatus={9000};memo={};result={${content}&sign_type="RSA"&sign="${sig}"}`
    expect(a.verifyTradePayResult(text)).toMatchObject({ ok: false, reason: 'SIGN_TYPE_NOT_ACCEPTED', success: false })
    const widened = front('RSA2', { acceptSignTypes: ['RSA2', 'RSA'] })
    expect(widened.verifyTradePayResult(text)).toMatchObject({ ok: true, success: true, resultStatus: '9000' })
    expect(widened.verifyTradePayResult(text)).toEqual(verifyTradePayResult(text, { alipayPublicKey: spkiPem(ALIPAY) }))
  })

  test('without alipayPublicKey, an RSA front cannot verify: ERR_ALIPAYHK_INVALID_KEY', () => {
    const noKey = new AlipayHK({ partner: PARTNER, signType: 'RSA2', privateKey: pkcs8Pem(MERCHANT) })
    expect(thrown(() => noKey.verifyNotify(notifyBody())).code).toBe('ERR_ALIPAYHK_INVALID_KEY')
    expect(thrown(() => noKey.verifyTradePayResult('result')).code).toBe('ERR_ALIPAYHK_INVALID_KEY')
  })

  test('without alipayPublicKey, an RSA front still builds orders', () => {
    const noKey = new AlipayHK({ partner: PARTNER, signType: 'RSA2', privateKey: pkcs8Pem(MERCHANT) })
    expect(noKey.buildOrderStr(ORDER)).toBe(a.buildOrderStr(ORDER))
  })

  test('an MD5 front verifies MD5 notifications with its md5Key', () => {
    const md5 = front('MD5')
    expect(md5.verifyNotify(notifyBody('MD5'))).toMatchObject({ ok: true, signType: 'MD5' })
    expect(md5.verifyNotify(notifyBody('MD5')).notification.params.trade_status).toBe('TRADE_FINISHED')
  })

  test('an MD5 front rejects an MD5 notification that was tampered with', () => {
    const body = notifyBody('MD5').replace('total_fee=12.50', 'total_fee=0.01')
    expect(front('MD5').verifyNotify(body).reason).toBe('BAD_SIGNATURE')
  })

  test('a body of the wrong type → ERR_ALIPAYHK_INVALID_ARGUMENT', () => {
    expect(thrown(() => a.verifyNotify(12)).code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
  })
})
