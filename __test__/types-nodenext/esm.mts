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
