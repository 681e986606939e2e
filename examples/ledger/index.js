// The example merchant's ledger: orders, payments and refunds, behind one small interface with
// two stores.
//
//   const { openLedger } = require('./ledger')
//   const ledger = await openLedger({ databaseUrl: process.env.DATABASE_URL })  // PostgreSQL, any number of processes
//   const ledger = await openLedger({ dataDir: './data' })                       // ledger.jsonl, one process
//
// Every method is async. Amounts are integer cents (`toCents('36.00') === 3600`).
//
//   createOrder({ outTradeNo, subject, body?, amountCents, currency, sellerId, checkAfterMs? })
//                                      → 'recorded' | 'duplicate'
//   order(outTradeNo)                  → { outTradeNo, subject, body, amountCents, currency, sellerId,
//                                          status: 'UNPAID'|'PAID'|'CLOSED', createdAt, closedAt,
//                                          payment: Payment | null, refunds: Refund[] } | null
//   recordPayment({ outTradeNo, tradeNo, amountCents, currency, source: 'notification'|'query',
//                   notifyId?, buyerId?, gmtPayment? })
//                                      → 'recorded' | 'duplicate'   (throws ERR_LEDGER_NO_ORDER,
//                                          ERR_LEDGER_PAYMENT_MISMATCH for another amount or currency)
//   recordClosed({ outTradeNo })       → 'recorded' | 'duplicate'
//   recordRefund({ outReturnNo, outTradeNo, amountCents, currency, reason })
//                                      → 'recorded' | 'duplicate' | 'exceeds' | 'not_paid' | 'currency'
//   refund(outReturnNo)                → Refund | null
//   markRefundAttempt(outReturnNo)     → attempts so far, this one included (0: not PENDING)
//   recordRefundResult({ outReturnNo, status: 'SUCCESS'|'FAILED', errorCode? })
//                                      → 'recorded' | 'duplicate' | 'conflict'
//   claimRefund(outReturnNo)           → release() while this process works on it, or null
//   ordersToCheck({ limit, againAfterMs, giveUpAfterMs })  → UNPAID orders due for a query
//   pendingRefunds({ olderThanMs, limit })                → PENDING refunds
//   orders(), payments(), refunds()    → every row, oldest first (for reconciliation)
//   close()
//
//   Payment = { outTradeNo, tradeNo, amountCents, currency, source, notifyId, buyerId, gmtPayment,
//               recordedAt, refundedCents }
//   Refund  = { outReturnNo, outTradeNo, amountCents, currency, reason,
//               status: 'PENDING'|'SUCCESS'|'FAILED', errorCode, attempts, requestedAt, settledAt }
//
// A refund counts against its payment from the moment it is recorded (PENDING) until it FAILED;
// so the sum of refunds PENDING or SUCCESS never exceeds the paid amount. In PostgreSQL that is
// the database's constraint (migrations/001_ledger.sql); in the file, the synchronous check
// before each append (one process).
'use strict'

const { LedgerError } = require('./common')
const { toCents, fromCents } = require('./amounts')

/**
 * @param {object} options
 * @param {string} [options.databaseUrl]  postgres://…: the PostgreSQL store (needs `pg`)
 * @param {string} [options.dataDir]      otherwise: ledger.jsonl in this folder
 * @param {(line: string) => void} [options.log]
 * @param {string} [options.pauseAt]      test hook: stop forever at this point ('payment')
 * @param {(name: string) => void} [options.onPause]
 */
async function openLedger(options = {}) {
  if (options.databaseUrl) return require('./postgres').openPostgresLedger(options)
  if (options.dataDir) return require('./file').openFileLedger(options)
  throw new LedgerError('ERR_LEDGER_CONFIG', 'openLedger needs databaseUrl (PostgreSQL) or dataDir (a JSON-lines file)')
}

module.exports = { openLedger, LedgerError, toCents, fromCents }
