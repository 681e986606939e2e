// A CommonJS consumer under module: nodenext.
import alipayhk = require('alipayhk-pay')

const signer = new alipayhk.OrderSigner({ signType: 'RSA2', privateKey: '...' })
const orderStr: string = signer.buildOrderStr({ service: 'mobile.securitypay.pay' })
const code: 'ERR_ALIPAYHK_INVALID_KEY' = alipayhk.ErrorCode.InvalidKey
void orderStr
void code
