// alipayhk-pay/testing, used the way a merchant would: a notification handler written against
// the library, tested with nothing but the kit. The kit's output is also checked on its own
// against node:crypto, so that a wrong signer cannot make a wrong handler pass.
'use strict'

const crypto = require('node:crypto')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')

const { AlipayHK, verifyNotify, isPaid, checkNotifyMatchesOrder } = require('..')
const { TEST_KEYS, TEST_KEY_FILES, TEST_PARTNER, sampleNotification, signNotification, startSimulator } = require('../testing')
const { notifyContent, thrown } = require('./helpers')

const root = path.join(__dirname, '..')
const NOTIFY_FIELDS = [
  'notify_time',
  'notify_type',
  'notify_id',
  'trade_no',
  'out_trade_no',
  'subject',
  'body',
  'total_fee',
  'currency',
  'trade_status',
  'buyer_id',
  'seller_id',
  'gmt_create',
  'gmt_payment',
]
const BEIJING_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/

// --- the merchant's code under test ---------------------------------------------------------------

/**
 * A notification handler as a merchant writes it: verify, find the order, hold the notification
 * against it, record a payment once per order, answer Alipay `success` or `fail`.
 */
function createNotifyHandler({ alipay, orders, payments }) {
  return function handleNotify(rawBody) {
    const result = alipay.verifyNotify(rawBody)
    if (!result.ok) return 'fail'
    const n = result.notification
    const order = orders.get(n.outTradeNo)
    if (!order) return 'fail'
    const mismatches = checkNotifyMatchesOrder(n, { outTradeNo: order.id, totalFee: order.totalFee, currency: order.currency, sellerId: TEST_PARTNER })
    if (mismatches.length) return 'fail'
    if (isPaid(n) && !payments.has(order.id)) payments.set(order.id, { tradeNo: n.get('trade_no'), notifyId: n.get('notify_id') })
    return 'success'
  }
}

function merchant() {
  const alipay = new AlipayHK({
    partner: TEST_PARTNER,
    signType: 'RSA2',
    privateKey: TEST_KEYS.merchantPrivateKey,
    alipayPublicKey: TEST_KEYS.alipayPublicKey,
  })
  const orders = new Map([['ORDER-1', { id: 'ORDER-1', totalFee: '28.00', currency: 'HKD' }]])
  const payments = new Map()
  return { alipay, orders, payments, handleNotify: createNotifyHandler({ alipay, orders, payments }) }
}

// --- the kit on its own ---------------------------------------------------------------------------

describe('TEST_KEYS', () => {
  test('are the files of examples/test-keys, and each private key matches its public key', () => {
    for (const name of Object.keys(TEST_KEY_FILES)) expect(TEST_KEYS[name]).toBe(fs.readFileSync(TEST_KEY_FILES[name], 'utf8'))
    const spki = (pem) => crypto.createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64')
    expect(spki(TEST_KEYS.merchantPrivateKey)).toBe(spki(TEST_KEYS.merchantPublicKey))
    expect(spki(TEST_KEYS.alipayPrivateKey)).toBe(spki(TEST_KEYS.alipayPublicKey))
    expect(spki(TEST_KEYS.alipayPublicKey)).not.toBe(spki(TEST_KEYS.merchantPublicKey))
    expect(TEST_PARTNER).toMatch(/^2088\d{12}$/)
  })
})

describe('sampleNotification', () => {
  test('has the fields of a paid order\'s notification, TRADE_SUCCESS, Beijing times, and a fresh notify_id each call', () => {
    const a = sampleNotification()
    const b = sampleNotification()
    expect(Object.keys(a)).toEqual(NOTIFY_FIELDS)
    expect(a).toMatchObject({ notify_type: 'trade_status_sync', trade_status: 'TRADE_SUCCESS', total_fee: '12.50', currency: 'HKD', seller_id: TEST_PARTNER })
    for (const v of Object.values(a)) expect(typeof v).toBe('string')
    for (const field of ['notify_time', 'gmt_create', 'gmt_payment']) expect(a[field]).toMatch(BEIJING_TIME)
    expect(a.trade_no).toMatch(/^\d{28}$/)
    expect(a.buyer_id).toMatch(/^2088\d{12}$/)
    expect(a.notify_id).toMatch(/^[0-9a-f]{32}$/)
    expect(b.notify_id).not.toBe(a.notify_id)
    expect(b.trade_no).not.toBe(a.trade_no)
    // Beijing time is UTC+8.
    const beijingNow = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 16).replace('T', ' ')
    const paid = a.gmt_payment.slice(0, 16)
    expect([beijingNow, new Date(Date.now() + 8 * 3600 * 1000 - 60 * 1000).toISOString().slice(0, 16).replace('T', ' ')]).toContain(paid)
  })

  test('overrides replace and add fields; undefined leaves one out; a value that is not a string is refused', () => {
    const n = sampleNotification({ out_trade_no: 'ORDER-1', total_fee: '28.00', body: undefined, rmb_fee: '25.00' })
    expect(n).toMatchObject({ out_trade_no: 'ORDER-1', total_fee: '28.00', rmb_fee: '25.00' })
    expect('body' in n).toBe(false)
    const err = thrown(() => sampleNotification({ total_fee: 28 }))
    expect(err).toBeInstanceOf(TypeError)
    expect(err).toMatchObject({ code: 'ERR_ALIPAYHK_INVALID_ARGUMENT', field: 'total_fee' })
    expect(err.message).toMatch(/'12\.50', not 12\.5/)
  })
})

describe('signNotification', () => {
  // Checked with node:crypto and the sorting rule written out in helpers.js, not with the addon.
  function independentlyVerified(body, hash, publicKey) {
    const fields = [...new URLSearchParams(body)]
    const sign = fields.find(([k]) => k === 'sign')[1]
    return crypto.verify(hash, Buffer.from(notifyContent(fields), 'utf8'), publicKey, Buffer.from(sign, 'base64'))
  }

  test('RSA2 and RSA: a form body signed with the TEST Alipay key over the sorted fields, which node:crypto and the library verify', () => {
    const params = sampleNotification()
    for (const [signType, hash] of [
      ['RSA2', 'sha256'],
      ['RSA', 'sha1'],
    ]) {
      const body = signNotification(params, { signType })
      const decoded = Object.fromEntries(new URLSearchParams(body))
      expect(decoded).toEqual({ ...params, sign: expect.any(String), sign_type: signType })
      expect(independentlyVerified(body, hash, TEST_KEYS.alipayPublicKey)).toBe(true)
      expect(independentlyVerified(body, hash, TEST_KEYS.merchantPublicKey)).toBe(false)
      expect(verifyNotify(body, { alipayPublicKey: TEST_KEYS.alipayPublicKey })).toMatchObject({ ok: true, signType })
    }
  })

  test('MD5 with md5Key; another private key plays a forger', () => {
    const md5Key = 'k3j5h6g7f8d9s0a1q2w3e4r5t6y7u8i9'
    const params = sampleNotification()
    const body = signNotification(params, { signType: 'MD5', md5Key })
    const fields = [...new URLSearchParams(body)]
    const expected = crypto.createHash('md5').update(notifyContent(fields) + md5Key, 'utf8').digest('hex')
    expect(Object.fromEntries(fields).sign).toBe(expected)
    expect(verifyNotify(body, { md5Key }).ok).toBe(true)

    const forged = signNotification(params, { signType: 'RSA2', privateKey: TEST_KEYS.merchantPrivateKey })
    expect(verifyNotify(forged, { alipayPublicKey: TEST_KEYS.alipayPublicKey })).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' })
  })

  test('the sign type is never guessed; sign and sign_type in params and non-string values are refused', () => {
    const params = sampleNotification()
    for (const [key, field] of [
      [{}, 'signType'],
      [{ signType: 'SHA256' }, 'signType'],
      [undefined, 'key'],
      [{ signType: 'MD5' }, 'md5Key'],
    ]) {
      const err = thrown(() => signNotification(params, key))
      expect(err).toMatchObject({ name: 'TypeError', code: 'ERR_ALIPAYHK_INVALID_ARGUMENT', field })
    }
    expect(thrown(() => signNotification(params, {})).message).toMatch(/'RSA2' or 'RSA' \(as set in the AlipayHK merchant portal\)/)
    expect(thrown(() => signNotification({ ...params, sign: 'x' }, { signType: 'RSA2' })).field).toBe('sign')
    expect(thrown(() => signNotification({ ...params, sign_type: 'RSA2' }, { signType: 'RSA2' })).field).toBe('sign_type')
    expect(thrown(() => signNotification({ ...params, total_fee: 1 }, { signType: 'RSA2' })).field).toBe('total_fee')
  })
})

// --- a merchant's handler, tested with the kit ---------------------------------------------------

describe('a merchant\'s notification handler, tested with the kit', () => {
  test('a valid notification is acknowledged and records the payment once, however often it arrives', () => {
    const m = merchant()
    const params = sampleNotification({ out_trade_no: 'ORDER-1', total_fee: '28.00' })
    const body = signNotification(params, { signType: 'RSA2' })
    expect(m.handleNotify(body)).toBe('success')
    expect(m.handleNotify(Buffer.from(body))).toBe('success')
    expect([...m.payments]).toEqual([['ORDER-1', { tradeNo: params.trade_no, notifyId: params.notify_id }]])
    // Cross-border accounts are sent TRADE_FINISHED.
    const finished = merchant()
    expect(finished.handleNotify(signNotification(sampleNotification({ out_trade_no: 'ORDER-1', total_fee: '28.00', trade_status: 'TRADE_FINISHED' }), { signType: 'RSA2' }))).toBe('success')
    expect(finished.payments.size).toBe(1)
  })

  test('a tampered notification is refused and records nothing', () => {
    const m = merchant()
    const body = signNotification(sampleNotification({ out_trade_no: 'ORDER-1', total_fee: '28.00' }), { signType: 'RSA2' })
    const tampered = body.replace('trade_status=TRADE_SUCCESS', 'trade_status=TRADE_FINISHED')
    expect(tampered).not.toBe(body)
    expect(m.handleNotify(tampered)).toBe('fail')
    expect(m.handleNotify(body.replace(/&sign=[^&]+/, ''))).toBe('fail')
    // A body signed by anyone but Alipay: here the merchant's own key.
    expect(m.handleNotify(signNotification(sampleNotification({ out_trade_no: 'ORDER-1', total_fee: '28.00' }), { signType: 'RSA2', privateKey: TEST_KEYS.merchantPrivateKey }))).toBe('fail')
    expect(m.payments.size).toBe(0)
  })

  test('a genuine notification that does not match the order (amount, currency, unknown order) is refused', () => {
    const m = merchant()
    for (const overrides of [{ total_fee: '2.80' }, { currency: 'USD' }, { out_trade_no: 'ORDER-999' }, { seller_id: '2088000000000000' }]) {
      const body = signNotification(sampleNotification({ out_trade_no: 'ORDER-1', total_fee: '28.00', ...overrides }), { signType: 'RSA2' })
      expect(verifyNotify(body, { alipayPublicKey: TEST_KEYS.alipayPublicKey }).ok).toBe(true)
      expect(m.handleNotify(body)).toBe('fail')
    }
    expect(m.payments.size).toBe(0)
  })

  test('an unpaid notification (WAIT_BUYER_PAY, TRADE_CLOSED) is acknowledged and records no payment', () => {
    const m = merchant()
    for (const trade_status of ['WAIT_BUYER_PAY', 'TRADE_CLOSED']) {
      expect(m.handleNotify(signNotification(sampleNotification({ out_trade_no: 'ORDER-1', total_fee: '28.00', trade_status }), { signType: 'RSA2' }))).toBe('success')
    }
    expect(m.payments.size).toBe(0)
  })
})

describe('the same handler behind HTTP, paid through the simulator', () => {
  let sim
  let server
  let notifyUrl
  const m = merchant()

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => res.end(m.handleNotify(Buffer.concat(chunks))))
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    notifyUrl = `http://127.0.0.1:${server.address().port}/alipay/notify`
    sim = await startSimulator({ retryDelaysMs: [50, 100] })
  })

  afterAll(async () => {
    await sim.close()
    await new Promise((resolve) => server.close(resolve))
  })

  test('the simulator signs with the TEST Alipay key by default', () => {
    const spki = (pem) => crypto.createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64')
    expect(spki(sim.alipayPublicKey)).toBe(spki(TEST_KEYS.alipayPublicKey))
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  test('an order paid in the simulator is notified, acknowledged and recorded', async () => {
    const orderStr = m.alipay.buildOrderStr({ outTradeNo: 'ORDER-1', subject: '雞蛋仔', totalFee: '28.00', notifyUrl })
    const paid = await sim.pay(orderStr)
    expect(paid.status).toBe(200)
    expect(paid.body).toMatch(/^resultStatus=\{9000\}/)
    const [delivery] = await sim.waitForNotifications(1, { outTradeNo: 'ORDER-1', timeoutMs: 5000 })
    expect(delivery).toMatchObject({ status: 200, response: 'success', acknowledged: true })
    expect(m.payments.get('ORDER-1')).toEqual({ tradeNo: paid.tradeNo, notifyId: paid.notifyId })
  })

  test('a tampered or forged notification sent to the handler is answered fail', async () => {
    const params = sampleNotification({ out_trade_no: 'ORDER-1', total_fee: '28.00' })
    const genuine = signNotification(params, { signType: 'RSA2' })
    const tampered = await sim.sendNotification({ notifyUrl, body: genuine.replace('total_fee=28.00', 'total_fee=0.28') })
    expect(tampered).toMatchObject({ status: 200, response: 'fail', acknowledged: false })
    const forged = await sim.sendNotification({ notifyUrl, params, signType: 'RSA2', signWith: TEST_KEYS.merchantPrivateKey })
    expect(forged).toMatchObject({ response: 'fail' })
    const again = await sim.sendNotification({ notifyUrl, body: genuine })
    expect(again).toMatchObject({ response: 'success' })
  })
})

describe('README: "Testing your notification handler"', () => {
  test('its example runs as written (node --test) and both of its tests pass', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
    const start = readme.indexOf('### Testing your notification handler\n')
    expect(start).toBeGreaterThan(0)
    const section = readme.slice(start, readme.indexOf('\n#', start + 10))
    const example = /```js\n([\s\S]*?)```/.exec(section)[1]
    // The package's names, resolved to this checkout.
    const code = example
      .replace("require('alipayhk-pay/testing')", `require(${JSON.stringify(path.join(root, 'testing'))})`)
      .replace("require('alipayhk-pay')", `require(${JSON.stringify(root)})`)
    expect(code).not.toMatch(/require\('alipayhk-pay/)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-kit-readme-'))
    try {
      const file = path.join(dir, 'notify.test.js')
      fs.writeFileSync(file, code)
      const r = spawnSync(process.execPath, ['--test', file], { encoding: 'utf8', timeout: 60000 })
      expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
      expect(r.stdout).toMatch(/^# pass 2$/m)
      expect(r.stdout).toMatch(/^# fail 0$/m)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('types: testing/index.d.ts', () => {
  let scratch
  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-kit-types-'))
  })
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

  function typeCheck(source) {
    fs.writeFileSync(path.join(scratch, 'kit.ts'), source)
    fs.writeFileSync(
      path.join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          // As most projects set it; testing/index.d.ts itself is checked in full by test:types.
          skipLibCheck: true,
          target: 'ES2020',
          module: 'commonjs',
          moduleResolution: 'node',
          typeRoots: [path.join(root, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['kit.ts'],
      }),
    )
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', scratch], { cwd: scratch, encoding: 'utf8' })
      return ''
    } catch (err) {
      return String(err.stdout) || String(err)
    }
  }

  const kit = JSON.stringify(path.join(root, 'testing'))
  const good = `import { TEST_KEYS, TEST_KEY_FILES, TEST_PARTNER, sampleNotification, signNotification, startSimulator, type Simulator } from ${kit}
    async function main(): Promise<void> {
      const params = sampleNotification({ out_trade_no: 'A1', total_fee: '28.00', body: undefined })
      const outTradeNo: string = params.out_trade_no
      const body: string = signNotification(params, { signType: 'RSA2' })
      const md5: string = signNotification(params, { signType: 'MD5', md5Key: 'k' })
      const sim: Simulator = await startSimulator({ retryDelaysMs: [50], partner: TEST_PARTNER })
      const d = await sim.sendNotification({ notifyUrl: sim.url, params, signType: 'RSA2' })
      const ok: boolean = d.acknowledged
      const files: string = TEST_KEY_FILES.alipayPublicKey + TEST_KEYS.alipayPublicKey
      await sim.close()
      console.log(outTradeNo, body, md5, ok, files)
    }
    main()
  `

  test('a merchant\'s TypeScript test compiles under strict; misuses do not', () => {
    const misuses = [
      ['sampleNotification({ total_fee: 28 })', 'TS2322'],
      ['signNotification(sampleNotification(), {})', 'TS2345'],
      ["signNotification(sampleNotification(), { signType: 'MD5' })", 'TS2345'],
      ["signNotification(sampleNotification(), { signType: 'SHA256' })", 'TS2322'],
      ['startSimulator({ retryDelaysMs: 50 })', 'TS2322'],
      ["TEST_KEYS.alipayPublicKey = 'x'", 'TS2540'],
    ]
    // One compiler run: each misuse on its own line, each line must carry its own error, and
    // those are the only errors (the merchant's test above them compiles clean).
    const first = good.split('\n').length + 1
    const out = typeCheck(good + '\n' + misuses.map(([m]) => m).join('\n') + '\n')
    misuses.forEach(([misuse, code], i) => {
      expect({ misuse, errors: out.match(new RegExp(`kit\\.ts\\(${first + i},\\d+\\): error (TS\\d+)`, 'g')) }).toEqual({ misuse, errors: [expect.stringContaining(code)] })
    })
    expect(out.match(/error TS\d+/g)).toHaveLength(misuses.length)
  })
})
