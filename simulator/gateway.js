// The gateway's reading of an orderStr, written independently of the addon (node:crypto only),
// so that the simulator is a second opinion rather than an echo: docs/protocol.md §2 and §3.
'use strict'

const { verifyWith } = require('./keys')

const SERVICE = 'mobile.securitypay.pay'

// The closing quote of a value is the first `"` after which, possibly past some stray text,
// comes `&name=` or the end. That lets JSON with inner quotes (trade_information) through and
// still catches the seed's `sign="…"=&sign_type=…`, whose `=` sits outside the quotes.
const AFTER_CLOSING_QUOTE = /^([^"&]*)(?:&[A-Za-z_][A-Za-z0-9_.-]*=|$)/

function mistake(reason, error, message, field) {
  return field === undefined ? { reason, error, message } : { reason, error, message, field }
}

/**
 * Splits an orderStr into its `key="value"` pairs as written, with the raw text of each,
 * and the structural mistakes met on the way. Never throws.
 */
function splitOrderStr(orderStr) {
  const pairs = []
  const mistakes = []
  let pos = 0
  const s = orderStr
  while (pos < s.length) {
    const eq = s.indexOf('=', pos)
    const amp = s.indexOf('&', pos)
    if (eq < 0 || (amp >= 0 && amp < eq)) {
      mistakes.push(mistake('MALFORMED', 'ILLEGAL_ARGUMENT', `no \`=\` in the pair starting at character ${pos}`))
      break
    }
    const key = s.slice(pos, eq)
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
      mistakes.push(mistake('MALFORMED', 'ILLEGAL_ARGUMENT', `${JSON.stringify(key)} at character ${pos} is not a parameter name`))
      break
    }
    if (s[eq + 1] !== '"') {
      const end = amp < 0 ? s.length : amp
      const value = s.slice(eq + 1, end)
      pairs.push({ key, value, start: pos, quoted: false })
      mistakes.push(mistake('UNQUOTED_VALUE', 'ILLEGAL_ARGUMENT', `the value of ${key} is not in double quotes`, key))
      pos = end + 1
      continue
    }
    let close = -1
    let stray = ''
    for (let j = s.indexOf('"', eq + 2); j >= 0; j = s.indexOf('"', j + 1)) {
      const m = AFTER_CLOSING_QUOTE.exec(s.slice(j + 1))
      if (m) {
        close = j
        stray = m[1]
        break
      }
    }
    if (close < 0) {
      mistakes.push(mistake('MALFORMED', 'ILLEGAL_ARGUMENT', `the value of ${key} has no closing quote`, key))
      break
    }
    pairs.push({ key, value: s.slice(eq + 2, close), start: pos, quoted: true })
    if (stray) {
      mistakes.push(
        mistake('TEXT_OUTSIDE_QUOTES', 'ILLEGAL_ARGUMENT', `${JSON.stringify(stray)} follows the closing quote of ${key}; everything must be inside the quotes`, key),
      )
    }
    pos = close + 1 + stray.length + 1 // past the quote, the stray text and the `&`
  }
  return { pairs, mistakes }
}

const DECIMAL_AMOUNT = /^(?:0|[1-9]\d*)(?:\.\d{1,2})?$/
const IT_B_PAY = /^(?:([1-9]\d*)([mhd])|1c)$/
const MINUTES = { m: 1, h: 60, d: 1440 }

function amountRule(name) {
  return (v) => {
    if (!DECIMAL_AMOUNT.test(v)) return `${name} must be a decimal with at most 2 fraction digits`
    const n = Number(v)
    if (n < 0.01 || n > 1000000) return `${name} must be between 0.01 and 1000000.00`
    return null
  }
}

// docs/protocol.md §2, as the gateway applies it. `error` is the code Alipay's gateway uses.
const PARAM_RULES = [
  { name: 'service', required: true, error: 'ILLEGAL_SERVICE', check: (v) => (v === SERVICE ? null : `service must be ${SERVICE}`) },
  { name: 'partner', required: true, error: 'ILLEGAL_PARTNER', check: (v) => (/^2088\d{12}$/.test(v) ? null : 'partner must be 16 digits starting with 2088') },
  { name: 'seller_id', required: true, check: (v) => (v.length <= 100 ? null : 'seller_id must be at most 100 characters') },
  { name: '_input_charset', required: true, error: 'ILLEGAL_CHARSET', check: (v) => (v.toLowerCase() === 'utf-8' ? null : '_input_charset must be utf-8') },
  { name: 'payment_type', required: true, error: 'ILLEGAL_PAYMENT_TYPE', check: (v) => (v === '1' ? null : 'payment_type must be 1') },
  { name: 'out_trade_no', required: true, check: (v) => (/^[A-Za-z0-9_-]{1,64}$/.test(v) ? null : 'out_trade_no must be 1 to 64 of A-Z a-z 0-9 _ -') },
  { name: 'subject', required: true, check: (v) => ([...v].length <= 256 ? null : 'subject must be at most 256 characters') },
  { name: 'body', check: (v) => ([...v].length <= 400 ? null : 'body must be at most 400 characters') },
  { name: 'total_fee', check: amountRule('total_fee') },
  { name: 'rmb_fee', check: amountRule('rmb_fee') },
  { name: 'currency', required: true, error: 'ILLEGAL_CURRENCY', check: (v) => (/^[A-Z]{3}$/.test(v) ? null : 'currency must be an ISO 4217 code such as HKD') },
  { name: 'forex_biz', required: true, check: (v) => (v === 'FP' ? null : 'forex_biz must be FP') },
  { name: 'product_code', required: true, check: (v) => (v === 'NEW_WAP_OVERSEAS_SELLER' ? null : 'product_code must be NEW_WAP_OVERSEAS_SELLER') },
  { name: 'payment_inst', check: (v) => (v === 'ALIPAYHK' || v === 'ALIPAYCN' ? null : 'payment_inst must be ALIPAYHK or ALIPAYCN') },
  {
    name: 'notify_url',
    required: true,
    check: (v) => {
      if (v.length > 200) return 'notify_url must be at most 200 characters'
      try {
        const u = new URL(v)
        return u.protocol === 'http:' || u.protocol === 'https:' ? null : 'notify_url must be an http(s) URL'
      } catch {
        return 'notify_url must be an absolute URL'
      }
    },
  },
  { name: 'return_url', check: (v) => (v.length <= 200 ? null : 'return_url must be at most 200 characters') },
  {
    name: 'it_b_pay',
    check: (v) => {
      const m = IT_B_PAY.exec(v)
      if (!m) return 'it_b_pay must be a whole number with m, h or d (90m, not 1.5h), or 1c'
      if (m[1] && Number(m[1]) * MINUTES[m[2]] > 15 * 1440) return 'it_b_pay must be at most 15d'
      return null
    },
  },
]

/**
 * Checks an orderStr as the gateway would. `keys` = { publicKey (KeyObject) | null, md5Key | null, partner? }.
 * Returns { ok, params (object, first value of each name), pairs, preSign, sign, signType, mistakes }.
 * The mistakes come in the gateway's order of concern: the text, then the signature, then the
 * parameters; the first one is what the gateway answers with.
 */
function checkOrderStr(orderStr, keys) {
  const result = { ok: false, params: {}, pairs: [], preSign: '', sign: '', signType: '', mistakes: [] }
  if (typeof orderStr !== 'string' || orderStr.length === 0) {
    result.mistakes.push(mistake('MALFORMED', 'ILLEGAL_ARGUMENT', 'orderStr is empty'))
    return result
  }
  const { pairs, mistakes: structure } = splitOrderStr(orderStr)
  result.pairs = pairs
  if (structure.some((m) => m.reason === 'MALFORMED')) {
    result.mistakes = structure
    return result
  }

  // Everything before `&sign=` is what was signed; sign and sign_type close the string.
  const firstSigning = pairs.findIndex((p) => p.key === 'sign' || p.key === 'sign_type')
  const signed = firstSigning < 0 ? pairs : pairs.slice(0, firstSigning)
  const trailing = firstSigning < 0 ? [] : pairs.slice(firstSigning)
  result.preSign = firstSigning < 0 ? orderStr : orderStr.slice(0, Math.max(0, pairs[firstSigning].start - 1))
  for (const p of signed) if (!(p.key in result.params)) result.params[p.key] = p.value

  const signMistakes = []
  for (const p of trailing) {
    if (p.key !== 'sign' && p.key !== 'sign_type') {
      signMistakes.push(mistake('PARAM_AFTER_SIGN', 'ILLEGAL_ARGUMENT', `${p.key} comes after sign; the gateway signs only what comes before &sign=`, p.key))
    }
  }
  const signPair = trailing.find((p) => p.key === 'sign')
  const signTypePair = trailing.find((p) => p.key === 'sign_type')
  result.signType = signTypePair ? signTypePair.value : ''
  let signUsable = false
  if (!signPair || signPair.value === '') {
    signMistakes.push(mistake('MISSING_SIGN', 'ILLEGAL_SIGN', 'the orderStr carries no sign', 'sign'))
  } else if (/[+/=]/.test(signPair.value)) {
    // The gateway form-decodes the signature: a raw `+` would become a space.
    signMistakes.push(
      mistake('SIGN_NOT_URL_ENCODED', 'ILLEGAL_SIGN', 'sign holds raw `+`, `/` or `=`: the base64 signature must go through encodeURIComponent', 'sign'),
    )
  } else {
    try {
      result.sign = decodeURIComponent(signPair.value)
      signUsable = true
    } catch {
      signMistakes.push(mistake('MALFORMED', 'ILLEGAL_SIGN', 'sign is not valid URL encoding', 'sign'))
    }
  }
  if (!signUsable && signPair && !result.sign) result.sign = signPair.value
  const looksMd5 = /^[0-9a-fA-F]{32}$/.test(result.sign)
  if (!signTypePair || signTypePair.value === '') {
    signMistakes.push(mistake('MISSING_SIGN_TYPE', 'ILLEGAL_SIGN_TYPE', 'the orderStr carries no sign_type', 'sign_type'))
    signUsable = false
  } else if (!['RSA', 'RSA2', 'MD5'].includes(result.signType)) {
    signMistakes.push(mistake('UNSUPPORTED_SIGN_TYPE', 'ILLEGAL_SIGN_TYPE', `sign_type ${JSON.stringify(result.signType)} is not RSA, RSA2 or MD5`, 'sign_type'))
    signUsable = false
  } else if (result.sign && result.signType === 'MD5' && !looksMd5) {
    signMistakes.push(
      mistake('SIGN_TYPE_MISMATCH', 'ILLEGAL_SIGN_TYPE', `sign_type says MD5 but the signature is not 32 hex digits (${result.sign.length} characters): it looks like an RSA signature`, 'sign_type'),
    )
    signUsable = false
  } else if (result.sign && result.signType !== 'MD5' && looksMd5) {
    signMistakes.push(mistake('SIGN_TYPE_MISMATCH', 'ILLEGAL_SIGN_TYPE', `sign_type says ${result.signType} but the signature is 32 hex digits: it looks like an MD5 signature`, 'sign_type'))
    signUsable = false
  } else if (result.signType === 'MD5' && !keys.md5Key) {
    signMistakes.push(mistake('SIGN_TYPE_MISMATCH', 'ILLEGAL_SIGN_TYPE', 'sign_type is MD5 but this merchant has no MD5 key on file; it signs with RSA', 'sign_type'))
    signUsable = false
  } else if (result.signType !== 'MD5' && !keys.publicKey) {
    signMistakes.push(mistake('SIGN_TYPE_MISMATCH', 'ILLEGAL_SIGN_TYPE', `sign_type is ${result.signType} but this merchant has no RSA public key on file; it signs with MD5`, 'sign_type'))
    signUsable = false
  }
  if (signUsable && !verifyWith(result.signType, result.preSign, result.sign, keys)) {
    signMistakes.push(
      mistake('BAD_SIGNATURE', 'ILLEGAL_SIGN', `the ${result.signType} signature does not verify over the pre-sign string with the merchant's key on file`, 'sign'),
    )
  }

  const seen = new Set()
  for (const p of signed) {
    if (seen.has(p.key)) {
      structure.push(mistake('DUPLICATE_PARAM', 'ILLEGAL_ARGUMENT', `${p.key} appears more than once`, p.key))
    }
    seen.add(p.key)
  }
  if (seen.has('method') && !seen.has('service')) {
    structure.push(mistake('METHOD_INSTEAD_OF_SERVICE', 'ILLEGAL_SERVICE', "`method` is the documented sample's name; the gateway reads `service`", 'method'))
  }

  const paramMistakes = []
  for (const rule of PARAM_RULES) {
    const value = result.params[rule.name]
    if (value === undefined || value === '') {
      // A missing service is already named as METHOD_INSTEAD_OF_SERVICE when method stands in for it.
      if (rule.required && !(rule.name === 'service' && seen.has('method'))) {
        paramMistakes.push(mistake('MISSING_PARAM', rule.error || 'ILLEGAL_ARGUMENT', `${rule.name} is required`, rule.name))
      }
      continue
    }
    const problem = rule.check(value)
    if (problem) paramMistakes.push(mistake('INVALID_PARAM', rule.error || 'ILLEGAL_ARGUMENT', problem, rule.name))
  }
  const hasTotal = result.params.total_fee !== undefined && result.params.total_fee !== ''
  const hasRmb = result.params.rmb_fee !== undefined && result.params.rmb_fee !== ''
  if (!hasTotal && !hasRmb) paramMistakes.push(mistake('MISSING_PARAM', 'ILLEGAL_ARGUMENT', 'total_fee (or rmb_fee) is required', 'total_fee'))
  if (hasTotal && hasRmb) paramMistakes.push(mistake('INVALID_PARAM', 'ILLEGAL_ARGUMENT', 'give total_fee or rmb_fee, not both', 'rmb_fee'))
  if (keys.partner && result.params.partner && result.params.partner !== keys.partner) {
    paramMistakes.push(mistake('INVALID_PARAM', 'ILLEGAL_PARTNER', `partner ${result.params.partner} is not the merchant this gateway knows`, 'partner'))
  }

  result.mistakes = [...signMistakes, ...structure, ...paramMistakes]
  result.ok = result.mistakes.length === 0
  return result
}

module.exports = { splitOrderStr, checkOrderStr, SERVICE }
