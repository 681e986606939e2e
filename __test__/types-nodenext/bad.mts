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

// The gateway services (issue 14).
import { gatewayRequest, parseGatewayReply } from 'alipayhk-pay'
const gw = new AlipayHK({ partner: '2088101568358171', signType: 'RSA2', privateKey: 'k', gateway: 'sandbox' })
void gw.refund({ outTradeNo: 'A1', amount: '1.00', reason: 'r' }) // @error
void gw.refund({ outTradeNo: 'A1', outReturnNo: 'R1', amount: 1, reason: 'r' }) // @error
void gw.refund({ outTradeNo: 'A1', outReturnNo: 'R1', amount: '1.00' }) // @error
void gw.refundStatus({ outTradeNo: 'A1' }) // @error
void gw.queryOrder({}) // @error
void gw.queryOrder({ out_trade_no: 'A1' }) // @error
void gw.queryOrder({ outTradeNo: 'A1' }).then((q) => q.status === 'SUCCESS') // @error
new AlipayHK({ partner: '2088101568358171', signType: 'RSA2', privateKey: 'k', timeoutMs: '5000' }) // @error
gatewayRequest('trade_query', { out_trade_no: 'A1' }, { partner: '2088101568358171' }) // @error
parseGatewayReply('single_trade_query', '<alipay/>') // @error
