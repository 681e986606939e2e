#!/usr/bin/env node
// `npm run demo`: build a signed orderStr for an example AlipayHK order with the TEST key
// shipped in examples/test-keys/, print it with its pre-sign string, and check the signature
// independently with node:crypto. Options: --key <pem> --sign-type RSA|RSA2 (default RSA2).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { OrderSigner } = require('..')

function arg(name, fallback) {
  const i = process.argv.indexOf(name)
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}

const keyPath = arg('--key', path.join(__dirname, 'test-keys', 'merchant_private_key.TEST-ONLY.pem'))
const signType = arg('--sign-type', 'RSA2')
const privateKey = fs.readFileSync(keyPath, 'utf8')

const order = {
  service: 'mobile.securitypay.pay',
  partner: '2088101568358171',
  seller_id: '2088101568358171',
  out_trade_no: `DEMO${Date.now()}`,
  subject: '港式奶茶 Hong Kong milk tea',
  body: '凍奶茶 x2',
  total_fee: '36.00',
  currency: 'HKD',
  notify_url: 'https://merchant.example.com/alipay/notify',
  payment_type: '1',
  _input_charset: 'utf-8',
  it_b_pay: '30m',
  return_url: 'm.alipay.com',
  payment_inst: 'ALIPAYHK',
  product_code: 'NEW_WAP_OVERSEAS_SELLER',
  forex_biz: 'FP',
}

const signer = new OrderSigner({ signType, privateKey })
const preSign = signer.preSign(order)
const orderStr = signer.buildOrderStr(order)

const sign = decodeURIComponent(/&sign="([^"]*)"/.exec(orderStr)[1])
const verified = crypto.verify(
  signType === 'RSA2' ? 'sha256' : 'sha1',
  Buffer.from(preSign, 'utf8'),
  crypto.createPublicKey(privateKey),
  Buffer.from(sign, 'base64'),
)

console.log(`key:         ${path.relative(process.cwd(), keyPath)} (${signer.keyBits}-bit, sha256 ${signer.fingerprint})`)
if (keyPath.includes('TEST-ONLY')) console.log('             TEST KEY: Alipay will refuse it; see README "From test keys to real ones"')
console.log(`sign type:   ${signer.signType}`)
console.log('\npre-sign string (the exact bytes signed):')
console.log(preSign)
console.log('\norderStr (pass to my.tradePay({ orderStr })):')
console.log(orderStr)
console.log(`\nsignature checked with node:crypto: ${verified ? 'ok' : 'FAILED'}`)
process.exit(verified ? 0 : 1)
