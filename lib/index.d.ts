// The public types: the generated declarations (../index.d.ts), less the loader's internals,
// plus the parts written in JavaScript (lib/index.js). A test checks that every value named
// here is exported by both the CommonJS and the ES module entry, and nothing else is.
import type {
  ExpectedOrder,
  NotifyBody,
  NotifyDecision,
  NotifyFailureReason,
  VerifiedNotification,
} from '../index'

export type * from '../index'
export {
  AlipayHK,
  OrderSigner,
  VerifiedNotification,
  TRADE_PAY_RESULT_CODES,
  asyncConcurrency,
  buildOrderStr,
  buildOrderStrAsync,
  checkNotifyMatchesOrder,
  decideNotify,
  isPaid,
  notifyVerifyUrl,
  parseOrderStr,
  preSignString,
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

declare module '../index' {
  interface AlipayHK {
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
