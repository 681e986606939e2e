#!/usr/bin/env node
// `npm run demo`: a whole AlipayHK payment on this machine, with the TEST keys shipped in
// examples/test-keys/. The Alipay simulator (simulator/) and the example merchant server
// (examples/merchant-server.js) run on 127.0.0.1; an order for a Chinese-named item is created,
// paid through the simulator, and followed until the merchant records it PAID. Then the rest of
// the payment's life through the gateway services (AlipayHK#queryOrder, #refund, #refundStatus):
// two partial refunds, a third that would take the refunds above the amount paid (refused), and
// the refunds' status, each answer checked against Alipay's signature.
// Each step is printed; any failed step exits non-zero. Option: --sign-type RSA|RSA2 (default RSA2).
'use strict'

const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { AlipayHK, parseOrderStr, verifyTradePayResult, verifyNotify, isPaid, notifyVerifyUrl } = require('..')
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
    refundSpacingMs: 100, // Alipay asks for 3 s between two refunds of one partner
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

  // The rest of the payment's life: the merchant's back office calls Alipay's gateway services
  // with the same account (TEST keys), here pointed at the simulator.
  const alipay = new AlipayHK({
    partner: merchant.partner,
    signType,
    privateKey: readKey('merchant_private_key.TEST-ONLY.pem'),
    alipayPublicKey: sim.alipayPublicKey,
    gateway: sim.gatewayUrl,
  })
  const forexRefunds = (outReturnNo) => sim.gatewayRequests.filter((r) => r.service === 'forex_refund' && r.params.out_return_no === outReturnNo)

  heading('The back office asks Alipay itself: AlipayHK#queryOrder (single_trade_query)')
  const queried = await alipay.queryOrder({ outTradeNo })
  console.log(`   ${queried.status}: trade_status ${queried.trade.tradeStatus}, total_fee ${queried.trade.totalFee}, trade_no ${queried.trade.tradeNo}`)
  check(queried.status === 'PAID' && queried.signedByAlipay, `the reply is signed (${queried.signType}) and verifies with Alipay's public key: PAID`)

  const refunds = []
  async function refund(title, amount) {
    heading(title)
    const outReturnNo = `${outTradeNo}-R${refunds.length + 1}`
    const request = { outTradeNo, outReturnNo, amount, reason: '少了一杯 one tea short' }
    console.log(`   alipay.refund(${JSON.stringify(request)})`)
    try {
      const r = await alipay.refund(request)
      const tries = forexRefunds(outReturnNo)
      const again = tries.length > 1 ? '; a refund too soon after the last one is refused (100 ms in the simulator, 3 s at Alipay) and sent again byte for byte' : ''
      console.log(`   forex_refund: ${tries.length} ${tries.length === 1 ? 'try' : 'tries'} (${tries.map((t) => t.answer).join(', ')})${again}`)
      console.log(`   ${r.status}: confirmed by alipay.acquire.refund.query, reply signed ${r.signType}`)
      check(r.status === 'SUCCESS' && r.signedByAlipay, `refund ${outReturnNo} of ${amount} HKD succeeded`)
      refunds.push({ outReturnNo, amount, refused: null })
    } catch (err) {
      if (err.code !== 'ERR_ALIPAYHK_GATEWAY_ERROR') throw err
      console.log(`   refused: ${err.gatewayError}: ${err.explanation}`)
      refunds.push({ outReturnNo, amount, refused: err.gatewayError })
    }
    return refunds[refunds.length - 1]
  }
  await refund('A partial refund: AlipayHK#refund (forex_refund, then the signed refund query)', '10.00')
  await refund('A second partial refund: 30.00 of the 36.00 refunded in all', '20.00')
  const third = await refund('A third refund that would take the refunds above the 36.00 paid (30.00 + 10.00): the gateway refuses it', '10.00')
  check(third.refused === 'RETURN_AMOUNT_EXCEED', `refund ${third.outReturnNo} refused with ${third.refused}; nothing refunded`)
  const made = sim.refunds().filter((r) => r.outTradeNo === outTradeNo)
  check(made.length === 2 && made.every((r) => r.status === 'SUCCESS'), `Alipay's books (the simulator): ${made.map((r) => `${r.outReturnNo} ${r.amount} ${r.status}`).join(', ')}`)

  heading('The refunds\' status: AlipayHK#refundStatus (alipay.acquire.refund.query)')
  for (const r of refunds) {
    const s = await alipay.refundStatus({ outTradeNo, outReturnNo: r.outReturnNo })
    console.log(`   ${r.outReturnNo} (${r.amount}): ${s.status}${s.signedByAlipay ? `, reply signed ${s.signType}` : ''}`)
    check(s.status === (r.refused ? 'NOT_FOUND' : 'SUCCESS') && s.signedByAlipay, r.refused ? 'the refused refund was never made: NOT_FOUND' : 'SUCCESS, signed by Alipay')
  }
  const after = await alipay.queryOrder({ outTradeNo })
  check(after.trade.fields.to_buyer_fee === '30.00', `single_trade_query: to_buyer_fee ${after.trade.fields.to_buyer_fee} of total_fee ${after.trade.totalFee} refunded`)
  return `paid 36.00 HKD; refunded 10.00 + 20.00 HKD (SUCCESS, signed by Alipay); a third refund of 10.00 refused with ${third.refused}`
}

const cleanup = []
main(cleanup)
  .then(
    (summary) => console.log(`\ndemo: all steps passed: ${summary}`),
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
