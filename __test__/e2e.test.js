// End to end over loopback: the Alipay simulator (simulator/, which checks with node:crypto on
// its own) against the example merchant server (examples/merchant-server.js, which uses the addon).
'use strict'

const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const { OrderSigner, parseOrderStr, verifyOrderStr, verifyTradePayResult, verifyNotify } = require('..')
const { startSimulator, notifySignContent } = require('../simulator')
const { startMerchantServer } = require('../examples/merchant-server')

jest.setTimeout(30000)

const root = path.join(__dirname, '..')
const KEYS = path.join(root, 'examples', 'test-keys')
const readKey = (name) => fs.readFileSync(path.join(KEYS, name), 'utf8')
const MERCHANT_PRIVATE = readKey('merchant_private_key.TEST-ONLY.pem')
const MERCHANT_PUBLIC = readKey('merchant_public_key.TEST-ONLY.pem')
const ALIPAY_PRIVATE = readKey('alipay_private_key.TEST-ONLY.pem')
const ALIPAY_PUBLIC = readKey('alipay_public_key.TEST-ONLY.pem')
const PARTNER = '2088101568358171'
const MD5_KEY = 'k3j5h6g7f8d9s0a1q2w3e4r5t6y7u8i9'

const SEED_ORDER_STR = (() => {
  const seed = fs.readFileSync(path.join(__dirname, 'fixtures', 'alipayhk-tradepay-integration-flow.txt'), 'utf8') // a copy of ../shared/seed/
  return /var orderStr = "(.*)";/.exec(seed)[1].replace(/\\"/g, '"')
})()

const tempDirs = []
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-e2e-'))
  tempDirs.push(dir)
  return dir
}

// A fresh connection per request, so no socket outlives the servers.
function request(method, url, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
    const headers = payload ? { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'content-length': payload.length } : {}
    const req = http.request(url, { method, agent: false, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode, text, json: () => JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

async function createOrder(merchant, order = {}) {
  const res = await request('POST', `${merchant.url}/orders`, { subject: '雞蛋仔 Egg waffle', totalFee: '25.00', ...order })
  expect(res.status).toBe(201)
  return res.json()
}

async function orderStatus(merchant, outTradeNo) {
  const res = await request('GET', `${merchant.url}/orders/${encodeURIComponent(outTradeNo)}`)
  expect(res.status).toBe(200)
  return res.json().status
}

function ledgerLines(file) {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
}

// What a paid notification for `outTradeNo` would carry; for hand-made (forged) ones.
function paidParams(outTradeNo, overrides = {}) {
  return {
    notify_time: '2024-05-01 12:00:00',
    notify_type: 'trade_status_sync',
    notify_id: crypto.randomBytes(16).toString('hex'),
    trade_no: '2024050121001004000000000001',
    out_trade_no: outTradeNo,
    total_fee: '25.00',
    currency: 'HKD',
    trade_status: 'TRADE_FINISHED',
    buyer_id: '2088000000000001',
    seller_id: PARTNER,
    subject: '雞蛋仔 Egg waffle',
    gmt_create: '2024-05-01 11:59:00',
    gmt_payment: '2024-05-01 12:00:00',
    ...overrides,
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

describe('with the simulator and an in-process merchant server (RSA2, notify_verify on)', () => {
  let sim
  let merchant
  let dataDir

  beforeAll(async () => {
    sim = await startSimulator({ merchantPublicKey: MERCHANT_PUBLIC, alipayPrivateKey: ALIPAY_PRIVATE, partner: PARTNER, retryDelaysMs: [50, 100, 200, 400] })
    dataDir = tempDir()
    merchant = await startMerchantServer({
      dataDir,
      partner: PARTNER,
      signType: 'RSA2',
      privateKey: MERCHANT_PRIVATE,
      alipayPublicKey: sim.alipayPublicKey,
      gatewayUrl: sim.gatewayUrl,
    })
  })

  afterAll(async () => {
    if (sim) await sim.close()
    if (merchant) await merchant.close()
  })

  describe('a paid order', () => {
    test('ends PAID after the notification, with a sync result signed by Alipay', async () => {
      const { outTradeNo, orderStr } = await createOrder(merchant, { subject: '港式奶茶 Hong Kong milk tea', body: '凍奶茶 x2', totalFee: '36.00' })
      expect(await orderStatus(merchant, outTradeNo)).toBe('UNPAID')

      const paid = await request('POST', `${sim.url}/pay`, { orderStr, choice: 'pay' })
      expect(paid.status).toBe(200)
      expect(paid.text).toMatch(/^resultStatus=\{9000\};memo=\{\};result=\{.*&success="true"&sign_type="RSA"&sign="[A-Za-z0-9+/=]+"\}$/)
      expect(paid.text).toContain(`result={${parseOrderStr(orderStr).preSign}&success="true"`)
      const sync = verifyTradePayResult(paid.text, { alipayPublicKey: sim.alipayPublicKey })
      expect(sync).toMatchObject({ ok: true, success: true, resultStatus: '9000', signType: 'RSA' })
      expect(verifyTradePayResult(paid.text.replace('36.00', '0.36'), { alipayPublicKey: sim.alipayPublicKey }).ok).toBe(false)

      const [delivery] = await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 5000 })
      expect(delivery).toMatchObject({ status: 200, response: 'success', acknowledged: true })
      expect(await orderStatus(merchant, outTradeNo)).toBe('PAID')

      const notification = sim.notifications.find((n) => n.outTradeNo === outTradeNo)
      const verified = verifyNotify(notification.body, { alipayPublicKey: sim.alipayPublicKey })
      expect(verified.ok).toBe(true)
      const fields = verified.notification.params
      expect(fields).toMatchObject({
        notify_type: 'trade_status_sync',
        out_trade_no: outTradeNo,
        total_fee: '36.00',
        currency: 'HKD',
        trade_status: 'TRADE_FINISHED',
        seller_id: PARTNER,
        subject: '港式奶茶 Hong Kong milk tea',
        body: '凍奶茶 x2',
        sign_type: 'RSA2',
      })
      for (const field of ['notify_time', 'notify_id', 'trade_no', 'buyer_id', 'gmt_create', 'gmt_payment']) expect(fields[field]).toBeTruthy()

      const payments = ledgerLines(merchant.ledgerFile).filter((e) => e.type === 'payment' && e.outTradeNo === outTradeNo)
      expect(payments).toHaveLength(1)
      expect(payments[0].tradeNo).toBe(fields.trade_no)
    })
  })

  describe('an order the payer does not pay', () => {
    test('cancelled: 6001, no notification, stays UNPAID', async () => {
      const { outTradeNo, orderStr } = await createOrder(merchant)
      const res = await sim.pay(orderStr, 'cancel')
      expect(res).toMatchObject({ status: 200, body: 'resultStatus={6001};memo={用户中途取消};result={}' })
      expect(verifyTradePayResult(res.body, { alipayPublicKey: sim.alipayPublicKey }).success).toBe(false)
      expect(sim.notifications.filter((n) => n.outTradeNo === outTradeNo)).toEqual([])
      expect(await orderStatus(merchant, outTradeNo)).toBe('UNPAID')
    })

    test('failed: 4000, no notification, stays UNPAID; it can still be paid afterwards', async () => {
      const { outTradeNo, orderStr } = await createOrder(merchant)
      const res = await sim.pay(orderStr, 'fail')
      expect(res.status).toBe(200)
      expect(res.body).toMatch(/^resultStatus=\{4000\};/)
      expect(sim.notifications.filter((n) => n.outTradeNo === outTradeNo)).toEqual([])
      expect(await orderStatus(merchant, outTradeNo)).toBe('UNPAID')

      expect((await sim.pay(orderStr, 'pay')).status).toBe(200)
      await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 5000 })
      expect(await orderStatus(merchant, outTradeNo)).toBe('PAID')
      expect((await sim.pay(orderStr, 'pay')).json).toMatchObject({ resultStatus: '4000', error: 'TRADE_HAS_SUCCESS' })
    })
  })

  describe('a notification that is not genuine is refused, and the order stays UNPAID', () => {
    let order
    beforeAll(async () => {
      order = await createOrder(merchant)
    })

    afterEach(async () => {
      expect(await orderStatus(merchant, order.outTradeNo)).toBe('UNPAID')
    })

    test('signed with a key that is not Alipay\'s', async () => {
      const forger = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey
      const d = await sim.sendNotification({ notifyUrl: merchant.notifyUrl, params: paidParams(order.outTradeNo), signType: 'RSA2', signWith: forger })
      expect(d.status).toBe(400)
      expect(d.response).not.toBe('success')
    })

    test('signed with the merchant\'s own key (the public key a careless merchant would verify with)', async () => {
      const d = await sim.sendNotification({ notifyUrl: merchant.notifyUrl, params: paidParams(order.outTradeNo), signType: 'RSA', signWith: MERCHANT_PRIVATE })
      expect(d.response).not.toBe('success')
    })

    test('without a signature', async () => {
      const d = await sim.sendNotification({ notifyUrl: merchant.notifyUrl, params: paidParams(order.outTradeNo), signType: 'RSA2', signWith: 'none' })
      expect(d.response).not.toBe('success')
    })

    test('signed by Alipay, then its amount changed on the way', async () => {
      const genuine = sim.signNotification(paidParams(order.outTradeNo, { total_fee: '2500.00' }), 'RSA2')
      const changed = genuine.replace('total_fee=2500.00', 'total_fee=25.00')
      expect(changed).not.toBe(genuine)
      const d = await sim.sendNotification({ notifyUrl: merchant.notifyUrl, body: changed })
      expect(d.response).not.toBe('success')
    })

    // Genuine but not the order's terms: handleNotify's INVESTIGATE, answered `success` (a retry
    // would not change a signed message), and nothing recorded as paid.
    test('signed by Alipay but for another amount than the order: acknowledged, never recorded as paid', async () => {
      const params = paidParams(order.outTradeNo, { total_fee: '0.01' })
      expect(verifyNotify(sim.signNotification(params, 'RSA2'), { alipayPublicKey: sim.alipayPublicKey }).ok).toBe(true)
      const d = await sim.sendNotification({ notifyUrl: merchant.notifyUrl, params, signType: 'RSA2' })
      expect(d.response).toBe('success')
      expect(ledgerLines(merchant.ledgerFile).filter((e) => e.type === 'payment' && e.outTradeNo === order.outTradeNo)).toEqual([])
    })

    test('signed by Alipay but in another currency or for another seller: acknowledged, never recorded as paid', async () => {
      for (const overrides of [{ currency: 'USD' }, { seller_id: '2088999999999999' }]) {
        const d = await sim.sendNotification({ notifyUrl: merchant.notifyUrl, params: paidParams(order.outTradeNo, overrides), signType: 'RSA2' })
        expect(d.response).toBe('success')
      }
      expect(ledgerLines(merchant.ledgerFile).filter((e) => e.type === 'payment' && e.outTradeNo === order.outTradeNo)).toEqual([])
    })

    test('correctly signed with Alipay\'s key, but with a notify_id Alipay never sent (notify_verify says false)', async () => {
      const params = paidParams(order.outTradeNo)
      const sign = crypto.sign('sha256', Buffer.from(notifySignContent(params), 'utf8'), ALIPAY_PRIVATE).toString('base64')
      const body = new URLSearchParams({ ...params, sign, sign_type: 'RSA2' }).toString()
      expect(verifyNotify(body, { alipayPublicKey: ALIPAY_PUBLIC }).ok).toBe(true)
      const d = await sim.sendNotification({ notifyUrl: merchant.notifyUrl, body })
      expect(d.response).not.toBe('success')
    })

    test('for an order the merchant never created', async () => {
      const d = await sim.sendNotification({ notifyUrl: merchant.notifyUrl, params: paidParams('NO-SUCH-ORDER'), signType: 'RSA2' })
      expect(d.response).not.toBe('success')
    })
  })

  describe('the same notification delivered five times', () => {
    test('records one payment: one ledger line, every delivery answered success', async () => {
      const { outTradeNo, orderStr } = await createOrder(merchant, { totalFee: '88.80' })
      const { notifyId } = await sim.pay(orderStr)
      await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 5000 })
      const again = await Promise.all([1, 2, 3, 4].map(() => sim.redeliver(notifyId)))
      expect(again.map((d) => d.response)).toEqual(['success', 'success', 'success', 'success'])
      const all = sim.deliveries.filter((d) => d.notifyId === notifyId)
      expect(all).toHaveLength(5)
      expect(new Set(all.map((d) => d.response))).toEqual(new Set(['success']))
      expect(await orderStatus(merchant, outTradeNo)).toBe('PAID')
      const lines = ledgerLines(merchant.ledgerFile).filter((e) => e.outTradeNo === outTradeNo)
      expect(lines.map((e) => e.type)).toEqual(['order', 'payment'])
    })
  })

  describe('the simulator reads the orderStr as the gateway would', () => {
    const base = {
      service: 'mobile.securitypay.pay',
      partner: PARTNER,
      seller_id: PARTNER,
      out_trade_no: 'GW-1',
      subject: '商品名稱',
      total_fee: '0.10',
      currency: 'HKD',
      notify_url: 'http://127.0.0.1:9/alipay/notify',
      payment_type: '1',
      _input_charset: 'utf-8',
      product_code: 'NEW_WAP_OVERSEAS_SELLER',
      forex_biz: 'FP',
    }

    test('refuses an orderStr signed with another key than the merchant\'s: ILLEGAL_SIGN, BAD_SIGNATURE', async () => {
      const orderStr = new OrderSigner({ signType: 'RSA2', privateKey: ALIPAY_PRIVATE }).buildOrderStr(base)
      const res = await request('POST', `${sim.url}/pay`, { orderStr, choice: 'pay' })
      expect(res.status).toBe(400)
      expect(res.json()).toMatchObject({ resultStatus: '4000', error: 'ILLEGAL_SIGN', reason: 'BAD_SIGNATURE' })
      expect(sim.notifications.filter((n) => n.outTradeNo === 'GW-1')).toEqual([])
    })

    test('refuses the documented sample orderStr, naming each of its mistakes', async () => {
      const res = await request('POST', `${sim.url}/pay`, { orderStr: SEED_ORDER_STR, choice: 'pay' })
      expect(res.status).toBe(400)
      const answer = res.json()
      expect(answer).toMatchObject({ resultStatus: '4000', error: 'ILLEGAL_SIGN', reason: 'SIGN_NOT_URL_ENCODED' })
      const reasons = answer.mistakes.map((m) => m.reason)
      expect(reasons).toEqual(
        expect.arrayContaining(['METHOD_INSTEAD_OF_SERVICE', 'DUPLICATE_PARAM', 'SIGN_NOT_URL_ENCODED', 'TEXT_OUTSIDE_QUOTES', 'SIGN_TYPE_MISMATCH']),
      )
      // The addon's own diagnosis names the same mistakes.
      const addon = verifyOrderStr(SEED_ORDER_STR, { publicKey: MERCHANT_PUBLIC }).mistakes.map((m) => m.reason)
      expect(reasons).toEqual(expect.arrayContaining(addon))
    })

    test('refuses a correctly signed orderStr that says method instead of service: ILLEGAL_SERVICE', async () => {
      const good = new OrderSigner({ signType: 'RSA2', privateKey: MERCHANT_PRIVATE }).buildOrderStr(base)
      const preSign = parseOrderStr(good).preSign.replace(/^service=/, 'method=')
      expect(preSign.startsWith('method="mobile.securitypay.pay"&')).toBe(true)
      const sign = crypto.sign('sha256', Buffer.from(preSign, 'utf8'), MERCHANT_PRIVATE).toString('base64')
      const orderStr = `${preSign}&sign="${encodeURIComponent(sign)}"&sign_type="RSA2"`

      const { status, json } = await sim.pay(orderStr)
      expect(status).toBe(400)
      expect(json).toMatchObject({ error: 'ILLEGAL_SERVICE', reason: 'METHOD_INSTEAD_OF_SERVICE' })
      expect(json.mistakes.map((m) => m.reason)).toEqual(['METHOD_INSTEAD_OF_SERVICE'])
      expect(verifyOrderStr(orderStr, { publicKey: MERCHANT_PUBLIC }).mistakes.map((m) => m.reason)).toEqual(['METHOD_INSTEAD_OF_SERVICE'])
    })

    test('refuses a signature that was not URL-encoded, an MD5 label on an RSA signature, and a missing parameter', async () => {
      const signer = new OrderSigner({ signType: 'RSA', privateKey: MERCHANT_PRIVATE })
      const good = signer.buildOrderStr(base)
      expect((await sim.pay(good)).status).toBe(200)

      const parsed = parseOrderStr(good)
      const raw = `${parsed.preSign}&sign="${parsed.sign}"&sign_type="RSA"`
      expect(parsed.sign).toMatch(/==$/) // 256 bytes of signature always end in base64 padding
      expect((await sim.pay(raw)).json.reason).toBe('SIGN_NOT_URL_ENCODED')
      expect((await sim.pay(good.replace(/sign_type="RSA"$/, 'sign_type="MD5"'))).json.reason).toBe('SIGN_TYPE_MISMATCH')

      const { forex_biz: _, ...withoutForex } = base
      const missing = signer.buildOrderStr({ ...withoutForex, out_trade_no: 'GW-2' }, { strict: false })
      expect((await sim.pay(missing)).json).toMatchObject({ error: 'ILLEGAL_ARGUMENT', reason: 'MISSING_PARAM', mistakes: [{ field: 'forex_biz' }] })
    })

    test('answers notify_verify true for a notify_id it sent, false otherwise', async () => {
      const { outTradeNo, orderStr } = await createOrder(merchant)
      const { notifyId } = await sim.pay(orderStr)
      await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 5000 })
      const ask = async (partner, id) => (await request('GET', `${sim.gatewayUrl}?service=notify_verify&partner=${partner}&notify_id=${id}`)).text
      expect(await ask(PARTNER, notifyId)).toBe('true')
      expect(await ask(PARTNER, crypto.randomBytes(16).toString('hex'))).toBe('false')
      expect(await ask('2088999999999999', notifyId)).toBe('false')
    })
  })
})

describe('the retry schedule', () => {
  let sim
  let stub
  const answers = []

  beforeAll(async () => {
    sim = await startSimulator({ merchantPublicKey: MERCHANT_PUBLIC, retryDelaysMs: [20, 40, 80] })
    // A merchant that answers `success` with a newline, which Alipay does not count as success.
    stub = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        answers.push(req.url)
        res.end('success\n')
      })
    })
    await new Promise((resolve) => stub.listen(0, '127.0.0.1', resolve))
  })

  afterAll(async () => {
    await sim.close()
    await new Promise((resolve) => stub.close(resolve))
  })

  test('tries again on anything but the exact body `success`, delays + 1 times, then gives up', async () => {
    const orderStr = new OrderSigner({ signType: 'RSA', privateKey: MERCHANT_PRIVATE }).buildOrderStr({
      service: 'mobile.securitypay.pay',
      partner: PARTNER,
      seller_id: PARTNER,
      out_trade_no: 'RETRY-1',
      subject: 'retry',
      total_fee: '1.00',
      currency: 'HKD',
      notify_url: `http://127.0.0.1:${stub.address().port}/alipay/notify`,
      payment_type: '1',
      _input_charset: 'utf-8',
      product_code: 'NEW_WAP_OVERSEAS_SELLER',
      forex_biz: 'FP',
    })
    await sim.pay(orderStr)
    const tries = await sim.waitForDeliveries(4, { outTradeNo: 'RETRY-1', timeoutMs: 5000 })
    expect(tries.map((d) => [d.attempt, d.status, d.response, d.acknowledged])).toEqual([
      [1, 200, 'success\n', false],
      [2, 200, 'success\n', false],
      [3, 200, 'success\n', false],
      [4, 200, 'success\n', false],
    ])
    expect(sim.notifications[0].state).toBe('gave_up')
    expect(answers).toHaveLength(4)
  })
})

describe('an MD5 merchant', () => {
  let sim
  let merchant

  beforeAll(async () => {
    sim = await startSimulator({ md5Key: MD5_KEY, retryDelaysMs: [50, 100] })
    merchant = await startMerchantServer({ dataDir: tempDir(), partner: PARTNER, signType: 'MD5', md5Key: MD5_KEY, gatewayUrl: sim.gatewayUrl })
  })

  afterAll(async () => {
    await sim.close()
    await merchant.close()
  })

  test('an orderStr signed with the MD5 key is accepted, the notification is MD5-signed, the order ends PAID', async () => {
    const { outTradeNo, orderStr } = await createOrder(merchant)
    expect(orderStr).toMatch(/&sign="[0-9a-f]{32}"&sign_type="MD5"$/)
    expect((await sim.pay(orderStr)).status).toBe(200)
    await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 5000 })
    const notification = sim.notifications.find((n) => n.outTradeNo === outTradeNo)
    expect(notification.params).not.toHaveProperty('sign')
    expect(verifyNotify(notification.body, { md5Key: MD5_KEY })).toMatchObject({ ok: true, signType: 'MD5' })
    expect(await orderStatus(merchant, outTradeNo)).toBe('PAID')
  })

  test('an orderStr signed with another MD5 key is refused', async () => {
    const orderStr = new OrderSigner({ signType: 'MD5', md5Key: 'x'.repeat(32) }).buildOrderStr({
      service: 'mobile.securitypay.pay',
      partner: PARTNER,
      seller_id: PARTNER,
      out_trade_no: 'MD5-WRONG',
      subject: 'x',
      total_fee: '1.00',
      currency: 'HKD',
      notify_url: merchant.notifyUrl,
      payment_type: '1',
      _input_charset: 'utf-8',
      product_code: 'NEW_WAP_OVERSEAS_SELLER',
      forex_biz: 'FP',
    })
    expect((await sim.pay(orderStr)).json).toMatchObject({ error: 'ILLEGAL_SIGN', reason: 'BAD_SIGNATURE' })
  })
})

describe('a merchant server killed between the order and the notification', () => {
  let sim
  let child
  let port
  let dataDir

  function startChild() {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, [path.join(root, 'examples', 'merchant-server.js')], {
        env: {
          ...process.env,
          DATABASE_URL: '', // the JSON-lines ledger in dataDir, even where DATABASE_URL is set (CI)
          PORT: String(port),
          ALIPAYHK_DATA_DIR: dataDir,
          ALIPAYHK_PARTNER: PARTNER,
          ALIPAYHK_SIGN_TYPE: 'RSA2',
          ALIPAYHK_PRIVATE_KEY_FILE: path.join(KEYS, 'merchant_private_key.TEST-ONLY.pem'),
          ALIPAYHK_ALIPAY_PUBLIC_KEY_FILE: path.join(KEYS, 'alipay_public_key.TEST-ONLY.pem'),
          ALIPAYHK_GATEWAY: sim.gatewayUrl,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      const timer = setTimeout(() => {
        proc.kill('SIGKILL')
        reject(new Error(`the merchant server did not start within 5 s: ${out} ${err}`))
      }, 5000)
      proc.stdout.on('data', (c) => {
        out += c
        if (out.includes('listening on')) {
          clearTimeout(timer)
          resolve(proc)
        }
      })
      proc.stderr.on('data', (c) => (err += c))
      proc.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`the merchant server exited with ${code}: ${err}`))
      })
    })
  }

  function kill9(proc) {
    return new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve()
      proc.once('exit', () => resolve())
      proc.kill('SIGKILL')
    })
  }

  beforeAll(async () => {
    // Alipay's retries, shortened: long enough to restart a node process in between.
    sim = await startSimulator({ merchantPublicKey: MERCHANT_PUBLIC, alipayPrivateKey: ALIPAY_PRIVATE, retryDelaysMs: [300, 600, 1200, 2400] })
    port = await freePort()
    dataDir = tempDir()
  })

  afterAll(async () => {
    if (child) await kill9(child)
    if (sim) await sim.close()
  })

  test('still ends PAID after a kill -9 and a restart on the same port and data dir, the ledger intact', async () => {
    child = await startChild()
    const merchant = { url: `http://127.0.0.1:${port}` }
    const { outTradeNo, orderStr } = await createOrder(merchant, { subject: '菠蘿油 Pineapple bun with butter', totalFee: '12.00' })

    await kill9(child)
    expect((await sim.pay(orderStr)).status).toBe(200)
    const [refused] = await sim.waitForDeliveries(1, { outTradeNo, timeoutMs: 5000 })
    expect(refused).toMatchObject({ status: null, error: 'ECONNREFUSED', acknowledged: false })

    child = await startChild()
    const [acknowledged] = await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 8000 })
    expect(acknowledged.attempt).toBeGreaterThan(1)
    expect(await orderStatus(merchant, outTradeNo)).toBe('PAID')

    const lines = ledgerLines(path.join(dataDir, 'ledger.jsonl'))
    expect(lines.map((e) => [e.type, e.outTradeNo])).toEqual([
      ['order', outTradeNo],
      ['payment', outTradeNo],
    ])

    // And once more after another restart: the ledger is replayed, the payment not doubled.
    await kill9(child)
    child = await startChild()
    expect(await orderStatus(merchant, outTradeNo)).toBe('PAID')
    const notifyId = sim.notifications.find((n) => n.outTradeNo === outTradeNo).notifyId
    expect((await sim.redeliver(notifyId)).response).toBe('success')
    expect(ledgerLines(path.join(dataDir, 'ledger.jsonl'))).toHaveLength(2)
  })

  test('a ledger line cut short by a crash is dropped on replay; the lines before it stay', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'ledger.jsonl')
    const order = { type: 'order', outTradeNo: 'TORN-1', subject: 'x', totalFee: '1.00', currency: 'HKD', sellerId: PARTNER, createdAt: new Date().toISOString() }
    fs.writeFileSync(file, JSON.stringify(order) + '\n' + '{"type":"payment","outTradeNo":"TORN-1","tra')
    const merchant = await startMerchantServer({ dataDir: dir, partner: PARTNER, privateKey: MERCHANT_PRIVATE, alipayPublicKey: ALIPAY_PUBLIC })
    try {
      expect(await orderStatus(merchant, 'TORN-1')).toBe('UNPAID')
      await createOrder(merchant, { outTradeNo: 'TORN-2' })
      expect(ledgerLines(file).map((e) => e.outTradeNo)).toEqual(['TORN-1', 'TORN-2'])
    } finally {
      await merchant.close()
    }
  })
})
