// Reconciliation end to end (issue 15): the simulator (node:crypto only, the independent side)
// is paid for a few orders of the example merchant server and makes a refund; the merchant's
// ledger records them; the simulator writes the day's transaction file (section 8.7, with the
// sample's quirks: a 15th field, trailing spaces); `alipayhk-pay reconcile FILE` compares it
// with the ledger: --database-url on PostgreSQL, --ledger on the JSON-lines file. Then one
// payment deleted from the PostgreSQL ledger and one amount altered → exactly those two.
'use strict'

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startSimulator } = require('../simulator')
const { startMerchantServer } = require('../examples/merchant-server')
const { startPostgres, connect, request, MERCHANT_PRIVATE, MERCHANT_PUBLIC, ALIPAY_PRIVATE, PARTNER, root } = require('./merchant-support')

jest.setTimeout(60_000)

const BIN = path.join(root, 'bin', 'alipayhk-pay.js')

let pg
const tempDirs = []

beforeAll(async () => {
  pg = await startPostgres()
})

afterAll(async () => {
  if (pg) await pg.stop()
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-reconcile-pg-'))
  tempDirs.push(dir)
  return dir
}

/** The CLI as a child process, at most 20 s: { status, stdout, stderr }. */
function cli(args, { nodeArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...nodeArgs, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (c) => (stdout += c))
    proc.stderr.on('data', (c) => (stderr += c))
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000)
    proc.on('error', reject)
    proc.on('exit', (status, signal) => {
      clearTimeout(timer)
      if (signal) reject(new Error(`alipayhk-pay ${args.join(' ')} did not finish within 20 s (${signal}):\n${stdout}\n${stderr}`))
      else resolve({ status, stdout, stderr })
    })
  })
}

const AMOUNTS = ['36.00', '12.50', '8.80'] // three orders paid
const REFUND = '5.00' // of the first

describe.each(['postgres', 'file'])('reconcile a day of the simulator against the %s ledger', (kind) => {
  let sim
  let merchant
  let db
  let dataDir
  let dir
  let transactions // the transaction file's path
  const paid = [] // out_trade_no of AMOUNTS, in order
  let refundId

  const ledgerArgs = () => (kind === 'postgres' ? ['--database-url', db.url] : ['--ledger', path.join(dataDir, 'ledger.jsonl')])

  beforeAll(async () => {
    let store
    if (kind === 'postgres') {
      db = await pg.newDatabase()
      store = { databaseUrl: db.url }
    } else {
      dataDir = tempDir()
      store = { dataDir }
    }
    sim = await startSimulator({ merchantPublicKey: MERCHANT_PUBLIC, alipayPrivateKey: ALIPAY_PRIVATE, partner: PARTNER, retryDelaysMs: [100, 200, 400], refundSpacingMs: 0 })
    merchant = await startMerchantServer({
      ...store,
      partner: PARTNER,
      privateKey: MERCHANT_PRIVATE,
      alipayPublicKey: sim.alipayPublicKey,
      gateway: sim.gatewayUrl,
      log: () => {},
    })
    for (const totalFee of AMOUNTS) {
      const created = await request('POST', `${merchant.url}/orders`, { subject: '港式奶茶 Hong Kong milk tea', totalFee })
      expect([created.status, created.text]).toEqual([201, expect.any(String)])
      const { outTradeNo, orderStr } = created.json()
      expect((await sim.pay(orderStr)).status).toBe(200)
      await sim.waitForNotifications(1, { outTradeNo, timeoutMs: 10_000 })
      expect((await request('GET', `${merchant.url}/orders/${outTradeNo}`)).json().status).toBe('PAID')
      paid.push(outTradeNo)
    }
    refundId = `R-${kind}-${Date.now()}`
    const refund = await request('POST', `${merchant.url}/orders/${paid[0]}/refunds`, { refundId, amount: REFUND, reason: '客人退貨 returned' })
    expect(refund.status).toBe(200)
    expect(refund.json()).toMatchObject({ status: 'SUCCESS' })

    dir = tempDir()
    const files = await sim.writeReconciliationFiles(dir)
    transactions = files.find((f) => /_fptrade_\d{8}\.csv$/.test(f))
    expect(transactions).toBeDefined()
  })

  afterAll(async () => {
    if (merchant) await merchant.close()
    if (sim) await sim.close()
    if (db) await db.drop()
  })

  test('the file is in the 8.7 format with its quirks, and every row matches the ledger: exit 0', async () => {
    // What the simulator wrote: the header, three payments and the refund, 15 fields a row,
    // trailing spaces after the ids (what the reconciliation has to be tolerant of).
    const lines = fs.readFileSync(transactions, 'utf8').trimEnd().split(/\r?\n/)
    expect(lines[0].split(',')).toHaveLength(14)
    expect(lines).toHaveLength(1 + AMOUNTS.length + 1)
    for (const no of paid) expect(lines.some((l) => l.startsWith(`${no} ,`))).toBe(true)
    expect(lines.some((l) => l.startsWith(`${refundId} ,`))).toBe(true)
    for (const row of lines.slice(1)) expect(row.split(',')).toHaveLength(15)

    const r = await cli(['reconcile', transactions, ...ledgerArgs(), '--json'])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report).toMatchObject({
      ok: true,
      rows: 4,
      records: 4,
      matched: 4,
      counts: { onlyAtAlipay: 0, onlyInMerchant: 0, mismatches: 0, refundsWithoutPayment: 0, duplicatesAtAlipay: 0 },
    })
    // The day's totals: what was paid and refunded, in the simulator's file.
    const sum = (xs) => (xs.reduce((a, x) => a + Math.round(Number(x) * 100), 0) / 100).toFixed(2)
    expect(report.days).toHaveLength(1)
    expect(report.days[0]).toMatchObject({ currency: 'HKD', paymentCount: 3, payments: sum(AMOUNTS), refundCount: 1, refunds: REFUND, addsUp: true })

    const text = await cli(['reconcile', transactions, ...ledgerArgs()])
    expect(text.status).toBe(0)
    expect(text.stdout).toMatch(/OK: everything matches/)
    if (kind === 'postgres') {
      // The report names the database but never prints its password, in the URL's user part or
      // in the query string (pg reads ?password= too).
      const password = decodeURIComponent(new URL(db.url).password)
      expect(password.length).toBeGreaterThan(8)
      expect(text.stdout).toContain('***')
      expect(text.stdout + text.stderr).not.toContain(password)
      const inQuery = new URL(db.url)
      inQuery.password = ''
      inQuery.searchParams.set('password', password)
      const viaQuery = await cli(['reconcile', transactions, '--database-url', inQuery.toString()])
      expect(viaQuery.status).toBe(0)
      expect(viaQuery.stdout).toMatch(/OK: everything matches/)
      expect(viaQuery.stdout + viaQuery.stderr).not.toContain(password)
    }
  })

  if (kind === 'postgres') {
    test('one payment deleted from the ledger and one amount altered: exactly those two reported, exit 1', async () => {
      const client = await connect(db.url)
      try {
        // The ledger refuses to change a recorded payment (migrations/001_ledger.sql,
        // payment_is_final): the test, as the table's owner, lifts that trigger for one update.
        await expect(client.query('UPDATE payments SET amount_cents = amount_cents + 100 WHERE out_trade_no = $1', [paid[1]])).rejects.toThrow(/never change/)
        await client.query('BEGIN')
        await client.query('ALTER TABLE payments DISABLE TRIGGER payment_is_final')
        const altered = await client.query('UPDATE payments SET amount_cents = amount_cents + 100 WHERE out_trade_no = $1', [paid[1]])
        await client.query('ALTER TABLE payments ENABLE TRIGGER payment_is_final')
        // A payment without refunds is referenced by nothing: it can go.
        const deleted = await client.query('DELETE FROM payments WHERE out_trade_no = $1', [paid[2]])
        await client.query('COMMIT')
        expect([altered.rowCount, deleted.rowCount]).toEqual([1, 1])
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        await client.end()
      }

      const r = await cli(['reconcile', transactions, '--database-url', db.url, '--json'])
      expect(r.stderr).toBe('')
      expect(r.status).toBe(1)
      const report = JSON.parse(r.stdout)
      expect(report).toMatchObject({
        ok: false,
        rows: 4,
        records: 3,
        matched: 2,
        counts: { onlyAtAlipay: 1, onlyInMerchant: 0, mismatches: 1, refundsWithoutPayment: 0, duplicatesAtAlipay: 0 },
      })
      expect(report.onlyAtAlipay.map((e) => [e.kind, e.partnerTransactionId, e.amount, e.currency])).toEqual([['payment', paid[2], AMOUNTS[2], 'HKD']])
      const more = (Number(AMOUNTS[1]) + 1).toFixed(2)
      expect(report.mismatches.map((m) => [m.kind, m.partnerTransactionId, m.fields, m.alipayAmount, m.merchantAmount])).toEqual([['payment', paid[1], ['amount'], AMOUNTS[1], more]])

      const text = await cli(['reconcile', transactions, '--database-url', db.url])
      expect(text.status).toBe(1)
      expect(text.stdout).toMatch(/NOT RECONCILED/)
      expect(text.stdout).toContain(paid[2])
      expect(text.stdout).toContain(`amount: Alipay ${AMOUNTS[1]}, books ${more}`)
    })

    test('without the pg package: exit 2, saying to npm install pg', async () => {
      // A preload that makes require('pg') fail as it does when pg is not installed.
      const preload = path.join(tempDir(), 'no-pg.js')
      fs.writeFileSync(
        preload,
        "const Module = require('node:module'); const resolve = Module._resolveFilename;" +
          "Module._resolveFilename = function (request, ...rest) { if (request === 'pg') throw Object.assign(new Error(\"Cannot find module 'pg'\"), { code: 'MODULE_NOT_FOUND' }); return resolve.call(this, request, ...rest) }\n",
      )
      const r = await cli(['reconcile', transactions, '--database-url', db.url], { nodeArgs: ['-r', preload] })
      expect(r.status).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(/npm install pg/)
    })

    test('--ledger and --database-url together, a URL that is not PostgreSQL, a server that is not there: exit 2', async () => {
      const both = await cli(['reconcile', transactions, '--database-url', db.url, '--ledger', 'ledger.jsonl', '--json'])
      expect(both.status).toBe(2)
      expect(JSON.parse(both.stdout).error).toMatchObject({ code: 'ERR_ALIPAYHK_USAGE', field: '--database-url' })
      const notPg = await cli(['reconcile', transactions, '--database-url', 'mysql://u:secret@127.0.0.1/x'])
      expect(notPg.status).toBe(2)
      expect(notPg.stderr).toMatch(/PostgreSQL URL/)
      expect(notPg.stderr).not.toContain('secret')
      // A port nothing listens on (a server of ours, closed).
      const net = require('node:net')
      const server = net.createServer().listen(0, '127.0.0.1')
      await new Promise((r) => server.once('listening', r))
      const { port } = server.address()
      await new Promise((r) => server.close(r))
      const down = await cli(['reconcile', transactions, '--database-url', `postgres://u:secret@127.0.0.1:${port}/x`, '--json'])
      expect(down.status).toBe(2)
      const error = JSON.parse(down.stdout).error
      expect(error).toMatchObject({ code: 'ERR_ALIPAYHK_IO', field: '--database-url' })
      expect(error.message).not.toContain('secret')
    })
  }
})
