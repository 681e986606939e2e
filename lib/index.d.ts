// The public types: the generated declarations (../index.d.ts), less the loader's internals,
// plus the parts written in JavaScript (lib/index.js). A test checks that every value named
// here is exported by both the CommonJS and the ES module entry, and nothing else is.
import type {
  SignType,
  GatewayRefund,
  GatewayTrade,
  ExpectedOrder,
  MerchantRecord,
  NotifyBody,
  NotifyDecision,
  NotifyFailureReason,
  ReconcileReport,
  VerifiedNotification,
} from '../index'

export type * from '../index'
export {
  AlipayHK,
  OrderSigner,
  Reconciler,
  VerifiedNotification,
  TRADE_PAY_RESULT_CODES,
  asyncConcurrency,
  buildOrderStr,
  buildOrderStrAsync,
  checkNotifyMatchesOrder,
  decideNotify,
  gatewayRequest,
  isPaid,
  notifyVerifyUrl,
  parseGatewayReply,
  parseOrderStr,
  preSignString,
  reconcile,
  signContent,
  verifyNotify,
  verifyNotifyAsync,
  verifyOrderStr,
  verifyTradePayResult,
} from '../index'

/** Every `code` an error from this package carries, by name: `err.code === ErrorCode.InvalidKey`. */
export declare const ErrorCode: {
  readonly MissingParam: 'ERR_ALIPAYHK_MISSING_PARAM'
  readonly InvalidParam: 'ERR_ALIPAYHK_INVALID_PARAM'
  readonly InvalidKey: 'ERR_ALIPAYHK_INVALID_KEY'
  readonly SignType: 'ERR_ALIPAYHK_SIGN_TYPE'
  readonly InvalidArgument: 'ERR_ALIPAYHK_INVALID_ARGUMENT'
  readonly Internal: 'ERR_ALIPAYHK_INTERNAL'
  readonly MalformedReply: 'ERR_ALIPAYHK_MALFORMED_REPLY'
  readonly ReplySignature: 'ERR_ALIPAYHK_REPLY_SIGNATURE'
  readonly GatewayError: 'ERR_ALIPAYHK_GATEWAY_ERROR'
  readonly GatewayUnreachable: 'ERR_ALIPAYHK_GATEWAY_UNREACHABLE'
  readonly InvalidFile: 'ERR_ALIPAYHK_INVALID_FILE'
}
/** The string union of the codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Your order for a notification's `out_trade_no`, as `handleNotify` asks for it. */
export type OrderLookup = (
  outTradeNo: string,
  notification: VerifiedNotification,
) => ExpectedOrder | null | undefined | Promise<ExpectedOrder | null | undefined>

/** What `AlipayHK#handleNotify` decided: do `action`, then answer Alipay with `answer`. */
export type NotifyHandling =
  | (NotifyDecision & { verified: true; notification: VerifiedNotification; keyFingerprint: string })
  | (NotifyDecision & { verified: false; reason: NotifyFailureReason; unverifiedParams: Record<string, string> })

/** `queryOrder`'s answer. Only a `signedByAlipay` state is final. */
export interface OrderQueryResult {
  /** `NOT_FOUND` right after the orderStr is normal: the buyer has not opened the cashier yet. */
  status: 'PAID' | 'WAIT_BUYER_PAY' | 'CLOSED' | 'NOT_FOUND'
  signedByAlipay: boolean
  signType?: SignType
  trade?: GatewayTrade
}

/** `refundStatus`'s answer (and `refund`'s, once confirmed). */
export interface RefundStatusResult {
  status: 'SUCCESS' | 'FAILED' | 'CANCELED' | 'PROCESSING' | 'NOT_FOUND'
  signedByAlipay: boolean
  signType?: SignType
  refund?: GatewayRefund
}

/** A refund to ask for. The same `outReturnNo` is the same refund: ask again with it, never with a new one, after an error. */
export interface RefundInput {
  outTradeNo: string
  /** Your refund id, at most 64 characters: the idempotency key. */
  outReturnNo: string
  /** A decimal string with at most 2 decimals; partial refunds may add up to the paid amount. */
  amount: string
  /** Default `'HKD'`. */
  currency?: string
  /** Required by the HK gateway, at most 100 characters. */
  reason: string
  /** `true` (default): the refund is confirmed by a signed refund query before this resolves. `false`: accepted now, the result comes by a refund notification. */
  sync?: boolean
  notifyUrl?: string
}

declare module '../index' {
  interface AlipayHK {
    /**
     * Asks Alipay for an order's state (single_trade_query): when a notification is late or
     * lost. Retries network errors, time-outs and 5xx; a reply whose signature fails is
     * never reported as a state.
     */
    queryOrder(query: { outTradeNo: string } | { tradeNo: string }, options?: { signal?: AbortSignal }): Promise<OrderQueryResult>
    /**
     * Refunds all or part of a paid order (forex_refund), then (unless `sync: false`)
     * confirms the outcome with the signed refund query. A retry sends the same request,
     * so it can never refund twice; REPEATED_REFUNDMENT_REQUEST after a lost reply is
     * resolved by the refund query, not reported as a failure.
     */
    refund(refund: RefundInput, options?: { signal?: AbortSignal }): Promise<
      (RefundStatusResult | { status: 'ACCEPTED'; signedByAlipay: false }) & { outTradeNo: string; outReturnNo: string }
    >
    /** A refund's state (alipay.acquire.refund.query), signed by Alipay. */
    refundStatus(query: { outTradeNo: string; outReturnNo: string }, options?: { signal?: AbortSignal }): Promise<RefundStatusResult>
    /** Asks Alipay whether it sent a notification with this notify_id (notify_verify). Not needed when the signature verified. */
    confirmNotifyId(notifyId: string, options?: { signal?: AbortSignal }): Promise<boolean>

    /**
     * The whole notification handler in one call: verifies the body (on the thread pool),
     * asks `lookup` for your order by the verified `out_trade_no`, and applies the decision
     * table. Do `action` (record once, idempotently), then answer Alipay with `answer`.
     *
     * @example
     * ```ts
     * const d = await alipay.handleNotify(rawBody, (no) => db.order(no))
     * if (d.action === 'RECORD_PAYMENT') await db.recordPayment(d.notification)
     * res.end(d.answer)
     * ```
     */
    handleNotify(body: NotifyBody, lookup: OrderLookup, options?: { signal?: AbortSignal }): Promise<NotifyHandling>
  }
}

/** Where `reconcileFile` reads a file from: a path, a `file:` URL, or a stream (any async iterable of chunks). */
export type ReconcileFileSource = string | URL | NodeJS.ReadableStream | AsyncIterable<Buffer | Uint8Array | string>

/** `reconcileFile`'s options. */
export interface ReconcileFileOptions {
  /**
   * The settlement batch file (`PID_settlebatch_YYYYMMDD.csv`) whose batches are checked
   * against the rows: a path, URL, stream, its bytes, or an array of those.
   */
  settlementBatch?: ReconcileFileSource | Buffer | Uint8Array | ReadonlyArray<ReconcileFileSource | Buffer | Uint8Array> | null
  /** How many entries each list of the report holds (10,000 by default); the counts are always exact. */
  listLimit?: number
}

/**
 * Reconciles a transaction file (`PID_fptrade_YYYYMMDD.csv`, or a settlement file) with the
 * merchant's records of that day, reading the file in 64 KiB chunks: memory is bounded by the
 * records, never by the file. The records: an array, an iterable or async iterable (a database
 * cursor), or their JSON lines as a string or Buffer (the fastest for a large ledger); an
 * iterable may also yield pieces of JSON lines, each holding whole records.
 * Rejects with `ERR_ALIPAYHK_INVALID_FILE` (`err.field` `line N, column X`, `err.file`
 * `'transactions'` or `'settlementBatch'`) or `ERR_ALIPAYHK_INVALID_ARGUMENT`
 * (`merchantRecords[i].amount`, …).
 *
 * @example
 * ```ts
 * const report = await reconcileFile('2088…_fptrade_20240501.csv', db.recordsOfDay('2024-05-01'), {
 *   settlementBatch: '2088…_settlebatch_20240501.csv',
 * })
 * if (!report.ok) alert(report.counts)
 * ```
 */
export declare const reconcileFile: (
  file: ReconcileFileSource,
  merchantRecords:
    | Iterable<MerchantRecord | string | Uint8Array>
    | AsyncIterable<MerchantRecord | string | Uint8Array>
    | string
    | Buffer
    | Uint8Array,
  options?: ReconcileFileOptions,
) => Promise<ReconcileReport>
