// Order parameters (docs/protocol.md §2 and §3): which parameters are signed, in which order,
// and which inputs are refused. Safety rules always apply; `strict` (the default) adds the
// AlipayHK rules of section 2. Expected strings are built independently in the test.
'use strict'

const crypto = require('node:crypto')
const util = require('node:util')

const { buildOrderStr, preSignString, OrderSigner } = require('..')
const { referencePreSign, thrown, splitOrderStr, sampleParams } = require('./helpers')

// --- helpers --------------------------------------------------------------------------------

function byteSorted(params) {
  return Object.fromEntries(
    Object.entries(params).sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))),
  )
}

/** A valid AlipayHK order: the documented sample (with `service`), in its order. */
const valid = () => sampleParams()

/** valid() with `name` set to `value` (in place when present, else at the end). */
const withParam = (name, value) => () => ({ ...valid(), [name]: value })
/** valid() without `name`. */
const without = (name) => () => {
  const p = valid()
  delete p[name]
  return p
}
/** valid() with `from` renamed to `to` at the same position, optionally with a new value. */
const renamed = (from, to, value) => () =>
  Object.fromEntries(Object.entries(valid()).map(([k, v]) => (k === from ? [to, value === undefined ? v : value] : [k, v])))

let rsaKey
let rsaPublicKey
let md5Key

beforeAll(() => {
  const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 })
  rsaKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' })
  rsaPublicKey = pair.publicKey
  md5Key = crypto.randomBytes(16).toString('hex')
})

function verifiesSha1(orderStr) {
  const { preSign, sign } = splitOrderStr(orderStr)
  return crypto.verify('sha1', Buffer.from(preSign, 'utf8'), rsaPublicKey, Buffer.from(sign, 'base64'))
}

// ---------------------------------------------------------------------------------------------

describe('the caller\'s parameter order is kept', () => {
  test('preSignString joins key="value" with & in the object\'s own order', () => {
    const p = valid()
    expect(preSignString(p)).toBe(referencePreSign(p))
  })

  test('a reversed and a shuffled object are signed in their own orders, not re-sorted', () => {
    const reversed = Object.fromEntries(Object.entries(valid()).reverse())
    expect(preSignString(reversed)).toBe(referencePreSign(reversed))
    const entries = Object.entries(valid())
    const shuffled = Object.fromEntries([...entries.slice(7), ...entries.slice(0, 7)])
    expect(preSignString(shuffled)).toBe(referencePreSign(shuffled))
    expect(preSignString(shuffled)).not.toBe(preSignString(valid()))
    const orderStr = buildOrderStr(shuffled, { signType: 'RSA', privateKey: rsaKey })
    expect(splitOrderStr(orderStr).preSign).toBe(referencePreSign(shuffled))
    expect(verifiesSha1(orderStr)).toBe(true)
  })
})

describe('sortKeys: true sorts parameter names in ascending byte order', () => {
  test('AlipayHK parameters are sorted by bytes (`_input_charset` first)', () => {
    const p = valid()
    const got = preSignString(p, { sortKeys: true })
    expect(got).toBe(referencePreSign(byteSorted(p)))
    expect(got.startsWith('_input_charset="utf-8"&body=')).toBe(true)
    const orderStr = buildOrderStr(p, { signType: 'RSA', privateKey: rsaKey }, { sortKeys: true })
    expect(splitOrderStr(orderStr).preSign).toBe(got)
    expect(verifiesSha1(orderStr)).toBe(true)
  })

  test('upper case sorts before `_`, `_` before lower case, digits before `_` (byte order, not locale order)', () => {
    const p = { b: '1', alpha: '2', a_: '3', Zeta: '4', _x: '5', a1: '6', B: '7' }
    const got = preSignString(p, { sortKeys: true, strict: false })
    expect(got).toBe(referencePreSign(byteSorted(p)))
    expect(got).toBe('B="7"&Zeta="4"&_x="5"&a1="6"&a_="3"&alpha="2"&b="1"')
  })

  test('sortKeys: false (the default) keeps the caller\'s order', () => {
    const p = { b: '1', a: '2' }
    expect(preSignString(p, { sortKeys: false, strict: false })).toBe('b="1"&a="2"')
    expect(preSignString(p, { strict: false })).toBe('b="1"&a="2"')
  })
})

describe('`method` (the documented sample\'s name) is written as `service`', () => {
  test('method is written as service, in the same position', () => {
    const p = renamed('service', 'method')()
    const expected = referencePreSign(valid())
    expect(preSignString(p)).toBe(expected)
    const moved = { partner: '2088101568358171', method: 'mobile.securitypay.pay', ...without('service')() }
    expect(preSignString(moved)).toBe(referencePreSign({ partner: '2088101568358171', service: 'mobile.securitypay.pay', ...without('service')() }))
    expect(preSignString(p)).not.toContain('method=')
  })

  test('method and service together are refused, on the second of the two', () => {
    const a = thrown(() => preSignString({ method: 'mobile.securitypay.pay', ...valid() }))
    expect(a.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
    expect(a.field).toBe('service')
    expect(a.message).toMatch(/method/)
    const b = thrown(() => preSignString({ ...valid(), method: 'mobile.securitypay.pay' }))
    expect(b.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
    expect(b.field).toBe('method')
  })
})

describe('sign and sign_type are not signed', () => {
  test('sign among the params is refused with field sign', () => {
    const err = thrown(() => buildOrderStr({ ...valid(), sign: 'abc' }, { signType: 'RSA', privateKey: rsaKey }))
    expect(err.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
    expect(err.field).toBe('sign')
  })

  test.each(['RSA', 'RSA2', 'MD5'])('a sign_type %s that agrees with the key is left out of the pre-sign and written once, at the end', (signType) => {
    const key = signType === 'MD5' ? { signType, md5Key } : { signType, privateKey: rsaKey }
    for (const p of [{ sign_type: signType, ...valid() }, { ...valid(), sign_type: signType }, { ...without('body')(), sign_type: signType, body: 'b' }]) {
      const withoutSignType = Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'sign_type'))
      expect(preSignString(p)).toBe(referencePreSign(withoutSignType))
      const orderStr = buildOrderStr(p, key)
      expect(orderStr).toBe(buildOrderStr(withoutSignType, key))
      expect(orderStr.endsWith(`&sign_type="${signType}"`)).toBe(true)
      expect(orderStr.match(/sign_type=/g)).toHaveLength(1)
      expect(splitOrderStr(orderStr).preSign).not.toContain('sign_type')
    }
  })
})

describe('undefined, null and empty-string values leave a parameter out', () => {
  test('optional parameters given as undefined / null / "" are not signed', () => {
    const p = { ...valid(), body: undefined, return_url: null, it_b_pay: '', payment_inst: undefined }
    const kept = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined && v !== null && v !== ''))
    expect(preSignString(p)).toBe(referencePreSign(kept))
    expect(preSignString(p)).not.toMatch(/body=|return_url=|it_b_pay=|payment_inst=/)
    const orderStr = buildOrderStr(p, { signType: 'RSA', privateKey: rsaKey })
    expect(orderStr).toBe(buildOrderStr(kept, { signType: 'RSA', privateKey: rsaKey }))
  })

  test('an unknown parameter left out this way is not checked by strict rules', () => {
    const p = { ...valid(), foo: undefined, bar: null, baz: '' }
    expect(preSignString(p)).toBe(referencePreSign(valid()))
  })
})

describe('only own enumerable string-keyed properties are read', () => {
  test('inherited enumerable properties are ignored', () => {
    const proto = { extra_inherited: 'x', subject: 'from the prototype' }
    const p = Object.assign(Object.create(proto), valid())
    expect(preSignString(p)).toBe(referencePreSign(valid()))
    // Without an own subject, the inherited one does not count: subject is missing.
    const q = Object.assign(Object.create(proto), without('subject')())
    const err = thrown(() => preSignString(q))
    expect(err.code).toBe('ERR_ALIPAYHK_MISSING_PARAM')
    expect(err.field).toBe('subject')
  })

  test('symbol-keyed properties are ignored', () => {
    const p = { ...valid(), [Symbol('sign')]: 'x', [Symbol.for('subject')]: 'y' }
    expect(preSignString(p)).toBe(referencePreSign(valid()))
  })

  test('non-enumerable own properties are ignored', () => {
    const p = valid()
    Object.defineProperty(p, 'hidden_param', { value: 'x', enumerable: false })
    Object.defineProperty(p, 'sign', { value: 'forged', enumerable: false })
    expect(preSignString(p)).toBe(referencePreSign(valid()))
  })

  test('a class instance contributes its own fields, not its prototype getters', () => {
    class Order {
      constructor(fields) {
        Object.assign(this, fields)
      }
      get body() {
        return 'from a getter'
      }
    }
    const p = new Order(without('body')())
    expect(preSignString(p)).toBe(referencePreSign(without('body')()))
  })
})

describe('total_fee and rmb_fee may be numbers with at most 2 decimals', () => {
  test.each([
    [0.1, '0.1'],
    [12, '12'],
    [12.5, '12.5'],
    [0.01, '0.01'],
    [99.99, '99.99'],
    [1000000, '1000000'],
  ])('total_fee %p is written as "%s" and signed as that string', (n, text) => {
    const asNumber = { ...valid(), total_fee: n }
    const asText = { ...valid(), total_fee: text }
    expect(preSignString(asNumber)).toBe(referencePreSign(asText))
    const key = { signType: 'RSA', privateKey: rsaKey }
    expect(buildOrderStr(asNumber, key)).toBe(buildOrderStr(asText, key))
  })

  test('rmb_fee 12 is written as "12"', () => {
    const p = { ...without('total_fee')(), rmb_fee: 12 }
    expect(preSignString(p)).toBe(referencePreSign({ ...without('total_fee')(), rmb_fee: '12' }))
  })

  test.each([0.125, 1e21, NaN, -1, Infinity, 1e-7])('total_fee %p is refused, even with strict: false', (n) => {
    for (const strict of [true, false]) {
      const err = thrown(() => preSignString({ ...valid(), total_fee: n }, { strict }))
      expect(err.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
      expect(err.field).toBe('total_fee')
    }
  })
})

describe('the documented sample\'s params give the corrected orderStr', () => {
  // The JS literal of the seed document, as written there (its duplicate payment_type
  // collapses to one key: JavaScript keeps the first position and the last value).
  /* eslint-disable no-dupe-keys */
  const sampleParams = () => ({
    method: 'mobile.securitypay.pay', // Payment API, fixed value 'mobile.securitypay.pay'.
    partner: '2088101568358171', // Note: the contract partner's Alipay ID
    seller_id: '2088101568358171', // Note: the contract seller's Alipay ID
    out_trade_no: 'ALIPAYTEST2016081622560194853', // Note: the unique trade transaction serial number in merchant's system.
    subject: 'Merchandise subject',
    body: 'Merchandise description',
    total_fee: '0.1', // Payment amount
    notify_url: 'http://www.xxx.com', // The url to which Alipay HK sends payment result in async mode.
    payment_type: '1', // Payment type, fixed value '1'.
    _input_charset: 'utf-8', // Character set of parameter code, fixed value 'utf-8'.
    it_b_pay: '30m', // Transaction time-out auto close time.
    return_url: 'm.alipay.com', // The URL specified by merchant.
    payment_inst: 'ALIPAYHK', // Payment method on the merchandise lable.
    currency: 'HKD', // Transaction currency type on the merchandise lable.
    product_code: 'NEW_WAP_OVERSEAS_SELLER', // Payment product type, fixed value 'NEW_WAP_OVERSEAS_SELLER'.
    forex_biz: 'FP', // Foreign exchange business type, fixed value 'FP'.
    payment_type: '1', // Payment type, fixed value '1'.
  })
  /* eslint-enable no-dupe-keys */

  test.each([
    ['as given', 'Merchandise subject', 'Merchandise description'],
    ['with the subject and body the sample actually sent', '商品名稱', '商品描述信息'],
  ])('%s: service first, one payment_type, URL-encoded signature inside the quotes, sign_type="RSA" last, verifies', (_l, subject, body) => {
    const p = { ...sampleParams(), subject, body }
    const orderStr = buildOrderStr(p, { signType: 'RSA', privateKey: rsaKey })
    expect(orderStr.startsWith('service="mobile.securitypay.pay"&partner="2088101568358171"&')).toBe(true)
    expect(orderStr).not.toContain('method=')
    expect(orderStr.match(/payment_type="1"/g)).toHaveLength(1)
    expect(orderStr).toContain(`&subject="${subject}"&body="${body}"&`)
    const { preSign, sign, signType } = splitOrderStr(orderStr)
    expect(signType).toBe('RSA')
    expect(orderStr.endsWith('"&sign_type="RSA"')).toBe(true)
    // The signature sits inside its quotes, URL-encoded: no raw + / = anywhere in it.
    expect(orderStr).toMatch(/&sign="[A-Za-z0-9%]+"&sign_type="RSA"$/)
    expect(sign).toHaveLength(172)
    expect(sign).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
    // The signed bytes are the sent bytes, with `service` in place of `method`.
    const expected = referencePreSign(Object.fromEntries(Object.entries(p).map(([k, v]) => [k === 'method' ? 'service' : k, v])))
    expect(preSign).toBe(expected)
    expect(preSign).toBe(preSignString(p))
    expect(verifiesSha1(orderStr)).toBe(true)
  })
})

describe('values at the limits of each rule are accepted', () => {
  const ok = [
    ['partner', '2088000000000000'],
    ['seller_id', 'x'.repeat(100)],
    ['seller_id', 'shop@example.com'],
    ['seller_id', '+852-91234567'],
    ['_input_charset', 'UTF-8'],
    ['out_trade_no', `${'a'.repeat(30)}_-${'Z9'.repeat(16)}`],
    ['out_trade_no', 'A'],
    ['subject', 'x'.repeat(256)],
    ['subject', '商'.repeat(256)],
    ['subject', '😀'.repeat(256)],
    ['subject', ' '],
    ['subject', 'price: 100% "off"'.replace(/"/g, "'")],
    ['body', '描'.repeat(400)],
    ['total_fee', '0.01'],
    ['total_fee', '0.1'],
    ['total_fee', '1'],
    ['total_fee', '12.50'],
    ['total_fee', '999999.99'],
    ['total_fee', '1000000'],
    ['total_fee', '1000000.00'],
    ['currency', 'USD'],
    ['payment_inst', 'ALIPAYCN'],
    ['notify_url', 'https://shop.example.com:8443/alipay/notify'],
    ['notify_url', 'HTTPS://SHOP.EXAMPLE.COM/N'],
    ['notify_url', `https://example.com/${'a'.repeat(200 - 'https://example.com/'.length)}`],
    ['return_url', 'x'.repeat(200)],
    ['it_b_pay', '1m'],
    ['it_b_pay', '90m'],
    ['it_b_pay', '21600m'],
    ['it_b_pay', '360h'],
    ['it_b_pay', '15d'],
    ['it_b_pay', '1c'],
    ['secondary_merchant_industry', '5812'],
    ['trade_information', '{"business_type":"4","goods_info":"iPhone^1","total_quantity":"1"}'],
    ['trade_information', '[1, 2, {"a": null}]'],
    ['appenv', 'system=android^version=3.0.1.2'],
    ['secondary_merchant_id', 'SUB-001'],
    ['secondary_merchant_name', '港式茶餐廳'],
    ['show_url', 'https://shop.example.com/item/1'],
    ['extern_token', 'tok_123'],
  ]
  test.each(ok)('%s = %p', (name, value) => {
    const p = withParam(name, value)()
    expect(preSignString(p)).toBe(referencePreSign(p))
  })

  test('rmb_fee instead of total_fee is accepted', () => {
    const p = { ...without('total_fee')(), rmb_fee: '88.80' }
    expect(preSignString(p)).toBe(referencePreSign(p))
  })

  test('trade_information with inner " is signed raw and verifies', () => {
    const p = withParam('trade_information', '{"business_type":"5","other_business_type":"商品"}')()
    const orderStr = buildOrderStr(p, { signType: 'RSA', privateKey: rsaKey })
    expect(orderStr).toContain('&trade_information="{"business_type":"5","other_business_type":"商品"}"&sign=')
    expect(verifiesSha1(orderStr)).toBe(true)
  })
})

describe('strict: false allows parameters outside the AlipayHK table and `&`', () => {
  test('unknown parameters, `&` in a value, missing required ones and off-table values are signed as given', () => {
    const p = { foo: 'bar', subject: 'fish & chips', total_fee: 'abc', currency: 'hkd', notify_url: 'https://a.example/n?x=1&y=2' }
    expect(preSignString(p, { strict: false })).toBe(referencePreSign(p))
    const orderStr = buildOrderStr(p, { signType: 'RSA', privateKey: rsaKey }, { strict: false })
    expect(splitOrderStr(orderStr).preSign).toBe(referencePreSign(p))
    expect(verifiesSha1(orderStr)).toBe(true)
  })

  test('the same params are refused with strict: true (the default)', () => {
    const p = { ...valid(), foo: 'bar' }
    expect(thrown(() => preSignString(p)).field).toBe('foo')
    expect(thrown(() => preSignString(p, { strict: true })).field).toBe('foo')
    expect(preSignString(p, { strict: false })).toBe(referencePreSign(p))
    const q = { ...valid(), subject: 'fish & chips' }
    expect(thrown(() => preSignString(q)).field).toBe('subject')
    expect(preSignString(q, { strict: false })).toBe(referencePreSign(q))
  })
})

// --- bad input ------------------------------------------------------------------------------

const MISSING = 'ERR_ALIPAYHK_MISSING_PARAM'
const INVALID = 'ERR_ALIPAYHK_INVALID_PARAM'

// [description, make params, code, field]: refused under strict (the default) only.
const STRICT_ROWS = [
  ...[
    'service',
    'partner',
    'seller_id',
    '_input_charset',
    'payment_type',
    'out_trade_no',
    'subject',
    'currency',
    'forex_biz',
    'product_code',
    'notify_url',
  ].map((name) => [`required ${name} is missing`, without(name), MISSING, name]),
  ['no amount: total_fee (or rmb_fee) is missing', without('total_fee'), MISSING, 'total_fee'],
  ['required subject is the empty string', withParam('subject', ''), MISSING, 'subject'],
  ['required partner is null', withParam('partner', null), MISSING, 'partner'],
  ['required notify_url is undefined', withParam('notify_url', undefined), MISSING, 'notify_url'],
  ['service is not mobile.securitypay.pay', withParam('service', 'alipay.trade.pay'), INVALID, 'service'],
  ['service has a trailing space', withParam('service', 'mobile.securitypay.pay '), INVALID, 'service'],
  ['method (written as service) has another value', renamed('service', 'method', 'alipay.trade.app.pay'), INVALID, 'service'],
  ['partner has 15 digits', withParam('partner', '208810156835817'), INVALID, 'partner'],
  ['partner has 17 digits', withParam('partner', '20881015683581711'), INVALID, 'partner'],
  ['partner does not start with 2088', withParam('partner', '1088101568358171'), INVALID, 'partner'],
  ['partner holds a letter', withParam('partner', '208810156835817a'), INVALID, 'partner'],
  ['partner holds full-width digits', withParam('partner', '２０８８１０１５６８３５８１７１'), INVALID, 'partner'],
  ['seller_id is over 100 characters', withParam('seller_id', 'x'.repeat(101)), INVALID, 'seller_id'],
  ['_input_charset is gbk', withParam('_input_charset', 'gbk'), INVALID, '_input_charset'],
  ['_input_charset is utf8 (no dash)', withParam('_input_charset', 'utf8'), INVALID, '_input_charset'],
  ['payment_type is 2', withParam('payment_type', '2'), INVALID, 'payment_type'],
  ['payment_type is 01', withParam('payment_type', '01'), INVALID, 'payment_type'],
  ['out_trade_no is over 64 characters', withParam('out_trade_no', 'A'.repeat(65)), INVALID, 'out_trade_no'],
  ['out_trade_no holds a space', withParam('out_trade_no', 'ORDER 1'), INVALID, 'out_trade_no'],
  ['out_trade_no holds #', withParam('out_trade_no', 'ORDER#1'), INVALID, 'out_trade_no'],
  ['out_trade_no holds a dot', withParam('out_trade_no', 'ORDER.1'), INVALID, 'out_trade_no'],
  ['out_trade_no holds Chinese', withParam('out_trade_no', '訂單1'), INVALID, 'out_trade_no'],
  ['subject is over 256 characters', withParam('subject', 'x'.repeat(257)), INVALID, 'subject'],
  ['subject is over 256 Chinese characters', withParam('subject', '商'.repeat(257)), INVALID, 'subject'],
  ['body is over 400 characters', withParam('body', 'x'.repeat(401)), INVALID, 'body'],
  ...['0', '0.00', '0.001', '1.234', '1000000.01', '2000000', '01', '1.', '.5', '-1', '+1', '1e2', '1,000', ' 1', '0x10', 'NaN', 'Infinity', 'HKD 1'].map(
    (v) => [`total_fee is ${JSON.stringify(v)}`, withParam('total_fee', v), INVALID, 'total_fee'],
  ),
  ['rmb_fee (alone) is not an amount', () => ({ ...without('total_fee')(), rmb_fee: 'abc' }), INVALID, 'rmb_fee'],
  ['total_fee and rmb_fee are both given', withParam('rmb_fee', '1.00'), INVALID, 'rmb_fee'],
  ['currency is lower case', withParam('currency', 'hkd'), INVALID, 'currency'],
  ['currency has 2 letters', withParam('currency', 'HK'), INVALID, 'currency'],
  ['currency has 4 letters', withParam('currency', 'HKDD'), INVALID, 'currency'],
  ['currency holds a digit', withParam('currency', 'HK1'), INVALID, 'currency'],
  ['forex_biz is lower case', withParam('forex_biz', 'fp'), INVALID, 'forex_biz'],
  ['forex_biz is FX', withParam('forex_biz', 'FX'), INVALID, 'forex_biz'],
  ['product_code is lower case', withParam('product_code', 'new_wap_overseas_seller'), INVALID, 'product_code'],
  ['product_code is another product', withParam('product_code', 'NEW_OVERSEAS_SELLER'), INVALID, 'product_code'],
  ['payment_inst is lower case', withParam('payment_inst', 'alipayhk'), INVALID, 'payment_inst'],
  ['payment_inst is another wallet', withParam('payment_inst', 'WECHATPAY'), INVALID, 'payment_inst'],
  ['notify_url has no scheme', withParam('notify_url', 'www.example.com/notify'), INVALID, 'notify_url'],
  ['notify_url is ftp', withParam('notify_url', 'ftp://example.com/notify'), INVALID, 'notify_url'],
  ['notify_url has no host', withParam('notify_url', 'https://'), INVALID, 'notify_url'],
  ['notify_url has an empty host before its path', withParam('notify_url', 'https:///notify'), INVALID, 'notify_url'],
  ['notify_url holds a space', withParam('notify_url', 'https://exa mple.com/notify'), INVALID, 'notify_url'],
  ['notify_url has a non-numeric port', withParam('notify_url', 'https://example.com:http/notify'), INVALID, 'notify_url'],
  ['notify_url is javascript:', withParam('notify_url', 'javascript:alert(1)'), INVALID, 'notify_url'],
  ['notify_url is over 200 characters', withParam('notify_url', `https://example.com/${'a'.repeat(181)}`), INVALID, 'notify_url'],
  ['return_url is over 200 characters', withParam('return_url', 'x'.repeat(201)), INVALID, 'return_url'],
  ...['1.5h', '0m', '16d', '21601m', '361h', '30s', '30', 'm', '030m', '2c', '-1m', '1 h', '1H'].map((v) => [
    `it_b_pay is ${JSON.stringify(v)}`,
    withParam('it_b_pay', v),
    INVALID,
    'it_b_pay',
  ]),
  ['secondary_merchant_industry has 3 digits', withParam('secondary_merchant_industry', '581'), INVALID, 'secondary_merchant_industry'],
  ['secondary_merchant_industry has 5 digits', withParam('secondary_merchant_industry', '58120'), INVALID, 'secondary_merchant_industry'],
  ['secondary_merchant_industry holds a letter', withParam('secondary_merchant_industry', '58a2'), INVALID, 'secondary_merchant_industry'],
  ['trade_information is not JSON', withParam('trade_information', 'business_type=4'), INVALID, 'trade_information'],
  ['trade_information is unterminated JSON', withParam('trade_information', '{"a":1'), INVALID, 'trade_information'],
  ['trade_information uses single quotes', withParam('trade_information', "{'a':1}"), INVALID, 'trade_information'],
  ['an unknown parameter', withParam('foo', 'bar'), INVALID, 'foo'],
  ['a known name in the wrong case', withParam('Subject', 'x'), INVALID, 'Subject'],
  ['& in subject', withParam('subject', 'fish & chips'), INVALID, 'subject'],
  ['& in body', withParam('body', 'a&b'), INVALID, 'body'],
  ['& in the notify_url query', withParam('notify_url', 'https://example.com/n?a=1&b=2'), INVALID, 'notify_url'],
]

// Refused whatever `strict` says: they would make the signed string ambiguous.
const SAFETY_ROWS = [
  ["a name starting with a digit ('1a')", withParam('1a', 'x'), INVALID, '1a'],
  ["a name with a dash ('a-b')", withParam('a-b', 'x'), INVALID, 'a-b'],
  ["a name with a space ('a b')", withParam('a b', 'x'), INVALID, 'a b'],
  ['an empty name', withParam('', 'x'), INVALID, ''],
  ["a name with a dot ('a.b')", withParam('a.b', 'x'), INVALID, 'a.b'],
  ["a name with = ('a=b')", withParam('a=b', 'x'), INVALID, 'a=b'],
  ["a name with a non-ASCII letter ('ä')", withParam('ä', 'x'), INVALID, 'ä'],
  ['" in subject', withParam('subject', 'the "best" tea'), INVALID, 'subject'],
  ['" in body', withParam('body', '"'), INVALID, 'body'],
  ['" in out_trade_no', withParam('out_trade_no', 'A"B'), INVALID, 'out_trade_no'],
  ['"& in trade_information (" alone is allowed there)', withParam('trade_information', '{"a":"b"&"c":"d"}'), INVALID, 'trade_information'],
  ['a line feed in subject', withParam('subject', 'line\nbreak'), INVALID, 'subject'],
  ['a carriage return in body', withParam('body', 'a\r\nb'), INVALID, 'body'],
  ['a tab in subject', withParam('subject', 'a\tb'), INVALID, 'subject'],
  ['NUL in subject', withParam('subject', 'a\u0000b'), INVALID, 'subject'],
  ['U+001F in subject', withParam('subject', 'a\u001fb'), INVALID, 'subject'],
  ['DEL (U+007F) in subject', withParam('subject', 'a\u007fb'), INVALID, 'subject'],
  ['a line feed in trade_information JSON', withParam('trade_information', '{\n"a":1}'), INVALID, 'trade_information'],
  ['a lone high surrogate in subject', withParam('subject', '\uD800'), INVALID, 'subject'],
  ['a lone low surrogate inside body', withParam('body', 'x\uDC00y'), INVALID, 'body'],
  ['a high surrogate at the end of subject', withParam('subject', '商品\uDBFF'), INVALID, 'subject'],
  ['a boolean value', withParam('subject', true), INVALID, 'subject'],
  ['an object value', withParam('subject', { text: 'x' }), INVALID, 'subject'],
  ['an array value', withParam('subject', ['x']), INVALID, 'subject'],
  ['a bigint value', withParam('total_fee', 10n), INVALID, 'total_fee'],
  ['a symbol value', withParam('subject', Symbol('x')), INVALID, 'subject'],
  ['a function value', withParam('subject', () => 'x'), INVALID, 'subject'],
  ['a Date value', withParam('subject', new Date(0)), INVALID, 'subject'],
  ['a String object value', withParam('subject', new String('x')), INVALID, 'subject'], // eslint-disable-line no-new-wrappers
  ['a Buffer value', withParam('subject', Buffer.from('x')), INVALID, 'subject'],
  ['a number for a parameter other than an amount (subject)', withParam('subject', 5), INVALID, 'subject'],
  ['a number for payment_type', withParam('payment_type', 1), INVALID, 'payment_type'],
  ['total_fee as the number 0.125', withParam('total_fee', 0.125), INVALID, 'total_fee'],
  ['total_fee as the number 1e21', withParam('total_fee', 1e21), INVALID, 'total_fee'],
  ['total_fee as NaN', withParam('total_fee', NaN), INVALID, 'total_fee'],
  ['total_fee as the number -1', withParam('total_fee', -1), INVALID, 'total_fee'],
  ['rmb_fee as the number 0.001', () => ({ ...without('total_fee')(), rmb_fee: 0.001 }), INVALID, 'rmb_fee'],
  ['sign among the params', withParam('sign', 'abc'), INVALID, 'sign'],
  ['method and service together', () => ({ method: 'mobile.securitypay.pay', ...valid() }), INVALID, 'service'],
]

/** Rows reordered for test titles: [description, code, field, make]. */
const titled = (rows) => rows.map(([label, make, code, field]) => [label, code, field, make])

describe('bad input', () => {
  let key
  let signer
  let md5
  beforeAll(() => {
    key = { signType: 'RSA2', privateKey: rsaKey }
    signer = new OrderSigner(key)
    md5 = { signType: 'MD5', md5Key }
  })

  function entryPoints(options) {
    return [
      ['preSignString', (p) => preSignString(p, options)],
      ['buildOrderStr (RSA2)', (p) => buildOrderStr(p, key, options)],
      ['buildOrderStr (MD5)', (p) => buildOrderStr(p, md5, options)],
      ['signer.preSign', (p) => signer.preSign(p, options)],
      ['signer.buildOrderStr', (p) => signer.buildOrderStr(p, options)],
    ]
  }

  function expectRefused(make, code, field, options) {
    for (const [via, call] of entryPoints(options)) {
      // thrown() fails the test if the call returns a string instead of throwing.
      const err = thrown(() => call(make()))
      expect(util.types.isNativeError(err)).toBe(true)
      expect({ via, code: err.code, field: err.field }).toEqual({ via, code, field })
      expect(typeof err.message).toBe('string')
      expect(err.message.length).toBeGreaterThan(10)
      expect(err.message).toContain(field)
    }
  }

  test('the tables hold at least 40 rows', () => {
    expect(STRICT_ROWS.length + SAFETY_ROWS.length).toBeGreaterThanOrEqual(40)
  })

  test('the valid order the rows start from is accepted', () => {
    expect(preSignString(valid())).toBe(referencePreSign(valid()))
  })

  describe('AlipayHK rules (strict, the default)', () => {
    test.each(titled(STRICT_ROWS))('%s: refused with %s, field %p', (_label, code, field, make) => {
      expectRefused(make, code, field, undefined)
      expectRefused(make, code, field, { strict: true })
    })
  })

  describe('safety rules (strict or not)', () => {
    test.each(titled(SAFETY_ROWS))('%s: refused with %s, field %p', (_label, code, field, make) => {
      expectRefused(make, code, field, undefined)
      expectRefused(make, code, field, { strict: false })
      expectRefused(make, code, field, { strict: false, sortKeys: true })
    })
  })
})
