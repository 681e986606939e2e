// Amounts in the ledger are integer cents: the amount as written in the orderStr (at most 2
// decimals, which the addon's rules require) times 100. No floating point anywhere.
'use strict'

const AMOUNT = /^(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,2}))?$/

/** '36.00' → 3600, '0.5' → 50; null when `text` is not such an amount (or is 0). */
function toCents(text) {
  if (typeof text === 'number') text = Number.isFinite(text) ? String(text) : ''
  if (typeof text !== 'string') return null
  const m = AMOUNT.exec(text)
  if (!m) return null
  const cents = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'))
  return cents > 0 ? cents : null
}

/** 3600 → '36.00'. */
function fromCents(cents) {
  if (!Number.isSafeInteger(cents) || cents < 0) throw new RangeError(`not an amount in cents: ${cents}`)
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
}

module.exports = { toCents, fromCents }
