// The daily reconciliation files of docs/protocol.md §8.7, written from the simulator's own paid orders
// and refunds, with the quirks of the documented sample kept on purpose: each data row has one
// field more than the header (an unnamed empty column after Fee), and some values end in a space.
'use strict'

const TRANSACTION_HEADER = [
  'Partner_transaction_id',
  'Transaction_id',
  'Amount',
  'Fee',
  'Settlement',
  'Currency',
  'Payment_time',
  'Settlement_time',
  'Issue',
  'Product',
  'Type',
  'Status',
  'Remarks',
  'Original_partner_transaction_ID',
]
const SETTLE_BATCH_HEADER = ['Settle_batch_no', 'Settle_date', 'Amount', 'Fee', 'Settlement', 'Currency']

/** "25.5" -> 2550. Amounts in the simulator were checked as decimals with at most 2 fraction digits. */
function toCents(amount) {
  const [whole, fraction = ''] = String(amount).split('.')
  return Number(whole) * 100 + Number((fraction + '00').slice(0, 2))
}

/** 2550 -> "25.50", -5 -> "-0.05". */
function formatCents(cents) {
  const sign = cents < 0 ? '-' : ''
  const abs = Math.abs(cents)
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`
}

/** The fee on an amount, in whole basis points, rounded half up, in integers (no float drift). */
function feeCents(cents, feeBasisPoints) {
  return Math.floor((cents * feeBasisPoints + 5000) / 10000)
}

function csvField(value) {
  const s = value === undefined || value === null ? '' : String(value)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** 'YYYYMMDD', 'YYYY-MM-DD' or a Date (its day in GMT+8) -> 'YYYYMMDD'. */
function dayOf(date) {
  if (date instanceof Date) {
    const d = new Date(date.getTime() + 8 * 3600 * 1000)
    return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`
  }
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(String(date))
  if (!m) throw new TypeError(`date must be YYYYMMDD, YYYY-MM-DD or a Date, not ${JSON.stringify(date)}`)
  return m[1] + m[2] + m[3]
}

function addDays(day, n) {
  const d = new Date(Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)) + n))
  return d.toISOString().slice(0, 10)
}

/**
 * One transaction row as the documented sample writes it: 15 fields under a 14-name header,
 * a space after Partner_transaction_id and Transaction_id.
 */
function transactionRow(t) {
  return [
    `${t.partnerTransactionId} `,
    `${t.transactionId} `,
    formatCents(t.amountCents),
    formatCents(t.feeCents),
    '', // the unnamed column of the sample
    formatCents(t.amountCents - t.feeCents),
    t.currency,
    t.paymentTime,
    t.settlementTime,
    t.issue,
    'Cross_wap',
    t.type,
    'P',
    t.remarks,
    t.originalPartnerTransactionId || '',
  ]
    .map(csvField)
    .join(',')
}

/**
 * The files of one day for one partner.
 * @param {object} o
 * @param {string} o.partner
 * @param {string|Date} o.date               the day (GMT+8) whose payments and refunds are listed
 * @param {object[]} o.payments              { outTradeNo, tradeNo, amount, currency, time ('YYYY-MM-DD HH:mm:ss' GMT+8), issue, remarks }
 * @param {object[]} o.refunds               { outReturnNo, outTradeNo, tradeNo, amount, currency, time, issue, remarks }
 * @param {number} [o.feeBasisPoints=100]   the fee (1% like the sample batch); a refund gives its share back
 * @param {number} [o.settleDelayDays=1]    Settle_date is the day + this, at 15:36:00
 * @param {string} [o.lineEnding='\n']
 * Returns { date, transactions: { name, text }, settleBatch: { name, text },
 *           settlements: [{ name, batchNo, currency, text }], zip: { name, body (Buffer) } }.
 * Amounts in the transaction rows are never negative; Type (P payment, R refund) gives the
 * direction. A batch (one per currency) sums payments minus refunds, so its values may be negative.
 */
function reconciliationFiles({ partner, date, payments = [], refunds = [], feeBasisPoints = 100, settleDelayDays = 1, lineEnding = '\n' }) {
  if (!/^2088\d{12}$/.test(String(partner))) throw new TypeError('partner must be 16 digits starting with 2088')
  if (!Number.isInteger(feeBasisPoints) || feeBasisPoints < 0) throw new TypeError('feeBasisPoints must be a whole number, 0 or more')
  const day = dayOf(date)
  const dash = `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`
  const settleDate = `${addDays(day, settleDelayDays)} 15:36:00`
  const onDay = (x) => x.time && x.time.slice(0, 10) === dash
  const row = (x, type) => {
    const amountCents = toCents(x.amount)
    return {
      partnerTransactionId: type === 'P' ? x.outTradeNo : x.outReturnNo,
      transactionId: x.tradeNo,
      amountCents,
      feeCents: feeCents(amountCents, feeBasisPoints),
      currency: x.currency,
      paymentTime: x.time,
      settlementTime: settleDate,
      issue: x.issue || 'ALIPAYCN',
      type,
      remarks: x.remarks || '',
      originalPartnerTransactionId: type === 'R' ? x.outTradeNo : '',
    }
  }
  const rows = [...payments.filter(onDay).map((p) => row(p, 'P')), ...refunds.filter(onDay).map((r) => row(r, 'R'))].sort((a, b) =>
    a.paymentTime < b.paymentTime ? -1 : a.paymentTime > b.paymentTime ? 1 : 0,
  )
  const file = (lines) => lines.join(lineEnding) + lineEnding
  const transactions = { name: `${partner}_fptrade_${day}.csv`, text: file([TRANSACTION_HEADER.join(','), ...rows.map(transactionRow)]) }

  const currencies = [...new Set(rows.map((r) => r.currency))].sort()
  const batches = currencies.map((currency, i) => {
    const mine = rows.filter((r) => r.currency === currency)
    const sum = (f) => mine.reduce((acc, r) => acc + (r.type === 'R' ? -f(r) : f(r)), 0)
    const amount = sum((r) => r.amountCents)
    const fee = sum((r) => r.feeCents)
    return { batchNo: `5000${day}${String(i + 1).padStart(20, '0')}`, currency, rows: mine, amount, fee, settlement: amount - fee }
  })
  const settleBatch = {
    name: `${partner}_settlebatch_${day}.csv`,
    // The sample: a space after the batch number, Amount, Fee and Settlement.
    text: file([
      SETTLE_BATCH_HEADER.join(','),
      ...batches.map((b) => [`${b.batchNo} `, settleDate, `${formatCents(b.amount)} `, `${formatCents(b.fee)} `, `${formatCents(b.settlement)} `, b.currency].join(',')),
    ]),
  }
  const settlements = batches.map((b) => ({
    name: `${partner}_settle_${day}_${b.batchNo}.csv`,
    batchNo: b.batchNo,
    currency: b.currency,
    text: file([TRANSACTION_HEADER.join(','), ...b.rows.map(transactionRow)]),
  }))
  const zip = { name: `${partner}_${day}.zip`, body: storedZip([settleBatch, ...settlements]) }
  return { partner: String(partner), date: day, transactions, settleBatch, settlements, zip }
}

// ---- A plain ZIP (entries stored, not compressed), enough for PID_YYYYMMDD.zip ----

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

function crc32(buf) {
  let c = 0xffffffff
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function storedZip(files) {
  const locals = []
  const centrals = []
  let offset = 0
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8')
    const data = Buffer.from(f.text, 'utf8')
    const crc = crc32(data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4) // version needed
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt16LE(0, 8) // stored
    local.writeUInt16LE(0, 10) // time
    local.writeUInt16LE(0x21, 12) // date: 1980-01-01
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28)
    locals.push(local, name, data)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt16LE(0, 10)
    central.writeUInt16LE(0, 12)
    central.writeUInt16LE(0x21, 14)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20)
    central.writeUInt32LE(data.length, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE(offset, 42)
    centrals.push(central, name)
    offset += local.length + name.length + data.length
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(files.length, 8)
  end.writeUInt16LE(files.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, ...centrals, end])
}

module.exports = {
  reconciliationFiles,
  transactionRow,
  toCents,
  formatCents,
  feeCents,
  dayOf,
  crc32,
  TRANSACTION_HEADER,
  SETTLE_BATCH_HEADER,
}
