// Keys (docs/protocol.md §6): every format a merchant holds signs identically; OrderSigner
// parses once; unusable keys, sign types and arguments are refused with stable codes; and no
// key material ever leaks into an error or into the signer object.
'use strict'

const crypto = require('node:crypto')
const util = require('node:util')
const { execFileSync } = require('node:child_process')

const { buildOrderStr, preSignString, signContent, OrderSigner } = require('..')
const { referencePreSign, thrown } = require('./helpers')

// --- helpers --------------------------------------------------------------------------------

const HASH = { RSA: 'sha1', RSA2: 'sha256' }

function params(extra = {}) {
  return {
    service: 'mobile.securitypay.pay',
    partner: '2088101568358171',
    seller_id: '2088101568358171',
    out_trade_no: 'KEYS-TEST_0001',
    subject: '商品名稱 key formats',
    body: '商品描述信息',
    total_fee: '12.50',
    notify_url: 'https://shop.example.com/alipay/notify',
    payment_type: '1',
    _input_charset: 'utf-8',
    it_b_pay: '30m',
    payment_inst: 'ALIPAYHK',
    currency: 'HKD',
    product_code: 'NEW_WAP_OVERSEAS_SELLER',
    forex_biz: 'FP',
    ...extra,
  }
}

/** base64 with a line break every 64 characters. */
function wrap64(b64, eol = '\n') {
  return b64.match(/.{1,64}/g).join(eol)
}

/** The base64 body of a PEM, without header lines or whitespace. */
function pemBody(pem) {
  return pem
    .split(/\r?\n/)
    .filter((l) => l && !l.startsWith('-----'))
    .join('')
}

// The addon creates its errors in Node's main realm while jest runs tests in a vm context, so
// `instanceof Error` cannot be used; these checks work across realms.
function expectError(err) {
  expect(util.types.isNativeError(err)).toBe(true)
}

function expectTypeError(err) {
  expectError(err)
  expect(err.name).toBe('TypeError')
  expect(Object.prototype.toString.call(err)).toBe('[object Error]')
}

function secretSlices(secret, n = 16) {
  const out = []
  for (let i = 0; i + n <= secret.length; i++) out.push(secret.slice(i, i + n))
  return out
}

const keys = {}
let md5Key

beforeAll(() => {
  for (const bits of [1024, 2048]) {
    keys[bits] = crypto.generateKeyPairSync('rsa', { modulusLength: bits })
  }
  md5Key = 'md5KEYmarker' + crypto.randomBytes(10).toString('hex') // 32 letters and digits
})

function formats(bits) {
  const { privateKey } = keys[bits]
  const pkcs8Pem = privateKey.export({ type: 'pkcs8', format: 'pem' })
  const pkcs1Pem = privateKey.export({ type: 'pkcs1', format: 'pem' })
  const pkcs8Der = privateKey.export({ type: 'pkcs8', format: 'der' })
  const pkcs1Der = privateKey.export({ type: 'pkcs1', format: 'der' })
  const pkcs8B64 = pkcs8Der.toString('base64')
  const pkcs1B64 = pkcs1Der.toString('base64')
  return [
    ['PKCS#8 PEM', pkcs8Pem],
    ['PKCS#1 PEM', pkcs1Pem],
    ['PKCS#8 PEM with CRLF line ends and surrounding blank lines', `\r\n  ${pkcs8Pem.replace(/\n/g, '\r\n')}\r\n\r\n`],
    ['PKCS#8 DER Buffer', pkcs8Der],
    ['PKCS#1 DER Buffer', pkcs1Der],
    ['PKCS#8 DER as a plain Uint8Array', new Uint8Array(pkcs8Der)],
    ['bare base64 of the PKCS#8 DER on one line', pkcs8B64],
    ['bare base64 of the PKCS#8 DER, 64-character lines, CRLF, stray spaces and tabs', `  ${wrap64(pkcs8B64, ' \r\n\t')}\t \r\n`],
    ['bare base64 of the PKCS#1 DER on one line', pkcs1B64],
    ['bare base64 of the PKCS#1 DER, 64-character lines, LF, stray spaces and tabs', `\t${wrap64(pkcs1B64, '\n ')} \n`],
    ['PKCS#8 PEM as a Buffer', Buffer.from(pkcs8Pem, 'utf8')],
    ['PKCS#1 PEM as a Buffer', Buffer.from(pkcs1Pem, 'utf8')],
    ['bare base64 of the PKCS#8 DER as a Buffer', Buffer.from(wrap64(pkcs8B64), 'utf8')],
  ]
}

// ---------------------------------------------------------------------------------------------

describe('every format of the same private key signs identically', () => {
  for (const bits of [1024, 2048]) {
    for (const signType of ['RSA', 'RSA2']) {
      test(`${bits}-bit key, ${signType}: PEM (PKCS#8/PKCS#1), DER, bare base64 and Buffers all give node:crypto's orderStr`, () => {
        const p = params()
        const preSign = referencePreSign(p)
        const sig = crypto.sign(HASH[signType], Buffer.from(preSign, 'utf8'), keys[bits].privateKey).toString('base64')
        const expected = `${preSign}&sign="${encodeURIComponent(sig)}"&sign_type="${signType}"`
        for (const [label, privateKey] of formats(bits)) {
          const got = buildOrderStr(p, { signType, privateKey })
          expect({ label, got }).toEqual({ label, got: expected })
        }
      })
    }
  }

  test.each([1024, 2048])(
    '%i-bit key: a plain private-key string names no sign type and is refused (ERR_ALIPAYHK_SIGN_TYPE, field key.signType); with signType RSA it signs SHA1withRSA',
    (bits) => {
      const p = params()
      const preSign = referencePreSign(p)
      const sig = crypto.sign('sha1', Buffer.from(preSign, 'utf8'), keys[bits].privateKey).toString('base64')
      const expected = `${preSign}&sign="${encodeURIComponent(sig)}"&sign_type="RSA"`
      for (const [label, key] of formats(bits).filter(([, k]) => typeof k === 'string')) {
        for (const call of [() => buildOrderStr(p, key), () => new OrderSigner(key), () => signContent('x', key)]) {
          const err = thrown(call)
          expectError(err)
          expect({ label, code: err.code, field: err.field }).toEqual({ label, code: 'ERR_ALIPAYHK_SIGN_TYPE', field: 'key.signType' })
          expect(err.message).toMatch(/RSA2/)
        }
        expect({ label, got: buildOrderStr(p, { signType: 'RSA', privateKey: key }) }).toEqual({ label, got: expected })
        expect({ label, signType: new OrderSigner({ signType: 'RSA', privateKey: key }).signType }).toEqual({ label, signType: 'RSA' })
      }
    },
  )
})

describe('OrderSigner parses a key once and signs like the functions', () => {
  test.each([
    ['RSA', 1024],
    ['RSA', 2048],
    ['RSA2', 1024],
    ['RSA2', 2048],
  ])('%s, %i-bit key: signType, keyBits, and fingerprint = sha256 of the SPKI DER', (signType, bits) => {
    const { publicKey } = keys[bits]
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const fingerprint = crypto.createHash('sha256').update(spki).digest('hex')
    for (const [label, key] of formats(bits)) {
      const signer = new OrderSigner({ signType, privateKey: key })
      expect({ label, signType: signer.signType, keyBits: signer.keyBits, fingerprint: signer.fingerprint }).toEqual({
        label,
        signType,
        keyBits: bits,
        fingerprint,
      })
    }
    // Another key has another fingerprint.
    const other = new OrderSigner({ signType, privateKey: keys[bits === 1024 ? 2048 : 1024].privateKey.export({ type: 'pkcs8', format: 'pem' }) })
    expect(other.fingerprint).not.toBe(fingerprint)
  })

  test('MD5: signType is MD5, keyBits is null, fingerprint is sha256 of the MD5 key', () => {
    const signer = new OrderSigner({ signType: 'MD5', md5Key })
    expect(signer.signType).toBe('MD5')
    expect(signer.keyBits).toBeNull()
    expect(signer.fingerprint).toBe(crypto.createHash('sha256').update(md5Key, 'utf8').digest('hex'))
  })

  test.each([
    ['RSA', 1024],
    ['RSA2', 2048],
  ])('%s, %i-bit key: signer.buildOrderStr / preSign / signContent equal buildOrderStr / preSignString / node:crypto', (signType, bits) => {
    const key = { signType, privateKey: keys[bits].privateKey.export({ type: 'pkcs1', format: 'pem' }) }
    const signer = new OrderSigner(key)
    for (const p of [params(), params({ subject: '商品名称 😀', total_fee: '1000000' })]) {
      expect(signer.buildOrderStr(p)).toBe(buildOrderStr(p, key))
      expect(signer.buildOrderStr(p, { sortKeys: true })).toBe(buildOrderStr(p, key, { sortKeys: true }))
      expect(signer.preSign(p)).toBe(preSignString(p))
      expect(signer.preSign(p)).toBe(referencePreSign(p))
    }
    for (const text of ['', 'hello', '商品名稱&"x"', 'line\nbreak']) {
      const expected = crypto.sign(HASH[signType], Buffer.from(text, 'utf8'), keys[bits].privateKey).toString('base64')
      expect(signer.signContent(text)).toBe(expected)
      expect(signContent(text, key)).toBe(expected)
      expect(signContent(text, signer)).toBe(expected)
    }
  })

  test('MD5: signer.buildOrderStr equals buildOrderStr and signContent is md5(text + key) hex', () => {
    const key = { signType: 'MD5', md5Key }
    const signer = new OrderSigner(key)
    const p = params()
    expect(signer.buildOrderStr(p)).toBe(buildOrderStr(p, key))
    expect(signer.preSign(p)).toBe(preSignString(p))
    for (const text of ['', 'hello', '商品名稱']) {
      const expected = crypto.createHash('md5').update(text + md5Key, 'utf8').digest('hex')
      expect(signer.signContent(text)).toBe(expected)
      expect(signContent(text, key)).toBe(expected)
    }
  })

  test.each(['RSA', 'RSA2', 'MD5'])('%s: buildOrderStr(params, signer) accepts an OrderSigner as the key', (signType) => {
    const key = signType === 'MD5' ? { signType, md5Key } : { signType, privateKey: keys[1024].privateKey.export({ type: 'pkcs8', format: 'pem' }) }
    const signer = new OrderSigner(key)
    const p = params()
    expect(buildOrderStr(p, signer)).toBe(buildOrderStr(p, key))
    expect(buildOrderStr(p, signer, { sortKeys: true })).toBe(buildOrderStr(p, key, { sortKeys: true }))
    expect(new OrderSigner(signer).buildOrderStr(p)).toBe(buildOrderStr(p, key))
  })

  test('one signer signs many different orders, each verifying', () => {
    const signer = new OrderSigner({ signType: 'RSA2', privateKey: keys[2048].privateKey.export({ type: 'pkcs8', format: 'pem' }) })
    for (let i = 0; i < 20; i++) {
      const p = params({ out_trade_no: `MANY_${i}`, total_fee: `${i + 1}.0${i % 10}` })
      const orderStr = signer.buildOrderStr(p)
      const m = /&sign="([^"]+)"&sign_type="RSA2"$/.exec(orderStr)
      expect(m).not.toBeNull()
      const ok = crypto.verify('sha256', Buffer.from(referencePreSign(p), 'utf8'), keys[2048].publicKey, Buffer.from(decodeURIComponent(m[1]), 'base64'))
      expect(ok).toBe(true)
    }
  })
})

describe('a key that cannot be used is refused with ERR_ALIPAYHK_INVALID_KEY, saying what was found', () => {
  let k512
  beforeAll(() => {
    // node:crypto may refuse RSA keys under 1024 bits under some OpenSSL security levels.
    try {
      k512 = crypto.generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' })
    } catch {
      k512 = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:512'], { encoding: 'utf8' })
    }
  })

  const pem = () => keys[1024].privateKey.export({ type: 'pkcs8', format: 'pem' })
  const pub = () => keys[1024].publicKey
  const rows = [
    ['a public key as SPKI PEM', () => pub().export({ type: 'spki', format: 'pem' }), /public key/i],
    ['a public key as PKCS#1 PEM (RSA PUBLIC KEY)', () => pub().export({ type: 'pkcs1', format: 'pem' }), /public key/i],
    ['a public key as bare base64 SPKI (MIGf…)', () => pub().export({ type: 'spki', format: 'der' }).toString('base64'), /public key/i],
    ['a public key as SPKI DER bytes', () => pub().export({ type: 'spki', format: 'der' }), /public key/i],
    [
      'an encrypted PKCS#8 PEM',
      () => keys[1024].privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass phrase' }),
      /encrypted/i,
    ],
    [
      'an encrypted PKCS#8 DER',
      () => keys[1024].privateKey.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: 'pass phrase' }),
      /encrypted/i,
    ],
    [
      'an encrypted legacy PKCS#1 PEM (Proc-Type: 4,ENCRYPTED)',
      () => keys[1024].privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass phrase' }),
      /encrypted/i,
    ],
    [
      'an EC private key (PKCS#8)',
      () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      /\bEC\b.*not an RSA key|not an RSA key.*\bEC\b/,
    ],
    [
      'an EC private key (SEC1 EC PRIVATE KEY)',
      () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }),
      /EC PRIVATE KEY/,
    ],
    ['an Ed25519 private key', () => crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), /Ed25519/],
    ['a 512-bit RSA key', () => k512, /512-bit/],
    ['a PEM cut off before its END line', () => pem().slice(0, Math.floor(pem().length / 2)), /END|truncated/i],
    [
      'a PEM whose body lost its middle lines',
      () => {
        const lines = pem().trim().split('\n')
        return [...lines.slice(0, 4), ...lines.slice(-2)].join('\n')
      },
      /truncated|damaged/i,
    ],
    ['garbage text', () => 'this is not a key at all!', /neither PEM|base64/i],
    ['base64 that is not a key', () => Buffer.from('hello, world').toString('base64'), /not a PKCS#8 or PKCS#1|truncated|damaged/i],
    ['bytes that are neither DER nor text', () => Buffer.from([0xff, 0xfe, 0x00, 0x80]), /neither DER|PEM/i],
    ['an empty string', () => '', /empty/i],
    ['a whitespace-only string', () => ' \r\n\t  \n', /empty/i],
    ['an empty Buffer', () => Buffer.alloc(0), /empty/i],
  ]

  test.each(rows)('%s: new OrderSigner, buildOrderStr and signContent all refuse it', (_label, make, found) => {
    const privateKey = make()
    for (const signType of ['RSA', 'RSA2']) {
      for (const call of [
        () => new OrderSigner({ signType, privateKey }),
        () => buildOrderStr(params(), { signType, privateKey }),
        () => signContent('x', { signType, privateKey }),
      ]) {
        const err = thrown(call)
        expectError(err)
        expect(err.code).toBe('ERR_ALIPAYHK_INVALID_KEY')
        expect(err.field).toBe('key.privateKey')
        expect(err.message).toMatch(found)
        expect(err.message).toMatch(/key/i)
      }
    }
    if (typeof privateKey === 'string') {
      // The same key given as a plain string key: refused for naming no sign type, before
      // anything else is said about it.
      const err = thrown(() => buildOrderStr(params(), privateKey))
      expect(err.code).toBe('ERR_ALIPAYHK_SIGN_TYPE')
      expect(err.field).toBe('key.signType')
    }
  })

  test.each([
    ['an empty MD5 key', '', /empty/i],
    ['an MD5 key with a space inside', 'abcdef0123 456789abcdef0123456789', /whitespace/i],
    ['an MD5 key with a trailing line break', `${'a'.repeat(32)}\n`, /whitespace|control/i],
    ['an MD5 key with a leading tab', `\t${'a'.repeat(32)}`, /whitespace|control/i],
  ])('%s', (_label, bad, found) => {
    for (const call of [
      () => new OrderSigner({ signType: 'MD5', md5Key: bad }),
      () => buildOrderStr(params(), { signType: 'MD5', md5Key: bad }),
      () => signContent('x', { signType: 'MD5', md5Key: bad }),
    ]) {
      const err = thrown(call)
      expect(err.code).toBe('ERR_ALIPAYHK_INVALID_KEY')
      expect(err.message).toMatch(/MD5 key/)
      expect(err.message).toMatch(found)
    }
  })
})

describe('the sign type must be named exactly and agree with the key (ERR_ALIPAYHK_SIGN_TYPE)', () => {
  const pem = () => keys[1024].privateKey.export({ type: 'pkcs8', format: 'pem' })
  const rows = [
    ["signType 'rsa2' (lower case)", () => ({ signType: 'rsa2', privateKey: pem() }), /rsa2/],
    ["signType 'rsa' (lower case)", () => ({ signType: 'rsa', privateKey: pem() }), /rsa/],
    ["signType 'SHA256'", () => ({ signType: 'SHA256', privateKey: pem() }), /SHA256/],
    ["signType 'SHA256withRSA'", () => ({ signType: 'SHA256withRSA', privateKey: pem() }), /RSA2/],
    ["signType ''", () => ({ signType: '', privateKey: pem() }), /sign type/i],
    ['signType missing', () => ({ privateKey: pem() }), /signType/],
    ['signType null', () => ({ signType: null, privateKey: pem() }), /signType/],
    ["signType 'MD5' with privateKey", () => ({ signType: 'MD5', privateKey: pem() }), /MD5.*privateKey/],
    ["signType 'RSA' with md5Key", () => ({ signType: 'RSA', md5Key }), /RSA.*md5Key/],
    ["signType 'RSA2' with md5Key", () => ({ signType: 'RSA2', md5Key }), /RSA2.*md5Key/],
  ]

  test.each(rows)('%s is refused by new OrderSigner, buildOrderStr and signContent', (_label, make, found) => {
    for (const call of [() => new OrderSigner(make()), () => buildOrderStr(params(), make()), () => signContent('x', make())]) {
      const err = thrown(call)
      expectError(err)
      expect(err.code).toBe('ERR_ALIPAYHK_SIGN_TYPE')
      expect(err.message).toMatch(found)
    }
  })

  test.each([
    ['RSA2', 'RSA'],
    ['MD5', 'RSA'],
    ['RSA', 'RSA2'],
    ['RSA', 'MD5'],
    ['RSA2', 'MD5'],
  ])("sign_type '%s' in params with a %s key is refused, with field 'sign_type'", (declared, keyType) => {
    const key = keyType === 'MD5' ? { signType: 'MD5', md5Key } : { signType: keyType, privateKey: pem() }
    const p = params({ sign_type: declared })
    const signer = new OrderSigner(key)
    for (const call of [() => buildOrderStr(p, key), () => signer.buildOrderStr(p), () => signer.preSign(p)]) {
      const err = thrown(call)
      expect(err.code).toBe('ERR_ALIPAYHK_SIGN_TYPE')
      expect(err.field).toBe('sign_type')
      expect(err.message).toContain(declared)
      expect(err.message).toContain(keyType)
    }
  })

  test.each(['rsa', 'RSA256', 'sha1', 'HMAC'])("an unknown sign_type '%s' in params is refused, naming sign_type", (declared) => {
    const err = thrown(() => buildOrderStr(params({ sign_type: declared }), { signType: 'RSA', privateKey: pem() }))
    expect(err.code).toBe('ERR_ALIPAYHK_SIGN_TYPE')
    expect(err.field).toBe('sign_type')
    expect(err.message).toContain('sign_type')
    expect(err.message).toContain(declared)
  })
})

describe('arguments of the wrong type are TypeErrors with ERR_ALIPAYHK_INVALID_ARGUMENT and a field', () => {
  const pem = () => keys[1024].privateKey.export({ type: 'pkcs8', format: 'pem' })
  const rsa = () => ({ signType: 'RSA', privateKey: pem() })
  const rows = [
    ['key is a number', () => buildOrderStr(params(), 42), 'key'],
    ['key is null', () => buildOrderStr(params(), null), 'key'],
    ['key is undefined', () => buildOrderStr(params()), 'key'],
    ['key is an array', () => buildOrderStr(params(), [pem()]), 'key'],
    ['key is a boolean', () => buildOrderStr(params(), true), 'key'],
    ['OrderSigner key is a number', () => new OrderSigner(42), 'key'],
    ['OrderSigner key is null', () => new OrderSigner(null), 'key'],
    ['signContent key is an array', () => signContent('x', []), 'key'],
    ['privateKey is a number', () => buildOrderStr(params(), { signType: 'RSA', privateKey: 42 }), 'key.privateKey'],
    ['privateKey is an object', () => buildOrderStr(params(), { signType: 'RSA2', privateKey: { pem: pem() } }), 'key.privateKey'],
    ['privateKey is missing for RSA', () => new OrderSigner({ signType: 'RSA' }), 'key.privateKey'],
    ['md5Key is a number', () => buildOrderStr(params(), { signType: 'MD5', md5Key: 12345678 }), 'key.md5Key'],
    ['md5Key is missing for MD5', () => new OrderSigner({ signType: 'MD5' }), 'key.md5Key'],
    ['signType is a number', () => new OrderSigner({ signType: 2, privateKey: pem() }), 'key.signType'],
    ['both privateKey and md5Key are given', () => new OrderSigner({ signType: 'RSA', privateKey: pem(), md5Key }), 'key'],
    ['options is a string', () => buildOrderStr(params(), rsa(), 'sortKeys'), 'options'],
    ['options is a number', () => preSignString(params(), 1), 'options'],
    ['options is an array', () => buildOrderStr(params(), rsa(), []), 'options'],
    ['options is a boolean', () => preSignString(params(), true), 'options'],
    ['options.sortKeys is a string', () => buildOrderStr(params(), rsa(), { sortKeys: 'true' }), 'options.sortKeys'],
    ['options.sortKeys is a number', () => preSignString(params(), { sortKeys: 1 }), 'options.sortKeys'],
    ['options.strict is a string', () => preSignString(params(), { strict: 'false' }), 'options.strict'],
    ['params is null', () => buildOrderStr(null, rsa()), 'params'],
    ['params is undefined', () => preSignString(undefined), 'params'],
    ['params is an array', () => buildOrderStr([['service', 'mobile.securitypay.pay']], rsa()), 'params'],
    ['params is a string', () => buildOrderStr('service="mobile.securitypay.pay"', rsa()), 'params'],
    ['params is a number', () => preSignString(42), 'params'],
    ['signer.buildOrderStr params is null', () => new OrderSigner(rsa()).buildOrderStr(null), 'params'],
    ['signer.preSign params is a string', () => new OrderSigner(rsa()).preSign('x'), 'params'],
    ['signContent content is a number', () => signContent(42, rsa()), 'content'],
    ['signer.signContent content is null', () => new OrderSigner(rsa()).signContent(null), 'content'],
    ['signContent content holds a lone surrogate', () => signContent('a\uD800', rsa()), 'content'],
  ]

  test.each(rows)('%s', (_label, call, field) => {
    const err = thrown(call)
    expectTypeError(err)
    expect(err.code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
    expect(err.field).toBe(field)
    expect(err.message).toContain(field)
  })
})

describe('no key material appears in errors or in the signer', () => {
  // The secrets: the RSA key's base64 bodies (PKCS#8 and PKCS#1) and a planted MD5 key marker.
  const MARKER = 'PLANTEDSECRETmarker0123456789XYZ'
  let secrets
  beforeAll(() => {
    const { privateKey } = keys[2048]
    secrets = [
      privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
      privateKey.export({ type: 'pkcs1', format: 'der' }).toString('base64'),
      md5Key,
      MARKER,
    ]
  })

  function leaks(text) {
    return secrets.flatMap((s) => secretSlices(s)).filter((slice) => text.includes(slice))
  }

  function errorTexts(err) {
    return [err.message, String(err.stack), util.inspect(err, { showHidden: true, depth: Infinity }), JSON.stringify(err), String(err)].join('\n')
  }

  const cases = () => {
    const { privateKey, publicKey } = keys[2048]
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' })
    const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' })
    const lines = pkcs8.trim().split('\n')
    const body = pemBody(pkcs8)
    return [
      ['a PEM cut short', () => new OrderSigner({ signType: 'RSA', privateKey: pkcs8.slice(0, 900) })],
      ['a PEM missing lines', () => new OrderSigner({ signType: 'RSA', privateKey: [...lines.slice(0, 8), ...lines.slice(-3)].join('\n') })],
      [
        'a PEM with the marker planted in its body',
        () => new OrderSigner({ signType: 'RSA2', privateKey: pkcs8.replace(lines[5], `${lines[5].slice(0, 10)}!${MARKER}!`) }),
      ],
      ['bare base64 with the marker planted', () => new OrderSigner({ signType: 'RSA2', privateKey: `${body.slice(0, 500)}${MARKER}%%${body.slice(500)}` })],
      ['the base64 body cut in half', () => new OrderSigner({ signType: 'RSA', privateKey: body.slice(0, Math.floor(body.length / 2)) })],
      ['the PKCS#1 PEM under a wrong label', () => new OrderSigner({ signType: 'RSA', privateKey: pkcs1.replace(/RSA PRIVATE KEY/g, 'SECRET STUFF') })],
      ['the PKCS#1 body under the PKCS#8 label', () => buildOrderStr(params(), { signType: 'RSA', privateKey: pkcs1.replace(/RSA PRIVATE KEY/g, 'PRIVATE KEY').slice(0, 700) })],
      ['a plain string key that is the marker', () => buildOrderStr(params(), MARKER)],
      ['the marker as an RSA privateKey', () => buildOrderStr(params(), { signType: 'RSA', privateKey: MARKER })],
      ['the public key', () => new OrderSigner({ signType: 'RSA', privateKey: publicKey.export({ type: 'spki', format: 'pem' }) })],
      ["signType 'rsa2' with the real key", () => new OrderSigner({ signType: 'rsa2', privateKey: pkcs8 })],
      ["signType 'MD5' with the real private key", () => buildOrderStr(params(), { signType: 'MD5', privateKey: pkcs8 })],
      ["signType 'RSA' with the MD5 key", () => buildOrderStr(params(), { signType: 'RSA', md5Key })],
      ['both privateKey and md5Key', () => buildOrderStr(params(), { signType: 'MD5', privateKey: pkcs8, md5Key })],
      ['an MD5 key with a space in it', () => new OrderSigner({ signType: 'MD5', md5Key: `${md5Key.slice(0, 16)} ${md5Key.slice(16)}` })],
      ['an MD5 key with a line break', () => new OrderSigner({ signType: 'MD5', md5Key: `${MARKER}\n` })],
      ['the MD5 key as privateKey', () => new OrderSigner({ signType: 'RSA', privateKey: md5Key })],
      ['a bad param signed with the real key', () => buildOrderStr(params({ total_fee: '0.001' }), { signType: 'RSA2', privateKey: pkcs8 })],
      ['a bad param signed with the MD5 key', () => buildOrderStr(params({ subject: 'a"b' }), { signType: 'MD5', md5Key })],
      ['a sign_type that disagrees with the real key', () => buildOrderStr(params({ sign_type: 'MD5' }), { signType: 'RSA', privateKey: pkcs8 })],
    ]
  }

  test('the planted secrets are found by the leak check itself', () => {
    // Guard against a leak check that can never fire.
    expect(leaks(`xx ${secrets[0].slice(100, 120)} yy`)).not.toHaveLength(0)
    expect(leaks(`${MARKER}`)).not.toHaveLength(0)
    expect(leaks(md5Key)).not.toHaveLength(0)
  })

  test('no error message, stack, util.inspect or JSON of an error holds a 16-character slice of a key', () => {
    for (const [label, call] of cases()) {
      const err = thrown(call)
      expect({ label, isError: util.types.isNativeError(err), code: typeof err.code }).toEqual({ label, isError: true, code: 'string' })
      expect({ label, leaked: leaks(errorTexts(err)) }).toEqual({ label, leaked: [] })
    }
  })

  test('util.inspect, JSON.stringify, String and the own properties of an OrderSigner hold no key material', () => {
    const pkcs8 = keys[2048].privateKey.export({ type: 'pkcs8', format: 'pem' })
    for (const signer of [new OrderSigner({ signType: 'RSA2', privateKey: pkcs8 }), new OrderSigner({ signType: 'MD5', md5Key })]) {
      const texts = [
        util.inspect(signer, { showHidden: true, depth: Infinity, getters: true }),
        JSON.stringify(signer),
        String(signer),
        JSON.stringify(Object.getOwnPropertyNames(signer).map((n) => [n, String(signer[n])])),
        JSON.stringify({ ...signer }),
      ].join('\n')
      expect(leaks(texts)).toEqual([])
    }
  })
})
