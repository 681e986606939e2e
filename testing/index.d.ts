/// <reference types="node" />
// `alipayhk-pay/testing`: test your notification handler without an Alipay account.
//
// Everything here signs with TEST keys published in this package: it proves nothing outside a
// test, and Alipay's gateway refuses it. The signer and the simulator use `node:crypto` only,
// never the addon, so your tests check the addon against a second implementation.

import type { KeyObject } from 'node:crypto'

/** A notification's fields as Alipay sends them: every value a string (`'12.50'`, not `12.5`). */
export type NotificationParams = { [field: string]: string }

/** Fields to replace or add; `undefined` leaves a field out. */
export type NotificationOverrides = { [field: string]: string | undefined }

/** An RSA key as PEM, bare base64 or DER bytes, or a `KeyObject`. */
export type TestKeyInput = string | Buffer | KeyObject

/** The TEST key pairs of `examples/test-keys`, as PEM text. Never use them for real payments. */
export interface TestKeys {
  /** Your side: signs orderStrs (PKCS#8). */
  readonly merchantPrivateKey: string
  /** Your side's public key (SubjectPublicKeyInfo): the simulator checks orderStrs with it. */
  readonly merchantPublicKey: string
  /** "Alipay's" side: signs notifications and results in tests (PKCS#8). */
  readonly alipayPrivateKey: string
  /** Give it to your handler as Alipay's public key in tests (SubjectPublicKeyInfo). */
  readonly alipayPublicKey: string
}

/** The TEST keys as PEM text. */
export declare const TEST_KEYS: TestKeys

/** The paths of the TEST key files, for code that reads its keys from files. */
export declare const TEST_KEY_FILES: { readonly [name in keyof TestKeys]: string }

/** `2088101568358171`, the partner ID of Alipay's documented sample: a placeholder, not an account. */
export declare const TEST_PARTNER: string

/**
 * The fields of a paid order's notification (`trade_status_sync`, `TRADE_SUCCESS`) in the shape
 * Alipay sends: notify_time, notify_type, notify_id, trade_no, out_trade_no, subject, body,
 * total_fee, currency, trade_status, buyer_id, seller_id, gmt_create, gmt_payment.
 *
 * `notify_id` and `trade_no` are fresh on every call (pass them in `overrides` to send one
 * notification twice); the times are now, in Beijing time (`yyyy-MM-dd HH:mm:ss`). The defaults
 * are out_trade_no `TEST-ORDER-0001`, total_fee `12.50`, currency `HKD`, seller_id
 * `TEST_PARTNER`. Cross-border accounts are sent `TRADE_FINISHED` for a paid order: pass
 * `{ trade_status: 'TRADE_FINISHED' }` to test that.
 *
 * @example
 * ```ts
 * const params = sampleNotification({ out_trade_no: order.id, total_fee: '28.00' })
 * ```
 */
export declare function sampleNotification(overrides?: NotificationOverrides): NotificationParams

/** The key `signNotification` signs with. The sign type is never guessed. */
export type NotificationSigningKey =
  | {
      signType: 'RSA2' | 'RSA'
      /** Default: `TEST_KEYS.alipayPrivateKey`. Another key plays a forger. */
      privateKey?: TestKeyInput
    }
  | { signType: 'MD5'; md5Key: string }

/**
 * The raw `application/x-www-form-urlencoded` body Alipay would POST for `params`: signed over
 * the fields sorted by name as `key=value` joined with `&` (`sign`, `sign_type` and empty values
 * left out; docs/protocol.md §4), then `sign` and `sign_type` added. Give it to your handler
 * exactly as a request body. Throws a `TypeError` (code `ERR_ALIPAYHK_INVALID_ARGUMENT`) for a
 * value that is not a string, a `sign` or `sign_type` in `params`, or a missing sign type.
 *
 * @example
 * ```ts
 * const body = signNotification(sampleNotification(), { signType: 'RSA2' })
 * verifyNotify(body, { alipayPublicKey: TEST_KEYS.alipayPublicKey }).ok // true
 * ```
 */
export declare function signNotification(params: NotificationOverrides, key: NotificationSigningKey): string

/** `startSimulator` options. Every one is optional. */
export interface SimulatorOptions {
  /** Checks RSA / RSA2 orderStrs. Default: `TEST_KEYS.merchantPublicKey` (unless `md5Key` is given). */
  merchantPublicKey?: TestKeyInput
  /** Checks MD5 orderStrs. */
  md5Key?: string
  /** "Alipay's" key, which signs results and notifications. Default: `TEST_KEYS.alipayPrivateKey`. */
  alipayPrivateKey?: TestKeyInput
  /** When given, orders for another partner are refused. */
  partner?: string
  /** Waits between notification tries; Alipay's own 4m, 10m, 10m, 1h, 2h, 6h, 15h by default. Use short ones in tests. */
  retryDelaysMs?: number[]
  /** Per try, default 10000. */
  notifyTimeoutMs?: number
  /** Default 0: the OS picks a free port. */
  port?: number
  /** Default `127.0.0.1`. */
  host?: string
  /** The payer's Alipay ID written into notifications. */
  buyerId?: string
  /** Each thing the simulator does, as a line. */
  log?: (line: string) => void
  /** The clock for trades, refunds and notifications. */
  now?: () => Date
  /** Gateway services (docs/protocol.md §8): least time between two refunds of one partner, default 3000. */
  refundSpacingMs?: number
  /** The answer to a refund too soon, default `SYSTEM_EXCEPTION`. */
  refundSpacingError?: string
  /** How long an `is_sync=N` refund stays PROCESSING, default 0. */
  refundProcessingMs?: number
  /** The XML replies' encoding, default `utf-8`. */
  replyCharset?: 'utf-8' | 'gbk'
  /** Indent the XML replies, default false. */
  replyIndent?: boolean
  /** Services this merchant has a contract for; others are answered ILLEGAL_PARTNER_EXTERFACE. */
  contractedServices?: string[]
  /** The fee in the reconciliation files, default 100 (1%). */
  feeBasisPoints?: number
  /** Settle_date in the reconciliation files: the day plus this, default 1. */
  settleDelayDays?: number
}

/** One POST of a notification to the merchant, answered or not. */
export interface SimulatorDelivery {
  notifyId: string | null
  outTradeNo: string | null
  url: string
  /** `scheduled` (with Alipay's retries), `redelivery`, `forged` (sendNotification), `dropped` (a fault switch). */
  kind: 'scheduled' | 'redelivery' | 'forged' | 'dropped'
  attempt: number
  /** ISO 8601. */
  at: string
  /** The HTTP status, or null when there was no answer. */
  status: number | null
  response: string | null
  error: string | null
  /** The answer was exactly `success`. */
  acknowledged: boolean
  notifyType?: string
  outReturnNo?: string
}

/** A notification the simulator sent (and retries until it reads `success`). */
export interface SimulatorNotification {
  notifyId: string
  notifyType: string
  outTradeNo: string
  tradeNo: string
  partner: string
  notifyUrl: string
  signType: string
  params: NotificationParams
  /** The raw form body, byte for byte as POSTed. */
  body: string
  state?: 'pending' | 'acknowledged' | 'gave_up' | 'dropped'
  attempts?: number
}

/** The gateway's answer to `pay`. */
export interface SimulatorPayment {
  status: number
  /** `resultStatus={9000};memo={};result={…}` (or 6001 / 4000), or the JSON text of a refusal. */
  body: string
  /** A refusal: `{ resultStatus: '4000', error, reason, message, mistakes }`. */
  json?: { resultStatus: string; error: string; reason?: string; message: string; mistakes?: Array<{ reason: string; error: string; message: string; field?: string }> }
  tradeNo?: string
  notifyId?: string
}

/** A hand-made notification for `sendNotification`. */
export interface SimulatorNotificationInput {
  notifyUrl: string
  /** The fields (signed for you), or `body` for a body sent as is. */
  params?: NotificationParams
  body?: string
  /** Default `RSA`. */
  signType?: 'RSA' | 'RSA2' | 'MD5'
  /** `'alipay'` (the simulator's key, the default), `'none'`, a forger's RSA private key, or `{ md5Key }`. */
  signWith?: 'alipay' | 'none' | TestKeyInput | { md5Key: string }
  /** Replaces the computed signature. */
  sign?: string
}

/** A trade as the simulator's gateway knows it. */
export interface SimulatorTrade {
  partner: string
  outTradeNo: string
  tradeNo: string
  status: 'WAIT_BUYER_PAY' | 'TRADE_FINISHED' | 'TRADE_CLOSED'
  totalFee: string
  currency: string
  gmtCreate: string
  gmtPayment: string | null
  refunded: string
}

/** The gateway settings, changeable at run time with `setSettings`. */
export interface SimulatorSettings {
  refundSpacingMs: number
  refundSpacingError: string
  refundProcessingMs: number
  replyCharset: 'utf-8' | 'gbk'
  replyIndent: boolean
  contractedServices: string[]
  feeBasisPoints: number
  settleDelayDays: number
  buyerId: string
  buyerEmail: string
  sellerEmail: string
}

/** A fault switch: makes the gateway or the notifier misbehave on purpose (see simulator/faults.js). */
export interface SimulatorFault {
  fault: 'cut' | 'delay' | 'http_502' | 'wrong_key' | 'unsigned' | 'tamper' | 'error' | 'refund_fail' | 'refund_processing' | 'drop_notification'
  /** How many matches it acts on, default 1; or `always`. */
  times?: number
  always?: boolean
  service?: string
  outTradeNo?: string
  outReturnNo?: string
  notifyType?: string
  afterApply?: boolean
  delayMs?: number
  field?: string
  value?: string
  error?: string
  tries?: number
}

/** A file of the day's reconciliation (docs/protocol.md §8.7). */
export interface SimulatorReconciliationFile {
  name: string
  text: string
}

/** A running simulator. Stop it with `close()`. */
export interface Simulator {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  readonly port: number
  /** Its "Alipay public key" as PEM: give it to your handler. */
  readonly alipayPublicKey: string
  /** The same, as the bare base64 the merchant portal shows. */
  readonly alipayPublicKeyBase64: string
  /** `<url>/gateway.do`: notify_verify and the gateway services. */
  readonly gatewayUrl: string
  /** Pays (or cancels, or fails) an orderStr as the gateway would; a payment then notifies the order's notify_url. */
  pay(orderStr: string, choice?: 'pay' | 'cancel' | 'fail'): Promise<SimulatorPayment>
  /** POSTs a hand-made notification once, without retries. */
  sendNotification(input: SimulatorNotificationInput): Promise<SimulatorDelivery>
  /** Sends a notification already sent once more, byte for byte (same notify_id). */
  redeliver(notifyId: string): Promise<SimulatorDelivery>
  /** The body the simulator would send for `params`, signed with its own key. Default `RSA`. */
  signNotification(params: NotificationParams, signType?: 'RSA' | 'RSA2' | 'MD5'): string
  /** Every POST made so far. */
  readonly deliveries: SimulatorDelivery[]
  /** Every notification sent so far. */
  readonly notifications: SimulatorNotification[]
  /** Resolves with the first n scheduled deliveries your handler answered `success` (of one order with `outTradeNo`). */
  waitForNotifications(n?: number, options?: { timeoutMs?: number; outTradeNo?: string }): Promise<SimulatorDelivery[]>
  /** Resolves once n scheduled tries were made, answered or not. */
  waitForDeliveries(n?: number, options?: { timeoutMs?: number; outTradeNo?: string }): Promise<SimulatorDelivery[]>
  /** Fault switches; `add` returns the rule with its `id`. */
  readonly faults: {
    add(rule: SimulatorFault): SimulatorFault & { id: number }
    list(): Array<SimulatorFault & { id: number; left: number | null }>
    remove(id: number): boolean
    clear(): void
  }
  /** Changes the gateway settings given; throws a TypeError on a bad value. */
  setSettings(patch: Partial<SimulatorSettings>): SimulatorSettings
  readonly settings: SimulatorSettings
  /** The gateway requests received, for assertions. */
  readonly gatewayRequests: unknown[]
  trades(): SimulatorTrade[]
  /** Closes an unpaid trade (the payer never paid). */
  closeTrade(outTradeNo: string, options?: { partner?: string }): SimulatorTrade
  refunds(): Array<Record<string, unknown>>
  /** Settles a refund left PROCESSING, then sends its notification. */
  completeRefund(outReturnNo: string, options?: { status?: 'SUCCESS' | 'FAIL'; errorCode?: string; partner?: string }): Record<string, unknown>
  /** The day's reconciliation files from the paid orders and refunds so far. `date`: `YYYYMMDD`, `YYYY-MM-DD` or a Date. */
  reconciliationFiles(options?: { date?: string | Date; partner?: string; lineEnding?: string }): {
    partner: string
    date: string
    transactions: SimulatorReconciliationFile
    settleBatch: SimulatorReconciliationFile
    settlements: Array<SimulatorReconciliationFile & { batchNo: string; currency: string }>
    zip: { name: string; body: Buffer }
  }
  /** Writes the day's files into `dir`; resolves with their paths. */
  writeReconciliationFiles(dir: string, options?: { date?: string | Date; partner?: string; lineEnding?: string }): Promise<string[]>
  /** Stops the server and every pending retry. */
  close(): Promise<void>
}

/**
 * Starts the Alipay simulator on 127.0.0.1: it checks orderStrs as the gateway would, pays them,
 * and POSTs signed notifications to the order's notify_url with Alipay's retries. Without keys
 * it uses `TEST_KEYS` (the merchant public key to check orderStrs, the Alipay private key to
 * sign), so `TEST_KEYS.alipayPublicKey` verifies what it sends.
 *
 * @example
 * ```ts
 * const sim = await startSimulator({ retryDelaysMs: [50, 100] })
 * try {
 *   await sim.pay(orderStr)
 *   await sim.waitForNotifications(1, { outTradeNo: 'A1' })
 * } finally {
 *   await sim.close()
 * }
 * ```
 */
export declare function startSimulator(options?: SimulatorOptions): Promise<Simulator>
