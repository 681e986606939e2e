#!/usr/bin/env node
// Soak: many mixed calls (sync, async, failing, verifying, aborted) in this process, sampling the
// resident set size; it must level off. Exits 1 if RSS grows by more than --max-growth-mb
// between the end of the warm-up (first 10% of calls) and the end.
//
//   node --expose-gc --max-semi-space-size=1 bench/soak.js [--calls 1000000] [--max-growth-mb 10]
//
// --max-semi-space-size=1 holds V8's young generation small: otherwise V8 grows it in steps
// (heapTotal 12 → 20 → 36 MB while heapUsed stays near 3 MB) somewhere past 100,000 calls, and
// that step, not anything this package holds, is what RSS shows. heapTotal is printed too.
'use strict'

const crypto = require('node:crypto')
const {
  buildOrderStr,
  buildOrderStrAsync,
  OrderSigner,
  verifyNotify,
  verifyNotifyAsync,
} = require('..')

const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : dflt
}
const CALLS = opt('--calls', 1000000)
const MAX_GROWTH_MB = opt('--max-growth-mb', 10)

const merchant = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 })
const alipay = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 })
const pem = merchant.privateKey.export({ type: 'pkcs8', format: 'pem' })
const alipayPublicKey = alipay.publicKey.export({ type: 'spki', format: 'pem' })
const md5Key = 'k'.repeat(32)
const signer = new OrderSigner({ signType: 'RSA', privateKey: pem })
const md5Signer = new OrderSigner({ signType: 'MD5', md5Key })
const shutdown = new AbortController()

const order = (i) => ({
  service: 'mobile.securitypay.pay',
  partner: '2088101568358171',
  seller_id: '2088101568358171',
  out_trade_no: `SOAK${i}`,
  subject: '商品名稱',
  total_fee: '1.00',
  currency: 'HKD',
  notify_url: 'https://shop.example.com/notify',
  payment_type: '1',
  _input_charset: 'utf-8',
  product_code: 'NEW_WAP_OVERSEAS_SELLER',
  forex_biz: 'FP',
})

const fields = { notify_id: 'n1', out_trade_no: 'SOAK1', total_fee: '1.00', trade_status: 'TRADE_FINISHED' }
const content = Object.keys(fields).sort().map((k) => `${k}=${fields[k]}`).join('&')
const notifyBody = new URLSearchParams({
  ...fields,
  sign: crypto.sign('sha1', Buffer.from(content), alipay.privateKey).toString('base64'),
  sign_type: 'RSA',
}).toString()

async function call(i) {
  switch (i % 8) {
    case 0:
      return buildOrderStr(order(i), { signType: 'RSA', privateKey: pem }) // a PEM string: parsed once, then cached
    case 1:
      return signer.buildOrderStr(order(i))
    case 2:
      return md5Signer.buildOrderStr(order(i))
    case 3:
      // A server's long-lived shutdown signal, shared by every call.
      return buildOrderStrAsync(order(i), signer, { signal: shutdown.signal })
    case 4:
      try {
        buildOrderStr({ ...order(i), total_fee: '1.005' }, signer)
      } catch (e) {
        if (e.code !== 'ERR_ALIPAYHK_INVALID_PARAM') throw e
      }
      return
    case 5: {
      await buildOrderStrAsync({ ...order(i), subject: undefined }, signer).catch((e) => {
        if (e.code !== 'ERR_ALIPAYHK_MISSING_PARAM') throw e
      })
      // A signal of its own per request, aborted while the call waits or runs.
      const controller = new AbortController()
      const signing = buildOrderStrAsync(order(i), signer, { signal: controller.signal })
      controller.abort()
      return signing.catch((e) => {
        if (e.name !== 'AbortError') throw e
      })
    }
    case 6:
      if (!verifyNotify(notifyBody, { alipayPublicKey }).ok) throw new Error('verification failed')
      return
    default: {
      const r = await verifyNotifyAsync(notifyBody.replace('1.00', '2.00'), { alipayPublicKey })
      if (r.ok) throw new Error('a tampered notification verified')
    }
  }
}

async function main() {
  const samples = []
  const every = Math.max(1, Math.floor(CALLS / 20))
  const batch = 64
  const t0 = Date.now()
  for (let i = 0; i < CALLS; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, CALLS - i) }, (_, j) => call(i + j)))
    if ((i / batch) % Math.max(1, Math.floor(every / batch)) === 0) {
      if (global.gc) global.gc()
      samples.push([i, process.memoryUsage().rss, process.memoryUsage().heapTotal])
    }
  }
  if (global.gc) global.gc()
  samples.push([CALLS, process.memoryUsage().rss, process.memoryUsage().heapTotal])
  const mb = (b) => (b / 2 ** 20).toFixed(1)
  const warm = samples.find(([i]) => i >= CALLS / 10) || samples[0]
  const last = samples[samples.length - 1]
  const growth = (last[1] - warm[1]) / 2 ** 20
  console.log(`calls: ${CALLS} in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  console.log(`rss (MB) by calls: ${samples.map(([i, r]) => `${i}:${mb(r)}`).join(' ')}`)
  console.log(`V8 heapTotal (MB) by calls: ${samples.map(([i, , h]) => `${i}:${mb(h)}`).join(' ')}`)
  console.log(`growth after warm-up (${warm[0]} calls): ${growth.toFixed(1)} MB (limit ${MAX_GROWTH_MB} MB)`)
  process.exit(growth < MAX_GROWTH_MB ? 0 : 1)
}

main().catch((e) => {
  console.error(e)
  process.exit(2)
})
