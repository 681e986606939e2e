// The asynchronous notification, as docs/protocol.md §4 specifies it: the body is an
// application/x-www-form-urlencoded form, decoded exactly once; the signed content is every
// field but sign, sign_type and empty ones, sorted by name in byte order, `k=v` joined with
// `&`, no quotes; RSA is SHA1withRSA, RSA2 SHA256withRSA (Alipay's public key), MD5 is
// md5(content + key) in hex.
//
// Every signature here is made with node:crypto (helpers.js refSign), by a test "Alipay" key pair
// generated for the run; nothing is hard-coded.
'use strict'

const {
  verifyNotify,
  isPaid,
  checkNotifyMatchesOrder,
  notifyVerifyUrl,
  TRADE_PAY_RESULT_CODES,
} = require('..')
const { rsaPair, spkiPem, spkiDer, thrown, notifyContent, refSign, verifiedNotification } = require('./helpers')

// --- keys -----------------------------------------------------------------------------------

const ALIPAY = { 1024: rsaPair(1024), 2048: rsaPair(2048) }
const MERCHANT = rsaPair(2048)
const MD5_KEY = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6'

const pkcs1Pem = (pair) => pair.publicKey.export({ type: 'pkcs1', format: 'pem' })
const bareBase64 = (pair) => spkiDer(pair).toString('base64')

const ALIPAY_KEY = { alipayPublicKey: spkiPem(ALIPAY[2048]) }

// --- independent signer ---------------------------------------------------------------------

/** The signed content: no sign/sign_type/empty values, keys in byte order, `k=v&…`. */
const signedContent = notifyContent

/** Signs `fields` (an array of [name, value]) and appends sign_type and sign. */
function signNotify(fields, signType = 'RSA2', key = ALIPAY[2048].privateKey) {
  const content = signedContent(fields)
  const sign = refSign(content, signType, key)
  return [...fields, ['sign_type', signType], ['sign', sign]]
}

/** application/x-www-form-urlencoded, as a browser or Alipay writes it (space → +). */
const formBody = (fields) => new URLSearchParams(fields).toString()

const replace = (fields, name, value) => fields.map(([k, v]) => [k, k === name ? value : v])
const without = (fields, name) => fields.filter(([k]) => k !== name)
const get = (fields, name) => fields.find(([k]) => k === name)[1]

/** The object's prototype is an Object.prototype (the addon's realm, not jest's), untouched. */
function expectPlainPrototype(object) {
  const proto = Object.getPrototypeOf(object)
  expect(proto).not.toBeNull()
  expect(Object.getPrototypeOf(proto)).toBeNull()
  expect(proto.constructor.name).toBe('Object')
  expect(Object.getOwnPropertyNames(proto)).not.toContain('polluted')
  expect(typeof object.hasOwnProperty).toBe('function')
}

/** The addon creates its errors in Node's main realm, so check the name, not instanceof. */
function expectTypeError(e) {
  expect(e).toBeTruthy()
  expect(e.name).toBe('TypeError')
}

/** A typical notification; its values hold every character a form encoder must escape. */
function notification(overrides = {}) {
  const base = {
    notify_id: 'ac05099524730693a8b330c5ecf72da9786',
    notify_type: 'trade_status_sync',
    notify_time: '2024-05-01 12:34:56',
    trade_no: '2024050122001412345678901234',
    out_trade_no: 'ORDER-2024-0001',
    total_fee: '12.50',
    currency: 'HKD',
    trade_status: 'TRADE_FINISHED',
    buyer_id: '2088102122524333',
    seller_id: '2088101568358171',
    subject: '商品名稱 A+B = 100% & more',
    body: 'a=b&c=d e+f%20g 中文 😀',
    gmt_create: '2024-05-01 12:34:50',
    gmt_payment: '2024-05-01 12:34:55',
    buyer_email: '',
    ...overrides,
  }
  return Object.entries(base)
}

/** A signed notification whose sign holds at least one `+` (most do; this makes sure). */
function signedWithPlus(signType = 'RSA2', key = ALIPAY[2048].privateKey) {
  for (let i = 0; ; i++) {
    const signed = signNotify(notification({ notify_id: `notify-${i}` }), signType, key)
    if (get(signed, 'sign').includes('+')) return signed
  }
}

// --- tests ----------------------------------------------------------------------------------

describe('a genuine notification verifies from every form a server may hold it in', () => {
  const fields = signNotify(notification())
  const body = formBody(fields)

  test('the test body really holds escaped +, %, =, &, spaces and UTF-8', () => {
    expect(body).toContain('%2B')
    expect(body).toContain('%25')
    expect(body).toContain('%3D')
    expect(body).toContain('%26')
    expect(body).toContain('+')
    expect(body).toContain('%E5%95%86')
  })

  test('the raw body string verifies', () => {
    expect(verifyNotify(body, ALIPAY_KEY)).toMatchObject({ ok: true, signType: 'RSA2' })
  })

  test('the raw body as a Buffer verifies', () => {
    expect(verifyNotify(Buffer.from(body, 'utf8'), ALIPAY_KEY).ok).toBe(true)
  })

  test('the raw body as a plain Uint8Array verifies', () => {
    expect(verifyNotify(new TextEncoder().encode(body), ALIPAY_KEY).ok).toBe(true)
  })

  test('URLSearchParams verify', () => {
    expect(verifyNotify(new URLSearchParams(body), ALIPAY_KEY).ok).toBe(true)
  })

  test('an object of fields a framework already decoded verifies', () => {
    const decoded = Object.fromEntries(new URLSearchParams(body))
    expect(verifyNotify(decoded, ALIPAY_KEY).ok).toBe(true)
  })

  test('a successful verification carries no reason and no message', () => {
    const v = verifyNotify(body, ALIPAY_KEY)
    expect(v.reason).toBeUndefined()
    expect(v.message).toBeUndefined()
  })
})

describe('the verified notification holds every decoded field, exactly as sent', () => {
  const fields = signNotify(notification())
  const body = formBody(fields)

  test.each([
    ['raw body', body],
    ['Buffer', Buffer.from(body)],
    ['URLSearchParams', new URLSearchParams(body)],
    ['decoded object', Object.fromEntries(new URLSearchParams(body))],
  ])('from a %s: +, %%, =, &, spaces, Chinese, emoji and empty fields come back as signed', (_, input) => {
    const v = verifyNotify(input, ALIPAY_KEY)
    expect(v.ok).toBe(true)
    expect(v.params).toBeUndefined()
    const { params } = v.notification
    expect(params).toEqual(Object.fromEntries(fields))
    expect(params.subject).toBe('商品名稱 A+B = 100% & more')
    expect(params.body).toBe('a=b&c=d e+f%20g 中文 😀')
    expect(v.notification.get('subject')).toBe('商品名稱 A+B = 100% & more')
    expect(v.notification.outTradeNo).toBe('ORDER-2024-0001')
  })

  test('sign and sign_type are among the params', () => {
    const { params } = verifyNotify(body, ALIPAY_KEY).notification
    expect(params.sign).toBe(get(fields, 'sign'))
    expect(params.sign_type).toBe('RSA2')
  })

  test('an empty field is kept in params although it is not signed', () => {
    const { params } = verifyNotify(body, ALIPAY_KEY).notification
    expect(Object.prototype.hasOwnProperty.call(params, 'buyer_email')).toBe(true)
    expect(params.buyer_email).toBe('')
  })

  test('a `__proto__` field is a plain own property and leaves the prototype alone', () => {
    const signed = signNotify([...notification(), ['__proto__', 'polluted']])
    const v = verifyNotify(formBody(signed), ALIPAY_KEY)
    expect(v.ok).toBe(true)
    const { params } = v.notification
    expect(Object.getOwnPropertyNames(params)).toContain('__proto__')
    expect(Object.getOwnPropertyDescriptor(params, '__proto__').value).toBe('polluted')
    expectPlainPrototype(params)
  })

  test('a `__proto__` own property of a decoded object is read as a field too', () => {
    const signed = signNotify([...notification(), ['__proto__', 'x']])
    const decoded = JSON.parse(JSON.stringify(Object.fromEntries(signed)).replace('{', '{"__proto__":"x",'))
    expect(Object.getOwnPropertyNames(decoded)).toContain('__proto__')
    const v = verifyNotify(decoded, ALIPAY_KEY)
    expect(v.ok).toBe(true)
    expect(Object.getOwnPropertyDescriptor(v.notification.params, '__proto__').value).toBe('x')
    expectPlainPrototype(v.notification.params)
  })
})

describe('each sign type checks its own hash: RSA is SHA1, RSA2 is SHA256, MD5 is md5(content + key)', () => {
  test.each([
    ['RSA', 1024],
    ['RSA', 2048],
    ['RSA2', 1024],
    ['RSA2', 2048],
  ])('%s signed by a %i-bit Alipay key verifies with its public key', (signType, bits) => {
    const signed = signNotify(notification(), signType, ALIPAY[bits].privateKey)
    const v = verifyNotify(formBody(signed), { alipayPublicKey: spkiPem(ALIPAY[bits]) })
    expect(v).toMatchObject({ ok: true, signType })
  })

  test('an RSA (SHA1) signature labelled RSA2 is BAD_SIGNATURE', () => {
    const signed = replace(signNotify(notification(), 'RSA'), 'sign_type', 'RSA2')
    expect(verifyNotify(formBody(signed), ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })

  test('an RSA2 (SHA256) signature labelled RSA is BAD_SIGNATURE', () => {
    const signed = replace(signNotify(notification(), 'RSA2'), 'sign_type', 'RSA')
    expect(verifyNotify(formBody(signed), ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })

  test('MD5 verifies with the md5Key', () => {
    const signed = signNotify(notification(), 'MD5', MD5_KEY)
    expect(verifyNotify(formBody(signed), { md5Key: MD5_KEY })).toMatchObject({ ok: true, signType: 'MD5' })
  })

  test('MD5 with another md5Key is BAD_SIGNATURE', () => {
    const signed = signNotify(notification(), 'MD5', MD5_KEY)
    const other = 'z'.repeat(32)
    expect(verifyNotify(formBody(signed), { md5Key: other }).reason).toBe('BAD_SIGNATURE')
  })
})

describe('MD5 comparison is exact on the hex digest', () => {
  const signed = signNotify(notification(), 'MD5', MD5_KEY)
  const sign = get(signed, 'sign')

  test('the right hex is accepted', () => {
    expect(sign).toMatch(/^[0-9a-f]{32}$/)
    expect(verifyNotify(formBody(signed), { md5Key: MD5_KEY }).ok).toBe(true)
  })

  test.each([0, 15, 31])('a digest off by one character (at %i) is rejected', (at) => {
    const c = sign[at] === '0' ? '1' : '0'
    const off = sign.slice(0, at) + c + sign.slice(at + 1)
    const v = verifyNotify(formBody(replace(signed, 'sign', off)), { md5Key: MD5_KEY })
    expect(v).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
  })

  test('a digest one character short or long is rejected', () => {
    for (const bad of [sign.slice(0, 31), sign + '0']) {
      expect(verifyNotify(formBody(replace(signed, 'sign', bad)), { md5Key: MD5_KEY }).reason).toBe('BAD_SIGNATURE')
    }
  })
})

describe('any change to the signed fields is BAD_SIGNATURE', () => {
  const signed = signNotify(notification())

  test('one field tampered with', () => {
    const v = verifyNotify(formBody(replace(signed, 'total_fee', '0.01')), ALIPAY_KEY)
    expect(v).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
    expect(typeof v.message).toBe('string')
  })

  test('one field removed', () => {
    expect(verifyNotify(formBody(without(signed, 'trade_status')), ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })

  test('one field added', () => {
    const added = [...signed, ['refund_status', 'REFUND_SUCCESS']]
    expect(verifyNotify(formBody(added), ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })

  test('the order of the fields as sent does not matter (they are sorted)', () => {
    const reversed = [...signed].reverse()
    expect(verifyNotify(formBody(reversed), ALIPAY_KEY).ok).toBe(true)
  })

  test('removing or adding an empty field does not change the signed content', () => {
    expect(verifyNotify(formBody(without(signed, 'buyer_email')), ALIPAY_KEY).ok).toBe(true)
    expect(verifyNotify(formBody([...signed, ['extra_common_param', '']]), ALIPAY_KEY).ok).toBe(true)
  })

  test('a failed verification still reports sign_type, and the fields it read only as unverifiedParams', () => {
    const v = verifyNotify(formBody(replace(signed, 'total_fee', '0.01')), ALIPAY_KEY)
    expect(v.signType).toBe('RSA2')
    expect(v.unverifiedParams.total_fee).toBe('0.01')
    expect(v.params).toBeUndefined()
    expect(v.notification).toBeUndefined()
  })
})

describe('the key must be Alipay’s public key, not the merchant’s own', () => {
  test('the merchant’s own public key gives BAD_SIGNATURE', () => {
    const signed = signNotify(notification())
    const v = verifyNotify(formBody(signed), { alipayPublicKey: spkiPem(MERCHANT) })
    expect(v).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
  })
})

describe('what cannot be checked is named in reason, not thrown', () => {
  const signed = signNotify(notification())

  test('sign removed → MISSING_SIGN', () => {
    expect(verifyNotify(formBody(without(signed, 'sign')), ALIPAY_KEY)).toMatchObject({
      ok: false,
      reason: 'MISSING_SIGN',
    })
  })

  test('sign empty → MISSING_SIGN', () => {
    expect(verifyNotify(formBody(replace(signed, 'sign', '')), ALIPAY_KEY).reason).toBe('MISSING_SIGN')
  })

  test('an unknown sign_type (RSA3) → UNSUPPORTED_SIGN_TYPE', () => {
    const v = verifyNotify(formBody(replace(signed, 'sign_type', 'RSA3')), ALIPAY_KEY)
    expect(v).toMatchObject({ ok: false, reason: 'UNSUPPORTED_SIGN_TYPE', signType: 'RSA3' })
  })

  test('sign_type absent → UNSUPPORTED_SIGN_TYPE', () => {
    expect(verifyNotify(formBody(without(signed, 'sign_type')), ALIPAY_KEY).reason).toBe('UNSUPPORTED_SIGN_TYPE')
  })

  test('sign_type MD5 with an RSA public key → UNSUPPORTED_SIGN_TYPE', () => {
    const md5 = signNotify(notification(), 'MD5', MD5_KEY)
    expect(verifyNotify(formBody(md5), ALIPAY_KEY).reason).toBe('UNSUPPORTED_SIGN_TYPE')
  })

  test('sign_type RSA2 with only an md5Key → UNSUPPORTED_SIGN_TYPE', () => {
    expect(verifyNotify(formBody(signed), { md5Key: MD5_KEY }).reason).toBe('UNSUPPORTED_SIGN_TYPE')
  })
})

describe('a body that is not a well-formed form is MALFORMED', () => {
  const body = formBody(signNotify(notification()))

  test.each([
    ['broken percent-encoding %zz', `${body}&memo=%zz`],
    ['a trailing %4', `${body}&memo=abc%4`],
    ['a lone % at the end', `${body}&memo=%`],
    ['invalid UTF-8 %ff%fe', `${body}&memo=%ff%fe`],
    ['a repeated key', `${body}&total_fee=12.50`],
  ])('%s', (_, bad) => {
    const v = verifyNotify(bad, ALIPAY_KEY)
    expect(v).toMatchObject({ ok: false, reason: 'MALFORMED' })
    expect(v.unverifiedParams).toEqual({})
    expect(v.params).toBeUndefined()
    expect(v.notification).toBeUndefined()
  })

  test('raw bytes that are not UTF-8 in a Buffer', () => {
    const bad = Buffer.concat([Buffer.from(`${body}&memo=`), Buffer.from([0xff, 0xfe])])
    expect(verifyNotify(bad, ALIPAY_KEY).reason).toBe('MALFORMED')
  })

  test('a repeated key in URLSearchParams', () => {
    const p = new URLSearchParams(body)
    p.append('total_fee', '0.01')
    expect(verifyNotify(p, ALIPAY_KEY).reason).toBe('MALFORMED')
  })

  test('an object whose value is an array (a repeated key, as qs decodes it)', () => {
    const decoded = { ...Object.fromEntries(new URLSearchParams(body)), total_fee: ['12.50', '0.01'] }
    expect(verifyNotify(decoded, ALIPAY_KEY).reason).toBe('MALFORMED')
  })

  test('an object whose value is a nested object', () => {
    const decoded = { ...Object.fromEntries(new URLSearchParams(body)), extra: { a: '1' } }
    expect(verifyNotify(decoded, ALIPAY_KEY).reason).toBe('MALFORMED')
  })
})

describe('what frameworks do to a body: only decoding exactly once verifies', () => {
  test('a sign whose `+` became spaces (a decoded object) still verifies', () => {
    const signed = signedWithPlus()
    const decoded = Object.fromEntries(signed)
    decoded.sign = decoded.sign.replace(/\+/g, ' ')
    expect(decoded.sign).toContain(' ')
    expect(verifyNotify(decoded, ALIPAY_KEY).ok).toBe(true)
  })

  test('a raw body whose sign was sent with a bare `+` (decoded as a space) still verifies', () => {
    const signed = signedWithPlus('RSA')
    const sign = get(signed, 'sign')
    const body = `${formBody(without(signed, 'sign'))}&sign=${sign.replace(/\//g, '%2F').replace(/=/g, '%3D')}`
    expect(body).toMatch(/sign=[^&]*\+/)
    expect(verifyNotify(body, ALIPAY_KEY).ok).toBe(true)
  })

  test('a `+` turned into a space in a signed value is BAD_SIGNATURE', () => {
    const signed = signNotify(notification())
    const decoded = Object.fromEntries(signed)
    decoded.subject = decoded.subject.replace('+', ' ')
    expect(verifyNotify(decoded, ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })

  test('leading and trailing spaces are part of the value: kept, it verifies', () => {
    const signed = signNotify(notification({ subject: '  padded subject  ' }))
    const v = verifyNotify(formBody(signed), ALIPAY_KEY)
    expect(v.ok).toBe(true)
    expect(v.notification.params.subject).toBe('  padded subject  ')
  })

  test('leading and trailing spaces trimmed after signing → BAD_SIGNATURE', () => {
    const signed = signNotify(notification({ subject: '  padded subject  ' }))
    const trimmed = replace(signed, 'subject', 'padded subject')
    expect(verifyNotify(formBody(trimmed), ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })

  test('a value signed trimmed but sent with spaces → BAD_SIGNATURE (nothing is trimmed on our side)', () => {
    const signed = signNotify(notification({ subject: 'padded subject' }))
    const padded = replace(signed, 'subject', ' padded subject ')
    expect(verifyNotify(formBody(padded), ALIPAY_KEY).reason).toBe('BAD_SIGNATURE')
  })

  test('a body decoded twice (a value holding a literal `%2B`) fails; decoded once it verifies', () => {
    // (the other values hold no `%`, so decoding them again is harmless)
    const signed = signNotify(notification({ subject: '商品', body: 'code 100%2B off' }))
    const body = formBody(signed)
    expect(body).toContain('%252B')
    expect(verifyNotify(body, ALIPAY_KEY).ok).toBe(true)

    const once = Object.fromEntries(new URLSearchParams(body))
    expect(once.body).toBe('code 100%2B off')
    expect(verifyNotify(once, ALIPAY_KEY).ok).toBe(true)

    const twice = Object.fromEntries(Object.entries(once).map(([k, v]) => [k, decodeURIComponent(v)]))
    expect(twice.body).toBe('code 100+ off')
    expect(verifyNotify(twice, ALIPAY_KEY)).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
  })

  test('a raw body already unescaped once by a proxy (`%252B` arrives as `%2B`) fails too', () => {
    const signed = signNotify(notification({ subject: '商品', body: 'code 100%2B' }))
    const body = formBody(signed)
    expect(verifyNotify(body, ALIPAY_KEY).ok).toBe(true)
    const unescapedOnce = body.replace(/%25/g, '%')
    expect(verifyNotify(unescapedOnce, ALIPAY_KEY)).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
  })
})

describe('only an unusable key or a wrong argument throws, with a code', () => {
  const body = formBody(signNotify(notification()))

  test.each([
    ['no key at all', undefined],
    ['an empty key object', {}],
    ['a key string instead of an object', spkiPem(ALIPAY[2048])],
    ['both alipayPublicKey and md5Key', { alipayPublicKey: spkiPem(ALIPAY[2048]), md5Key: MD5_KEY }],
  ])('%s → ERR_ALIPAYHK_INVALID_ARGUMENT (a TypeError)', (_, key) => {
    const e = thrown(() => verifyNotify(body, key))
    expectTypeError(e)
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
  })

  test.each([
    ['garbage text', 'not a key at all'],
    ['garbage base64', 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'],
    ['an empty string', ''],
    ['a private key PEM', ALIPAY[2048].privateKey.export({ type: 'pkcs8', format: 'pem' }).replace(/PRIVATE KEY/g, 'PUBLIC KEY')],
  ])('a public key that is %s → ERR_ALIPAYHK_INVALID_KEY', (_, alipayPublicKey) => {
    const e = thrown(() => verifyNotify(body, { alipayPublicKey }))
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_KEY')
  })

  test('the key error message never quotes the key', () => {
    const secret = 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsecretsecret'
    const e = thrown(() => verifyNotify(body, { alipayPublicKey: secret }))
    expect(e.message).not.toContain(secret)
  })

  test.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an array', [['a', 'b']]],
    ['a boolean', true],
  ])('a body that is %s → ERR_ALIPAYHK_INVALID_ARGUMENT', (_, bad) => {
    const e = thrown(() => verifyNotify(bad, ALIPAY_KEY))
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
    expect(e.field).toBe('body')
  })

  test('an MD5 key with a space → ERR_ALIPAYHK_INVALID_KEY', () => {
    expect(thrown(() => verifyNotify(body, { md5Key: ` ${MD5_KEY}` })).code).toBe('ERR_ALIPAYHK_INVALID_KEY')
  })
})

describe('Alipay’s public key is accepted in every format merchants hold it in', () => {
  describe.each([1024, 2048])('%i-bit key', (bits) => {
    const pair = ALIPAY[bits]
    const body = formBody(signNotify(notification(), 'RSA', pair.privateKey))

    test.each([
      ['SubjectPublicKeyInfo PEM', () => spkiPem(pair)],
      ['bare base64 SubjectPublicKeyInfo (no header lines)', () => bareBase64(pair)],
      ['bare base64 broken over lines with stray spaces', () => ` ${bareBase64(pair).match(/.{1,64}/g).join('\n')}\n`],
      ['PKCS#1 public PEM', () => pkcs1Pem(pair)],
      ['DER in a Buffer', () => spkiDer(pair)],
      ['PEM in a Buffer', () => Buffer.from(spkiPem(pair))],
    ])('%s verifies', (_, key) => {
      expect(verifyNotify(body, { alipayPublicKey: key() }).ok).toBe(true)
    })

    test('the bare base64 starts as Alipay’s portal shows it', () => {
      expect(bareBase64(pair).startsWith(bits === 1024 ? 'MIGf' : 'MIIBIj')).toBe(true)
    })
  })
})

describe('isPaid: TRADE_SUCCESS and TRADE_FINISHED are paid, nothing else', () => {
  /** A verified notification of `fields`, signed here by the test Alipay key. */
  const verified = (fields) => verifiedNotification(verifyNotify, fields, ALIPAY[2048])

  test.each([
    ['TRADE_SUCCESS', true],
    ['TRADE_FINISHED', true],
    ['WAIT_BUYER_PAY', false],
    ['TRADE_CLOSED', false],
    ['trade_success', false],
    ['', false],
  ])('trade_status %p → %p', (status, paid) => {
    const n = verified({ out_trade_no: 'A1', trade_status: status })
    expect(n.get('trade_status')).toBe(status)
    expect(isPaid(n)).toBe(paid)
    expect(n.isPaid()).toBe(paid)
  })

  test('no trade_status → false', () => {
    const n = verified({ out_trade_no: 'A1' })
    expect(n.tradeStatus).toBeNull()
    expect(isPaid(n)).toBe(false)
    expect(n.isPaid()).toBe(false)
  })

  test('works on the notification of a verified result', () => {
    const v = verifyNotify(formBody(signNotify(notification({ trade_status: 'TRADE_SUCCESS' }))), ALIPAY_KEY)
    expect(v.ok && isPaid(v.notification)).toBe(true)
  })

  test('a non-object → ERR_ALIPAYHK_INVALID_ARGUMENT', () => {
    expect(thrown(() => isPaid('trade_status=TRADE_SUCCESS')).code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
  })

  test('a plain object of fields, even paid ones, is refused: ERR_ALIPAYHK_INVALID_ARGUMENT, field notification', () => {
    for (const plain of [
      { out_trade_no: 'A1', trade_status: 'TRADE_SUCCESS' },
      verified({ out_trade_no: 'A1', trade_status: 'TRADE_SUCCESS' }).params,
    ]) {
      const e = thrown(() => isPaid(plain))
      expectTypeError(e)
      expect(e.code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
      expect(e.field).toBe('notification')
    }
  })

  test('the fields of a failed verification (unverifiedParams) are refused', () => {
    const tampered = replace(signNotify(notification({ trade_status: 'WAIT_BUYER_PAY' })), 'trade_status', 'TRADE_SUCCESS')
    const v = verifyNotify(formBody(tampered), ALIPAY_KEY)
    expect(v).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
    expect(v.unverifiedParams.trade_status).toBe('TRADE_SUCCESS')
    expect(thrown(() => isPaid(v.unverifiedParams)).field).toBe('notification')
    expect(thrown(() => isPaid(v.notification)).field).toBe('notification')
  })
})

describe('checkNotifyMatchesOrder lists every disagreement with the merchant’s own order', () => {
  const fields = {
    out_trade_no: 'ORDER-1',
    total_fee: '0.10',
    currency: 'HKD',
    seller_id: '2088101568358171',
    trade_status: 'TRADE_FINISHED',
  }
  /** A verified notification of `fields` with `overrides`, signed here by the test Alipay key. */
  const verified = (overrides = {}) => verifiedNotification(verifyNotify, { ...fields, ...overrides }, ALIPAY[2048])
  const params = verified()
  const order = { outTradeNo: 'ORDER-1', totalFee: '0.10', currency: 'HKD', sellerId: '2088101568358171' }

  test('empty when everything agrees', () => {
    expect(checkNotifyMatchesOrder(params, order)).toEqual([])
  })

  test('amounts compare as decimals: 0.1 equals 0.10', () => {
    expect(checkNotifyMatchesOrder(params, { ...order, totalFee: '0.1' })).toEqual([])
    expect(checkNotifyMatchesOrder(verified({ total_fee: '0.1' }), { ...order, totalFee: '0.10' })).toEqual([])
  })

  test('the number 0.1 equals the text "0.1" and "0.10"', () => {
    expect(checkNotifyMatchesOrder(verified({ total_fee: '0.1' }), { ...order, totalFee: 0.1 })).toEqual([])
    expect(checkNotifyMatchesOrder(params, { ...order, totalFee: 0.1 })).toEqual([])
  })

  test('0.1 does not equal 0.01 or 1', () => {
    expect(checkNotifyMatchesOrder(params, { ...order, totalFee: '0.01' })).toHaveLength(1)
    expect(checkNotifyMatchesOrder(params, { ...order, totalFee: 1 })).toHaveLength(1)
  })

  test.each([
    ['out_trade_no', { outTradeNo: 'ORDER-2' }, 'ORDER-1', 'ORDER-2'],
    ['total_fee', { totalFee: '0.11' }, '0.10', '0.11'],
    ['currency', { currency: 'USD' }, 'HKD', 'USD'],
    ['seller_id', { sellerId: '2088000000000000' }, '2088101568358171', '2088000000000000'],
  ])('a mismatch in %s is reported as data, the message starting with the field name', (field, change, theirs, ours) => {
    const problems = checkNotifyMatchesOrder(params, { ...order, ...change })
    expect(problems).toHaveLength(1)
    expect(problems[0]).toEqual({ field, notification: theirs, order: ours, message: expect.any(String) })
    expect(problems[0].message.startsWith(field)).toBe(true)
  })

  test('all four mismatches at once are all reported', () => {
    const problems = checkNotifyMatchesOrder(params, {
      outTradeNo: 'X',
      totalFee: '9.99',
      currency: 'CNY',
      sellerId: '2088000000000000',
    })
    expect(problems).toHaveLength(4)
    for (const field of ['out_trade_no', 'total_fee', 'currency', 'seller_id']) {
      expect(problems.some((p) => p.field === field && p.message.startsWith(field))).toBe(true)
    }
  })

  test('a field the notification lacks is reported, its notification value undefined', () => {
    const { currency, ...noCurrency } = fields
    const problems = checkNotifyMatchesOrder(verifiedNotification(verifyNotify, noCurrency, ALIPAY[2048]), order)
    expect(problems).toHaveLength(1)
    expect(problems[0].field).toBe('currency')
    expect(problems[0].notification).toBeUndefined()
    expect(problems[0].order).toBe('HKD')
    expect(problems[0].message.startsWith('currency')).toBe(true)
  })

  test('currency and sellerId, when absent from expected, are not compared', () => {
    expect(checkNotifyMatchesOrder(params, { outTradeNo: 'ORDER-1', totalFee: '0.10' })).toEqual([])
    expect(
      checkNotifyMatchesOrder(verified({ currency: 'USD', seller_id: '2088000000000000' }), { outTradeNo: 'ORDER-1', totalFee: '0.10' }),
    ).toEqual([])
  })

  test('outTradeNo and totalFee are required: a check that compares nothing is refused (ERR_ALIPAYHK_MISSING_PARAM)', () => {
    for (const [expected, field] of [
      [{}, 'expected.outTradeNo'],
      [{ totalFee: '0.10' }, 'expected.outTradeNo'],
      [{ outTradeNo: 'ORDER-1' }, 'expected.totalFee'],
      [{ outTradeNo: 'ORDER-1', totalFee: undefined }, 'expected.totalFee'],
    ]) {
      const e = thrown(() => checkNotifyMatchesOrder(params, expected))
      expect(e.code).toBe('ERR_ALIPAYHK_MISSING_PARAM')
      expect(e.field).toBe(field)
    }
  })

  test('seller_id is compared with the notification’s seller_id only, never partner', () => {
    const { seller_id, ...noSeller } = fields
    const n = verifiedNotification(verifyNotify, { ...noSeller, partner: '2088101568358171' }, ALIPAY[2048])
    const problems = checkNotifyMatchesOrder(n, order)
    expect(problems).toEqual([{ field: 'seller_id', notification: undefined, order: '2088101568358171', message: expect.any(String) }])
  })
})

describe('notifyVerifyUrl builds the notify_verify GET', () => {
  const partner = '2088101568358171'

  test('the default gateway is intlmapi.alipay.com', () => {
    expect(notifyVerifyUrl(partner, 'abc123')).toBe(
      `https://intlmapi.alipay.com/gateway.do?service=notify_verify&partner=${partner}&notify_id=abc123`,
    )
  })

  test('a custom gateway is used as given', () => {
    const url = notifyVerifyUrl(partner, 'abc123', 'https://openapi.alipaydev.com/gateway.do')
    expect(url).toBe(`https://openapi.alipaydev.com/gateway.do?service=notify_verify&partner=${partner}&notify_id=abc123`)
  })

  test('a gateway that already has a query string gets `&`, not a second `?`', () => {
    const url = notifyVerifyUrl(partner, 'abc123', 'https://mapi.example.com/gateway.do?_input_charset=utf-8')
    expect(url).toBe(
      `https://mapi.example.com/gateway.do?_input_charset=utf-8&service=notify_verify&partner=${partner}&notify_id=abc123`,
    )
  })

  test('parameters are URL-encoded', () => {
    const notifyId = 'a+b/c=d&e f中'
    const url = notifyVerifyUrl(partner, notifyId)
    expect(url.endsWith(`&notify_id=${encodeURIComponent(notifyId)}`)).toBe(true)
    const parsed = new URL(url)
    expect(parsed.searchParams.get('notify_id')).toBe(notifyId)
    expect(parsed.searchParams.get('partner')).toBe(partner)
    expect(parsed.searchParams.get('service')).toBe('notify_verify')
  })

  test.each(['123', '2088abc568358171', '1088101568358171', '20881015683581711', ''])(
    'a bad partner %p → ERR_ALIPAYHK_INVALID_PARAM',
    (bad) => {
      const e = thrown(() => notifyVerifyUrl(bad, 'abc123'))
      expect(e.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
      expect(e.field).toBe('partner')
    },
  )
})

describe('notifyVerifyUrl refuses what cannot make a notify_verify URL', () => {
  test('an empty notifyId → ERR_ALIPAYHK_INVALID_PARAM, field notifyId', () => {
    const e = thrown(() => notifyVerifyUrl('2088101568358171', ''))
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
    expect(e.field).toBe('notifyId')
  })

  test('a gateway that is not an http(s) URL → ERR_ALIPAYHK_INVALID_PARAM, field gateway', () => {
    const e = thrown(() => notifyVerifyUrl('2088101568358171', 'abc', 'ftp://example.com/gateway.do'))
    expect(e.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
    expect(e.field).toBe('gateway')
  })
})

describe('TRADE_PAY_RESULT_CODES is the frozen resultCode table of my.tradePay', () => {
  test('holds exactly 9000, 8000, 4000, 5000, 6001, 6002, 6004', () => {
    expect(Object.keys(TRADE_PAY_RESULT_CODES).sort()).toEqual(['4000', '5000', '6001', '6002', '6004', '8000', '9000'])
  })

  test('each code has a description', () => {
    for (const v of Object.values(TRADE_PAY_RESULT_CODES)) {
      expect(typeof v).toBe('string')
      expect(v.length).toBeGreaterThan(0)
    }
    expect(TRADE_PAY_RESULT_CODES['9000']).toMatch(/success/i)
    expect(TRADE_PAY_RESULT_CODES['6001']).toMatch(/cancel/i)
  })

  test('is frozen', () => {
    expect(Object.isFrozen(TRADE_PAY_RESULT_CODES)).toBe(true)
    // this file is strict mode: assigning to a frozen property throws
    expect(() => {
      TRADE_PAY_RESULT_CODES['9000'] = 'changed'
    }).toThrow(TypeError)
    expect(TRADE_PAY_RESULT_CODES['9000']).not.toBe('changed')
  })
})
