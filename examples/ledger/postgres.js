// The ledger on PostgreSQL (`pg` from npm), for several merchant-server processes behind one
// database. The schema is examples/ledger/migrations/*.sql, applied on open; the guarantees
// (one payment per order, one refund per refund id, refunds never above the paid amount) are
// the database's constraints and triggers, so they hold whichever process, or psql, writes.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { LedgerError, pausePoint } = require('./common')

const MIGRATIONS = path.join(__dirname, 'migrations')
// pg_advisory_lock's first key for this ledger ('ALHP'); the second is 0 for migrations and
// hashtext(out_return_no) for a refund being worked on.
const LOCK_NAMESPACE = 0x414c4850

function loadPg() {
  try {
    return require('pg')
  } catch (err) {
    throw new LedgerError('ERR_LEDGER_CONFIG', `the PostgreSQL ledger needs the 'pg' package: npm install pg (${err.code || err.message})`)
  }
}

/**
 * The URL with its passwords replaced, for logs and messages: the one in the user part and the
 * ones pg also reads from the query string (`?password=`, `?sslpassword=`).
 */
function redact(databaseUrl) {
  try {
    const u = new URL(databaseUrl)
    if (u.password) u.password = '***'
    for (const name of ['password', 'sslpassword']) if (u.searchParams.has(name)) u.searchParams.set(name, '***')
    return u.toString()
  } catch {
    return '(a database URL that is not a URL)'
  }
}

const iso = (d) => (d == null ? null : new Date(d).toISOString())

function orderOf(r) {
  return {
    outTradeNo: r.out_trade_no,
    subject: r.subject,
    body: r.body,
    amountCents: Number(r.amount_cents),
    currency: r.currency,
    sellerId: r.seller_id,
    status: r.status,
    createdAt: iso(r.created_at),
    closedAt: iso(r.closed_at),
  }
}

function paymentOf(r) {
  return {
    outTradeNo: r.out_trade_no,
    tradeNo: r.trade_no,
    amountCents: Number(r.amount_cents),
    currency: r.currency,
    source: r.source,
    notifyId: r.notify_id,
    buyerId: r.buyer_id,
    gmtPayment: r.gmt_payment,
    recordedAt: iso(r.recorded_at),
    refundedCents: Number(r.refunded_cents),
  }
}

function refundOf(r) {
  return {
    outReturnNo: r.out_return_no,
    outTradeNo: r.out_trade_no,
    amountCents: Number(r.amount_cents),
    currency: r.currency,
    reason: r.reason,
    status: r.status,
    errorCode: r.error_code,
    attempts: r.attempts,
    requestedAt: iso(r.requested_at),
    settledAt: iso(r.settled_at),
  }
}

const RETRYABLE = new Set(['40001', '40P01']) // serialization failure, deadlock

async function migrate(pool) {
  const files = fs.readdirSync(MIGRATIONS).filter((f) => /^\d+_.*\.sql$/.test(f)).sort()
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    // Several processes may open the ledger at once: one migrates, the others wait, then see it done.
    await client.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_NAMESPACE])
    await client.query(
      'CREATE TABLE IF NOT EXISTS ledger_migrations (name text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    )
    const applied = new Map((await client.query('SELECT name, sha256 FROM ledger_migrations')).rows.map((r) => [r.name, r.sha256]))
    for (const name of files) {
      const sql = fs.readFileSync(path.join(MIGRATIONS, name), 'utf8')
      const sha256 = crypto.createHash('sha256').update(sql).digest('hex')
      if (applied.has(name)) {
        if (applied.get(name) !== sha256) {
          throw new LedgerError('ERR_LEDGER_MIGRATION', `migration ${name} was changed after it was applied: add a new migration file instead`)
        }
        continue
      }
      await client.query(sql)
      await client.query('INSERT INTO ledger_migrations (name, sha256) VALUES ($1, $2)', [name, sha256])
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}

/**
 * Opens the ledger at `databaseUrl` and applies the migrations not yet applied.
 * @param {{ databaseUrl: string, poolSize?: number, log?: (line: string) => void, pauseAt?: string, onPause?: (name: string) => void }} options
 */
async function openPostgresLedger(options) {
  const { Pool } = loadPg()
  const log = options.log || (() => {})
  const pool = new Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize || 8,
    connectionTimeoutMillis: options.connectTimeoutMs || 10_000,
    application_name: 'alipayhk-merchant-example',
  })
  // An idle connection that breaks (the server restarted) is dropped by the pool; say so.
  pool.on('error', (err) => log(`ledger: idle connection lost (${err.message})`))
  try {
    await migrate(pool)
  } catch (err) {
    await pool.end().catch(() => {})
    if (err instanceof LedgerError) throw err
    throw new LedgerError('ERR_LEDGER_UNAVAILABLE', `cannot open the ledger at ${redact(options.databaseUrl)}: ${err.message}`, { cause: err })
  }

  /** Runs `fn(client)` in a transaction, again on a serialization failure or deadlock. */
  async function transaction(fn) {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect()
      let broken = false
      try {
        await client.query('BEGIN')
        const result = await fn(client)
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true))
        if (RETRYABLE.has(err.code) && attempt < 5) continue
        throw err
      } finally {
        client.release(broken)
      }
    }
  }

  const pause = (name) => pausePoint(options, name)

  const ledger = {
    kind: 'postgres',
    where: redact(options.databaseUrl),
    file: null,

    async createOrder(o) {
      const r = await pool.query(
        `INSERT INTO orders (out_trade_no, subject, body, amount_cents, currency, seller_id, next_check_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 millisecond')
         ON CONFLICT (out_trade_no) DO NOTHING RETURNING out_trade_no`,
        [o.outTradeNo, o.subject, o.body || null, o.amountCents, o.currency, o.sellerId, o.checkAfterMs ?? 300_000],
      )
      return r.rowCount === 1 ? 'recorded' : 'duplicate'
    },

    async order(outTradeNo) {
      const o = await pool.query('SELECT * FROM orders WHERE out_trade_no = $1', [outTradeNo])
      if (o.rowCount === 0) return null
      const p = await pool.query('SELECT * FROM payments WHERE out_trade_no = $1', [outTradeNo])
      const r = await pool.query('SELECT * FROM refunds WHERE out_trade_no = $1 ORDER BY requested_at, out_return_no', [outTradeNo])
      return { ...orderOf(o.rows[0]), payment: p.rowCount ? paymentOf(p.rows[0]) : null, refunds: r.rows.map(refundOf) }
    },

    /** 'recorded' the first time for an order, 'duplicate' after; the order turns PAID in the same transaction. */
    async recordPayment(p) {
      try {
        return await transaction(async (client) => {
          // No conflict target: two deliveries inserting at once collide on the primary key or
          // on trade_no, whichever index is checked first, and either is "already recorded".
          const inserted = await client.query(
            `INSERT INTO payments (out_trade_no, trade_no, amount_cents, currency, source, notify_id, buyer_id, gmt_payment)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT DO NOTHING RETURNING out_trade_no`,
            [p.outTradeNo, p.tradeNo, p.amountCents, p.currency, p.source, p.notifyId || null, p.buyerId || null, p.gmtPayment || null],
          )
          if (inserted.rowCount === 0) {
            const existing = await client.query('SELECT out_trade_no FROM payments WHERE out_trade_no = $1', [p.outTradeNo])
            if (existing.rowCount === 1) return 'duplicate'
            throw new LedgerError('ERR_LEDGER_DUPLICATE_TRADE', `trade ${p.tradeNo} is recorded for another order than ${p.outTradeNo}`)
          }
          await pause('payment') // a test kills the process here: the transaction never commits
          await client.query(`UPDATE orders SET status = 'PAID', next_check_at = NULL WHERE out_trade_no = $1`, [p.outTradeNo])
          return 'recorded'
        })
      } catch (err) {
        if (err.code === '23503') throw new LedgerError('ERR_LEDGER_NO_ORDER', `no order ${p.outTradeNo} for trade ${p.tradeNo}`)
        if (err.code === '23514' && err.constraint === 'payment_matches_order') throw new LedgerError('ERR_LEDGER_PAYMENT_MISMATCH', err.message)
        throw err
      }
    },

    /** An unpaid order Alipay closed: 'recorded', or 'duplicate' when it is closed or paid already. */
    async recordClosed({ outTradeNo }) {
      const r = await pool.query(
        `UPDATE orders SET status = 'CLOSED', closed_at = now(), next_check_at = NULL WHERE out_trade_no = $1 AND status = 'UNPAID'`,
        [outTradeNo],
      )
      return r.rowCount === 1 ? 'recorded' : 'duplicate'
    },

    /**
     * The intent to refund, recorded before Alipay is asked: 'recorded', 'duplicate' (that
     * refund id exists: see `refund(id)`), 'exceeds' (above what is left of the payment, by
     * the database's check), 'not_paid' (no payment for that order) or 'currency'.
     */
    async recordRefund(r) {
      try {
        const res = await pool.query(
          `INSERT INTO refunds (out_return_no, out_trade_no, amount_cents, currency, reason)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (out_return_no) DO NOTHING RETURNING out_return_no`,
          [r.outReturnNo, r.outTradeNo, r.amountCents, r.currency, r.reason],
        )
        return res.rowCount === 1 ? 'recorded' : 'duplicate'
      } catch (err) {
        if (err.code === '23514' && err.constraint === 'refunds_within_paid_amount') return 'exceeds'
        if (err.code === '23514' && err.constraint === 'refund_currency_is_payment_currency') return 'currency'
        if (err.code === '23503') return 'not_paid'
        throw err
      }
    },

    async refund(outReturnNo) {
      const r = await pool.query('SELECT * FROM refunds WHERE out_return_no = $1', [outReturnNo])
      return r.rowCount ? refundOf(r.rows[0]) : null
    },

    /** Counts one more attempt at a PENDING refund; returns the count (0 when it is not pending). */
    async markRefundAttempt(outReturnNo) {
      const r = await pool.query(
        `UPDATE refunds SET attempts = attempts + 1 WHERE out_return_no = $1 AND status = 'PENDING' RETURNING attempts`,
        [outReturnNo],
      )
      return r.rowCount ? r.rows[0].attempts : 0
    },

    /** PENDING → SUCCESS | FAILED once: 'recorded'; 'duplicate' when it already has that outcome; 'conflict' when the other. */
    async recordRefundResult({ outReturnNo, status, errorCode }) {
      if (status !== 'SUCCESS' && status !== 'FAILED') throw new TypeError(`a refund ends SUCCESS or FAILED, not ${status}`)
      const r = await pool.query(
        `UPDATE refunds SET status = $2, error_code = $3, settled_at = now() WHERE out_return_no = $1 AND status = 'PENDING'`,
        [outReturnNo, status, status === 'FAILED' ? errorCode || 'UNKNOWN' : null],
      )
      if (r.rowCount === 1) return 'recorded'
      const now = await ledger.refund(outReturnNo)
      if (!now) throw new LedgerError('ERR_LEDGER_NO_REFUND', `no refund ${outReturnNo}`)
      return now.status === status ? 'duplicate' : 'conflict'
    },

    /**
     * Takes the refund for this process while it talks to Alipay about it: a release
     * function, or null when another process (or request) has it. A session advisory lock,
     * so a process that dies lets go of it with its connection.
     */
    async claimRefund(outReturnNo) {
      const client = await pool.connect()
      let got = false
      try {
        got = (await client.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', [LOCK_NAMESPACE, outReturnNo])).rows[0].got
      } catch (err) {
        client.release(true)
        throw err
      }
      if (!got) {
        client.release()
        return null
      }
      let released = false
      return async () => {
        if (released) return
        released = true
        try {
          await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, outReturnNo])
          client.release()
        } catch {
          client.release(true) // dropping the connection drops the lock
        }
      }
    },

    /**
     * Orders still UNPAID whose check time has come, at most `limit`, each pushed
     * `againAfterMs` into the future as it is handed out (so several processes share the work
     * without asking Alipay twice); orders older than `giveUpAfterMs` are left alone.
     */
    async ordersToCheck({ limit = 20, againAfterMs = 60_000, giveUpAfterMs = 86_400_000 } = {}) {
      const r = await pool.query(
        `UPDATE orders SET next_check_at = now() + $2 * interval '1 millisecond'
         WHERE out_trade_no IN (
           SELECT out_trade_no FROM orders
           WHERE status = 'UNPAID' AND next_check_at <= now() AND created_at > now() - $3 * interval '1 millisecond'
           ORDER BY next_check_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [limit, againAfterMs, giveUpAfterMs],
      )
      return r.rows.map(orderOf)
    },

    /** Refunds still PENDING that were asked for at least `olderThanMs` ago. */
    async pendingRefunds({ olderThanMs = 0, limit = 50 } = {}) {
      const r = await pool.query(
        `SELECT * FROM refunds WHERE status = 'PENDING' AND requested_at <= now() - $1 * interval '1 millisecond'
         ORDER BY requested_at LIMIT $2`,
        [olderThanMs, limit],
      )
      return r.rows.map(refundOf)
    },

    async orders() {
      return (await pool.query('SELECT * FROM orders ORDER BY created_at, out_trade_no')).rows.map(orderOf)
    },
    async payments() {
      return (await pool.query('SELECT * FROM payments ORDER BY recorded_at, out_trade_no')).rows.map(paymentOf)
    },
    async refunds() {
      return (await pool.query('SELECT * FROM refunds ORDER BY requested_at, out_return_no')).rows.map(refundOf)
    },

    async close() {
      await pool.end()
    },
  }
  return ledger
}

module.exports = { openPostgresLedger, redact, LOCK_NAMESPACE }
