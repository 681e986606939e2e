// alipayhk-pay/testing: what a merchant needs to test their own notification handler without
// an Alipay account. The TEST keys of examples/test-keys, a real-shaped notification, the
// signer that turns it into the raw form body Alipay would POST, and the local Alipay simulator.
//
// Everything here is signed with keys published in this package: it proves nothing outside a
// test, and Alipay's gateway refuses it. The signer and the simulator use node:crypto only,
// never the addon, so a test checks the addon against a second implementation.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const simulator = require('../simulator')
const { signedNotifyBody, alipayTime } = require('../simulator/notifier')

const KEY_DIR = path.join(__dirname, '..', 'examples', 'test-keys')

/** Where the TEST keys are, as files. */
const TEST_KEY_FILES = Object.freeze({
  merchantPrivateKey: path.join(KEY_DIR, 'merchant_private_key.TEST-ONLY.pem'),
  merchantPublicKey: path.join(KEY_DIR, 'merchant_public_key.TEST-ONLY.pem'),
  alipayPrivateKey: path.join(KEY_DIR, 'alipay_private_key.TEST-ONLY.pem'),
  alipayPublicKey: path.join(KEY_DIR, 'alipay_public_key.TEST-ONLY.pem'),
})

/** The TEST keys as PEM text. */
const TEST_KEYS = Object.freeze(Object.fromEntries(Object.entries(TEST_KEY_FILES).map(([name, file]) => [name, fs.readFileSync(file, 'utf8')])))

/** The partner ID of Alipay's documented sample: a placeholder, not an account. */
const TEST_PARTNER = '2088101568358171'

const SIGN_TYPES = ['RSA', 'RSA2', 'MD5']

function invalid(message, field) {
  const err = new TypeError(message)
  err.code = 'ERR_ALIPAYHK_INVALID_ARGUMENT'
  err.field = field
  return err
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

// Own keys only, values strings; undefined drops a field.
function fieldsOf(input, what) {
  if (!isPlainObject(input)) throw invalid(`${what} must be an object of field names to string values`, what)
  const out = {}
  for (const name of Object.keys(input)) {
    const value = input[name]
    if (value === undefined) continue
    if (typeof value !== 'string') throw invalid(`${what}.${name} must be a string (as Alipay sends it: '12.50', not 12.5), not ${typeof value}`, name)
    out[name] = value
  }
  return out
}

function randomDigits(n) {
  let s = ''
  while (s.length < n) s += crypto.randomInt(0, 1e9).toString().padStart(9, '0')
  return s.slice(0, n)
}

/**
 * The fields of a paid order's notification as Alipay sends them (docs/protocol.md §4), with a
 * fresh notify_id and trade_no on every call and the times of now in Beijing time. `overrides`
 * replaces fields (strings only) and adds others; `undefined` leaves a field out.
 */
function sampleNotification(overrides = {}) {
  const changes = fieldsOf(overrides, 'overrides')
  const paidAt = new Date()
  const createdAt = new Date(paidAt.getTime() - 60 * 1000)
  const params = {
    notify_time: alipayTime(paidAt),
    notify_type: 'trade_status_sync',
    notify_id: crypto.randomBytes(16).toString('hex'),
    trade_no: alipayTime(paidAt).slice(0, 10).replace(/-/g, '') + '2100100' + randomDigits(13),
    out_trade_no: 'TEST-ORDER-0001',
    subject: '雞蛋仔 Egg waffle',
    body: '原味 x1',
    total_fee: '12.50',
    currency: 'HKD',
    trade_status: 'TRADE_SUCCESS',
    buyer_id: '2088' + randomDigits(12),
    seller_id: TEST_PARTNER,
    gmt_create: alipayTime(createdAt),
    gmt_payment: alipayTime(paidAt),
  }
  for (const name of Object.keys(overrides)) {
    if (overrides[name] === undefined) delete params[name]
    else params[name] = changes[name]
  }
  return params
}

/**
 * The raw `application/x-www-form-urlencoded` body Alipay would POST for `params`: signed over
 * the sorted `key=value` string (sign, sign_type and empty values left out) with
 * `key.privateKey` (the TEST Alipay private key by default) for RSA / RSA2, or with
 * `key.md5Key` for MD5. The sign type is never guessed.
 */
function signNotification(params, key) {
  const fields = fieldsOf(params, 'params')
  for (const name of ['sign', 'sign_type']) {
    if (name in fields) throw invalid(`params must not hold ${name}: signNotification adds it`, name)
  }
  if (!isPlainObject(key)) throw invalid("signNotification(params, key): key is { signType: 'RSA2' } (or 'RSA', or { signType: 'MD5', md5Key })", 'key')
  const { signType } = key
  if (!SIGN_TYPES.includes(signType)) {
    throw invalid(`key.signType must be 'RSA2' or 'RSA' (as set in the AlipayHK merchant portal) or 'MD5', not ${JSON.stringify(signType)}`, 'signType')
  }
  if (signType === 'MD5') {
    if (typeof key.md5Key !== 'string' || !key.md5Key) throw invalid("signType 'MD5' needs md5Key (a string)", 'md5Key')
    return signedNotifyBody(fields, 'MD5', { md5Key: key.md5Key })
  }
  const privateKey = key.privateKey === undefined ? TEST_KEYS.alipayPrivateKey : key.privateKey
  return signedNotifyBody(fields, signType, { privateKey })
}

/**
 * Starts the Alipay simulator on 127.0.0.1 (see simulator/README.md). Without keys it checks
 * orderStrs with the TEST merchant public key and signs as Alipay with the TEST Alipay private
 * key, so `TEST_KEYS.alipayPublicKey` verifies what it sends. Stop it with `sim.close()`.
 */
async function startSimulator(options = {}) {
  if (!isPlainObject(options)) throw invalid('startSimulator(options): options must be an object', 'options')
  const withKeys = { ...options }
  if (withKeys.merchantPublicKey === undefined && withKeys.md5Key === undefined) withKeys.merchantPublicKey = TEST_KEYS.merchantPublicKey
  if (withKeys.alipayPrivateKey === undefined) withKeys.alipayPrivateKey = TEST_KEYS.alipayPrivateKey
  return simulator.startSimulator(withKeys)
}

module.exports = { TEST_KEYS, TEST_KEY_FILES, TEST_PARTNER, sampleNotification, signNotification, startSimulator }
