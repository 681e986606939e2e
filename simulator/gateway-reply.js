// The gateway's XML reply (docs/protocol.md §8.2), written with node:crypto alone: the envelope, the
// signature over the children of the element inside <response>, and an optional GBK-declared body.
'use strict'

const { signWith } = require('./keys')
const { signContent } = require('./gateway-request')

function xmlEscape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c])
}

/**
 * The reply's signature: the fields of the element inside <response> (8.2), sorted `name=value`,
 * signed with "Alipay's" private key (RSA: SHA1, RSA2: SHA256) or MD5(string + key). The string
 * is taken as UTF-8, the request's `_input_charset`, whatever the XML prolog declares.
 */
function signReplyFields(fields, signType, keys) {
  return signWith(signType, signContent(fields), keys)
}

/**
 * Builds the envelope. `reply` = { isSuccess, error?, request? ([[name, value]] echoed),
 * response? ({ element: 'trade' | 'alipay', fields: { name: value } }), sign?, signType? }.
 * Empty fields are left out, so the signed string and the elements never disagree about them.
 * `style` = { charset: 'utf-8' | 'gbk', indent: boolean }.
 * Returns { text (what the XML says), body (the bytes sent), contentType }.
 */
function buildReply(reply, { charset = 'utf-8', indent = false } = {}) {
  const nl = indent ? '\n' : ''
  const pad = (depth) => (indent ? '  '.repeat(depth) : '')
  const gbk = charset.toLowerCase() === 'gbk'
  const lines = [`<?xml version="1.0" encoding="${gbk ? 'GBK' : 'utf-8'}"?>`, '<alipay>']
  lines.push(`${pad(1)}<is_success>${reply.isSuccess ? 'T' : 'F'}</is_success>`)
  if (reply.error) lines.push(`${pad(1)}<error>${xmlEscape(reply.error)}</error>`)
  if (reply.request && reply.request.length) {
    lines.push(`${pad(1)}<request>`)
    for (const [name, value] of reply.request) lines.push(`${pad(2)}<param name="${xmlEscape(name)}">${xmlEscape(value)}</param>`)
    lines.push(`${pad(1)}</request>`)
  }
  if (reply.response) {
    const { element, fields } = reply.response
    lines.push(`${pad(1)}<response>`, `${pad(2)}<${element}>`)
    for (const name of Object.keys(fields).sort()) {
      const value = fields[name]
      if (value === undefined || value === null || value === '') continue
      lines.push(`${pad(3)}<${name}>${xmlEscape(value)}</${name}>`)
    }
    lines.push(`${pad(2)}</${element}>`, `${pad(1)}</response>`)
  }
  if (reply.sign !== undefined) lines.push(`${pad(1)}<sign>${xmlEscape(reply.sign)}</sign>`)
  if (reply.signType !== undefined) lines.push(`${pad(1)}<sign_type>${xmlEscape(reply.signType)}</sign_type>`)
  lines.push('</alipay>')
  const text = lines.join(nl)
  return {
    text,
    body: gbk ? gbkEncode(text) : Buffer.from(text, 'utf8'),
    contentType: gbk ? 'text/xml; charset=GBK' : 'text/xml; charset=utf-8',
  }
}

// Node can decode GBK (TextDecoder) but not encode it: the table is read back from the decoder.
let gbkTable = null
function gbkEncode(text) {
  if (!gbkTable) {
    gbkTable = new Map()
    const decoder = new TextDecoder('gbk')
    for (let lead = 0x81; lead <= 0xfe; lead++) {
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        if (trail === 0x7f) continue
        const ch = decoder.decode(Uint8Array.of(lead, trail))
        if (ch.length === 1 && ch !== '\uFFFD' && !gbkTable.has(ch)) gbkTable.set(ch, [lead, trail])
      }
    }
  }
  const bytes = []
  for (const ch of text) {
    const code = ch.codePointAt(0)
    if (code < 0x80) bytes.push(code)
    else {
      const pair = gbkTable.get(ch)
      if (pair) bytes.push(pair[0], pair[1])
      else bytes.push(0x3f) // `?`, as a GBK writer does for what GBK cannot hold
    }
  }
  return Buffer.from(bytes)
}

module.exports = { buildReply, signReplyFields, gbkEncode, xmlEscape }
