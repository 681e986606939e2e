// The async twins: the same results and errors as the sync calls, the crypto off the event
// loop, and cancellation by AbortSignal for work not yet started.
'use strict'

const crypto = require('node:crypto')
const { getEventListeners } = require('node:events')
const {
  AlipayHK,
  buildOrderStr,
  buildOrderStrAsync,
  OrderSigner,
  verifyNotify,
  verifyNotifyAsync,
} = require('..')
const { verificationData } = require('./helpers')

const order = (i = 0) => ({
  service: 'mobile.securitypay.pay',
  partner: '2088101568358171',
  seller_id: '2088101568358171',
  out_trade_no: `ASYNC-${i}`,
  subject: '商品名稱',
  total_fee: '12.50',
  currency: 'HKD',
  notify_url: 'https://shop.example.com/alipay/notify',
  payment_type: '1',
  _input_charset: 'utf-8',
  product_code: 'NEW_WAP_OVERSEAS_SELLER',
  forex_biz: 'FP',
})

let merchant
let alipay
let rsa2
beforeAll(() => {
  merchant = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  alipay = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 })
  rsa2 = { signType: 'RSA2', privateKey: merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }) }
})

function signedNotification(fields) {
  const content = Object.keys(fields)
    .filter((k) => fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&')
  const sign = crypto.sign('sha1', Buffer.from(content, 'utf8'), alipay.privateKey).toString('base64')
  return new URLSearchParams({ ...fields, sign, sign_type: 'RSA' }).toString()
}

describe('the async calls give what the sync calls give', () => {
  test('buildOrderStrAsync equals buildOrderStr and verifies with node:crypto', async () => {
    const s = await buildOrderStrAsync(order(1), rsa2)
    expect(s).toBe(buildOrderStr(order(1), rsa2))
    const pre = s.slice(0, s.indexOf('&sign="'))
    const sig = decodeURIComponent(/&sign="([^"]+)"/.exec(s)[1])
    expect(crypto.verify('sha256', Buffer.from(pre, 'utf8'), merchant.publicKey, Buffer.from(sig, 'base64'))).toBe(true)
  })

  test('OrderSigner#buildOrderStrAsync and AlipayHK#buildOrderStrAsync equal their sync calls', async () => {
    const signer = new OrderSigner(rsa2)
    expect(await signer.buildOrderStrAsync(order(2))).toBe(signer.buildOrderStr(order(2)))
    const front = new AlipayHK({ partner: '2088101568358171', ...rsa2 })
    const typed = { outTradeNo: 'A-3', subject: '奶茶', totalFee: '3.00', notifyUrl: 'https://shop.example.com/n' }
    expect(await front.buildOrderStrAsync(typed)).toBe(front.buildOrderStr(typed))
  })

  test('verifyNotifyAsync equals verifyNotify, for a genuine and a forged body', async () => {
    const key = { alipayPublicKey: alipay.publicKey.export({ type: 'spki', format: 'pem' }) }
    const body = signedNotification({ out_trade_no: 'A-1', total_fee: '12.50', trade_status: 'TRADE_FINISHED' })
    const forged = body.replace('12.50', '0.01')
    const genuine = await verifyNotifyAsync(body, key)
    expect(genuine.ok).toBe(true)
    expect(genuine.notification.params.total_fee).toBe('12.50')
    expect(verificationData(genuine)).toEqual(verificationData(verifyNotify(body, key)))
    expect(await verifyNotifyAsync(forged, key)).toEqual(verifyNotify(forged, key))
    expect((await verifyNotifyAsync(forged, key)).reason).toBe('BAD_SIGNATURE')
    expect((await verifyNotifyAsync(forged, key)).unverifiedParams.total_fee).toBe('0.01')
  })

  test('64 orders in flight all come back right', async () => {
    const signer = new OrderSigner(rsa2)
    const all = await Promise.all(Array.from({ length: 64 }, (_, i) => signer.buildOrderStrAsync(order(i))))
    all.forEach((s, i) => expect(s).toBe(signer.buildOrderStr(order(i))))
  })
})

describe('bad input rejects at once with the same code and field (it never throws)', () => {
  test.each([
    ['a bad amount', () => buildOrderStrAsync({ ...order(), total_fee: '1.005' }, rsa2), 'ERR_ALIPAYHK_INVALID_PARAM', 'total_fee'],
    ['a missing subject', () => buildOrderStrAsync({ ...order(), subject: undefined }, rsa2), 'ERR_ALIPAYHK_MISSING_PARAM', 'subject'],
    ['a key of the wrong type', () => buildOrderStrAsync(order(), 42), 'ERR_ALIPAYHK_INVALID_ARGUMENT', 'key'],
    ['a public key where the private key belongs', () => buildOrderStrAsync(order(), { signType: 'RSA', privateKey: merchant.publicKey.export({ type: 'spki', format: 'pem' }) }), 'ERR_ALIPAYHK_INVALID_KEY', 'key.privateKey'],
    ['a signal that is not an AbortSignal', () => buildOrderStrAsync(order(), rsa2, { signal: { aborted: false } }), 'ERR_ALIPAYHK_INVALID_ARGUMENT', 'options.signal'],
    ['a notification body of the wrong type', () => verifyNotifyAsync(42, { md5Key: 'k' }), 'ERR_ALIPAYHK_INVALID_ARGUMENT', 'body'],
  ])('%s', async (_, call, code, field) => {
    let promise
    expect(() => {
      promise = call()
    }).not.toThrow()
    const err = await promise.then(
      () => undefined,
      (e) => e,
    )
    expect(err).toBeDefined()
    expect(err.code).toBe(code)
    expect(err.field).toBe(field)
  })
})

describe('an AbortSignal cancels work that has not started', () => {
  test('an already aborted signal rejects with an AbortError whose cause is the reason', async () => {
    const reason = new Error('shutting down')
    const err = await buildOrderStrAsync(order(), rsa2, { signal: AbortSignal.abort(reason) }).catch((e) => e)
    expect(err.name).toBe('AbortError')
    expect(err.code).toBe('ABORT_ERR')
    expect(err.cause).toBe(reason)
  })

  test('aborting with many calls in flight rejects the queued ones; those that ran are right', async () => {
    const signer = new OrderSigner(rsa2)
    const controller = new AbortController()
    let onabortCalls = 0
    controller.signal.onabort = () => onabortCalls++
    const calls = Array.from({ length: 48 }, (_, i) => signer.buildOrderStrAsync(order(i), { signal: controller.signal }))
    controller.abort()
    const settled = await Promise.allSettled(calls)
    const rejected = settled.filter((s) => s.status === 'rejected')
    expect(rejected.length).toBeGreaterThan(0)
    for (const r of rejected) expect(r.reason.code).toBe('ABORT_ERR')
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') expect(s.value).toBe(signer.buildOrderStr(order(i)))
    })
    expect(onabortCalls).toBe(1) // the caller's own handler is left alone
  })

  test('a long-lived signal keeps no listener once the calls have settled', async () => {
    const controller = new AbortController()
    const signer = new OrderSigner(rsa2)
    for (let i = 0; i < 5; i++) await signer.buildOrderStrAsync(order(i), { signal: controller.signal })
    await verifyNotifyAsync('a=1', { md5Key: 'k' }, { signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})

describe('asyncConcurrency: how many async calls use the libuv pool at once', () => {
  const { asyncConcurrency } = require('..')
  const os = require('node:os')
  const { execFileSync } = require('node:child_process')
  const path = require('node:path')
  const limitIn = (pool) =>
    Number(
      execFileSync(process.execPath, ['-p', `require(${JSON.stringify(path.join(__dirname, '..'))}).asyncConcurrency()`], {
        env: { ...process.env, UV_THREADPOOL_SIZE: String(pool) },
        encoding: 'utf8',
      }),
    )
  let saved
  beforeEach(() => {
    saved = asyncConcurrency()
  })
  afterEach(() => {
    asyncConcurrency(saved)
  })

  test('defaults to the number of cores, but one less than the libuv pool, and at least 1', () => {
    for (const pool of [1, 2, 3, 4, 16]) {
      expect(limitIn(pool)).toBe(Math.max(1, Math.min(os.availableParallelism(), pool - 1)))
    }
  })

  test('each worker thread has its own limit', async () => {
    const { Worker } = require('node:worker_threads')
    const fresh = limitIn(Number(process.env.UV_THREADPOOL_SIZE || 4))
    asyncConcurrency(7)
    const w = new Worker(
      `const { parentPort } = require('node:worker_threads')
       const m = require(${JSON.stringify(path.join(__dirname, '..'))})
       const before = m.asyncConcurrency()
       m.asyncConcurrency(3)
       parentPort.postMessage([before, m.asyncConcurrency()])`,
      { eval: true },
    )
    const [before, after] = await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject))
    await w.terminate()
    expect(before).toBe(fresh) // not the main thread's 7
    expect(after).toBe(3)
    expect(asyncConcurrency()).toBe(7) // the worker's 3 stayed there
  })

  test('sets and reads back a whole number from 1 to 1024; anything else is refused with field "limit"', () => {
    expect(asyncConcurrency(3)).toBe(3)
    expect(asyncConcurrency()).toBe(3)
    expect(asyncConcurrency(undefined)).toBe(3)
    expect(asyncConcurrency(1024)).toBe(1024)
    expect(asyncConcurrency(null)).toBe(1024)
    for (const bad of [0, -1, 1.5, 1025, NaN, Infinity, '2', {}, 2n]) {
      let err
      try {
        asyncConcurrency(bad)
      } catch (e) {
        err = e
      }
      expect(err.name).toBe('TypeError')
      expect(err.code).toBe('ERR_ALIPAYHK_INVALID_ARGUMENT')
      expect(err.field).toBe('limit')
      expect(err.message).toMatch(/whole number from 1 to 1024/)
    }
    expect(asyncConcurrency()).toBe(1024)
  })

  // Which comes first: the 40th signature or a pool job (pbkdf2) queued after all 40? Under a
  // limit of 1 the other pool threads stay free, so the pbkdf2 runs at once; with no limit
  // the pool is full of signatures and the pbkdf2 waits behind them.
  async function signaturesDoneWhenPoolJobRuns(limit) {
    asyncConcurrency(limit)
    const signer = new OrderSigner(rsa2)
    let done = 0
    const calls = Array.from({ length: 40 }, (_, i) => signer.buildOrderStrAsync(order(i)).then((s) => (done++, s)))
    const doneWhenPbkdf2Ran = await new Promise((resolve, reject) =>
      crypto.pbkdf2('p', 's', 1, 16, 'sha256', (err) => (err ? reject(err) : resolve(done))),
    )
    const results = await Promise.all(calls)
    results.forEach((s, i) => expect(s).toBe(signer.buildOrderStr(order(i))))
    return doneWhenPbkdf2Ran
  }

  test('under a limit, the rest of the pool stays free for other work', async () => {
    expect(await signaturesDoneWhenPoolJobRuns(1)).toBeLessThanOrEqual(2)
  })

  test('(the same with no limit: the pool job waits behind the signatures)', async () => {
    expect(await signaturesDoneWhenPoolJobRuns(1024)).toBeGreaterThanOrEqual(30)
  })

  test('waiting calls start in the order they were made', async () => {
    asyncConcurrency(1)
    const signer = new OrderSigner(rsa2)
    const finished = []
    await Promise.all(Array.from({ length: 12 }, (_, i) => signer.buildOrderStrAsync(order(i)).then(() => finished.push(i))))
    expect(finished).toEqual([...Array(12).keys()])
  })

  test('an aborted call that is still waiting rejects at once and gives its turn away', async () => {
    asyncConcurrency(1)
    const signer = new OrderSigner(rsa2)
    const controller = new AbortController()
    let done = 0
    const plain = Array.from({ length: 12 }, (_, i) => signer.buildOrderStrAsync(order(i)).then((s) => (done++, s)))
    const abortable = Array.from({ length: 6 }, (_, i) =>
      signer.buildOrderStrAsync(order(100 + i), { signal: controller.signal }),
    )
    const reason = new Error('client went away')
    controller.abort(reason)
    const settled = await Promise.allSettled(abortable)
    // Rejected before a single signature came back from the pool.
    expect(done).toBe(0)
    for (const s of settled) {
      expect(s.status).toBe('rejected')
      expect(s.reason.code).toBe('ABORT_ERR')
      expect(s.reason.cause).toBe(reason)
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    const results = await Promise.all(plain)
    results.forEach((s, i) => expect(s).toBe(signer.buildOrderStr(order(i))))
    // The slots were all given back: a call made now still runs.
    expect(await signer.buildOrderStrAsync(order(7))).toBe(signer.buildOrderStr(order(7)))
  })

  test('verifyNotifyAsync waits in the same queue and gives the same answer', async () => {
    asyncConcurrency(1)
    const signer = new OrderSigner(rsa2)
    const body = signedNotification({ notify_id: 'n1', out_trade_no: 'Q-1', trade_status: 'TRADE_SUCCESS', total_fee: '1.00' })
    const key = { alipayPublicKey: alipay.publicKey.export({ type: 'spki', format: 'pem' }) }
    const signatures = Array.from({ length: 4 }, (_, i) => signer.buildOrderStrAsync(order(i)))
    const [checked] = await Promise.all([verifyNotifyAsync(body, key), ...signatures])
    expect(verificationData(checked)).toEqual(verificationData(verifyNotify(body, key)))
    expect(checked.ok).toBe(true)
    expect(checked.notification.outTradeNo).toBe('Q-1')
  })
})

describe('calls sharing one AbortSignal share one listener on it', () => {
  const { asyncConcurrency } = require('..')
  let saved
  beforeEach(() => {
    saved = asyncConcurrency()
    asyncConcurrency(1)
  })
  afterEach(() => {
    asyncConcurrency(saved)
  })

  test('50 calls in flight on one signal add one abort listener, and it is gone once they settle', async () => {
    const signer = new OrderSigner(rsa2)
    const controller = new AbortController()
    const warnings = []
    const onWarning = (w) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      const calls = Array.from({ length: 50 }, (_, i) => signer.buildOrderStrAsync(order(i), { signal: controller.signal }))
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
      const results = await Promise.all(calls)
      results.forEach((s, i) => expect(s).toBe(signer.buildOrderStr(order(i))))
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
      await new Promise(setImmediate) // a warning is emitted on the next tick
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })

  test('aborting one signal rejects its own calls only; the other signal\'s calls finish', async () => {
    const signer = new OrderSigner(rsa2)
    const a = new AbortController()
    const b = new AbortController()
    const onB = Array.from({ length: 6 }, (_, i) => signer.buildOrderStrAsync(order(10 + i), { signal: b.signal }))
    const onA = Array.from({ length: 20 }, (_, i) => signer.buildOrderStrAsync(order(i), { signal: a.signal }))
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(1)
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(1)
    a.abort()
    const settledA = await Promise.allSettled(onA)
    // A call a runner had already taken finishes; the rest are cancelled.
    settledA.forEach((s, i) => {
      if (s.status === 'fulfilled') expect(s.value).toBe(signer.buildOrderStr(order(i)))
      else expect(s.reason.name).toBe('AbortError')
    })
    expect(settledA.filter((s) => s.status === 'rejected').length).toBeGreaterThan(0)
    const resultsB = await Promise.all(onB)
    resultsB.forEach((s, i) => expect(s).toBe(signer.buildOrderStr(order(10 + i))))
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0)
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(0)
  })

  test('a signal used again after its calls settled gets a listener again, and still cancels', async () => {
    const signer = new OrderSigner(rsa2)
    const controller = new AbortController()
    await signer.buildOrderStrAsync(order(1), { signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    const calls = Array.from({ length: 10 }, (_, i) => signer.buildOrderStrAsync(order(i), { signal: controller.signal }))
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    const reason = new Error('stop')
    controller.abort(reason)
    const last = (await Promise.allSettled(calls)).pop()
    expect(last.status).toBe('rejected')
    expect(last.reason.cause).toBe(reason)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})
