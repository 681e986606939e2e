#!/usr/bin/env node
// `npm run bench:reconcile` (also the last part of `npm run bench`): reconciles a generated day
// file of 1,000,000 rows (docs/protocol.md §8.7, written row by row by the simulator's own
// writer, quirks included) against 1,000,000 merchant records and the day's settlement batch
// file, with alipayhk-pay and with a JavaScript reference (csv-parse, the maintained CSV parser
// from npm, plus a Map join), in the same run. Each side runs in a child process of its own, so
// that its peak resident memory is its own; the sides alternate over the runs and the figure
// is the median. Both reports must be equal, and equal to what the generator put in the files,
// before any time is printed.
//
//   node bench/reconcile.js [--rows 1000000] [--runs 3] [--markdown]
//
// The reference (`referenceReconcile`) is exported: __test__/reconcile.test.js checks the
// addon's reports against it.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { execFileSync } = require('node:child_process')
const { transactionRow, formatCents, feeCents, TRANSACTION_HEADER, SETTLE_BATCH_HEADER } = require('../simulator/reconciliation.js')

// --- the JavaScript reference -------------------------------------------------------------------

const LIST_LIMIT = 10_000
const AMOUNT = /^-?\d{1,12}\.\d{2}$/
const RECORD_AMOUNT = /^\d{1,12}(?:\.\d{1,2})?$/
const CURRENCY = /^[A-Z]{3}$/
const TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/

class ReferenceError_ extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

function validTime(s) {
  const m = TIME.exec(s)
  if (!m) return false
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number)
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days[mo - 1] && h <= 23 && mi <= 59 && se <= 59
}

const centsOf = (s) => {
  const [int, frac = ''] = s.replace('-', '').split('.')
  const cents = Number(int) * 100 + Number(frac.padEnd(2, '0'))
  return s.startsWith('-') ? -cents : cents
}

/**
 * Reconciles with plain JavaScript: `csvChunks` (an async iterable of the transaction file's
 * chunks) parsed by csv-parse, the records in two Maps. Returns the report in the addon's
 * shape, so that a test can compare the two whole.
 */
async function referenceReconcile(csvChunks, records, settlementBatchText, { listLimit = LIST_LIMIT } = {}) {
  const { parse } = require('csv-parse')
  const payments = new Map() // outTradeNo -> { amount, currency, time, seen }
  const refunds = new Map() // outReturnNo -> { outTradeNo, amount, currency, time, seen }
  let index = 0
  for await (const r of records) {
    const at = `merchantRecords[${index}]`
    if (typeof r.amount !== 'string' || !RECORD_AMOUNT.test(r.amount)) throw new ReferenceError_(`${at}.amount`, `bad amount ${r.amount}`)
    if (typeof r.currency !== 'string' || !CURRENCY.test(r.currency)) throw new ReferenceError_(`${at}.currency`, `bad currency ${r.currency}`)
    if (r.time != null && !validTime(r.time)) throw new ReferenceError_(`${at}.time`, `bad time ${r.time}`)
    const entry = { amount: centsOf(r.amount), currency: r.currency, time: r.time ?? undefined, seen: false }
    if (r.kind === 'payment') {
      if (!r.outTradeNo || r.outReturnNo) throw new ReferenceError_(at, 'bad payment')
      if (payments.has(r.outTradeNo)) throw new ReferenceError_(`${at}.outTradeNo`, 'given twice')
      payments.set(r.outTradeNo, entry)
    } else if (r.kind === 'refund') {
      if (!r.outReturnNo || !r.outTradeNo) throw new ReferenceError_(at, 'bad refund')
      if (refunds.has(r.outReturnNo)) throw new ReferenceError_(`${at}.outReturnNo`, 'given twice')
      refunds.set(r.outReturnNo, { ...entry, outTradeNo: r.outTradeNo })
    } else throw new ReferenceError_(`${at}.kind`, `bad kind ${r.kind}`)
    index++
  }

  const counts = { onlyAtAlipay: 0, onlyInMerchant: 0, mismatches: 0, refundsWithoutPayment: 0, duplicatesAtAlipay: 0 }
  const lists = { onlyAtAlipay: [], mismatches: [], refundsWithoutPayment: [], duplicatesAtAlipay: [] }
  const note = (name, entry) => {
    counts[name]++
    if (lists[name].length < listLimit) lists[name].push(entry())
  }
  const days = new Map() // 'date currency' -> totals
  const settled = new Map()
  let rows = 0
  let matched = 0

  // The header line is taken off before csv-parse sees the file: csv-parse builds an error
  // object (with a stack trace) for every record whose length differs from the first one's,
  // and here the first would be the 14-name header and every row has 15 fields.
  let header = null
  async function* afterHeader() {
    let head = ''
    for await (const chunk of csvChunks) {
      if (header !== null) {
        yield chunk
        continue
      }
      head += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
      const end = head.indexOf('\n')
      if (end < 0) continue
      header = head.slice(0, end).replace(/^\uFEFF/, '').replace(/\r$/, '').split(',').map((name) => name.trim())
      if (end + 1 < head.length) yield head.slice(end + 1)
    }
    if (header === null && head !== '') header = head.replace(/^\uFEFF/, '').replace(/\r$/, '').split(',').map((name) => name.trim())
  }
  const parser = parse({ trim: true, relax_column_count: true, info: true })
  const feed = (async () => {
    for await (const chunk of afterHeader()) if (!parser.write(chunk)) await new Promise((resolve) => parser.once('drain', resolve))
    parser.end()
  })()
  feed.catch((err) => parser.destroy(err))
  let headerChecked = false
  for await (const { record: f, info } of parser) {
    const line = 1 + info.lines - f.reduce((n, v) => n + (v.match(/\n/g) || []).length, 0)
    if (!headerChecked) {
      if (header.length !== 14 || header.some((name, i) => name.toLowerCase() !== TRANSACTION_HEADER[i].toLowerCase())) throw new ReferenceError_('line 1', 'not the header')
      headerChecked = true
    }
    if (f.length === 1 && f[0] === '') continue // a blank line
    if (f.length === 15) f.splice(4, 1) // the unnamed column after Fee
    else if (f.length !== 14) throw new ReferenceError_(`line ${line}`, `${f.length} fields`)
    const [pid, tid, amount, fee, settlement, currency, paymentTime, settlementTime, issue, , type, status, , original] = f
    const bad = (column, why) => new ReferenceError_(`line ${line}, column ${column}`, why)
    if (!pid) throw bad('Partner_transaction_id', 'empty')
    if (!tid) throw bad('Transaction_id', 'empty')
    if (!AMOUNT.test(amount)) throw bad('Amount', amount)
    if (!AMOUNT.test(fee)) throw bad('Fee', fee)
    if (settlement !== '' && !AMOUNT.test(settlement)) throw bad('Settlement', settlement)
    if (!CURRENCY.test(currency)) throw bad('Currency', currency)
    if (!validTime(paymentTime)) throw bad('Payment_time', paymentTime)
    if (settlementTime !== '' && !validTime(settlementTime)) throw bad('Settlement_time', settlementTime)
    if (issue !== 'ALIPAYCN' && issue !== 'ALIPAYHK') throw bad('Issue', issue)
    if (type !== 'P' && type !== 'R') throw bad('Type', type)
    if (status !== 'P' && status !== 'L') throw bad('Status', status)
    rows++

    const cents = centsOf(amount)
    const abs = Math.abs(cents)
    const feeAbs = Math.abs(centsOf(fee))
    const sign = type === 'P' ? 1 : -1
    const dayKey = `${paymentTime.slice(0, 10)} ${currency}`
    let d = days.get(dayKey)
    if (!d) days.set(dayKey, (d = { paymentCount: 0, payments: 0, refundCount: 0, refunds: 0, fees: 0, settlement: 0, settledNet: 0, unsettledCount: 0 }))
    if (type === 'P') {
      d.paymentCount++
      d.payments += abs
    } else {
      d.refundCount++
      d.refunds += abs
    }
    d.fees += sign * feeAbs
    if (settlement !== '') {
      d.settlement += sign * Math.abs(centsOf(settlement))
      d.settledNet += sign * (abs - feeAbs)
    } else d.unsettledCount++
    if (settlementTime !== '') {
      const key = `${settlementTime.slice(0, 10)} ${currency}`
      let s = settled.get(key)
      if (!s) settled.set(key, (s = { count: 0, amount: 0, fee: 0, settlement: 0 }))
      s.count++
      s.amount += sign * abs
      s.fee += sign * feeAbs
      s.settlement += sign * (settlement === '' ? 0 : Math.abs(centsOf(settlement)))
    }

    const entry = () => ({
      line,
      kind: type === 'P' ? 'payment' : 'refund',
      partnerTransactionId: pid,
      transactionId: tid,
      originalPartnerTransactionId: original || undefined,
      amount,
      currency,
      paymentTime,
    })
    const mismatch = (fields, e, merchantOutTradeNo) => () => ({
      line,
      kind: type === 'P' ? 'payment' : 'refund',
      partnerTransactionId: pid,
      transactionId: tid,
      fields,
      alipayAmount: formatCents(type === 'P' ? cents : abs),
      merchantAmount: formatCents(e.amount),
      alipayCurrency: currency,
      merchantCurrency: e.currency,
      alipayOutTradeNo: type === 'R' ? original || undefined : undefined,
      merchantOutTradeNo,
    })
    if (type === 'P') {
      const e = payments.get(pid)
      if (!e) note('onlyAtAlipay', entry)
      else if (e.seen) note('duplicatesAtAlipay', entry)
      else {
        e.seen = true
        const fields = []
        if (cents !== e.amount) fields.push('amount')
        if (currency !== e.currency) fields.push('currency')
        if (fields.length) note('mismatches', mismatch(fields, e, undefined))
        else matched++
      }
    } else {
      const e = refunds.get(pid)
      const paymentKnown = original !== '' && ((e && e.outTradeNo === original) || payments.has(original))
      if (!paymentKnown) {
        if (e) e.seen = true
        note('refundsWithoutPayment', entry)
      } else if (!e) note('onlyAtAlipay', entry)
      else if (e.seen) note('duplicatesAtAlipay', entry)
      else {
        e.seen = true
        const fields = []
        if (abs !== e.amount) fields.push('amount')
        if (currency !== e.currency) fields.push('currency')
        if (original !== e.outTradeNo) fields.push('outTradeNo')
        if (fields.length) note('mismatches', mismatch(fields, e, e.outTradeNo))
        else matched++
      }
    }
  }
  await feed
  if (header === null || header.length === 0) throw new ReferenceError_('file', 'empty')
  if (!headerChecked && (header.length !== 14 || header.some((name, i) => name.toLowerCase() !== TRANSACTION_HEADER[i].toLowerCase()))) throw new ReferenceError_('line 1', 'not the header')

  const onlyInMerchant = []
  const byId = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  for (const [id, e] of [...payments].filter(([, e]) => !e.seen).sort(byId)) {
    counts.onlyInMerchant++
    if (onlyInMerchant.length < listLimit) onlyInMerchant.push({ kind: 'payment', outTradeNo: id, outReturnNo: undefined, amount: formatCents(e.amount), currency: e.currency, time: e.time })
  }
  for (const [id, e] of [...refunds].filter(([, e]) => !e.seen).sort(byId)) {
    counts.onlyInMerchant++
    if (onlyInMerchant.length < listLimit) onlyInMerchant.push({ kind: 'refund', outTradeNo: e.outTradeNo, outReturnNo: id, amount: formatCents(e.amount), currency: e.currency, time: e.time })
  }

  const sortedKeys = (m) => [...m.keys()].sort()
  const daysOut = sortedKeys(days).map((k) => {
    const d = days.get(k)
    const [date, currency] = k.split(' ')
    return {
      date,
      currency,
      paymentCount: d.paymentCount,
      payments: formatCents(d.payments),
      refundCount: d.refundCount,
      refunds: formatCents(d.refunds),
      fees: formatCents(d.fees),
      settlement: formatCents(d.settlement),
      unsettledCount: d.unsettledCount,
      addsUp: d.settledNet === d.settlement,
    }
  })

  // The settlement batch file, with csv-parse too.
  const batches = new Map() // 'date currency' -> { batchNos, amount, fee, settlement }
  if (settlementBatchText != null) {
    const { parse: parseSync } = require('csv-parse/sync')
    const table = parseSync(settlementBatchText, { bom: true, trim: true, relax_column_count: true }).filter((r) => !(r.length === 1 && r[0] === ''))
    const [head, ...lines] = table
    if (!head || head.length !== 6 || head.some((name, i) => name.toLowerCase() !== SETTLE_BATCH_HEADER[i].toLowerCase())) throw new ReferenceError_('line 1', 'not the settlement batch header')
    for (const [no, date, amount, fee, settlement, currency] of lines) {
      if (!no || !validTime(date) || ![amount, fee, settlement].every((a) => AMOUNT.test(a)) || !CURRENCY.test(currency)) throw new ReferenceError_('settlement batch', 'bad line')
      const key = `${date.slice(0, 10)} ${currency}`
      let b = batches.get(key)
      if (!b) batches.set(key, (b = { batchNos: [], amount: 0, fee: 0, settlement: 0 }))
      b.batchNos.push(no)
      b.amount += centsOf(amount)
      b.fee += centsOf(fee)
      b.settlement += centsOf(settlement)
    }
  }
  const sums = (s) => ({ amount: formatCents(s.amount), fee: formatCents(s.fee), settlement: formatCents(s.settlement) })
  const zero = { count: 0, amount: 0, fee: 0, settlement: 0 }
  const settlements = sortedKeys(batches).map((k) => {
    const b = batches.get(k)
    const r = settled.get(k) || zero
    const [date, currency] = k.split(' ')
    return {
      date,
      currency,
      batchNos: b.batchNos,
      file: sums(b),
      rows: sums(r),
      rowCount: r.count,
      matches: b.amount === r.amount && b.fee === r.fee && b.settlement === r.settlement,
    }
  })
  const settledWithoutBatch = sortedKeys(settled)
    .filter((k) => !batches.has(k))
    .map((k) => {
      const r = settled.get(k)
      const [date, currency] = k.split(' ')
      return { date, currency, batchNos: [], file: sums(zero), rows: sums(r), rowCount: r.count, matches: false }
    })

  const ok = Object.values(counts).every((n) => n === 0) && daysOut.every((d) => d.addsUp) && settlements.every((s) => s.matches)
  const truncated = counts.onlyAtAlipay > lists.onlyAtAlipay.length || counts.onlyInMerchant > onlyInMerchant.length || counts.mismatches > lists.mismatches.length || counts.refundsWithoutPayment > lists.refundsWithoutPayment.length || counts.duplicatesAtAlipay > lists.duplicatesAtAlipay.length
  return {
    ok,
    rows,
    records: index,
    matched,
    counts,
    truncated,
    onlyAtAlipay: lists.onlyAtAlipay,
    onlyInMerchant,
    mismatches: lists.mismatches,
    refundsWithoutPayment: lists.refundsWithoutPayment,
    duplicatesAtAlipay: lists.duplicatesAtAlipay,
    days: daysOut,
    settlements,
    settledWithoutBatch,
  }
}

// --- the generated day ---------------------------------------------------------------------------

/**
 * Writes a day of `rows` rows (every 10th a refund of the payment before it) into `dir`, with
 * the simulator's row writer, and the merchant's records as JSON lines: every row has its
 * record, except that 1 row in 2,000 is missing from the books, 1 in 2,000 has another amount
 * there, and the books hold 1 payment in 2,000 that Alipay never listed. Returns the file
 * names and the counts those choices make.
 */
function generateDay(dir, rows) {
  const day = '2024-05-01'
  const settleTime = '2024-05-02 15:36:00'
  const files = { transactions: path.join(dir, '2088101568358171_fptrade_20240501.csv'), ledger: path.join(dir, 'ledger.jsonl'), settleBatch: path.join(dir, '2088101568358171_settlebatch_20240501.csv') }
  const csv = fs.openSync(files.transactions, 'w')
  const ledger = fs.openSync(files.ledger, 'w')
  let csvOut = [TRANSACTION_HEADER.join(',')]
  let ledgerOut = []
  const flush = (force) => {
    if (force || csvOut.length >= 20000) {
      fs.writeSync(csv, csvOut.join('\n') + '\n')
      csvOut = []
    }
    if (force || ledgerOut.length >= 20000) {
      if (ledgerOut.length) fs.writeSync(ledger, ledgerOut.join('\n') + '\n')
      ledgerOut = []
    }
  }
  const expected = { rows, records: 0, matched: 0, onlyAtAlipay: 0, onlyInMerchant: 0, mismatches: 0 }
  let amount = 0
  let fee = 0
  let lastPaymentCents = 0
  for (let i = 0; i < rows; i++) {
    const refund = i % 10 === 9
    const cents = refund ? Math.max(1, Math.floor(lastPaymentCents / 2)) : 100 + ((i * 7919) % 1000000)
    if (!refund) lastPaymentCents = cents
    const second = Math.floor((i * 86400) / rows)
    const time = `${day} ${String(Math.floor(second / 3600)).padStart(2, '0')}:${String(Math.floor(second / 60) % 60).padStart(2, '0')}:${String(second % 60).padStart(2, '0')}`
    const id = refund ? `RF${String(i).padStart(9, '0')}` : `OT${String(i).padStart(9, '0')}`
    const original = refund ? `OT${String(i - 1).padStart(9, '0')}` : ''
    const f = feeCents(cents, 100)
    amount += refund ? -cents : cents
    fee += refund ? -f : f
    csvOut.push(
      transactionRow({
        partnerTransactionId: id,
        transactionId: `2024050122001${String(i).padStart(15, '0')}`,
        amountCents: cents,
        feeCents: f,
        currency: 'HKD',
        paymentTime: time,
        settlementTime: settleTime,
        issue: i % 3 ? 'ALIPAYHK' : 'ALIPAYCN',
        type: refund ? 'R' : 'P',
        remarks: `order ${i}`,
        originalPartnerTransactionId: original,
      }),
    )
    // The books: one payment row in 2,000 missing, one in 2,000 with another amount.
    if (!refund && i % 2000 === 1) {
      expected.onlyAtAlipay++
    } else {
      const differs = !refund && i % 2000 === 3
      if (differs) expected.mismatches++
      else expected.matched++
      const record = refund
        ? { kind: 'refund', outTradeNo: original, outReturnNo: id, amount: formatCents(cents), currency: 'HKD', time }
        : { kind: 'payment', outTradeNo: id, amount: formatCents(differs ? cents + 1 : cents), currency: 'HKD', time }
      ledgerOut.push(JSON.stringify(record))
      expected.records++
    }
    if (i % 2000 === 5) {
      ledgerOut.push(JSON.stringify({ kind: 'payment', outTradeNo: `BOOKS${i}`, amount: '12.30', currency: 'HKD', time }))
      expected.records++
      expected.onlyInMerchant++
    }
    flush(false)
  }
  flush(true)
  fs.closeSync(csv)
  fs.closeSync(ledger)
  fs.writeFileSync(
    files.settleBatch,
    `${SETTLE_BATCH_HEADER.join(',')}\n50002024050100000000000000000001 ,${settleTime},${formatCents(amount)} ,${formatCents(fee)} ,${formatCents(amount - fee)} ,HKD\n`,
  )
  return { files, expected }
}

// --- one side, in a child process ------------------------------------------------------------------

async function child(side, dir) {
  const files = JSON.parse(fs.readFileSync(path.join(dir, 'files.json'), 'utf8'))
  let reconcileFile
  if (side !== 'js') ({ reconcileFile } = require('..'))
  else require('csv-parse')
  const before = process.resourceUsage().maxRSS
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let report
  if (side === 'native') {
    // The ledger's JSON lines straight to the core (the fastest way in), read in pieces cut at
    // line ends so that the ledger file is never held whole.
    async function* pieces() {
      let rest = Buffer.alloc(0)
      for await (const chunk of fs.createReadStream(files.ledger, { highWaterMark: 1 << 20 })) {
        const bytes = rest.length ? Buffer.concat([rest, chunk]) : chunk
        const end = bytes.lastIndexOf(10) + 1
        if (end > 0) yield bytes.subarray(0, end)
        rest = bytes.subarray(end)
      }
      if (rest.length) yield rest
    }
    report = await reconcileFile(files.transactions, pieces(), { settlementBatch: files.settleBatch })
  } else {
    // Records as JavaScript objects, as a database driver hands them over.
    async function* records() {
      for await (const line of readline.createInterface({ input: fs.createReadStream(files.ledger), crlfDelay: Infinity })) if (line) yield JSON.parse(line)
    }
    if (side === 'native-objects') report = await reconcileFile(files.transactions, records(), { settlementBatch: files.settleBatch })
    else report = await referenceReconcile(fs.createReadStream(files.transactions, { highWaterMark: 64 * 1024 }), records(), fs.readFileSync(files.settleBatch, 'utf8'))
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  const out = { side, ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024, startRssMiB: before / 1024, report }
  fs.writeFileSync(path.join(dir, `${side}.json`), JSON.stringify(out))
}

function runChild(side, dir) {
  execFileSync(process.execPath, [__filename, '--child', side, dir], { stdio: ['ignore', 'inherit', 'inherit'] })
  return JSON.parse(fs.readFileSync(path.join(dir, `${side}.json`), 'utf8'))
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (x, digits = 2) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

async function main() {
  const argv = process.argv.slice(2)
  const opt = (name, dflt) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt)
  const ROWS = opt('--rows', 1_000_000)
  const RUNS = opt('--runs', 3)
  const lines = []
  const out = (s = '') => {
    lines.push(s)
    console.log(s)
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-reconcile-bench-'))
  try {
    const { files, expected } = generateDay(dir, ROWS)
    fs.writeFileSync(path.join(dir, 'files.json'), JSON.stringify(files))
    const size = (f) => fs.statSync(f).size / 2 ** 20
    out(`### Reconciliation: ${ROWS.toLocaleString('en-US')} rows against ${expected.records.toLocaleString('en-US')} merchant records (${new Date().toISOString().slice(0, 10)})`)
    out()
    out(`machine: ${os.cpus()[0].model.trim()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`)
    out(`files: transaction file ${fmt(size(files.transactions), 1)} MiB (written by simulator/reconciliation.js's row writer, quirks included), ledger ${fmt(size(files.ledger), 1)} MiB of JSON lines, settlement batch file`)
    out(`method: each side in a child process of its own (peak RSS is the process's maxRSS), sides alternating, ${RUNS} runs each; time = wall clock of the reconcile call (reading both files included), CPU time = user + system of that call (steadier on a busy machine); ratios = median over the runs of (reference / alipayhk-pay of the same run)`)
    out()
    const sides = ['native', 'native-objects', 'js']
    const results = Object.fromEntries(sides.map((s) => [s, []]))
    for (let run = 0; run < RUNS; run++) {
      for (const side of run % 2 ? [...sides].reverse() : sides) results[side].push(runChild(side, dir))
    }
    // Correctness first: every report equal to the reference's, and the reference to the generator's counts.
    const ref = results.js[0].report
    const want = { rows: expected.rows, records: expected.records, matched: expected.matched, onlyAtAlipay: expected.onlyAtAlipay, onlyInMerchant: expected.onlyInMerchant, mismatches: expected.mismatches }
    const got = { rows: ref.rows, records: ref.records, matched: ref.matched, onlyAtAlipay: ref.counts.onlyAtAlipay, onlyInMerchant: ref.counts.onlyInMerchant, mismatches: ref.counts.mismatches }
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`the reference's report does not count what was generated: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`)
    if (!ref.settlements.length || !ref.settlements.every((s) => s.matches) || !ref.days.every((d) => d.addsUp)) throw new Error('the generated batch file does not match its rows')
    const strip = (r) => JSON.parse(JSON.stringify(r)) // undefined properties away
    for (const side of sides) {
      for (const r of results[side]) {
        if (JSON.stringify(strip(r.report)) !== JSON.stringify(strip(ref))) throw new Error(`${side}'s report differs from the reference's`)
      }
    }
    out(`checked: all ${RUNS * sides.length} reports are equal (${ref.matched.toLocaleString('en-US')} matched, ${ref.counts.onlyAtAlipay} only at Alipay, ${ref.counts.onlyInMerchant} only in the books, ${ref.counts.mismatches} amounts differ; every day adds up; the batch matches its rows) and count what the generator put in`)
    out()
    const label = {
      native: 'alipayhk-pay `reconcileFile(path, ledgerPieces)` (records as JSON lines, read in 1 MiB pieces)',
      'native-objects': 'alipayhk-pay `reconcileFile(path, asyncIterableOfRecords)` (records as JS objects)',
      js: 'JavaScript reference: csv-parse stream + `Map` join (records as JS objects)',
    }
    out('| side | time (median) | × reference (time) | CPU time (median) | × reference (CPU) | peak RSS (median) |')
    out('|---|---:|---:|---:|---:|---:|')
    for (const side of sides) {
      const ratios = results[side].map((r, i) => results.js[i].ms / r.ms)
      const cpuRatios = results[side].map((r, i) => results.js[i].cpuMs / r.cpuMs)
      out(
        `| ${label[side]} | ${fmt(median(results[side].map((r) => r.ms)) / 1000)} s | ${fmt(median(ratios))} | ${fmt(median(results[side].map((r) => r.cpuMs)) / 1000)} s | ${fmt(median(cpuRatios))} | ${fmt(median(results[side].map((r) => r.maxRssMiB)), 0)} MiB |`,
      )
    }
    out()
    out(`per run, reference time / alipayhk-pay time: ${results.native.map((r, i) => fmt(results.js[i].ms / r.ms)).join(', ')} (JSON lines); ${results['native-objects'].map((r, i) => fmt(results.js[i].ms / r.ms)).join(', ')} (objects)`)
    out(`node's own RSS before the reconcile call: ${fmt(median(results.js.map((r) => r.startRssMiB)), 0)} MiB (reference), ${fmt(median(results.native.map((r) => r.startRssMiB)), 0)} MiB (alipayhk-pay, addon loaded)`)
    out()
    if (argv.includes('--markdown')) fs.writeFileSync(path.join(__dirname, 'last-reconcile.md'), lines.join('\n') + '\n')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

module.exports = { referenceReconcile, generateDay }

if (require.main === module) {
  const argv = process.argv.slice(2)
  ;(argv[0] === '--child' ? child(argv[1], argv[2]) : main()).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
