// `GET|POST /gateway.do`: reads a server-to-server request (8.1), checks it, applies it through the
// services, and answers with the signed XML envelope (8.2), the fault switches acting before the
// work is done or after it.
'use strict'

const crypto = require('node:crypto')
const { readGatewayParams, checkGatewayRequest } = require('./gateway-request')
const { buildReply, signReplyFields } = require('./gateway-reply')

const BAD_GATEWAY_PAGE = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n'

// Unref'd: a delayed answer never keeps a test process alive after the simulator is closed.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())

/**
 * @param {object} ctx
 * @param {object} ctx.services   from createServices
 * @param {object} ctx.faults     the Faults registry
 * @param {object} ctx.settings   live settings (replyCharset, replyIndent, contractedServices)
 * @param {object} ctx.merchant   { publicKey, md5Key, partner }
 * @param {crypto.KeyObject} ctx.alipayKey
 * @param {object[]} ctx.requests every gateway request is recorded here
 * @param {(line: string) => void} ctx.log
 */
function createGatewayHandler(ctx) {
  const { services, faults, settings, merchant, alipayKey, requests, log } = ctx
  let wrongRsaKey = null
  const wrongMd5Key = crypto.randomBytes(16).toString('hex')

  function replyKeys(signType, rule) {
    if (rule && rule.fault === 'wrong_key') {
      if (signType === 'MD5') return { md5Key: wrongMd5Key }
      wrongRsaKey = wrongRsaKey || crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
      return { privateKey: wrongRsaKey }
    }
    return signType === 'MD5' ? { md5Key: merchant.md5Key } : { privateKey: alipayKey }
  }

  function cut(res) {
    res.socket.destroy()
  }

  /** The `raw` fault: its body, repeated, streamed with back-pressure (100 MB need not sit in memory). */
  async function sendRaw(res, rule) {
    const chunk = Buffer.from(rule.body, 'utf8')
    const repeat = rule.repeat || 1
    res.writeHead(rule.status || 200, { 'content-type': rule.contentType || 'text/xml; charset=utf-8', 'content-length': chunk.length * repeat })
    const perWrite = Math.max(1, Math.floor((64 * 1024) / Math.max(1, chunk.length)))
    const block = Buffer.concat(Array(Math.min(perWrite, repeat)).fill(chunk))
    let left = repeat
    while (left > 0 && !res.destroyed) {
      const n = Math.min(perWrite, left)
      const ok = res.write(n === Math.min(perWrite, repeat) ? block : block.subarray(0, n * chunk.length))
      left -= n
      if (!ok) {
        await new Promise((resolve) => {
          const done = () => (res.off('drain', done), res.off('close', done), resolve())
          res.on('drain', done)
          res.on('close', done)
        })
      }
    }
    res.end()
  }

  function send(res, status, body, contentType) {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }

  return async function handleGateway(req, res, url, body) {
    const read = readGatewayParams({ method: req.method, query: url.search.slice(1), body })
    const p = read.params
    const match = { service: p.service, outTradeNo: p.out_trade_no, outReturnNo: p.out_return_no }
    const record = { at: new Date().toISOString(), method: req.method, transport: read.transport, service: p.service || null, params: p, faults: [], answer: null }
    requests.push(record)
    const finish = (answer, detail) => {
      record.answer = answer
      if (detail) record.detail = detail
      log(`gateway ${p.service || '?'}: ${answer}${detail ? ` (${detail})` : ''}`)
    }

    // Faults that act before the work is done: nothing is applied.
    const noteFault = (rule) => rule && record.faults.push({ id: rule.id, fault: rule.fault, afterApply: rule.afterApply })
    const delayBefore = faults.take(['delay'], match, (r) => !r.afterApply)
    noteFault(delayBefore)
    if (delayBefore) await sleep(delayBefore.delayMs)
    const before = faults.take(['cut', 'http_502', 'error', 'raw'], match, (r) => !r.afterApply)
    noteFault(before)
    if (before && before.fault === 'cut') return (finish('cut (fault switch, nothing done)'), cut(res))
    if (before && before.fault === 'raw') return (finish('raw answer (fault switch, nothing done)'), sendRaw(res, before))
    if (before && before.fault === 'http_502') return (finish('HTTP 502 (fault switch, nothing done)'), send(res, 502, BAD_GATEWAY_PAGE, 'text/html'))

    const style = { charset: settings.replyCharset, indent: settings.replyIndent }
    let outcome
    if (before && before.fault === 'error') outcome = { isSuccess: false, error: before.error, detail: `fault switch ${before.id}` }
    else {
      const checked = checkGatewayRequest(read, { ...merchant, contractedServices: settings.contractedServices })
      outcome = checked.error ? { isSuccess: false, error: checked.error, detail: checked.detail } : services.apply(p)
    }

    // Faults that act after the work is done: a refund has been made, the merchant may not learn it.
    const delayAfter = faults.take(['delay'], match, (r) => r.afterApply)
    noteFault(delayAfter)
    if (delayAfter) await sleep(delayAfter.delayMs)
    const after = faults.take(['cut', 'http_502', 'error', 'raw'], match, (r) => r.afterApply)
    noteFault(after)
    if (after && after.fault === 'cut') return (finish(`cut after applying (${outcome.isSuccess === false ? outcome.error : 'T'})`), cut(res))
    if (after && after.fault === 'raw') return (finish('raw answer after applying'), sendRaw(res, after))
    if (after && after.fault === 'http_502') return (finish('HTTP 502 after applying'), send(res, 502, BAD_GATEWAY_PAGE, 'text/html'))
    if (after && after.fault === 'error') outcome = { isSuccess: false, error: after.error, detail: `fault switch ${after.id} after applying` }

    if (outcome.text !== undefined) {
      finish(outcome.text)
      return send(res, 200, outcome.text, 'text/plain; charset=utf-8')
    }
    const reply = { isSuccess: outcome.isSuccess, error: outcome.error }
    if (outcome.isSuccess && outcome.echo) reply.request = read.order.filter((k) => k !== 'sign' && k !== 'sign_type').map((k) => [k, p[k]])
    if (outcome.isSuccess && outcome.response) {
      // Only replies that carry <response> are signed (8.2), with the request's sign type.
      const signing = faults.take(['wrong_key', 'unsigned', 'tamper'], match)
      noteFault(signing)
      const fields = { ...outcome.response.fields }
      if (!signing || signing.fault !== 'unsigned') {
        reply.sign = signReplyFields(fields, p.sign_type, replyKeys(p.sign_type, signing))
        reply.signType = p.sign_type
      }
      if (signing && signing.fault === 'tamper') fields[signing.field] = signing.value
      reply.response = { element: outcome.response.element, fields }
    }
    const built = buildReply(reply, style)
    finish(outcome.isSuccess ? 'T' : `F ${outcome.error}`, outcome.detail)
    return send(res, 200, built.body, built.contentType)
  }
}

module.exports = { createGatewayHandler, BAD_GATEWAY_PAGE }
