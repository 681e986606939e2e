// Signing, as docs/protocol.md §3 specifies it: the orderStr is the pre-sign string, then
// `&sign="` + encodeURIComponent(base64 signature) + `"&sign_type="` + type + `"`.
// Every expected value here is computed independently (node:crypto, the openssl CLI), never
// hard-coded: PKCS#1 v1.5 is deterministic, so a correct signer matches them byte for byte.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { buildOrderStr, preSignString, signContent, OrderSigner } = require('..')
const { referencePreSign, splitOrderStr, mulberry32, sampleParams, HASH } = require('./helpers')

// --- independent reference implementation -------------------------------------------------

function referenceRsaSign(signType, preSign, privateKey) {
  return crypto.sign(HASH[signType], Buffer.from(preSign, 'utf8'), privateKey).toString('base64')
}

function referenceMd5Sign(preSign, md5Key) {
  return crypto.createHash('md5').update(preSign + md5Key, 'utf8').digest('hex')
}

function referenceOrderStr(preSign, sign, signType) {
  return `${preSign}&sign="${encodeURIComponent(sign)}"&sign_type="${signType}"`
}

// --- fixtures -------------------------------------------------------------------------------

/** The documented sample order with `subject`, an ASCII body, 0.10 and an https notify_url. */
function order(subject, extra = {}) {
  return sampleParams({
    subject,
    body: 'Merchandise description',
    total_fee: '0.10',
    notify_url: 'https://shop.example.com/alipay/notify',
    ...extra,
  })
}

const SUBJECTS = [
  ['ASCII', 'Merchandise subject'],
  ['traditional Chinese', '商品名稱'],
  ['simplified Chinese', '商品名称'],
]

const keys = {}
let md5Key

beforeAll(() => {
  for (const bits of [1024, 2048]) {
    keys[bits] = crypto.generateKeyPairSync('rsa', { modulusLength: bits })
  }
  md5Key = crypto.randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 32)
})

function pkcs8Pem(bits) {
  return keys[bits].privateKey.export({ type: 'pkcs8', format: 'pem' })
}

// --- random cases from a tiny seeded PRNG (mulberry32), so a failing one can be replayed --------

const SEED = Number(process.env.ALIPAYHK_TEST_SEED || Date.now() % 2 ** 31)

function randomTools(seed) {
  const rnd = mulberry32(seed)
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = (xs) => xs[int(0, xs.length - 1)]
  const printableAscii = []
  for (let c = 0x20; c < 0x7f; c++) {
    if (c !== 0x22 && c !== 0x26) printableAscii.push(String.fromCharCode(c)) // no `"`, no `&`
  }
  const pools = [
    printableAscii,
    [' ', ' ', ' '],
    [...'商品名稱港式奶茶凍檸檬茶點心餐廳飲品購買訂單'],
    [...'商品名称港式奶茶冻柠檬茶点心餐厅饮品购买订单'],
    ['😀', '🧧', '🍵', '🇭🇰', '👍🏽', '🥟', '\u{1F600}', 'é', 'ß', '€', '\uFFFD', '\u00A0'],
  ]
  const subject = () => {
    const n = int(1, 40)
    let s = ''
    for (let i = 0; i < n; i++) s += pick(pick(pools))
    return s
  }
  const tradeChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'
  const tradeNo = () => {
    const n = int(1, 64)
    let s = ''
    for (let i = 0; i < n; i++) s += tradeChars[int(0, tradeChars.length - 1)]
    return s
  }
  // A decimal string with 0, 1 or 2 fraction digits, from 0.01 to 1000000.00.
  const amount = () => {
    const decimals = int(0, 2)
    const cents = int(1, 100000000)
    if (decimals === 0) return String(Math.max(1, Math.floor(cents / 100)))
    if (decimals === 1) {
      const dimes = Math.max(1, Math.floor(cents / 10))
      return `${Math.floor(dimes / 10)}.${dimes % 10}`
    }
    return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
  }
  const shuffle = (xs) => {
    const a = [...xs]
    for (let i = a.length - 1; i > 0; i--) {
      const j = int(0, i)
      ;[a[i], a[j]] = [a[j], a[i]]
    }
    return a
  }
  const randomOrder = () => {
    const p = order(subject(), { out_trade_no: tradeNo() })
    delete p.total_fee
    p[rnd() < 0.8 ? 'total_fee' : 'rmb_fee'] = amount()
    if (rnd() < 0.5) p.body = subject()
    else delete p.body
    if (rnd() < 0.3) delete p.payment_inst
    if (rnd() < 0.3) delete p.it_b_pay
    else p.it_b_pay = pick(['1m', '30m', '2h', '15d', '1c', '90m'])
    if (rnd() < 0.3) delete p.return_url
    // Any order of the caller's is kept as given.
    return Object.fromEntries(shuffle(Object.entries(p)))
  }
  return { rnd, int, pick, randomOrder }
}

// ---------------------------------------------------------------------------------------------

describe('RSA signs SHA1withRSA and RSA2 signs SHA256withRSA (PKCS#1 v1.5) over the UTF-8 pre-sign string', () => {
  const cases = []
  for (const signType of ['RSA', 'RSA2']) {
    for (const bits of [1024, 2048]) {
      for (const [label, subject] of SUBJECTS) cases.push([signType, bits, label, subject])
    }
  }

  test.each(cases)(
    '%s, %i-bit key, %s subject: orderStr equals node:crypto\'s pre-sign + &sign="encodeURIComponent(sig)" + &sign_type, byte for byte',
    (signType, bits, _label, subject) => {
      const params = order(subject)
      const preSign = referencePreSign(params)
      const expected = referenceOrderStr(preSign, referenceRsaSign(signType, preSign, keys[bits].privateKey), signType)
      const got = buildOrderStr(params, { signType, privateKey: pkcs8Pem(bits) })
      expect(got).toBe(expected)
      expect(Buffer.from(got, 'utf8').equals(Buffer.from(expected, 'utf8'))).toBe(true)
    },
  )

  test.each(cases)(
    '%s, %i-bit key, %s subject: the signed part equals preSignString(params) and the signature verifies with the public key',
    (signType, bits, _label, subject) => {
      const params = order(subject)
      const got = splitOrderStr(buildOrderStr(params, { signType, privateKey: pkcs8Pem(bits) }))
      expect(got.preSign).toBe(preSignString(params))
      expect(got.preSign).toBe(referencePreSign(params))
      expect(got.signType).toBe(signType)
      const ok = crypto.verify(HASH[signType], Buffer.from(got.preSign, 'utf8'), keys[bits].publicKey, Buffer.from(got.sign, 'base64'))
      expect(ok).toBe(true)
    },
  )

  test.each([
    ['RSA', 1024],
    ['RSA', 2048],
    ['RSA2', 1024],
    ['RSA2', 2048],
  ])('%s with a %i-bit key does not verify under the other hash or over other bytes', (signType, bits) => {
    const params = order('商品名稱')
    const { preSign, sign } = splitOrderStr(buildOrderStr(params, { signType, privateKey: pkcs8Pem(bits) }))
    const other = signType === 'RSA' ? 'sha256' : 'sha1'
    const sig = Buffer.from(sign, 'base64')
    expect(crypto.verify(other, Buffer.from(preSign, 'utf8'), keys[bits].publicKey, sig)).toBe(false)
    // The subject in the signed bytes is UTF-8, not the ASCII placeholder of the seed.
    const seedBytes = Buffer.from(preSign.replace('商品名稱', 'Merchandise subject'), 'utf8')
    expect(crypto.verify(HASH[signType], seedBytes, keys[bits].publicKey, sig)).toBe(false)
  })

  test.each([
    [1024, 172],
    [2048, 344],
  ])('a %i-bit signature is standard padded base64 of %i characters', (bits, length) => {
    for (const signType of ['RSA', 'RSA2']) {
      const { sign } = splitOrderStr(buildOrderStr(order('x'), { signType, privateKey: pkcs8Pem(bits) }))
      expect(sign).toHaveLength(length)
      expect(sign).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
      expect(Buffer.from(sign, 'base64').toString('base64')).toBe(sign)
    }
  })

  test('signing the same order twice gives the same orderStr (PKCS#1 v1.5 is deterministic)', () => {
    const key = { signType: 'RSA2', privateKey: pkcs8Pem(2048) }
    const params = order('商品名称 😀')
    expect(buildOrderStr(params, key)).toBe(buildOrderStr(params, key))
  })
})

describe('MD5 signs with lowercase hex MD5(pre-sign string + key)', () => {
  test.each(SUBJECTS)('%s subject: orderStr equals the reference byte for byte', (_label, subject) => {
    const params = order(subject)
    const preSign = referencePreSign(params)
    const expectedSign = crypto.createHash('md5').update(preSign + md5Key, 'utf8').digest('hex')
    const got = buildOrderStr(params, { signType: 'MD5', md5Key })
    expect(got).toBe(`${preSign}&sign="${expectedSign}"&sign_type="MD5"`)
    expect(splitOrderStr(got).preSign).toBe(preSignString(params))
  })

  test('an MD5 signature is 32 lowercase hex digits and depends on the key', () => {
    const params = order('商品名稱')
    const a = splitOrderStr(buildOrderStr(params, { signType: 'MD5', md5Key })).sign
    const b = splitOrderStr(buildOrderStr(params, { signType: 'MD5', md5Key: md5Key.slice(1) + 'z' })).sign
    expect(a).toMatch(/^[0-9a-f]{32}$/)
    expect(b).toMatch(/^[0-9a-f]{32}$/)
    expect(a).not.toBe(b)
  })
})

describe('only the signature is URL-encoded; values stay raw UTF-8', () => {
  test('a subject with + / = % and Chinese appears verbatim while the signature has no raw + / =', () => {
    const subject = '1+1=2 / 100% 港式奶茶 a%2Bb'
    const params = order(subject)
    const key = keys[1024].privateKey
    // Find an order whose signature contains at least one character that must be encoded.
    let got
    let sign
    for (let i = 0; i < 50; i++) {
      params.out_trade_no = `URLENC${i}`
      got = buildOrderStr(params, { signType: 'RSA', privateKey: pkcs8Pem(1024) })
      sign = referenceRsaSign('RSA', referencePreSign(params), key)
      if (/[+/=]/.test(sign)) break
    }
    expect(sign).toMatch(/[+/=]/)
    expect(got).toContain(`&subject="${subject}"&`)
    const { encodedSign } = splitOrderStr(got)
    expect(encodedSign).not.toMatch(/[+/=]/)
    expect(encodedSign).toBe(encodeURIComponent(sign))
    expect(encodedSign).toBe(sign.replace(/\+/g, '%2B').replace(/\//g, '%2F').replace(/=/g, '%3D'))
  })
})

describe('signContent signs any text the same way the orderStr is signed', () => {
  test.each([
    ['RSA', 1024],
    ['RSA', 2048],
    ['RSA2', 1024],
    ['RSA2', 2048],
  ])('%s, %i-bit key: signContent(text) is node:crypto\'s base64, not URL-encoded', (signType, bits) => {
    for (const text of ['', 'a', 'success="true"', '商品名稱&商品名称 😀', 'x'.repeat(10000)]) {
      const expected = referenceRsaSign(signType, text, keys[bits].privateKey)
      expect(signContent(text, { signType, privateKey: pkcs8Pem(bits) })).toBe(expected)
    }
  })

  test('MD5: signContent(text) is md5(text + key) in lowercase hex', () => {
    for (const text of ['', 'a', '商品名稱 😀']) {
      expect(signContent(text, { signType: 'MD5', md5Key })).toBe(referenceMd5Sign(text, md5Key))
    }
  })
})

describe('randomized AlipayHK orders agree with node:crypto', () => {
  // A failure shows the seed; replay it with ALIPAYHK_TEST_SEED=<seed>.
  test('each of 200 random valid orders (RSA, RSA2, MD5; random key order, sortKeys on and off) equals the node:crypto orderStr', () => {
    const { int, pick, randomOrder } = randomTools(SEED)
    const signers = {
      RSA_1024: { signType: 'RSA', privateKey: pkcs8Pem(1024), key: keys[1024] },
      RSA_2048: { signType: 'RSA', privateKey: pkcs8Pem(2048), key: keys[2048] },
      RSA2_1024: { signType: 'RSA2', privateKey: pkcs8Pem(1024), key: keys[1024] },
      RSA2_2048: { signType: 'RSA2', privateKey: pkcs8Pem(2048), key: keys[2048] },
      MD5: { signType: 'MD5', md5Key },
    }
    const counts = { RSA: 0, RSA2: 0, MD5: 0 }
    for (let i = 0; i < 200; i++) {
      const params = randomOrder()
      const which = pick(Object.keys(signers))
      const s = signers[which]
      const sortKeys = int(0, 3) === 0
      const options = { sortKeys }
      const preSign = referencePreSign(params, options)
      let sign
      let arg
      if (s.signType === 'MD5') {
        sign = referenceMd5Sign(preSign, md5Key)
        arg = { signType: 'MD5', md5Key }
      } else {
        sign = referenceRsaSign(s.signType, preSign, s.key.privateKey)
        arg = { signType: s.signType, privateKey: s.privateKey }
      }
      const got = buildOrderStr(params, arg, options)
      // The seed, index and params are in the compared object so a failure shows them.
      expect({ seed: SEED, i, which, params, got }).toEqual({
        seed: SEED,
        i,
        which,
        params,
        got: referenceOrderStr(preSign, sign, s.signType),
      })
      expect({ i, preSign: preSignString(params, options) }).toEqual({ i, preSign })
      if (s.signType !== 'MD5') {
        const ok = crypto.verify(HASH[s.signType], Buffer.from(preSign, 'utf8'), s.key.publicKey, Buffer.from(sign, 'base64'))
        expect({ i, ok }).toEqual({ i, ok: true })
      }
      counts[s.signType]++
    }
    // All three sign types were exercised.
    expect(counts.RSA).toBeGreaterThan(0)
    expect(counts.RSA2).toBeGreaterThan(0)
    expect(counts.MD5).toBeGreaterThan(0)
  })
})

describe('the openssl CLI agrees with every signature', () => {
  let dir
  const keyFile = {}

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-pay-openssl-'))
    for (const bits of [1024, 2048]) {
      keyFile[bits] = path.join(dir, `key${bits}.pem`)
      fs.writeFileSync(keyFile[bits], pkcs8Pem(bits), { mode: 0o600 })
    }
  })

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  function opensslSign(digest, bits, text, i) {
    const file = path.join(dir, `presign-${digest}-${bits}-${i}.txt`)
    fs.writeFileSync(file, Buffer.from(text, 'utf8'))
    return execFileSync('openssl', ['dgst', `-${digest}`, '-sign', keyFile[bits], file]).toString('base64')
  }

  function opensslMd5(text, i) {
    const file = path.join(dir, `presign-md5-${i}.txt`)
    fs.writeFileSync(file, Buffer.from(text, 'utf8'))
    const out = execFileSync('openssl', ['dgst', '-md5', '-r', file], { encoding: 'utf8' })
    const m = /^([0-9a-f]{32})\b/.exec(out.trim())
    if (!m) throw new Error(`unexpected openssl output: ${out}`)
    return m[1]
  }

  test.each([
    ['RSA', 'sha1', 1024],
    ['RSA', 'sha1', 2048],
    ['RSA2', 'sha256', 1024],
    ['RSA2', 'sha256', 2048],
  ])('%s (openssl dgst -%s -sign, %i-bit key): 10 random orders give the same base64 signature', (signType, digest, bits) => {
    const { randomOrder } = randomTools(SEED + bits + signType.length)
    const signer = new OrderSigner({ signType, privateKey: pkcs8Pem(bits) })
    for (let i = 0; i < 10; i++) {
      const params = randomOrder()
      const orderStr = buildOrderStr(params, signer)
      const { preSign, sign } = splitOrderStr(orderStr)
      expect(preSign).toBe(referencePreSign(params))
      const theirs = opensslSign(digest, bits, preSign, i)
      expect({ seed: SEED, i, sign }).toEqual({ seed: SEED, i, sign: theirs })
      expect(orderStr).toBe(referenceOrderStr(preSign, theirs, signType))
    }
  })

  test('MD5 (openssl dgst -md5 over pre-sign + key): 10 random orders give the same hex', () => {
    const { randomOrder } = randomTools(SEED + 5)
    for (let i = 0; i < 10; i++) {
      const params = randomOrder()
      const orderStr = buildOrderStr(params, { signType: 'MD5', md5Key })
      const { preSign, sign } = splitOrderStr(orderStr)
      expect(preSign).toBe(referencePreSign(params))
      expect({ seed: SEED, i, sign }).toEqual({ seed: SEED, i, sign: opensslMd5(preSign + md5Key, i) })
    }
  })
})

// Strings up to about 500 bytes of UTF-8 are read in one call into a fixed buffer; longer
// ones are measured and read again. Text goes back to JavaScript as Latin-1 when it is ASCII
// and as UTF-16 otherwise. Every length around that edge, in every width of character, must
// come back exactly as signed.
describe('text of every length around the read buffer crosses intact, in and out', () => {
  const WIDTHS = [
    ['1-byte', 'a'],
    ['2-byte', 'é'],
    ['3-byte', '中'],
    ['4-byte (a surrogate pair)', '😀'],
    ['a real U+FFFD', '\uFFFD'],
  ]
  test.each(WIDTHS)('%s characters, 480 to 540 bytes of UTF-8', (_label, ch) => {
    const width = Buffer.byteLength(ch)
    for (let bytes = 480; bytes <= 540; bytes++) {
      const fill = 'x'.repeat(bytes % width) + ch.repeat(Math.floor(bytes / width))
      const params = { ...order('ok'), body: fill.slice(0, 400), extra_info: fill }
      const preSign = referencePreSign(params)
      expect(preSignString(params, { strict: false })).toBe(preSign)
      expect(buildOrderStr(params, { signType: 'MD5', md5Key }, { strict: false })).toBe(
        referenceOrderStr(preSign, referenceMd5Sign(preSign, md5Key), 'MD5'),
      )
    }
  })

  test('a lone surrogate past the buffer is still caught, not signed as U+FFFD', () => {
    for (const at of [100, 505, 520, 2000]) {
      const value = 'a'.repeat(at) + '\uD800' + 'b'
      let err
      try {
        buildOrderStr({ ...order('ok'), extra_info: value }, { signType: 'MD5', md5Key }, { strict: false })
      } catch (e) {
        err = e
      }
      expect(err.code).toBe('ERR_ALIPAYHK_INVALID_PARAM')
      expect(err.field).toBe('extra_info')
      expect(err.message).toMatch(/lone UTF-16 surrogate/)
    }
  })
})
