#!/usr/bin/env node
// Runs in a project that installed alipayhk-pay (the current directory), on the platform under
// test: loads the package as a merchant's app does and checks the binary that answered against
// node:crypto. Plain CommonJS that Node 16 runs (the glibc 2.17 userland has Node 16).
//
//   node platforms-smoke.js <package platform, e.g. linux-x64-gnu or wasm32-wasi>
//
// Prints one JSON line (ok, failures, where the binary came from, a speed figure); exits 1 when
// a check failed. A failed load, sign or verify check stops it at once.
'use strict'

const assert = require('assert')
const crypto = require('crypto')
const fs = require('fs')
const path = require('path')
const { createRequire } = require('module')

const platform = process.argv[2]
if (!platform) throw new Error('usage: platforms-smoke.js <platform>')

async function main() {
  const started = process.hrtime.bigint()
  const appRequire = createRequire(path.join(process.cwd(), 'app.js'))
  const entry = appRequire.resolve('alipayhk-pay')
  const pay = appRequire('alipayhk-pay')
  const loadMs = Number(process.hrtime.bigint() - started) / 1e6

  // The binary came from the platform package, not from a copy inside the main package.
  const mainDir = path.join(process.cwd(), 'node_modules', 'alipayhk-pay')
  assert.ok(entry.startsWith(mainDir + path.sep), `loaded from ${entry}`)
  const filesOf = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesOf(path.join(dir, e.name)) : [e.name]))
  const binariesInMain = filesOf(mainDir).filter((f) => /\.(node|wasm)$/.test(f))
  assert.deepStrictEqual(binariesInMain, [], 'the main package carries no binary')
  const platformDir = path.join(process.cwd(), 'node_modules', `alipayhk-pay-${platform}`) + path.sep
  const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node') || f.includes(`alipayhk-pay-${platform}`))
  assert.ok(loaded.length > 0 && loaded.every((f) => f.startsWith(platformDir)), `binary loaded from ${loaded.join(', ')}, expected under ${platformDir}`)
  if (pay.__napiBindingTarget !== undefined) {
    assert.strictEqual(pay.__napiBindingTarget, platform === 'wasm32-wasi' ? 'wasm32-wasi' : 'native')
  }

  // Sign: an orderStr whose RSA2 signature node:crypto verifies; RSA (SHA-1) and MD5 too.
  const merchant = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privateKey = merchant.privateKey.export({ type: 'pkcs8', format: 'pem' })
  const params = {
    service: 'mobile.securitypay.pay',
    partner: '2088101568358171',
    seller_id: '2088101568358171',
    out_trade_no: `SMOKE-${platform}`,
    subject: '港式奶茶',
    total_fee: '0.10',
    currency: 'HKD',
    notify_url: 'https://shop.example.com/notify',
    payment_type: '1',
    _input_charset: 'utf-8',
    product_code: 'NEW_WAP_OVERSEAS_SELLER',
    forex_biz: 'FP',
  }
  const preSign = pay.preSignString(params)
  const signOf = (orderStr) => decodeURIComponent(/&sign="([^"]+)"&sign_type="[A-Z0-9]+"$/.exec(orderStr)[1])
  for (const [signType, hash] of [['RSA2', 'sha256'], ['RSA', 'sha1']]) {
    const orderStr = pay.buildOrderStr(params, { signType, privateKey })
    assert.ok(orderStr.startsWith(preSign + '&sign="'), `${signType} orderStr starts with the pre-sign string`)
    const ok = crypto.verify(hash, Buffer.from(preSign, 'utf8'), merchant.publicKey, Buffer.from(signOf(orderStr), 'base64'))
    assert.ok(ok, `node:crypto verifies the ${signType} signature`)
  }
  const md5Key = crypto.randomBytes(16).toString('hex')
  const md5 = signOf(pay.buildOrderStr(params, { signType: 'MD5', md5Key }))
  assert.strictEqual(md5, crypto.createHash('md5').update(preSign + md5Key, 'utf8').digest('hex'), 'MD5 sign equals node:crypto')

  // Verify: a notification signed by node:crypto with "Alipay's" key; a changed amount fails.
  const alipay = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const alipayPublicKey = alipay.publicKey.export({ type: 'spki', format: 'pem' })
  const fields = {
    notify_id: crypto.randomBytes(8).toString('hex'),
    notify_time: '2025-01-02 03:04:05',
    out_trade_no: params.out_trade_no,
    trade_no: '2025010222001400000000000001',
    trade_status: 'TRADE_FINISHED',
    total_fee: '0.10',
    currency: 'HKD',
  }
  const content = Object.keys(fields).sort().map((k) => `${k}=${fields[k]}`).join('&')
  const sign = crypto.sign('sha256', Buffer.from(content, 'utf8'), alipay.privateKey).toString('base64')
  const body = new URLSearchParams(Object.assign({}, fields, { sign, sign_type: 'RSA2' })).toString()
  const good = pay.verifyNotify(body, { alipayPublicKey })
  assert.strictEqual(good.ok, true, `verifyNotify accepts node:crypto's signature: ${good.message}`)
  const bad = pay.verifyNotify(body.replace('total_fee=0.10', 'total_fee=9.10'), { alipayPublicKey })
  assert.strictEqual(bad.ok, false, 'verifyNotify refuses a changed amount')
  assert.strictEqual(bad.reason, 'BAD_SIGNATURE')

  // Async: the thread-pool (or WASI worker) path gives the same bytes; a coded error for bad input.
  const key = { signType: 'RSA2', privateKey }
  assert.strictEqual(await pay.buildOrderStrAsync(params, key), pay.buildOrderStr(params, key), 'async orderStr equals sync')
  assert.strictEqual((await pay.verifyNotifyAsync(body, { alipayPublicKey })).ok, true, 'verifyNotifyAsync accepts')

  // A rough speed figure (not a claim): RSA2 orderStr per second on this platform.
  const rounds = platform === 'wasm32-wasi' ? 20 : 200
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) pay.buildOrderStr(params, key)
  const perSecond = Math.round(rounds / (Number(process.hrtime.bigint() - t0) / 1e9))

  // Bad input: an Error with the package's code and the field at fault.
  const failures = []
  try {
    pay.buildOrderStr({}, key)
    failures.push('buildOrderStr({}) did not throw')
  } catch (e) {
    if (!(e instanceof Error) || !/^ERR_ALIPAYHK_/.test(e.code) || typeof e.field !== 'string') {
      failures.push(`bad input threw code ${JSON.stringify(e.code)}, field ${JSON.stringify(e.field)}, not ERR_ALIPAYHK_* with a field`)
    }
  }

  console.log(
    JSON.stringify({
      ok: failures.length === 0,
      failures,
      platform,
      node: process.version,
      arch: process.arch,
      glibc: (process.report && process.report.getReport().header.glibcVersionRuntime) || null,
      binding: path.relative(process.cwd(), loaded[0]),
      loadMs: Math.round(loadMs),
      rsa2PerSecond: perSecond,
    }),
  )
  if (failures.length) process.exitCode = 1
}

main().then(
  () => process.exit(process.exitCode || 0), // a WASI runtime keeps worker threads; the checks are done
  (err) => {
    console.error(`smoke ${platform}: FAILED: ${err && err.stack ? err.stack : err}`)
    process.exit(1)
  },
)
