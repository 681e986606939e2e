// What the gateway services do with the simulator's trades (docs/protocol.md §8.3–§8.6): the trade query,
// refunds (partial, capped at the paid amount, one per out_return_no, spaced per partner, sync or
// with a refund_status_sync notification), the refund query and notify_verify. No HTTP here: each
// service takes checked parameters and returns the reply to send, unsigned.
'use strict'

const crypto = require('node:crypto')
const { toCents, formatCents } = require('./reconciliation')
const { alipayTime } = require('./notifier')

const REFUND_ERROR_DEFAULT = 'MERCHANT_BALANCE_NOT_ENOUGH'

/**
 * @param {object} ctx
 * @param {object} ctx.state      { trades: Map, refunds: Map, lastRefundAt: Map, sentNotifyIds: Map }
 * @param {object} ctx.settings   live settings (refundSpacingMs, refundSpacingError, refundProcessingMs, buyerId, …)
 * @param {object} ctx.faults     the Faults registry
 * @param {() => Date} ctx.now
 * @param {(refund, notification) => void} ctx.sendRefundNotification
 * @param {(line: string) => void} ctx.log
 */
function createServices(ctx) {
  const { state, settings, faults, now, log } = ctx

  const tradeKey = (partner, outTradeNo) => `${partner}/${outTradeNo}`
  const refundKey = (partner, outReturnNo) => `${partner}/${outReturnNo}`

  function findTrade(partner, { tradeNo, outTradeNo }) {
    if (tradeNo) {
      for (const t of state.trades.values()) if (t.tradeNo === tradeNo && t.partner === partner) return t
      return null
    }
    return state.trades.get(tradeKey(partner, outTradeNo)) || null
  }

  const isPaid = (trade) => trade.status === 'TRADE_FINISHED'
  const paidCents = (trade) => toCents(trade.params.total_fee || trade.params.rmb_fee)
  const refundsOf = (trade) => [...state.refunds.values()].filter((r) => r.partner === trade.partner && r.outTradeNo === trade.params.out_trade_no)
  // A refund still PROCESSING holds its amount; a FAILED one gives it back.
  const heldCents = (trade) => refundsOf(trade).reduce((sum, r) => sum + (r.status === 'FAILED' ? 0 : r.cents), 0)
  const refundedCents = (trade) => refundsOf(trade).reduce((sum, r) => sum + (r.status === 'SUCCESS' ? r.cents : 0), 0)

  const ok = (response, echo) => ({ isSuccess: true, response, echo })
  const fail = (error, detail) => ({ isSuccess: false, error, detail })

  /** 8.3: the trade's fields, in <response><trade>. */
  function tradeFields(trade) {
    const p = trade.params
    const total = formatCents(paidCents(trade))
    return {
      buyer_email: settings.buyerEmail, // masked, as Alipay shows it
      buyer_id: settings.buyerId,
      discount: '0.00',
      flag_trade_locked: '0',
      gmt_create: trade.gmtCreate,
      gmt_last_modified_time: trade.gmtLastModified || trade.gmtPayment || trade.gmtCreate,
      gmt_payment: trade.gmtPayment,
      is_total_fee_adjust: 'N',
      operator_role: 'B',
      out_trade_no: p.out_trade_no,
      payment_type: '100', // cross-border, whatever the orderStr's payment_type
      price: total,
      quantity: '1',
      seller_email: settings.sellerEmail,
      seller_id: trade.partner,
      subject: p.subject,
      to_buyer_fee: formatCents(refundedCents(trade)),
      to_seller_fee: isPaid(trade) ? total : '0.00',
      total_fee: total,
      trade_no: trade.tradeNo,
      trade_status: trade.status,
      use_coupon: 'F',
    }
  }

  function singleTradeQuery(p) {
    const trade = findTrade(p.partner, { tradeNo: p.trade_no, outTradeNo: p.out_trade_no })
    if (!trade) return fail('TRADE_NOT_EXIST', `no trade ${p.trade_no ? `trade_no ${p.trade_no}` : `out_trade_no ${p.out_trade_no}`} for partner ${p.partner}`)
    return ok({ element: 'trade', fields: tradeFields(trade) }, true)
  }

  /** 8.4. The checks run in this order; the first that fails is the answer. */
  function forexRefund(p) {
    const trade = findTrade(p.partner, { outTradeNo: p.out_trade_no })
    if (!trade || !isPaid(trade)) return fail('PURCHASE_TRADE_NOT_EXIST', `out_trade_no ${p.out_trade_no} is ${trade ? `not paid (${trade.status})` : 'unknown'}`)
    if (state.refunds.has(refundKey(p.partner, p.out_return_no))) {
      return fail('REPEATED_REFUNDMENT_REQUEST', `out_return_no ${p.out_return_no} was already used`)
    }
    const at = now()
    const last = state.lastRefundAt.get(p.partner)
    if (last !== undefined && at.getTime() - last < settings.refundSpacingMs) {
      return fail(settings.refundSpacingError, `refunds of partner ${p.partner} must be at least ${settings.refundSpacingMs} ms apart (${at.getTime() - last} ms since the last)`)
    }
    if (p.currency !== trade.params.currency) return fail('CURRENCY_NOT_SAME', `the trade is in ${trade.params.currency}, the refund in ${p.currency}`)
    const amount = p.return_amount || p.return_rmb_amount
    const cents = toCents(amount)
    const held = heldCents(trade)
    const paid = paidCents(trade)
    if (held + cents > paid) {
      return fail('RETURN_AMOUNT_EXCEED', `${formatCents(held)} already refunded or in progress + ${formatCents(cents)} > ${formatCents(paid)} paid`)
    }
    const failure = faults.take(['refund_fail'], { service: 'forex_refund', outTradeNo: p.out_trade_no, outReturnNo: p.out_return_no })
    const processing = faults.take(['refund_processing'], { service: 'forex_refund', outTradeNo: p.out_trade_no, outReturnNo: p.out_return_no })
    const sync = p.is_sync === 'Y'
    const refund = {
      partner: p.partner,
      outReturnNo: p.out_return_no,
      outTradeNo: p.out_trade_no,
      tradeNo: trade.tradeNo,
      amount,
      cents,
      currency: p.currency,
      reason: p.reason,
      gmtReturn: p.gmt_return,
      isSync: sync,
      notifyUrl: p.notify_url || trade.params.notify_url,
      signType: p.sign_type,
      issue: trade.params.payment_inst || 'ALIPAYCN',
      status: 'PROCESSING',
      errorCode: null,
      gmtCreate: alipayTime(at),
      gmtFinished: null,
    }
    state.refunds.set(refundKey(p.partner, p.out_return_no), refund)
    state.lastRefundAt.set(p.partner, at.getTime())
    trade.gmtLastModified = alipayTime(at)
    log(`refund ${p.out_return_no} of ${p.out_trade_no}: ${amount} ${p.currency}, is_sync=${sync ? 'Y' : 'N'}`)
    if (sync) {
      finish(refund, failure ? 'FAILED' : 'SUCCESS', failure ? failure.error || REFUND_ERROR_DEFAULT : null)
      return failure ? fail(refund.errorCode, `the refund failed (fault switch ${failure.id})`) : ok(null, false)
    }
    // Accepted now; the outcome comes later by refund_status_sync.
    if (processing) refund.errorCode = processing.error || REFUND_ERROR_DEFAULT
    else {
      const timer = setTimeout(() => {
        state.timers.delete(timer)
        complete(refund, failure ? 'FAILED' : 'SUCCESS', failure ? failure.error || REFUND_ERROR_DEFAULT : null)
      }, settings.refundProcessingMs)
      timer.unref()
      state.timers.add(timer)
    }
    return ok(null, false)
  }

  function finish(refund, status, errorCode) {
    refund.status = status
    refund.errorCode = status === 'SUCCESS' ? null : errorCode
    refund.gmtFinished = alipayTime(now())
  }

  /** Settles an is_sync=N refund and notifies the merchant (refund_status_sync). */
  function complete(refund, status, errorCode) {
    if (refund.status !== 'PROCESSING') throw new Error(`refund ${refund.outReturnNo} is already ${refund.status}`)
    finish(refund, status, errorCode)
    if (!refund.isSync) ctx.sendRefundNotification(refund)
    return refund
  }

  /** 8.5: the refund's state inside <response><alipay>. */
  function refundQuery(p) {
    const trade = findTrade(p.partner, { outTradeNo: p.out_trade_no })
    const ids = { out_trade_no: p.out_trade_no, out_return_no: p.out_return_no }
    if (!trade) return ok({ element: 'alipay', fields: { response_code: 'TRADE_NOT_EXIST', ...ids } }, true)
    const refund = state.refunds.get(refundKey(p.partner, p.out_return_no))
    if (!refund || refund.outTradeNo !== p.out_trade_no) {
      return ok({ element: 'alipay', fields: { response_code: 'NOT_FOUND', ...ids, trade_no: trade.tradeNo } }, true)
    }
    const resultCode = { SUCCESS: 'SUCCESS', FAILED: 'FAILED', PROCESSING: 'PROCESSING' }[refund.status]
    return ok(
      {
        element: 'alipay',
        fields: {
          response_code: 'SUCCESS',
          refund_result_code: resultCode,
          refund_error_code: refund.errorCode || '',
          ...ids,
          trade_no: refund.tradeNo,
          gmt_create: refund.gmtCreate,
        },
      },
      true,
    )
  }

  /** 8.6: true for a notify_id this simulator sent (for that partner). */
  function notifyVerify(p) {
    if (!p.notify_id || !state.sentNotifyIds.has(p.notify_id)) return false
    const sentFor = state.sentNotifyIds.get(p.notify_id)
    return !sentFor || sentFor === p.partner
  }

  /** Applies one checked request; returns { isSuccess, error?, response?, echo?, detail?, text? }. */
  function apply(p) {
    switch (p.service) {
      case 'single_trade_query':
        return singleTradeQuery(p)
      case 'forex_refund':
        return forexRefund(p)
      case 'alipay.acquire.refund.query':
        return refundQuery(p)
      case 'notify_verify':
        return { text: String(notifyVerify(p)) }
      default:
        return fail('ILLEGAL_SERVICE', `no service ${p.service}`)
    }
  }

  return { apply, complete, findTrade, tradeFields, refundsOf, notifyVerify, newNotifyId: () => crypto.randomBytes(16).toString('hex') }
}

module.exports = { createServices, REFUND_ERROR_DEFAULT }
