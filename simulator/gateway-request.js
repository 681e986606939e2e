// The gateway's reading of a server-to-server request (docs/protocol.md §8.1), written with node:crypto
// alone: the form decoding, the signed string (sorted `name=value`, unquoted, empty values left
// out), the checks every service shares, and one table of parameter rules per service (8.3–8.6).
'use strict'

const { verifyWith } = require('./keys')

const SERVICES = ['single_trade_query', 'forex_refund', 'alipay.acquire.refund.query', 'notify_verify']

const SIGN_TYPES = ['RSA', 'RSA2', 'MD5']

// Charsets the gateway can decode a form with. A POST whose URL does not name one is read as GBK.
const DECODERS = { 'utf-8': 'utf-8', utf8: 'utf-8', gbk: 'gbk', gb2312: 'gbk', gb18030: 'gb18030' }

/**
 * Decodes `application/x-www-form-urlencoded` text (a query string or a body) as the gateway does:
 * `+` is a space, `%XX` a byte, and the bytes are read in `charset`. Returns the pairs in the
 * order written, or { malformed } naming the first broken piece.
 */
function decodeForm(text, charset = 'utf-8') {
  const decoder = new TextDecoder(DECODERS[charset] || 'utf-8')
  const pairs = []
  if (!text) return { pairs }
  for (const piece of text.split('&')) {
    if (piece === '') continue
    const eq = piece.indexOf('=')
    const rawName = eq < 0 ? piece : piece.slice(0, eq)
    const rawValue = eq < 0 ? '' : piece.slice(eq + 1)
    const name = percentDecode(rawName, decoder)
    const value = percentDecode(rawValue, decoder)
    if (name === null || value === null) return { pairs, malformed: piece.slice(0, 40) }
    pairs.push([name, value])
  }
  return { pairs }
}

function percentDecode(text, decoder) {
  const bytes = []
  const s = text.replace(/\+/g, ' ')
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null
      bytes.push(parseInt(hex, 16))
      i += 2
    } else if (c < 0x80) {
      bytes.push(c)
    } else {
      // A raw non-ASCII character: its UTF-8 bytes, as a browser would have sent them.
      const end = c >= 0xd800 && c <= 0xdbff ? i + 2 : i + 1
      for (const b of Buffer.from(s.slice(i, end), 'utf8')) bytes.push(b)
      i = end - 1
    }
  }
  return decoder.decode(Buffer.from(bytes))
}

/** The charset named by `_input_charset` in a raw query string, read before anything is decoded. */
function charsetInQuery(query) {
  const m = /(?:^|&)_input_charset=([^&]*)/.exec(query || '')
  if (!m) return null
  try {
    return decodeURIComponent(m[1].replace(/\+/g, ' ')).toLowerCase()
  } catch {
    return null
  }
}

/**
 * The parameters of a gateway request: the URL's query, and for a POST the form body too.
 * A GET is decoded in the charset its query names (UTF-8 when it names none). A POST body is
 * decoded in the charset named by `_input_charset` in the URL, and in GBK when the URL names none:
 * that is why docs/protocol.md §8.1 says a POST must carry `_input_charset` in the URL.
 * Returns { params (object), order (names as written), duplicate?, malformed?, transport }.
 */
function readGatewayParams({ method, query, body }) {
  const queryCharset = charsetInQuery(query)
  const fromQuery = decodeForm(query, queryCharset || 'utf-8')
  let fromBody = { pairs: [] }
  if (method === 'POST') fromBody = decodeForm(body, queryCharset || 'gbk')
  const params = Object.create(null) // a parameter named __proto__ stays a parameter
  const order = []
  let duplicate = null
  const inQuery = new Set()
  for (const [name, value] of fromQuery.pairs) {
    if (inQuery.has(name)) duplicate = duplicate || name
    else {
      inQuery.add(name)
      params[name] = value
      order.push(name)
    }
  }
  // A name in both the URL and the body (`_input_charset`, as 8.1 asks) is one parameter if the
  // values agree; a name twice in the body, or with two values, is refused.
  const inBody = new Set()
  for (const [name, value] of fromBody.pairs) {
    if (inBody.has(name) || (inQuery.has(name) && params[name] !== value)) duplicate = duplicate || name
    if (!inQuery.has(name) && !inBody.has(name)) {
      params[name] = value
      order.push(name)
    }
    inBody.add(name)
  }
  return {
    params,
    order,
    duplicate,
    malformed: fromQuery.malformed || fromBody.malformed || null,
    transport: method === 'POST' ? (queryCharset ? 'POST' : 'POST without _input_charset in the URL (body read as GBK)') : 'GET',
  }
}

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))

/**
 * The signed string of a request (8.1) and of a reply's fields (8.2): every name but sign and
 * sign_type, empty values left out, sorted by byte, `name=value` joined with `&`, no quotes.
 */
function signContent(params) {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== undefined && params[k] !== null && params[k] !== '')
    .sort(byteOrder)
    .map((k) => `${k}=${params[k]}`)
    .join('&')
}

// ---- Parameter rules, one table per service (docs/protocol.md §8.3–§8.6) ----

const AMOUNT = /^(?:0|[1-9]\d*)(?:\.\d{1,2})?$/

function amount(v) {
  if (!AMOUNT.test(v)) return 'must be a decimal with at most 2 fraction digits'
  const n = Number(v)
  return n >= 0.01 && n <= 1000000 ? null : 'must be between 0.01 and 1000000.00'
}
const maxLength = (n) => (v) => ([...v].length <= n ? null : `must be at most ${n} characters`)
const oneOf = (...values) => (v) => (values.includes(v) ? null : `must be ${values.join(' or ')}`)

// `yyyy-MM-dd HH:mm:ss` (the HK page) or `yyyyMMddHHmmss` (other copies and the published vector).
function gmtReturn(v) {
  const m = /^(\d{4})-?(\d{2})-?(\d{2}) ?(\d{2}):?(\d{2}):?(\d{2})$/.exec(v)
  const wellFormed = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(v) || /^\d{14}$/.test(v)
  if (!m || !wellFormed) return 'must be a GMT+8 time, yyyy-MM-dd HH:mm:ss or yyyyMMddHHmmss'
  const [, y, mo, d, h, mi, s] = m.map(Number)
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
  const same = date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi
  return same && s < 60 ? null : 'is not a real date and time'
}

function httpUrl(v) {
  if (v.length > 200) return 'must be at most 200 characters'
  try {
    const u = new URL(v)
    return u.protocol === 'http:' || u.protocol === 'https:' ? null : 'must be an http(s) URL'
  } catch {
    return 'must be an absolute URL'
  }
}

/** name -> { required, check }; `oneOf` lists names of which exactly one (or at least one) is needed. */
const SERVICE_RULES = {
  single_trade_query: {
    params: {
      trade_no: { check: maxLength(64) },
      out_trade_no: { check: maxLength(64) },
    },
    atLeastOne: [['trade_no', 'out_trade_no']],
  },
  forex_refund: {
    params: {
      out_return_no: { required: true, check: maxLength(64) },
      out_trade_no: { required: true, check: maxLength(64) },
      return_amount: { check: amount },
      return_rmb_amount: { check: amount },
      currency: { required: true, check: (v) => (/^[A-Z]{3}$/.test(v) ? null : 'must be an ISO 4217 code such as HKD') },
      gmt_return: { required: true, check: gmtReturn },
      reason: { required: true, check: maxLength(100) },
      is_sync: { check: oneOf('Y', 'N') },
      notify_url: { check: httpUrl },
    },
    exactlyOne: [['return_amount', 'return_rmb_amount']],
  },
  'alipay.acquire.refund.query': {
    params: {
      out_trade_no: { required: true, check: maxLength(64) },
      out_return_no: { required: true, check: maxLength(128) },
    },
  },
  notify_verify: {
    params: {
      notify_id: { check: maxLength(128) }, // none: the answer is false
    },
  },
}

/** The service's parameter problems as [{ field, message }], empty when none. */
function checkServiceParams(service, params) {
  const rules = SERVICE_RULES[service]
  const problems = []
  const has = (name) => params[name] !== undefined && params[name] !== ''
  for (const [name, rule] of Object.entries(rules.params)) {
    if (!has(name)) {
      if (rule.required) problems.push({ field: name, message: `${name} is required` })
      continue
    }
    const problem = rule.check(params[name])
    if (problem) problems.push({ field: name, message: `${name} ${problem}` })
  }
  for (const names of rules.atLeastOne || []) {
    if (!names.some(has)) problems.push({ field: names[0], message: `one of ${names.join(', ')} is required` })
  }
  for (const names of rules.exactlyOne || []) {
    const given = names.filter(has)
    if (given.length !== 1) problems.push({ field: names[0], message: `exactly one of ${names.join(', ')} is required` })
  }
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'string' && value.includes('"')) problems.push({ field: name, message: `${name} holds a double quote` })
  }
  return problems
}

/**
 * Checks what every service shares, in the order a gateway answers: the service, the partner,
 * the charset, the sign type, the key on file, the signature, the contract, the parameters.
 * `merchant` = { publicKey, md5Key, partner, contractedServices }.
 * Returns { error: null } or { error: CODE, field?, detail } (detail is for logs, never sent).
 */
function checkGatewayRequest(read, merchant) {
  const p = read.params
  const fail = (error, detail, field) => ({ error, detail, field })
  if (read.malformed) return fail('ILLEGAL_ARGUMENT', `the form is not valid URL encoding near ${JSON.stringify(read.malformed)}`)
  if (read.duplicate) return fail('ILLEGAL_ARGUMENT', `${read.duplicate} is sent more than once`, read.duplicate)
  if (!p.service) return fail('ILLEGAL_SERVICE', 'service is missing', 'service')
  if (!SERVICES.includes(p.service)) return fail('ILLEGAL_SERVICE', `service ${JSON.stringify(p.service)} is not served here`, 'service')
  // notify_verify is unsigned (8.6) and answers `false` for a notify_id not sent to that partner,
  // whatever the partner; it is checked like the other services only when it carries a signature.
  const unsignedVerify = p.service === 'notify_verify' && !p.sign && !p.sign_type
  if (!unsignedVerify) {
    if (!p.partner || !/^2088\d{12}$/.test(p.partner)) return fail('ILLEGAL_PARTNER', 'partner must be 16 digits starting with 2088', 'partner')
    if (merchant.partner && p.partner !== merchant.partner) return fail('ILLEGAL_PARTNER', `partner ${p.partner} is not the merchant this gateway knows`, 'partner')
    if (!p._input_charset) return fail('ILLEGAL_CHARSET', '_input_charset is missing', '_input_charset')
    if (p._input_charset.toLowerCase() !== 'utf-8') return fail('ILLEGAL_CHARSET', '_input_charset must be utf-8', '_input_charset')
    if (!p.sign_type) return fail('ILLEGAL_SIGN_TYPE', 'sign_type is missing', 'sign_type')
    if (!SIGN_TYPES.includes(p.sign_type)) return fail('ILLEGAL_SIGN_TYPE', `sign_type ${JSON.stringify(p.sign_type)} is not RSA, RSA2 or MD5`, 'sign_type')
    if (p.sign_type === 'MD5' ? !merchant.md5Key : !merchant.publicKey) {
      return fail('ILLEGAL_SECURITY_PROFILE', `this merchant has no ${p.sign_type === 'MD5' ? 'MD5 key' : 'RSA public key'} on file`, 'sign_type')
    }
    if (!p.sign) return fail('ILLEGAL_SIGN', 'sign is missing', 'sign')
    if (!verifyWith(p.sign_type, signContent(p), p.sign, merchant)) {
      return fail('ILLEGAL_SIGN', `the ${p.sign_type} signature does not verify over the sorted name=value string with the merchant's key on file`, 'sign')
    }
  }
  if (merchant.contractedServices && !merchant.contractedServices.includes(p.service)) {
    return fail('ILLEGAL_PARTNER_EXTERFACE', `this merchant has no contract for ${p.service}`, 'service')
  }
  const problems = checkServiceParams(p.service, p)
  if (problems.length) return fail('ILLEGAL_ARGUMENT', problems.map((x) => x.message).join('; '), problems[0].field)
  return { error: null }
}

module.exports = { SERVICES, SERVICE_RULES, decodeForm, readGatewayParams, signContent, checkServiceParams, checkGatewayRequest }
