// The ES module entry: the same objects as the CommonJS entry (lib/index.js), by name.
import cjs from './index.js'

export const {
  AlipayHK,
  OrderSigner,
  Reconciler,
  VerifiedNotification,
  ErrorCode,
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
  reconcileFile,
  signContent,
  verifyNotify,
  verifyNotifyAsync,
  verifyOrderStr,
  verifyTradePayResult,
} = cjs

export default cjs
