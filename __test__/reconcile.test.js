// Reconciliation (issue 15) from JavaScript: the Reconciler class, reconcile, reconcileFile and
// `alipayhk-pay reconcile`. The files are written by the simulator's writer (docs/protocol.md
// §8.7, quirks included: a 15th unnamed field under a 14-name header, values padded with
// spaces); every report is compared whole with an independent JavaScript computation
// (bench/reconcile.js's reference: csv-parse, the maintained CSV parser, and two Maps), and the
// findings are also checked against what each test put in on purpose.
'use strict'

const { spawnSync, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { Readable } = require('node:stream')

const { AlipayHK, ErrorCode, Reconciler, reconcile, reconcileFile } = require('..')
const { referenceReconcile, generateDay } = require('../bench/reconcile')
const { reconciliationFiles, transactionRow, TRANSACTION_HEADER } = require('../simulator/reconciliation')
const { startSimulator } = require('../simulator')

const root = path.join(__dirname, '..')
const BIN = path.join(root, 'bin', 'alipayhk-pay.js')
const KEYS = path.join(root, 'examples', 'test-keys')
const PARTNER = '2088101568358171'

let scratch
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-reconcile-'))
})
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true })
})

function write(name, content) {
  const file = path.join(scratch, name)
  fs.writeFileSync(file, content)
  return file
}

/** The chunks of `bytes` cut every `size` bytes (or at the sizes of an array, cycled). */
function cut(bytes, size) {
  const sizes = Array.isArray(size) ? size : [size]
  const out = []
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]
    out.push(bytes.subarray(at, at + n))
    at += n
  }
  return out
}

/** The independent computation: the reference of bench/reconcile.js on the same bytes. */
function expected(text, records, batchText, options) {
  return referenceReconcile(cut(Buffer.from(text), 4096), records, batchText, options)
}

/** The report as JSON sees it (absent optional fields and `undefined` alike). */
const plain = (x) => JSON.parse(JSON.stringify(x))

async function expectSameAsReference(report, text, records, batchText, options) {
  expect(plain(report)).toEqual(plain(await expected(text, records, batchText, options)))
}

// ---- A day written by the simulator's writer ----

const DAY_PAYMENTS = [
  { outTradeNo: 'OT1', tradeNo: '2024050122001000000000000001', amount: '100.00', currency: 'HKD', time: '2024-05-01 09:00:00', issue: 'ALIPAYHK', remarks: 'milk tea' },
  { outTradeNo: 'OT2', tradeNo: '2024050122001000000000000002', amount: '50.5', currency: 'HKD', time: '2024-05-01 09:10:00', remarks: 'with, a comma' },
  { outTradeNo: 'OT3', tradeNo: '2024050122001000000000000003', amount: '12.30', currency: 'HKD', time: '2024-05-01 10:00:00', remarks: '菠蘿包 pineapple bun' },
  { outTradeNo: 'OT4', tradeNo: '2024050122001000000000000004', amount: '7.00', currency: 'HKD', time: '2024-05-01 11:00:00' },
  { outTradeNo: 'OT5', tradeNo: '2024050122001000000000000005', amount: '88.88', currency: 'HKD', time: '2024-05-01 12:00:00' },
  { outTradeNo: 'OT6', tradeNo: '2024050122001000000000000006', amount: '1.01', currency: 'HKD', time: '2024-05-01 13:00:00' },
  { outTradeNo: 'OTU1', tradeNo: '2024050122001000000000000007', amount: '9.99', currency: 'USD', time: '2024-05-01 14:00:00' },
  // Another day: not in this day's file.
  { outTradeNo: 'OT9', tradeNo: '2024050222001000000000000009', amount: '3.00', currency: 'HKD', time: '2024-05-02 08:00:00' },
]
const DAY_REFUNDS = [
  { outReturnNo: 'RF1', outTradeNo: 'OT1', tradeNo: '2024050122001000000000000001', amount: '30.00', currency: 'HKD', time: '2024-05-01 15:00:00', remarks: 'broken cup' },
  { outReturnNo: 'RF2', outTradeNo: 'OT2', tradeNo: '2024050122001000000000000002', amount: '50.50', currency: 'HKD', time: '2024-05-01 16:00:00' },
]

const day = (extra = {}) => reconciliationFiles({ partner: PARTNER, date: '20240501', payments: DAY_PAYMENTS, refunds: DAY_REFUNDS, ...extra })

/** The books that agree with the day: every payment and refund of 2024-05-01. */
function booksOfDay() {
  return [
    ...DAY_PAYMENTS.filter((p) => p.time.startsWith('2024-05-01')).map((p) => ({ kind: 'payment', outTradeNo: p.outTradeNo, amount: p.amount, currency: p.currency, time: p.time })),
    ...DAY_REFUNDS.map((r) => ({ kind: 'refund', outTradeNo: r.outTradeNo, outReturnNo: r.outReturnNo, amount: r.amount, currency: r.currency, time: r.time })),
  ]
}

describe('the documented sample of docs/protocol.md §8.7', () => {
  const header = TRANSACTION_HEADER.join(',')
  const row = '6276895309058723 ,2017050221001003140213828085 ,0.10,0.00,,0.10,HKD,2017-05-02 14:41:14,2017-05-23 15:36:00,ALIPAYCN,Cross_wap,P,P,test1,'
  const file = `${header}\n${row}\n`
  const batch = 'Settle_batch_no,Settle_date,Amount,Fee,Settlement,Currency\n50002017051900000000000000000000 ,2017-05-23 15:36:00,852.40 ,8.52 ,843.88 ,HKD\n'
  const books = [{ kind: 'payment', outTradeNo: '6276895309058723', amount: '0.1', currency: 'HKD' }]

  test('the row with one field more than its header and values padded with spaces is read, and matches the books', async () => {
    const report = reconcile(file, books)
    expect(report).toMatchObject({ ok: true, rows: 1, records: 1, matched: 1, truncated: false })
    expect(report.counts).toEqual({ onlyAtAlipay: 0, onlyInMerchant: 0, mismatches: 0, refundsWithoutPayment: 0, duplicatesAtAlipay: 0 })
    expect(report.days).toEqual([
      { date: '2017-05-02', currency: 'HKD', paymentCount: 1, payments: '0.10', refundCount: 0, refunds: '0.00', fees: '0.00', settlement: '0.10', unsettledCount: 0, addsUp: true },
    ])
    expect(report.settledWithoutBatch).toEqual([
      { date: '2017-05-23', currency: 'HKD', batchNos: [], file: { amount: '0.00', fee: '0.00', settlement: '0.00' }, rows: { amount: '0.10', fee: '0.00', settlement: '0.10' }, rowCount: 1, matches: false },
    ])
    await expectSameAsReference(report, file, books)
  })

  test('the trimmed ids are what an unknown row is reported with', () => {
    const report = reconcile(file, [])
    expect(report.ok).toBe(false)
    expect(report.onlyAtAlipay).toEqual([
      { line: 2, kind: 'payment', partnerTransactionId: '6276895309058723', transactionId: '2017050221001003140213828085', amount: '0.10', currency: 'HKD', paymentTime: '2017-05-02 14:41:14' },
    ])
  })

  test('the documented settlement batch (trailing spaces) is read; its totals are not those of the one sample row, and that is reported', async () => {
    const report = reconcile(file, books, batch)
    expect(report.ok).toBe(false)
    expect(report.settlements).toEqual([
      {
        date: '2017-05-23',
        currency: 'HKD',
        batchNos: ['50002017051900000000000000000000'],
        file: { amount: '852.40', fee: '8.52', settlement: '843.88' },
        rows: { amount: '0.10', fee: '0.00', settlement: '0.10' },
        rowCount: 1,
        matches: false,
      },
    ])
    expect(report.settledWithoutBatch).toEqual([])
    await expectSameAsReference(report, file, books, batch)
  })

  test('a header that names the unnamed column, CRLF line ends, a BOM and blank lines are read too', async () => {
    const named = ['Partner_transaction_id', 'Transaction_id', 'Amount', 'Fee', 'Unnamed', ...TRANSACTION_HEADER.slice(4)].join(',')
    const report = reconcile(Buffer.from(`\ufeff${named}\r\n\r\n${row}\r\n  \r\n`), books)
    expect(report).toMatchObject({ ok: true, rows: 1, matched: 1 })
    const crlf = `\ufeff${header}\r\n${row}\r\n\r\n${row.replace('6276895309058723', '6276895309058724')}`
    const both = reconcile(crlf, books)
    expect(both.onlyAtAlipay.map((e) => [e.line, e.partnerTransactionId])).toEqual([[4, '6276895309058724']])
  })
})

describe('a day of the simulator, reconciled', () => {
  test('the books that agree: everything matched, every day adds up, every batch (one per currency) equals its rows', async () => {
    const files = day()
    const books = booksOfDay()
    const report = reconcile(files.transactions.text, books, files.settleBatch.text)
    expect(report).toMatchObject({ ok: true, rows: 9, records: 9, matched: 9 })
    expect(report.days.map((d) => [d.date, d.currency, d.paymentCount, d.payments, d.refundCount, d.refunds, d.addsUp])).toEqual([
      ['2024-05-01', 'HKD', 6, '259.69', 2, '80.50', true],
      ['2024-05-01', 'USD', 1, '9.99', 0, '0.00', true],
    ])
    // The totals equal the settlement batch file, per currency: amount, fee and settlement.
    expect(report.settlements.map((s) => [s.currency, s.matches, s.rowCount])).toEqual([
      ['HKD', true, 8],
      ['USD', true, 1],
    ])
    const batchLines = files.settleBatch.text.trim().split('\n').slice(1).map((l) => l.split(',').map((f) => f.trim()))
    for (const s of report.settlements) {
      const [no, , amount, fee, settlement] = batchLines.find((f) => f[5] === s.currency)
      expect(s.batchNos).toEqual([no])
      expect(s.file).toEqual({ amount, fee, settlement })
      expect(s.rows).toEqual({ amount, fee, settlement })
      // And the day's totals give the same: payments − refunds − fees = settlement.
      const d = report.days.find((x) => x.currency === s.currency)
      const cents = (a) => Math.round(Number(a) * 100)
      expect(cents(d.payments) - cents(d.refunds)).toBe(cents(amount))
      expect(cents(d.fees)).toBe(cents(fee))
      expect(cents(d.settlement)).toBe(cents(settlement))
    }
    await expectSameAsReference(report, files.transactions.text, books, files.settleBatch.text)
  })

  test('the settlement files of the zip have the transaction file\'s columns and reconcile the same way', () => {
    const files = day()
    const hkd = files.settlements.find((s) => s.currency === 'HKD')
    const report = reconcile(hkd.text, booksOfDay().filter((r) => r.currency === 'HKD'), files.settleBatch.text)
    expect(report).toMatchObject({ rows: 8, matched: 8 })
    expect(report.settlements.find((s) => s.currency === 'HKD').matches).toBe(true)
  })

  test('each kind of finding, with the exact rows and records, equal to the independent computation', async () => {
    const files = day()
    // A refund of an order nobody has (RFX), and OT4 listed twice.
    const extra = [
      transactionRow({ partnerTransactionId: 'RFX', transactionId: '2024050122001000000000000099', amountCents: 500, feeCents: 5, currency: 'HKD', paymentTime: '2024-05-01 17:00:00', settlementTime: '2024-05-02 15:36:00', issue: 'ALIPAYHK', type: 'R', remarks: '', originalPartnerTransactionId: 'OTZ' }),
      files.transactions.text.split('\n').find((l) => l.startsWith('OT4 ')),
    ]
    const text = files.transactions.text + extra.join('\n') + '\n'
    const books = booksOfDay()
      .filter((r) => r.outTradeNo !== 'OT3' || r.kind !== 'payment') // OT3 missing from the books
      .map((r) => (r.outTradeNo === 'OT5' && r.kind === 'payment' ? { ...r, amount: '88.80' } : r)) // another amount
      .map((r) => (r.outTradeNo === 'OT6' && r.kind === 'payment' ? { ...r, currency: 'USD' } : r)) // another currency
      .map((r) => (r.outReturnNo === 'RF2' ? { ...r, outTradeNo: 'OT4' } : r)) // the refund of another order
    books.push({ kind: 'payment', outTradeNo: 'OTBOOKS', amount: '5', currency: 'HKD', time: '2024-05-01 18:00:00' }) // only in the books
    books.push({ kind: 'refund', outTradeNo: 'OT1', outReturnNo: 'RF9', amount: '1.00', currency: 'HKD' }) // only in the books

    const report = reconcile(text, books, files.settleBatch.text)
    expect(report.ok).toBe(false)
    expect(report.counts).toEqual({ onlyAtAlipay: 1, onlyInMerchant: 2, mismatches: 3, refundsWithoutPayment: 1, duplicatesAtAlipay: 1 })
    expect(report.matched).toBe(report.rows - 1 - 3 - 1 - 1)
    expect(report.onlyAtAlipay.map((e) => [e.kind, e.partnerTransactionId, e.amount])).toEqual([['payment', 'OT3', '12.30']])
    expect(report.onlyInMerchant).toEqual([
      { kind: 'payment', outTradeNo: 'OTBOOKS', amount: '5.00', currency: 'HKD', time: '2024-05-01 18:00:00' },
      { kind: 'refund', outTradeNo: 'OT1', outReturnNo: 'RF9', amount: '1.00', currency: 'HKD' },
    ])
    expect(report.mismatches.map((m) => [m.partnerTransactionId, m.fields, m.alipayAmount, m.merchantAmount, m.alipayCurrency, m.merchantCurrency])).toEqual([
      ['OT5', ['amount'], '88.88', '88.80', 'HKD', 'HKD'],
      ['OT6', ['currency'], '1.01', '1.01', 'HKD', 'USD'],
      ['RF2', ['outTradeNo'], '50.50', '50.50', 'HKD', 'HKD'],
    ])
    expect(report.mismatches[2]).toMatchObject({ kind: 'refund', alipayOutTradeNo: 'OT2', merchantOutTradeNo: 'OT4' })
    expect(report.refundsWithoutPayment.map((e) => [e.partnerTransactionId, e.originalPartnerTransactionId])).toEqual([['RFX', 'OTZ']])
    expect(report.duplicatesAtAlipay.map((e) => [e.partnerTransactionId, e.line])).toEqual([['OT4', text.trimEnd().split('\n').length]])
    // The extra rows are settled too: the batch file no longer equals the rows.
    expect(report.settlements.find((s) => s.currency === 'HKD').matches).toBe(false)
    expect(report.days.every((d) => d.addsUp)).toBe(true)
    await expectSameAsReference(report, text, books, files.settleBatch.text)
  })

  test('lists are capped by listLimit, the counts stay exact, and truncated says so', async () => {
    const files = day()
    const report = reconcile(files.transactions.text, [], null, { listLimit: 2 })
    // Empty books: every payment is only at Alipay, every refund is one whose payment is unknown.
    expect(report.counts.onlyAtAlipay).toBe(7)
    expect(report.counts.refundsWithoutPayment).toBe(2)
    expect(report.onlyAtAlipay).toHaveLength(2)
    expect(report.refundsWithoutPayment).toHaveLength(2)
    expect(report.truncated).toBe(true)
    await expectSameAsReference(report, files.transactions.text, [], null, { listLimit: 2 })
  })

  test('a generated day of 20,000 rows from a file on disk, records as JSON lines: equal to the independent computation and to what was generated', async () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'gen-'))
    const { files, expected: counts } = generateDay(dir, 20000)
    const report = await reconcileFile(files.transactions, fs.readFileSync(files.ledger), { settlementBatch: files.settleBatch })
    expect(report).toMatchObject({ rows: counts.rows, records: counts.records, matched: counts.matched })
    expect(report.counts).toMatchObject({ onlyAtAlipay: counts.onlyAtAlipay, onlyInMerchant: counts.onlyInMerchant, mismatches: counts.mismatches })
    expect(report.settlements.map((s) => s.matches)).toEqual([true])
    const records = fs.readFileSync(files.ledger, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    await expectSameAsReference(report, fs.readFileSync(files.transactions), records, fs.readFileSync(files.settleBatch, 'utf8'))
    // The same records as objects, one at a time from an async iterable.
    async function* one() {
      for (const r of records) yield r
    }
    expect(plain(await reconcileFile(files.transactions, one(), { settlementBatch: [files.settleBatch] }))).toEqual(plain(report))
  })
})

describe('streaming: any chunking gives the same report', () => {
  const files = day()
  const bytes = Buffer.from(files.transactions.text + files.transactions.text.split('\n').slice(1).join('\n').replace(/OT/g, 'XT'))
  const books = booksOfDay()
  const whole = reconcile(bytes, books, files.settleBatch.text)

  test('pushed 1, 2, 3, 7, 64 bytes at a time and at uneven sizes (multi-byte characters cut in two)', () => {
    expect(whole.rows).toBe(18)
    expect(bytes.length).toBeGreaterThan(bytes.toString('utf8').length) // multi-byte characters in it
    for (const size of [1, 2, 3, 7, 64, [5, 1, 13, 2, 40]]) {
      const r = new Reconciler()
      expect(r.addRecords(books)).toBe(books.length)
      let pushed = 0
      for (const chunk of cut(bytes, size)) pushed += r.push(chunk)
      expect(r.rows).toBe(pushed)
      const report = r.finish(files.settleBatch.text)
      expect(r.finished).toBe(true)
      expect(plain(report)).toEqual(plain(whole))
    }
  })

  test('string chunks, Uint8Array chunks, a Readable of tiny chunks and a file path give the same', async () => {
    const text = bytes.toString('utf8')
    const r = new Reconciler()
    r.addRecords(books)
    for (let i = 0; i < text.length; i += 5) r.push(text.slice(i, i + 5))
    expect(plain(r.finish(files.settleBatch.text))).toEqual(plain(whole))

    const u = new Reconciler()
    u.addRecords(JSON.stringify(books))
    for (const chunk of cut(bytes, 11)) u.push(new Uint8Array(chunk))
    expect(plain(u.finish(Buffer.from(files.settleBatch.text)))).toEqual(plain(whole))

    const stream = Readable.from(cut(bytes, 3))
    const batchFile = write('batch.csv', files.settleBatch.text)
    expect(plain(await reconcileFile(stream, books, { settlementBatch: batchFile }))).toEqual(plain(whole))
    const file = write('day.csv', bytes)
    expect(plain(await reconcileFile(file, books, { settlementBatch: Readable.from([files.settleBatch.text]) }))).toEqual(plain(whole))
    expect(plain(await reconcileFile(new URL(`file://${file}`), books.map((b) => JSON.stringify(b) + '\n'), { settlementBatch: Buffer.from(files.settleBatch.text) }))).toEqual(plain(whole))
    await expectSameAsReference(whole, text, books, files.settleBatch.text)
  })

  test('a file of 300,000 rows (42 MiB) is reconciled in bounded memory: peak RSS grows by far less than the file', () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'big-'))
    const { files: big } = generateDay(dir, 300000)
    const size = fs.statSync(big.transactions).size / 2 ** 20
    fs.rmSync(big.ledger)
    const script = `const { reconcileFile } = require(${JSON.stringify(root)});
      (async () => {
        const start = process.resourceUsage().maxRSS
        const r = await reconcileFile(${JSON.stringify(big.transactions)}, [], { listLimit: 100 })
        console.log(JSON.stringify({ grewMiB: (process.resourceUsage().maxRSS - start) / 1024, rows: r.rows, onlyAtAlipay: r.counts.onlyAtAlipay, listed: r.onlyAtAlipay.length }))
      })()`
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
    fs.rmSync(dir, { recursive: true, force: true })
    expect(size).toBeGreaterThan(40)
    expect(out).toMatchObject({ rows: 300000, onlyAtAlipay: 270000, listed: 100 })
    expect(out.grewMiB).toBeLessThan(size / 3)
  })
})

describe('a file that breaks the format is a coded error naming the line and column, never a skipped row', () => {
  const files = day()
  const lines = files.transactions.text.split('\n')
  // Line 5 of the file is OT4's row (no remarks, so no quotes): 15 fields.
  const FIELD = { Partner_transaction_id: 0, Transaction_id: 1, Amount: 2, Fee: 3, Settlement: 5, Currency: 6, Payment_time: 7, Settlement_time: 8, Issue: 9, Type: 11, Status: 12 }
  function withField(column, value) {
    const copy = [...lines]
    const fields = copy[4].split(',')
    expect(fields).toHaveLength(15)
    fields[FIELD[column]] = value
    copy[4] = fields.join(',')
    return copy.join('\n')
  }
  const cases = [
    ['Amount', '12.3', /"12\.3" is not an amount: digits, then a point and two decimals in Alipay's files \(e\.g\. 12\.30\)/],
    ['Amount', '', /is empty; an amount with two decimals is required/],
    ['Fee', '1e2', /e\.g\. 12\.30/],
    ['Settlement', '0.5', /two decimals/],
    ['Currency', 'hkd', /"hkd" is not a currency code of three capital letters, e\.g\. HKD/],
    ['Payment_time', '2024-02-30 10:00:00', /YYYY-MM-DD HH:MM:SS \(a real date/],
    ['Settlement_time', '2024-05-02 24:00:00', /YYYY-MM-DD HH:MM:SS/],
    ['Issue', 'ALIPAYUS', /not ALIPAYCN or ALIPAYHK/],
    ['Type', 'X', /"X" is not P \(payment\) or R \(refund\)/],
    ['Status', 'S', /not P \(done\) or L \(liquidated\)/],
    ['Partner_transaction_id', '  ', /is empty; every row carries this id/],
  ]

  test.each(cases)('%s %j', async (column, value, message) => {
    const text = withField(column, value)
    const field = `line 5, column ${column}`
    const check = (fn) => {
      let err
      try {
        fn()
      } catch (e) {
        err = e
      }
      // Made by the addon in Node's own realm: checked by name, not instanceof (jest runs in a vm).
      expect(err && err.name).toBe('Error')
      expect(err).toMatchObject({ code: ErrorCode.InvalidFile, field, file: 'transactions' })
      expect(err.message).toMatch(message)
      expect(err.message.startsWith(`${field}: `)).toBe(true)
      return err
    }
    const one = check(() => reconcile(text, booksOfDay()))
    // The same error when the file comes byte by byte; every later push throws it again.
    const r = new Reconciler()
    const bytewise = check(() => {
      for (const chunk of cut(Buffer.from(text), 1)) r.push(chunk)
    })
    expect(bytewise.message).toBe(one.message)
    check(() => r.push('more'))
    check(() => r.finish())
    // The independent reading refuses the same line and column.
    await expect(expected(text, [], null)).rejects.toMatchObject({ field })
    await expect(reconcileFile(Readable.from(cut(Buffer.from(text), 100)), [])).rejects.toMatchObject({ code: ErrorCode.InvalidFile, field })
  })

  test('a row with too few fields, a wrong header and an empty file', () => {
    const short = [...lines]
    short[4] = short[4].split(',').slice(0, 13).join(',')
    expect(() => reconcile(short.join('\n'), [])).toThrow(expect.objectContaining({ code: ErrorCode.InvalidFile, field: 'line 5', message: expect.stringMatching(/the row has 13 fields; the header has 14/) }))
    const header = lines[0].replace('Amount', 'Amt')
    expect(() => reconcile([header, ...lines.slice(1)].join('\n'), [])).toThrow(expect.objectContaining({ field: 'line 1, column 3', message: expect.stringContaining('"Amt"') }))
    expect(() => reconcile('', [])).toThrow(expect.objectContaining({ code: ErrorCode.InvalidFile, field: 'file', message: expect.stringMatching(/header line is missing/) }))
    expect(() => reconcile('\n\n', [])).toThrow(expect.objectContaining({ field: 'file' }))
  })

  test('a bad settlement batch file names its line and column, with err.file settlementBatch; the reconciler is left as it was', () => {
    const batch = day().settleBatch.text.replace(/,(\d+)\.(\d\d) ,/, ',$1.$2.0 ,')
    const r = new Reconciler()
    r.addRecords(booksOfDay())
    r.push(files.transactions.text)
    expect(() => r.finish(batch)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidFile, field: 'line 2, column Amount', file: 'settlementBatch' }))
    expect(r.finished).toBe(false)
    expect(() => r.finish(['Settle_batch_no,Settle_date\n'])).toThrow(expect.objectContaining({ field: 'line 1', file: 'settlementBatch' }))
    expect(r.finish(files.settleBatch.text).ok).toBe(true)
  })
})

describe('merchant records: read from own properties, refused with a field naming the record', () => {
  const file = `${TRANSACTION_HEADER.join(',')}\n`
  const rec = { kind: 'payment', outTradeNo: 'A1', amount: '12.30', currency: 'HKD' }
  const refusal = (records, field, message) => {
    let err
    try {
      reconcile(file, records)
    } catch (e) {
      err = e
    }
    expect(err && err.name).toBe('TypeError')
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, field })
    if (message) expect(err.message).toMatch(message)
  }

  test('wrong types and values', () => {
    refusal([{ ...rec, amount: 12.3 }], 'merchantRecords[0].amount', /must be a string such as '12\.30'/)
    refusal([rec, { ...rec, amount: '12.345' }], 'merchantRecords[1].amount', /"12\.345"/)
    refusal([{ ...rec, currency: 'hkd' }], 'merchantRecords[0].currency', /three capital letters/)
    refusal([{ ...rec, time: '2024-05-01T10:00:00Z' }], 'merchantRecords[0].time', /YYYY-MM-DD HH:MM:SS/)
    refusal([{ ...rec, kind: 'sale' }], 'merchantRecords[0].kind', /'payment' or 'refund'/)
    refusal([{ ...rec, kind: undefined }], 'merchantRecords[0].kind', /is required/)
    refusal([{ ...rec, outTradeNo: 5 }], 'merchantRecords[0].outTradeNo', /must be a string; got a number/)
    refusal([{ ...rec, outTradeNo: '' }], 'merchantRecords[0].outTradeNo', /is empty/)
    refusal([rec, rec], 'merchantRecords[1].outTradeNo', /given twice/)
    refusal([{ ...rec, kind: 'refund' }], 'merchantRecords[0].outReturnNo', /is empty/)
    refusal([{ ...rec, outReturnNo: 'R1' }], 'merchantRecords[0].outReturnNo', /a payment has no outReturnNo/)
    refusal([{ ...rec, amount: '-1.00' }], 'merchantRecords[0].amount')
    refusal([{ ...rec, outTradeNo: 'x'.repeat(70000) }], 'merchantRecords[0].outTradeNo', /at most 65536/)
    refusal([{ ...rec, outTradeNo: 'A\ud800' }], 'merchantRecords[0].outTradeNo', /lone UTF-16 surrogate/)
    refusal([42], 'merchantRecords[0]', /must be a record .* got a number/)
    refusal([rec, Buffer.from('{}')], 'merchantRecords[1]', /got a Buffer/)
    refusal([new Map(Object.entries(rec))], 'merchantRecords[0]', /must be a record .* got a Map$/)
    refusal([Promise.resolve(rec)], 'merchantRecords[0]', /got a Promise \(missing `await`\?\)/)
    refusal([null], 'merchantRecords[0]', /got null/)
    refusal(new Map(), 'merchantRecords', /got an object/)
    refusal(42, 'merchantRecords', /array of records/)
  })

  test('JSON text (an array or JSON lines) goes through the same rules, with the same fields', () => {
    refusal(JSON.stringify([rec, { ...rec, outTradeNo: 'A2', amount: 1.5 }]), 'merchantRecords[1]')
    refusal(`${JSON.stringify(rec)}\n${JSON.stringify({ ...rec, outTradeNo: 'A2', currency: 'HK' })}`, 'merchantRecords[1].currency')
    refusal('{"kind":"payment"', 'merchantRecords[0]')
    const report = reconcile(file, `${JSON.stringify(rec)}\n{"kind":"refund","out_trade_no":"A1","out_return_no":"R1","amount":"1","currency":"HKD","note":"ignored"}\n`)
    expect(report.counts.onlyInMerchant).toBe(2)
    expect(report.onlyInMerchant[1]).toMatchObject({ kind: 'refund', outTradeNo: 'A1', outReturnNo: 'R1', amount: '1.00' })
  })

  test('inherited properties are never read (a polluted prototype cannot make a record), getters that throw pass their error on', () => {
    refusal([Object.create(rec)], 'merchantRecords[0].kind', /is required/)
    const withGetter = { ...rec }
    Object.defineProperty(withGetter, 'amount', {
      enumerable: true,
      get() {
        throw new Error('getter says no')
      },
    })
    expect(() => reconcile(file, [withGetter])).toThrow('getter says no')
    // snake_case names are read too, and null stands for absent.
    const report = reconcile(file, [{ kind: 'payment', out_trade_no: 'A9', out_return_no: null, amount: '3', currency: 'HKD', time: null }])
    expect(report.onlyInMerchant).toEqual([{ kind: 'payment', outTradeNo: 'A9', amount: '3.00', currency: 'HKD' }])
  })

  test('the class: records before rows, no use after finish, new required, bad chunks and options refused', () => {
    const r = new Reconciler({ listLimit: 5 })
    r.addRecords([rec])
    // Not settled yet: Settlement and Settlement_time empty.
    r.push(`${TRANSACTION_HEADER.join(',')}\nA1 ,T1 ,12.30,0.12,,,HKD,2024-05-01 10:00:00,,ALIPAYHK,Cross_wap,P,P,,\n`)
    expect(() => r.addRecords([{ ...rec, outTradeNo: 'A2' }])).toThrow(expect.objectContaining({ field: 'merchantRecords[1].outTradeNo', message: expect.stringMatching(/before the first Alipay row/) }))
    expect(() => r.push(42)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, field: 'chunk' }))
    expect(() => r.finish(42)).toThrow(expect.objectContaining({ field: 'settlementBatch' }))
    const report = r.finish()
    expect(report).toMatchObject({ ok: true, matched: 1, records: 1, rows: 1 })
    expect(report.days[0]).toMatchObject({ unsettledCount: 1, addsUp: true, settlement: '0.00' })
    expect(() => r.push('x')).toThrow(expect.objectContaining({ field: 'reconciler', message: expect.stringMatching(/has finished/) }))
    expect(() => r.finish()).toThrow(expect.objectContaining({ field: 'reconciler' }))
    expect(() => Reconciler()).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, field: 'Reconciler' }))
    expect(() => new Reconciler({ listLimit: -1 })).toThrow(expect.objectContaining({ field: 'options.listLimit' }))
    expect(() => new Reconciler({ listLimit: 1.5 })).toThrow(expect.objectContaining({ field: 'options.listLimit' }))
    expect(() => new Reconciler('x')).toThrow(expect.objectContaining({ field: 'options' }))
  })

  test('reconcileFile checks its arguments and rejects with the codes', async () => {
    await expect(reconcileFile(42, [])).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, field: 'file' })
    await expect(reconcileFile(Readable.from([]), 42)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, field: 'merchantRecords' })
    await expect(reconcileFile(Readable.from([]), [], { settlement: 'x' })).rejects.toMatchObject({ field: 'options.settlement' })
    await expect(reconcileFile(path.join(scratch, 'missing.csv'), [])).rejects.toMatchObject({ code: 'ENOENT' })
    async function* bad() {
      yield rec
      yield { ...rec, outTradeNo: 'A2', currency: 'usd' }
    }
    await expect(reconcileFile(Readable.from([file]), bad())).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, field: 'merchantRecords[1].currency' })
  })
})

describe('a day at the simulator, end to end: orders paid and refunded through the gateway, its files reconciled', () => {
  test('all matched; the settlement batch equals the rows; then a payment left out of the books and an amount altered are exactly the two findings', async () => {
    let clock = Date.parse('2024-05-01T02:00:00Z') // 10:00 in Hong Kong
    const receiver = http.createServer((req, res) => req.resume().on('end', () => res.end('success')))
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    const sim = await startSimulator({
      merchantPublicKey: fs.readFileSync(path.join(KEYS, 'merchant_public_key.TEST-ONLY.pem'), 'utf8'),
      alipayPrivateKey: fs.readFileSync(path.join(KEYS, 'alipay_private_key.TEST-ONLY.pem'), 'utf8'),
      retryDelaysMs: [20],
      refundSpacingMs: 0,
      now: () => new Date(clock),
    })
    try {
      const alipay = new AlipayHK({
        partner: PARTNER,
        signType: 'RSA2',
        privateKey: fs.readFileSync(path.join(KEYS, 'merchant_private_key.TEST-ONLY.pem'), 'utf8'),
        alipayPublicKey: sim.alipayPublicKey,
        gateway: sim.gatewayUrl,
      })
      const notifyUrl = `http://127.0.0.1:${receiver.address().port}/notify`
      const books = []
      for (const [i, totalFee] of ['25.00', '88.5', '3.20', '100'].entries()) {
        const outTradeNo = `E2E${i}`
        const paid = await sim.pay(alipay.buildOrderStr({ outTradeNo, subject: `order ${i}`, totalFee, currency: 'HKD', notifyUrl }), 'pay')
        expect(paid.status).toBe(200)
        books.push({ kind: 'payment', outTradeNo, amount: totalFee, currency: 'HKD' })
        clock += 60_000
      }
      const refunded = await alipay.refund({ outTradeNo: 'E2E1', outReturnNo: 'E2E1-R1', amount: '8.50', reason: 'one item returned' })
      expect(refunded.status).toBe('SUCCESS')
      books.push({ kind: 'refund', outTradeNo: 'E2E1', outReturnNo: 'E2E1-R1', amount: '8.50', currency: 'HKD' })

      const files = sim.reconciliationFiles({ date: '20240501' })
      const report = reconcile(files.transactions.text, books, files.settleBatch.text)
      expect(report).toMatchObject({ ok: true, rows: 5, records: 5, matched: 5 })
      expect(report.settlements).toHaveLength(1)
      expect(report.settlements[0]).toMatchObject({ matches: true, rowCount: 5, file: { amount: '208.20' } })
      await expectSameAsReference(report, files.transactions.text, books, files.settleBatch.text)

      // One payment deleted from the books, one amount altered: exactly those two.
      const altered = books.filter((b) => b.outTradeNo !== 'E2E2' || b.kind !== 'payment').map((b) => (b.outTradeNo === 'E2E3' ? { ...b, amount: '100.01' } : b))
      const wrong = reconcile(files.transactions.text, altered, files.settleBatch.text)
      expect(wrong.ok).toBe(false)
      expect(wrong.counts).toEqual({ onlyAtAlipay: 1, onlyInMerchant: 0, mismatches: 1, refundsWithoutPayment: 0, duplicatesAtAlipay: 0 })
      expect(wrong.onlyAtAlipay[0]).toMatchObject({ partnerTransactionId: 'E2E2', amount: '3.20' })
      expect(wrong.mismatches[0]).toMatchObject({ partnerTransactionId: 'E2E3', fields: ['amount'], alipayAmount: '100.00', merchantAmount: '100.01' })
      // The batch is Alipay's own: it still equals the rows.
      expect(wrong.settlements[0].matches).toBe(true)
    } finally {
      await sim.close()
      await new Promise((resolve) => receiver.close(resolve))
    }
  })
})

// ---- the command ----

function run(args, input) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: input ?? '', encoding: 'utf8', cwd: scratch, timeout: 60000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('alipayhk-pay reconcile', () => {
  const files = day()
  const tradeFile = () => write(files.transactions.name, files.transactions.text)
  const batchFile = () => write(files.settleBatch.name, files.settleBatch.text)
  const recordsLedger = (records) => write('records.jsonl', records.map((r) => JSON.stringify(r)).join('\n') + '\n')

  /** The day's books as the example merchant server writes them (examples/merchant-server.js, ledger.jsonl). */
  function serverLedger({ dropPayment, alterAmount } = {}) {
    const entries = []
    for (const p of DAY_PAYMENTS) {
      entries.push({ type: 'order', outTradeNo: p.outTradeNo, subject: 'x', totalFee: p.amount, currency: p.currency, sellerId: PARTNER, createdAt: '2024-05-01T00:00:00.000Z' })
      if (p.outTradeNo === dropPayment) continue
      const totalFee = p.outTradeNo === alterAmount ? '1.23' : p.amount
      entries.push({ type: 'payment', outTradeNo: p.outTradeNo, tradeNo: p.tradeNo, totalFee, currency: p.currency, notifyId: 'n', gmtPayment: p.time, receivedAt: '2024-05-01T03:00:00.000Z' })
    }
    entries.push({ type: 'order', outTradeNo: 'UNPAID', subject: 'x', totalFee: '1.00', currency: 'HKD' })
    entries.push({ type: 'closed', outTradeNo: 'UNPAID', closedAt: '2024-05-01T05:00:00.000Z' })
    // RF1 and RF2 succeeded (Hong Kong time of settledAt on 2024-05-01); RF3 failed: not money moved.
    entries.push({ type: 'refund', outReturnNo: 'RF1', outTradeNo: 'OT1', amount: '30.00', amountCents: 3000, currency: 'HKD', reason: 'r', requestedAt: '2024-05-01T06:59:00.000Z' })
    entries.push({ type: 'refund', outReturnNo: 'RF3', outTradeNo: 'OT4', amount: '1.00', amountCents: 100, currency: 'HKD', reason: 'r', requestedAt: '2024-05-01T07:00:00.000Z' })
    entries.push({ type: 'refund_attempt', outReturnNo: 'RF1', at: '2024-05-01T07:00:00.000Z' })
    entries.push({ type: 'refund_result', outReturnNo: 'RF1', status: 'SUCCESS', settledAt: '2024-05-01T07:00:01.000Z' })
    entries.push({ type: 'refund_result', outReturnNo: 'RF3', status: 'FAILED', errorCode: 'X', settledAt: '2024-05-01T07:00:02.000Z' })
    entries.push({ type: 'refund', outReturnNo: 'RF2', outTradeNo: 'OT2', amountCents: 5050, currency: 'HKD', reason: 'r', requestedAt: '2024-05-01T08:00:00.000Z' })
    entries.push({ type: 'refund_result', outReturnNo: 'RF2', status: 'SUCCESS', settledAt: '2024-05-01T08:00:00.000Z' })
    return write('ledger.jsonl', entries.map((e) => JSON.stringify(e)).join('\n') + '\n')
  }

  test('the books agree: exit 0; the text names the day and says OK; --json prints the report', () => {
    const file = tradeFile()
    const ledger = serverLedger()
    const text = run(['reconcile', file, '--ledger', ledger, '--settlement-batch', batchFile()])
    expect(text).toMatchObject({ code: 0, stderr: '' })
    expect(text.stdout).toMatch(/records of 2024-05-01\): OK: everything matches/)
    expect(text.stdout).toMatch(/2024-05-01\s+HKD\s+6 \/ 259\.69\s+2 \/ 80\.50.*adds up/)
    expect(text.stdout).toMatch(/matches/)
    const json = run(['reconcile', file, '--ledger', ledger, '--settlement-batch', batchFile(), '--json'])
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout)
    expect(plain(report)).toEqual(plain(reconcile(files.transactions.text, booksOfDay(), files.settleBatch.text)))
    // Merchant records as JSON lines work the same.
    expect(run(['reconcile', file, '--ledger', recordsLedger(booksOfDay()), '--json']).code).toBe(0)
  })

  test('a payment missing from the books and an amount altered: exit 1, exactly those two, in text and JSON', () => {
    const args = ['reconcile', tradeFile(), '--ledger', serverLedger({ dropPayment: 'OT4', alterAmount: 'OT5' })]
    const text = run(args)
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/NOT RECONCILED/)
    expect(text.stdout).toMatch(/only at Alipay \(1\):\n {2}line \d+: payment OT4, 7\.00 HKD/)
    expect(text.stdout).toMatch(/amount or currency differs \(1\):\n {2}line \d+: payment OT5: amount: Alipay 88\.88, books 1\.23/)
    const json = run([...args, '--json'])
    expect(json.code).toBe(1)
    const report = JSON.parse(json.stdout)
    expect(report.counts).toEqual({ onlyAtAlipay: 1, onlyInMerchant: 0, mismatches: 1, refundsWithoutPayment: 0, duplicatesAtAlipay: 0 })
    expect(report.onlyAtAlipay[0].partnerTransactionId).toBe('OT4')
    expect(report.mismatches[0]).toMatchObject({ partnerTransactionId: 'OT5', merchantAmount: '1.23' })
  })

  test('--date: from the file name by default, given for stdin, all for every record', () => {
    const ledger = serverLedger()
    // From stdin the day must be given.
    const piped = run(['reconcile', '-', '--ledger', ledger, '--date', '2024-05-01', '--json'], files.transactions.text)
    expect(piped.code).toBe(0)
    expect(JSON.parse(piped.stdout).matched).toBe(9)
    // Every day: OT9 (paid on 2024-05-02) is then in the books only.
    const all = JSON.parse(run(['reconcile', tradeFile(), '--ledger', ledger, '--date', 'all', '--json']).stdout)
    expect(all.onlyInMerchant.map((e) => e.outTradeNo)).toEqual(['OT9'])
    const noDay = run(['reconcile', write('today.csv', files.transactions.text), '--ledger', ledger])
    expect(noDay.code).toBe(2)
    expect(noDay.stderr).toMatch(/the day cannot be read from the file name "today\.csv".*--date YYYY-MM-DD/)
    expect(run(['reconcile', tradeFile(), '--ledger', ledger, '--date', '1/5/2024']).stderr).toMatch(/--date must be YYYY-MM-DD or all/)
  })

  test('bad input exits 2 with the coded error: a bad row names the file, line and column; a bad ledger line its line', () => {
    const badFile = write(`${PARTNER}_fptrade_20240501.bad.csv`, files.transactions.text.replace(',88.88,', ',88.8,'))
    const r = run(['reconcile', badFile, '--ledger', serverLedger(), '--json'])
    expect(r.code).toBe(2)
    const { error } = JSON.parse(r.stdout)
    expect(error).toMatchObject({ code: 'ERR_ALIPAYHK_INVALID_FILE', field: expect.stringMatching(/^line \d+, column Amount$/) })
    expect(error.message).toContain(`${badFile}: line`)
    const text = run(['reconcile', badFile, '--ledger', serverLedger()])
    expect(text.code).toBe(2)
    expect(text.stderr).toMatch(/^alipayhk-pay reconcile: ERR_ALIPAYHK_INVALID_FILE \(line \d+, column Amount\): .*"88\.8" is not an amount/)

    const ledger = write('bad.jsonl', `${JSON.stringify(booksOfDay()[0])}\nnot json\n`)
    const l = run(['reconcile', tradeFile(), '--ledger', ledger])
    expect(l.code).toBe(2)
    expect(l.stderr).toMatch(/bad\.jsonl line 2: not JSON/)
    const badRecord = write('bad2.jsonl', `${JSON.stringify(booksOfDay()[0])}\n\n${JSON.stringify({ ...booksOfDay()[1], amount: '1.234' })}\n`)
    const b = run(['reconcile', tradeFile(), '--ledger', badRecord, '--json'])
    expect(b.code).toBe(2)
    expect(JSON.parse(b.stdout).error).toMatchObject({ code: 'ERR_ALIPAYHK_INVALID_ARGUMENT', field: 'merchantRecords[1].amount', message: expect.stringContaining('bad2.jsonl line 3:') })
    const neither = write('bad3.jsonl', '{"what":1}\n')
    expect(run(['reconcile', tradeFile(), '--ledger', neither]).stderr).toMatch(/bad3\.jsonl line 1: neither a merchant record/)
    const badBatch = run(['reconcile', tradeFile(), '--ledger', serverLedger(), '--settlement-batch', write('sb.csv', 'Settle_batch_no\n')])
    expect(badBatch.code).toBe(2)
    expect(badBatch.stderr).toMatch(/ERR_ALIPAYHK_INVALID_FILE \(line 1\): .*sb\.csv: line 1/)
  })

  test('usage: the file and --ledger are required, near misses are named, files that cannot be read are I/O errors', () => {
    const ledger = serverLedger()
    const usage = (args, pattern) => {
      const r = run(args)
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(pattern)
    }
    usage(['reconcile', '--ledger', ledger], /the transaction file is required/)
    usage(['reconcile', tradeFile()], /--ledger is required/)
    usage(['reconcile', tradeFile(), '--ledgr', ledger], /unknown option --ledgr \(did you mean --ledger\?\)/)
    usage(['reconcile', tradeFile(), '--ledger', ledger, '--settlement', 'x'], /did you mean --settlement-batch\?/)
    usage(['reconcil', tradeFile()], /unknown command "reconcil" \(did you mean reconcile\?\)/)
    usage(['reconcile', tradeFile(), 'other.csv', '--ledger', ledger], /give one transaction file \(got 2 arguments\)/)
    usage(['reconcile', path.join(scratch, `${PARTNER}_fptrade_20240502.csv`), '--ledger', ledger], /cannot read the transaction file .* \(ENOENT\)/)
    usage(['reconcile', tradeFile(), '--ledger', path.join(scratch, 'nope.jsonl')], /cannot read the ledger from .*nope\.jsonl \(ENOENT\)/)
    // A folder opens but cannot be read: the ledger is named, not the transaction file.
    fs.mkdirSync(path.join(scratch, 'a-folder'), { recursive: true })
    usage(['reconcile', tradeFile(), '--ledger', path.join(scratch, 'a-folder')], /cannot read the ledger from .*a-folder \(EISDIR\)/)
    usage(['reconcile', tradeFile(), '--ledger', ledger, '--list-limit', 'x'], /--list-limit must be a whole number/)
    const json = run(['reconcile', tradeFile(), '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'ERR_ALIPAYHK_USAGE', field: '--ledger' })
    const help = run(['reconcile', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^alipayhk-pay reconcile: /)
    expect(run(['--help']).stdout).toMatch(/alipayhk-pay reconcile PID_fptrade_YYYYMMDD\.csv --ledger/)
  })
})
