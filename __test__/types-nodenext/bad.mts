// Each line marked @error must fail to compile: the misuses issue 10 found, caught by the types.
import { AlipayHK, ErrorCode, buildOrderStr, checkNotifyMatchesOrder, isPaid, verifyNotify } from 'alipayhk-pay'

const v = verifyNotify('body', { alipayPublicKey: 'pem' })
isPaid(v.params) // @error
if (v.ok) {
  checkNotifyMatchesOrder(v.notification, {}) // @error
  checkNotifyMatchesOrder(v.notification, { total_fee: '1.00' }) // @error
  checkNotifyMatchesOrder(v.notification, { outTradeNo: 'A', totalFee: undefined }) // @error
} else {
  isPaid(v.unverifiedParams) // @error
}
isPaid({ trade_status: 'TRADE_SUCCESS' }) // @error
buildOrderStr({ service: 'mobile.securitypay.pay' }, '-----BEGIN PRIVATE KEY-----') // @error
new AlipayHK({ partner: '2088101568358171', signType: 'RSA2', privateKey: 'k', acceptSignTypes: ['SHA1'] }) // @error
const c: string = ErrorCode.NoSuchCode // @error
void c
