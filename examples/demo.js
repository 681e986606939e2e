#!/usr/bin/env node
// `npm run demo`: a whole AlipayHK payment on this machine, with the TEST keys shipped in
// examples/test-keys/. The Alipay simulator (simulator/) and the example merchant server
// (examples/merchant-server.js) run on 127.0.0.1; an order for a Chinese-named item is created,
// paid through the simulator, and followed until the merchant records it PAID.
// Each step is printed; any failed step exits non-zero. Option: --sign-type RSA|RSA2 (default RSA2).
'use strict'

const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { parseOrderStr, verifyTradePayResult, verifyNotify, isPaid, notifyVerifyUrl } = require('..')
const { startSimulator } = require('../simulator')
const { startMerchantServer } = require('./merchant-server')

const KEYS = path.join(__dirname, 'test-keys')
const readKey = (name) => fs.readFileSync(path.join(KEYS, name), 'utf8')
const signTypeArg = process.argv.indexOf('--sign-type')
const signType = signTypeArg > 0 ? process.argv[signTypeArg + 1] : 'RSA2'

// A fresh connection per request (agent: false), so that nothing stays open once the servers close.
function request(method, url, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body))
    const req = http.request(url, { method, agent: false, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode, text }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

let step = 0
function heading(title) {
  console.log(`\n${++step}. ${title}`)
}
function check(ok, what) {
  console.log(`   ${ok ? 'ok' : 'FAILED'}: ${what}`)
  if (!ok) throw new Error(`step ${step} failed: ${what}`)
}
function indent(text) {
  return String(text).replace(/^/gm, '   ')
}

async function main(cleanup) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-demo-'))
  cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }))

  heading('Start the Alipay simulator and the merchant server on 127.0.0.1 (TEST keys: the real Alipay refuses them)')
  const sim = await startSimulator({
    merchantPublicKey: readKey('merchant_public_key.TEST-ONLY.pem'),
    alipayPrivateKey: readKey('alipay_private_key.TEST-ONLY.pem'),
    retryDelaysMs: [200, 500, 1000], // Alipay waits 4m, 10m, 10m, 1h, 2h, 6h, 15h
  })
  cleanup.push(() => sim.close())
  const merchant = await startMerchantServer({
    dataDir,
    signType,
    // No key options: the merchant server falls back to the TEST-ONLY keys in examples/test-keys.
    gatewayUrl: sim.gatewayUrl, // confirm each notify_id with the simulator's notify_verify
  })
  cleanup.push(() => merchant.close())
  console.log(`   simulator:        ${sim.url}`)
  console.log(`   merchant server:  ${merchant.url} (ledger ${merchant.ledgerFile})`)

  heading('The mini program asks the merchant server for an order: POST /orders')
  const created = await request('POST', `${merchant.url}/orders`, { subject: '港式奶茶 Hong Kong milk tea', body: '凍奶茶 x2', totalFee: '36.00' })
  check(created.status === 201, `order created (HTTP ${created.status})`)
  const { outTradeNo, orderStr } = JSON.parse(created.text)
  const parsed = parseOrderStr(orderStr)
  console.log(`   out_trade_no: ${outTradeNo}`)
  console.log('   pre-sign string (the exact text signed):')
  console.log(indent(parsed.preSign))
  console.log(`   orderStr for my.tradePay({ orderStr }) (sign_type ${parsed.signType}):`)
  console.log(indent(orderStr))

  heading('The payer pays: the simulator checks the orderStr as the gateway would and answers (POST /pay)')
  const paid = await request('POST', `${sim.url}/pay`, { orderStr, choice: 'pay' })
  check(paid.status === 200, `the gateway accepted the signature and the parameters (HTTP ${paid.status})`)
  console.log('   sync result (what my.tradePay / the SDK hands back):')
  console.log(indent(paid.text))
  const sync = verifyTradePayResult(paid.text, { alipayPublicKey: sim.alipayPublicKey })
  check(sync.ok, `verifyTradePayResult with Alipay's public key: signature ${sync.ok ? 'verifies' : `does not verify (${sync.reason})`}`)
  check(sync.success, `resultStatus ${sync.resultStatus}, success="${sync.params.success}" (a hint only: the notification is what proves payment)`)

  heading("Alipay's asynchronous notification reaches the merchant server (POST /alipay/notify)")
  const [delivery] = await sim.waitForNotifications(1, { timeoutMs: 10000 })
  const notification = sim.notifications.find((n) => n.notifyId === delivery.notifyId)
  console.log(`   POST ${delivery.url}  try ${delivery.attempt}: HTTP ${delivery.status}, answer ${JSON.stringify(delivery.response)}`)
  console.log('   body (application/x-www-form-urlencoded):')
  console.log(indent(notification.body))
  const verified = verifyNotify(notification.body, { alipayPublicKey: sim.alipayPublicKey })
  check(verified.ok, `verifyNotify with Alipay's public key: the ${verified.signType} signature ${verified.ok ? 'verifies' : `does not verify (${verified.reason})`}`)
  // Only a verified result has a notification; its fields are verified.notification.params.
  const fields = verified.notification.params
  console.log('   decoded:')
  for (const [k, v] of Object.entries(fields)) if (k !== 'sign') console.log(`     ${k.padEnd(13)} ${v}`)
  check(isPaid(verified.notification), `trade_status ${fields.trade_status} counts as paid; total_fee ${fields.total_fee} ${fields.currency}`)
  const confirm = await request('GET', notifyVerifyUrl(merchant.partner, fields.notify_id, sim.gatewayUrl))
  check(confirm.text === 'true', `notify_verify for notify_id ${fields.notify_id} answers ${confirm.text}`)
  check(delivery.response === 'success', 'the merchant server answered `success` after recording the payment')

  heading('The mini program asks for the order status: GET /orders/:id')
  const status = await request('GET', `${merchant.url}/orders/${encodeURIComponent(outTradeNo)}`)
  const order = JSON.parse(status.text)
  console.log(indent(JSON.stringify(order, null, 2)))
  check(order.status === 'PAID', `order ${outTradeNo} is ${order.status}`)
  const ledger = fs.readFileSync(merchant.ledgerFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  check(ledger.filter((e) => e.type === 'payment').length === 1, `the ledger holds ${ledger.length} lines: ${ledger.map((e) => e.type).join(', ')}`)
}

const cleanup = []
main(cleanup)
  .then(
    () => console.log('\ndemo: all steps passed'),
    (err) => {
      console.error(`\ndemo: ${err.message}`)
      process.exitCode = 1
    },
  )
  .finally(async () => {
    for (const fn of cleanup.reverse()) await fn()
    // Everything is closed now, so node exits on its own; if something were still open, this says so.
    setTimeout(() => {
      console.error('demo: something was left running after the servers closed')
      process.exit(1)
    }, 5000).unref()
  })
