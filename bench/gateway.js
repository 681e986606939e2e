// `npm run bench`, the gateway line (issue 14): parsing and verifying a `single_trade_query`
// reply (RSA2, 2048-bit) with parseGatewayReply, against a JavaScript reference made of a
// maintained XML parser from npm (fast-xml-parser) and node:crypto with a KeyObject, doing what
// docs/protocol.md §8.2 asks: take the element inside <response>, sort its children by name,
// join `name=value` with `&`, verify the <sign> over that with Alipay's public key.
//
// The replies are written by the simulator's own code (simulator/gateway-reply.js, node:crypto
// only), so neither contender verifies what it wrote itself. Every contender is checked before
// it is timed: it must accept every genuine reply and refuse every tampered one.
'use strict'

const crypto = require('node:crypto')
const { XMLParser } = require('fast-xml-parser')
const { AlipayHK, parseGatewayReply } = require('..')
const { buildReply, signReplyFields } = require('../simulator/gateway-reply')

const PARTNER = '2088101568358171'
const REPLIES = 64 // distinct replies, taken in turn

// A paid trade as single_trade_query returns it (§8.3: the 22 fields), one per out_trade_no.
function tradeFields(i) {
  return {
    buyer_email: 'hk***@alitest.com',
    buyer_id: '2088102169834521',
    discount: '0.00',
    flag_trade_locked: '0',
    gmt_create: '2026-11-30 12:30:01',
    gmt_last_modified_time: '2026-11-30 12:34:50',
    gmt_payment: '2026-11-30 12:34:50',
    is_total_fee_adjust: 'N',
    operator_role: 'B',
    out_trade_no: `BENCH${i}`,
    payment_type: '100',
    price: '88.50',
    quantity: '1',
    seller_email: 'merchant***@alitest.com',
    seller_id: PARTNER,
    subject: '港式奶茶 Hong Kong milk tea x2',
    to_buyer_fee: '0.00',
    to_seller_fee: '88.50',
    total_fee: '88.50',
    trade_no: `2026113022001412345678${900000 + i}`,
    trade_status: 'TRADE_FINISHED',
    use_coupon: 'F',
  }
}

/** The whole reply text, as the gateway sends it: the request echoed, the trade, the signature. */
function replyText(fields, privateKey) {
  const request = [
    ['_input_charset', 'utf-8'],
    ['out_trade_no', fields.out_trade_no],
    ['partner', PARTNER],
    ['service', 'single_trade_query'],
  ]
  const sign = signReplyFields(fields, 'RSA2', { privateKey })
  return buildReply({ isSuccess: true, request, response: { element: 'trade', fields }, sign, signType: 'RSA2' }).text
}

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: false })

/**
 * The JavaScript reference: fast-xml-parser, then §8.2 with node:crypto. Returns the trade's
 * fields when the signature verifies, `null` when it does not.
 */
function jsParseAndVerify(text, keyObject) {
  const alipay = parser.parse(text).alipay
  if (!alipay || alipay.is_success !== 'T' || !alipay.response || typeof alipay.sign !== 'string') return null
  const names = Object.keys(alipay.response)
  if (names.length !== 1) return null
  const fields = alipay.response[names[0]]
  if (!fields || typeof fields !== 'object') return null
  const keys = Object.keys(fields).sort()
  let content = ''
  for (const k of keys) {
    const v = fields[k]
    if (typeof v !== 'string') return null
    if (v === '') continue
    content += (content ? '&' : '') + k + '=' + v
  }
  const hash = alipay.sign_type === 'RSA2' ? 'sha256' : alipay.sign_type === 'RSA' ? 'sha1' : null
  if (!hash) return null
  return crypto.verify(hash, Buffer.from(content, 'utf8'), keyObject, Buffer.from(alipay.sign, 'base64')) ? fields : null
}

/** One byte (or one field) off, each of which must be refused. */
function tamperedReplies(text) {
  return {
    'trade_status changed': text.replace('<trade_status>TRADE_FINISHED</trade_status>', '<trade_status>TRADE_FINISHEE</trade_status>'),
    'total_fee changed': text.replace('<total_fee>88.50</total_fee>', '<total_fee>88.51</total_fee>'),
    'a masked value unmasked': text.replace('hk***@alitest.com', 'hkx**@alitest.com'),
    'a field removed': text.replace(/<use_coupon>F<\/use_coupon>/, ''),
    'a field added': text.replace('<trade>', '<trade><aaa>1</aaa>'),
    'a field renamed': text.replace(/<price>(.*?)<\/price>/, '<prica>$1</prica>'),
    'the signature changed': text.replace(/<sign>(.)/, (m, c) => `<sign>${c === 'A' ? 'B' : 'A'}`),
  }
}

function cycle(xs) {
  let i = 0
  return () => xs[i++ % xs.length]
}

/** The bench case (see bench/bench.js for the method). */
function gatewayReplyCase() {
  const alipayPair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const merchantPair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = alipayPair.publicKey.export({ type: 'spki', format: 'pem' })
  const keyObject = crypto.createPublicKey(pem)
  const texts = Array.from({ length: REPLIES }, (_, i) => ({ i, text: replyText(tradeFields(i), alipayPair.privateKey) }))
  const bytes = texts.map(({ i, text }) => ({ i, text: Buffer.from(text, 'utf8') }))
  const tampered = tamperedReplies(texts[0].text)
  const client = new AlipayHK({
    partner: PARTNER,
    signType: 'RSA2',
    privateKey: merchantPair.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    alipayPublicKey: pem,
  })
  const key = { alipayPublicKey: pem }
  const expected = (i) => ({ outTradeNo: `BENCH${i}` })

  // [name, parse-and-verify(reply) -> fields or null, baseline?, replies]
  const contenders = [
    ['fast-xml-parser + node:crypto, KeyObject (baseline)', (r) => jsParseAndVerify(r.text, keyObject), true, texts],
    ['parseGatewayReply(service, text, key string)', (r) => parseGatewayReply('single_trade_query', r.text, key, expected(r.i)).trade.fields, false, texts],
    ['AlipayHK#parseGatewayReply(service, text)', (r) => client.parseGatewayReply('single_trade_query', r.text, expected(r.i)).trade.fields, false, texts],
    ['AlipayHK#parseGatewayReply(service, Buffer)', (r) => client.parseGatewayReply('single_trade_query', r.text, expected(r.i)).trade.fields, false, bytes],
  ]
  const label = 'parseGatewayReply: a single_trade_query reply, RSA2, 2048-bit, SHA-256'

  // Before timing: every contender accepts every genuine reply with the right fields, and
  // refuses every tampered one (null from the reference, a REPLY_SIGNATURE error from ours).
  function check() {
    for (const [name, f, , replies] of contenders) {
      for (const r of replies) {
        const fields = (() => {
          try {
            return f(r)
          } catch (err) {
            throw new Error(`${label}: ${name} refused a genuine reply (${err.code}: ${err.message})`)
          }
        })()
        const want = tradeFields(r.i)
        if (!fields || JSON.stringify(Object.entries(fields).sort()) !== JSON.stringify(Object.entries(want).sort())) {
          throw new Error(`${label}: ${name} did not return the signed fields of reply ${r.i}`)
        }
      }
      for (const [what, text] of Object.entries(tampered)) {
        if (text === texts[0].text) throw new Error(`${label}: the tampering "${what}" changed nothing`)
        const r = { i: 0, text: replies === bytes ? Buffer.from(text, 'utf8') : text }
        let accepted
        try {
          accepted = f(r) !== null
        } catch (err) {
          if (!/^ERR_ALIPAYHK_(REPLY_SIGNATURE|MALFORMED_REPLY)$/.test(err.code)) throw err
          accepted = false
        }
        if (accepted) throw new Error(`${label}: ${name} accepted a tampered reply (${what})`)
      }
    }
  }

  return {
    label,
    contenders: contenders.map(([name, f, base, replies]) => {
      const next = cycle(replies)
      return [name, () => f(next()), base]
    }),
    check,
    notes: () => [
      `A whole reply as the gateway sends it (${Buffer.byteLength(texts[0].text)} bytes: the request echoed, the 22 fields of <trade>, an RSA2 signature over them by a 2048-bit key), ${REPLIES} different ones in turn, written by the simulator's code with node:crypto. The reference parses it with fast-xml-parser and verifies by §8.2 with node:crypto and a KeyObject made once; parseGatewayReply also decodes by the prolog, enforces size, depth and duplicate-element limits, refuses a DTD, checks the reply is about the order asked for, and builds the typed result. Each contender was first checked to return the signed fields of all ${REPLIES} and to refuse ${Object.keys(tampered).length} tampered ones (${Object.keys(tampered).join('; ')}).`,
    ],
  }
}

module.exports = { gatewayReplyCase, jsParseAndVerify, tamperedReplies }
