// Type-checked by `npm test` (tsc --noEmit): how a merchant's TypeScript uses the package.
// The `@ts-expect-error` lines are the misuses the types must refuse.
import { readFileSync } from 'node:fs'
import {
  asyncConcurrency,
  buildOrderStr,
  checkNotifyMatchesOrder,
  isPaid,
  preSignString,
  signContent,
  verifyNotify,
  OrderSigner,
  type AlipayHKError,
  type ErrorCode,
  type NotifyMismatch,
  type OrderParams,
  type SigningKey,
  type SignType,
  type VerifiedNotification,
} from '../..'

const params: OrderParams = {
  service: 'mobile.securitypay.pay',
  partner: '2088101568358171',
  seller_id: '2088101568358171',
  out_trade_no: 'ORDER-1',
  subject: '商品名稱',
  total_fee: '12.50',
  currency: 'HKD',
  notify_url: 'https://shop.example.com/alipay/notify',
  payment_type: '1',
  _input_charset: 'utf-8',
  product_code: 'NEW_WAP_OVERSEAS_SELLER',
  forex_biz: 'FP',
}

const pem = readFileSync('merchant.pem', 'utf8')
const rsa2: SigningKey = { signType: 'RSA2', privateKey: pem }
const der: SigningKey = { signType: 'RSA', privateKey: readFileSync('merchant.der') }
const md5: SigningKey = { signType: 'MD5', md5Key: 'abc' }

const a: string = buildOrderStr(params, rsa2)
const b: string = buildOrderStr(params, rsa2, { sortKeys: true, strict: false })
const c: string = preSignString(params, { strict: true })
const d: string = signContent('text', md5)

const signer = new OrderSigner(der)
const e: string = signer.buildOrderStr(params)
const f: string = signer.preSign(params)
const g: string = signer.signContent('x')
const t: SignType = signer.signType
const bits: number | null = signer.keyBits
const fp: string = signer.fingerprint
const h: string = buildOrderStr({ ...params, total_fee: 12.5 }, signer)

try {
  buildOrderStr(params, rsa2)
} catch (err) {
  const e2 = err as AlipayHKError
  const code: ErrorCode = e2.code
  if (code === 'ERR_ALIPAYHK_INVALID_PARAM') console.log(e2.field?.toUpperCase())
}

// @ts-expect-error: MD5 signs with md5Key, not privateKey
const wrong1: SigningKey = { signType: 'MD5', privateKey: pem }
// @ts-expect-error: sign types are upper case
const wrong2: SigningKey = { signType: 'rsa2', privateKey: pem }
// @ts-expect-error: booleans are not parameter values
buildOrderStr({ ...params, body: true }, rsa2)
// @ts-expect-error: options are an object
buildOrderStr(params, rsa2, true)
// @ts-expect-error: not an error code
const wrong3: ErrorCode = 'ERR_SOMETHING'
// @ts-expect-error: a bare key string names no sign type
buildOrderStr(params, pem)
// @ts-expect-error: nor does a key object without signType
buildOrderStr(params, { privateKey: pem })

export { a, b, c, d, e, f, g, t, bits, fp, h, wrong1, wrong2, wrong3 }

// The async pool limit: read, or set with a number.
const limit: number = asyncConcurrency()
asyncConcurrency(limit + 1)
// @ts-expect-error: the limit is a number, not a string
asyncConcurrency('4')

// A notification: only a verified result has one, and only it goes to isPaid and
// checkNotifyMatchesOrder.
const result = verifyNotify('notify_id=1&sign=x&sign_type=RSA2', { alipayPublicKey: readFileSync('alipay.pem') })
if (result.ok) {
  const n: VerifiedNotification = result.notification
  const paid: boolean = isPaid(n) && n.isPaid()
  const no: string | null = n.outTradeNo
  const fields: Readonly<Record<string, string>> = n.params
  const mismatches: NotifyMismatch[] = checkNotifyMatchesOrder(n, { outTradeNo: 'ORDER-1', totalFee: '12.50', currency: 'HKD' })
  const first: string | undefined = mismatches[0]?.notification
  console.log(paid, no, fields, first, result.keyFingerprint)
  // @ts-expect-error: the order number and the amount are required
  checkNotifyMatchesOrder(n, { totalFee: '12.50' })
  // @ts-expect-error: unknown keys are refused (camelCase: totalFee)
  checkNotifyMatchesOrder(n, { outTradeNo: 'ORDER-1', total_fee: '12.50' })
  // @ts-expect-error: a plain record of fields is not a verified notification
  isPaid(n.params)
} else {
  const logged: Record<string, string> = result.unverifiedParams
  console.log(result.reason, logged)
  // @ts-expect-error: a failed verification has no notification
  isPaid(result.notification)
}
