// An ES module consumer under module: nodenext, as a merchant's TypeScript server is written.
import { readFileSync } from 'node:fs'
import {
  AlipayHK,
  ErrorCode,
  TRADE_PAY_RESULT_CODES,
  checkNotifyMatchesOrder,
  isPaid,
  verifyNotify,
  type AlipayHKError,
  type ExpectedOrder,
  type NotifyHandling,
} from 'alipayhk-pay'
import { sampleNotification, signNotification, TEST_KEYS } from 'alipayhk-pay/testing'

const alipay = new AlipayHK({
  partner: '2088101568358171',
  signType: 'RSA2',
  privateKey: readFileSync('merchant.pem', 'utf8'),
  alipayPublicKey: [TEST_KEYS.alipayPublicKey, readFileSync('next.pem')],
  acceptSignTypes: ['RSA2'],
})

const body = signNotification(sampleNotification({ out_trade_no: 'A1' }), { signType: 'RSA2' })
const v = verifyNotify(body, { alipayPublicKey: TEST_KEYS.alipayPublicKey })
if (v.ok) {
  const order: ExpectedOrder = { outTradeNo: 'A1', totalFee: '28.00' }
  const paid: boolean = isPaid(v.notification) && checkNotifyMatchesOrder(v.notification, order).length === 0
  const fp: string = v.keyFingerprint
  void paid
  void fp
} else {
  const why: string = v.reason
  const logged: Record<string, string> = v.unverifiedParams
  void why
  void logged
}

const handled: Promise<NotifyHandling> = alipay.handleNotify(body, async (outTradeNo) => ({ outTradeNo, totalFee: '28.00' }))
void handled

try {
  alipay.buildOrderStr({ outTradeNo: 'A1', subject: 's', totalFee: '1.00', notifyUrl: 'https://x.example/n' })
} catch (e) {
  const err = e as AlipayHKError
  if (err.code === ErrorCode.InvalidParam) console.log(err.field)
}
const success: string = TRADE_PAY_RESULT_CODES['9000']
void success

// The gateway services (issue 14): query, refund, refund status, notify_verify, and the low-level pieces.
import { gatewayRequest, parseGatewayReply, type GatewayHttpRequest, type GatewayReply, type OrderQueryResult, type RefundInput } from 'alipayhk-pay'

async function afterThePayment(): Promise<void> {
  const sandbox = new AlipayHK({ partner: '2088101568358171', signType: 'RSA2', privateKey: 'pem', gateway: 'sandbox', timeoutMs: 5000, retries: 2, fetch })
  const q: OrderQueryResult = await sandbox.queryOrder({ outTradeNo: 'A1' }, { signal: AbortSignal.timeout(10_000) })
  if (q.status === 'PAID' && q.signedByAlipay) console.log(q.trade?.totalFee, q.trade?.fields['to_buyer_fee'])
  await sandbox.queryOrder({ tradeNo: '2024050121001004000000000002' })
  const input: RefundInput = { outTradeNo: 'A1', outReturnNo: 'R1', amount: '10.00', reason: 'returned', sync: false }
  const r = await sandbox.refund(input)
  if (r.status === 'ACCEPTED') console.log(r.outReturnNo)
  else if (r.status === 'FAILED') console.log(r.refund?.refundErrorCode)
  const s = await sandbox.refundStatus({ outTradeNo: 'A1', outReturnNo: 'R1' })
  const done: boolean = s.status === 'SUCCESS' && s.signedByAlipay
  const genuine: boolean = await sandbox.confirmNotifyId('notify-id')
  void done
  void genuine
}
void afterThePayment

const built: GatewayHttpRequest = gatewayRequest('forex_refund', { out_trade_no: 'A1', out_return_no: 'R1', return_amount: '1.00', currency: 'HKD', reason: 'r' }, { partner: '2088101568358171', signType: 'MD5', md5Key: 'k', gmtReturnFormat: 'yyyyMMddHHmmss' })
const init: RequestInit = { method: built.method, headers: built.headers, body: built.body }
const parsed: GatewayReply = parseGatewayReply('single_trade_query', '<alipay/>', { alipayPublicKey: TEST_KEYS.alipayPublicKey }, { outTradeNo: 'A1' })
const unreachable: boolean = ErrorCode.GatewayUnreachable === 'ERR_ALIPAYHK_GATEWAY_UNREACHABLE'
void init
void parsed
void unreachable
