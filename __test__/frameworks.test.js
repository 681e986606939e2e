// Wiring verifyNotify to the raw body of Alipay's POST, for real: node:http, Express and
// Fastify on 127.0.0.1 with an OS-chosen port. Each server hands the bytes as received to
// verifyNotify (decoded exactly once, docs/protocol.md §4) and answers `success` only for a
// genuine notification: Alipay retries until it reads `success`.
//
// The handler of each server sits between `// ---- <name> ----` and `// ---- end ----` and is
// written to be copied as it is. The notification is signed with node:crypto (helpers.js) by a
// test "Alipay" key pair generated for the run.
'use strict'

const crypto = require('node:crypto')
const http = require('node:http')

const express = require('express')
const Fastify = require('fastify')

const { verifyNotify, isPaid } = require('..')
const { signedNotifyBody } = require('./helpers')

// --- the test "Alipay" and the notification it sends -------------------------------------------

const ALIPAY = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
const MERCHANT = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
const ALIPAY_PUBLIC_KEY = ALIPAY.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')

/** Signs like Alipay (RSA2): fields but sign/sign_type/empty, sorted, `k=v&…`; as a form body. */
function signedNotification(fields, privateKey = ALIPAY.privateKey) {
  return signedNotifyBody(Object.entries(fields), 'RSA2', privateKey)
}

const FIELDS = {
  notify_id: 'ac05099524730693a8b330c5ecf72da9786',
  notify_type: 'trade_status_sync',
  notify_time: '2024-05-01 12:34:56',
  trade_no: '2024050122001412345678901234',
  out_trade_no: 'ORDER-2024-0001',
  total_fee: '12.50',
  currency: 'HKD',
  trade_status: 'TRADE_FINISHED',
  seller_id: '2088101568358171',
  subject: '商品名稱 A+B = 100% & more',
  body: '',
}
const GENUINE = signedNotification(FIELDS)
const FORGED = GENUINE.replace('total_fee=12.50', 'total_fee=0.01')
const WITH_MERCHANT_KEY = signedNotification(FIELDS, MERCHANT.privateKey)

function post(url, body) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
    // A handler that throws never answers: fail in seconds, not at fetch's 5-minute default.
    signal: AbortSignal.timeout(10000),
  }).then(async (res) => ({ status: res.status, text: await res.text() }))
}

function listening(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}/alipay/notify`))
  })
}

function closed(server) {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/** The same checks for every server. */
function behavesLikeANotifyEndpoint(name, start) {
  describe(`${name}: verifyNotify on the raw body`, () => {
    let url
    let paid
    let stop

    beforeAll(async () => {
      paid = []
      ;({ url, stop } = await start((notification) => paid.push(notification)))
    })
    afterAll(() => stop())
    beforeEach(() => {
      paid.length = 0
    })

    test('a genuine signed notification is answered `success` and handled once', async () => {
      expect(await post(url, GENUINE)).toEqual({ status: 200, text: 'success' })
      expect(paid).toHaveLength(1)
      expect(paid[0].outTradeNo).toBe('ORDER-2024-0001')
      expect(paid[0].params.out_trade_no).toBe('ORDER-2024-0001')
      expect(paid[0].get('subject')).toBe('商品名稱 A+B = 100% & more')
      expect(paid[0].params.body).toBe('')
    })

    test('a forged notification (amount changed) is not answered `success` and not handled', async () => {
      const res = await post(url, FORGED)
      expect(res.text).not.toBe('success')
      expect(paid).toHaveLength(0)
    })

    test('a notification signed with the merchant’s key instead of Alipay’s is not answered `success`', async () => {
      expect((await post(url, WITH_MERCHANT_KEY)).text).not.toBe('success')
      expect(paid).toHaveLength(0)
    })

    test('a genuine but unpaid notification (WAIT_BUYER_PAY) is answered `success` but not handled as paid', async () => {
      const unpaid = signedNotification({ ...FIELDS, trade_status: 'WAIT_BUYER_PAY' })
      expect((await post(url, unpaid)).text).toBe('success')
      expect(paid).toHaveLength(0)
    })

    test('the same notification twice is answered `success` both times (Alipay retries)', async () => {
      expect((await post(url, GENUINE)).text).toBe('success')
      expect((await post(url, GENUINE)).text).toBe('success')
      expect(paid).toHaveLength(2)
    })
  })
}

// --- servers ----------------------------------------------------------------------------------

behavesLikeANotifyEndpoint('node:http', async (onPaid) => {
  // ---- node:http ----
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      const result = verifyNotify(Buffer.concat(chunks), { alipayPublicKey: ALIPAY_PUBLIC_KEY })
      if (result.ok && isPaid(result.notification)) onPaid(result.notification) // idempotent: Alipay may send it again
      res.end(result.ok ? 'success' : 'fail')
    })
  })
  // ---- end ----
  const url = await listening(server)
  return { url, stop: () => closed(server) }
})

behavesLikeANotifyEndpoint('Express', async (onPaid) => {
  const app = express()
  // ---- Express ----
  app.post('/alipay/notify', express.raw({ type: 'application/x-www-form-urlencoded' }), (req, res) => {
    const result = verifyNotify(req.body, { alipayPublicKey: ALIPAY_PUBLIC_KEY })
    if (result.ok && isPaid(result.notification)) onPaid(result.notification) // idempotent: Alipay may send it again
    res.type('text/plain').send(result.ok ? 'success' : 'fail')
  })
  // ---- end ----
  const server = http.createServer(app)
  const url = await listening(server)
  return { url, stop: () => closed(server) }
})

behavesLikeANotifyEndpoint('Fastify', async (onPaid) => {
  const app = Fastify()
  // ---- Fastify ----
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (req, body, done) =>
    done(null, body),
  )
  app.post('/alipay/notify', async (request) => {
    const result = verifyNotify(request.body, { alipayPublicKey: ALIPAY_PUBLIC_KEY })
    if (result.ok && isPaid(result.notification)) onPaid(result.notification) // idempotent: Alipay may send it again
    return result.ok ? 'success' : 'fail'
  })
  // ---- end ----
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address()
  return { url: `http://127.0.0.1:${port}/alipay/notify`, stop: () => app.close() }
})

describe('the body each framework hands over is the raw bytes', () => {
  test('express.raw gives a Buffer, so nothing was decoded before verifyNotify', async () => {
    const app = express()
    let seen
    app.post('/', express.raw({ type: 'application/x-www-form-urlencoded' }), (req, res) => {
      seen = req.body
      res.end()
    })
    const server = http.createServer(app)
    const url = await listening(server)
    try {
      await post(url.replace('/alipay/notify', '/'), GENUINE)
    } finally {
      await closed(server)
    }
    expect(Buffer.isBuffer(seen)).toBe(true)
    expect(seen.toString('utf8')).toBe(GENUINE)
  })

  test('express.urlencoded (a decoded object) also verifies; the raw body is still preferred', async () => {
    const app = express()
    app.post('/', express.urlencoded({ extended: false }), (req, res) => {
      res.send(verifyNotify(req.body, { alipayPublicKey: ALIPAY_PUBLIC_KEY }).ok ? 'success' : 'fail')
    })
    const server = http.createServer(app)
    const url = await listening(server)
    try {
      expect((await post(url.replace('/alipay/notify', '/'), GENUINE)).text).toBe('success')
      expect((await post(url.replace('/alipay/notify', '/'), FORGED)).text).toBe('fail')
    } finally {
      await closed(server)
    }
  })
})
