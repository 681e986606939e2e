#!/usr/bin/env node
// `npm run bench`: alipayhk-pay against the JavaScript of Alipay's documented sample, in the
// same process and the same run. Every figure is printed as a ratio to a baseline measured
// in this run: the sample's code with the key pre-parsed as a KeyObject. Contenders
// alternate within each round; the figure is the median of the rounds.
//
//   node bench/bench.js [--rounds 11] [--ms 300] [--markdown]
'use strict'

const crypto = require('node:crypto')
const os = require('node:os')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { asyncConcurrency, buildOrderStr, buildOrderStrAsync, OrderSigner } = require('..')

const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : dflt
}
const ROUNDS = opt('--rounds', 11)
const MS = opt('--ms', 300)
const MARKDOWN = argv.includes('--markdown')

// A ~600-byte order, as a merchant sends it.
const order = {
  service: 'mobile.securitypay.pay',
  partner: '2088101568358171',
  seller_id: '2088101568358171',
  out_trade_no: 'ALIPAYTEST2016081622560194853',
  subject: '港式奶茶 Hong Kong milk tea x2, 菠蘿包 pineapple bun',
  body: '凍奶茶 少甜 走冰; 菠蘿油 x1; delivery to Kowloon Bay, Hong Kong',
  total_fee: '88.50',
  currency: 'HKD',
  notify_url: 'https://merchant.example.com/alipay/notify/2088101568358171',
  payment_type: '1',
  _input_charset: 'utf-8',
  it_b_pay: '30m',
  return_url: 'm.alipay.com',
  payment_inst: 'ALIPAYHK',
  product_code: 'NEW_WAP_OVERSEAS_SELLER',
  forex_biz: 'FP',
}

// The documented sample's way, done right: join, sign with node:crypto, encode.
function sampleOrderStr(params, signType, key) {
  const pre = Object.entries(params).map(([k, v]) => `${k}="${v}"`).join('&')
  let sign
  if (signType === 'MD5') sign = crypto.createHash('md5').update(pre + key, 'utf8').digest('hex')
  else sign = crypto.sign(signType === 'RSA2' ? 'sha256' : 'sha1', Buffer.from(pre, 'utf8'), key).toString('base64')
  return `${pre}&sign="${encodeURIComponent(sign)}"&sign_type="${signType}"`
}

let serial = 0
const nextOrder = () => ({ ...order, out_trade_no: `BENCH${++serial}` })

function opsPerSec(fn) {
  const end = process.hrtime.bigint() + BigInt(MS) * 1000000n
  let n = 0
  const start = process.hrtime.bigint()
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 8; i++) fn()
    n += 8
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9)
}

async function asyncOpsPerSec(make, inFlight) {
  const end = Date.now() + MS
  let n = 0
  const start = process.hrtime.bigint()
  const worker = async () => {
    while (Date.now() < end) {
      await make()
      n++
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  return n / (Number(process.hrtime.bigint() - start) / 1e9)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const quartiles = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return [s[Math.floor((s.length - 1) / 4)], s[Math.ceil(((s.length - 1) * 3) / 4)]]
}

function cases() {
  const rsa1024 = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 })
  const rsa2048 = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const md5Key = crypto.randomBytes(16).toString('hex')
  const rsaCase = (label, signType, pair) => {
    const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' })
    const keyObject = crypto.createPrivateKey(pem)
    const key = { signType, privateKey: pem }
    const signer = new OrderSigner(key)
    return {
      label,
      contenders: [
        ['JS sample, PEM parsed per call', () => sampleOrderStr(nextOrder(), signType, pem)],
        ['JS sample, KeyObject (baseline)', () => sampleOrderStr(nextOrder(), signType, keyObject), true],
        ['buildOrderStr(params, key string)', () => buildOrderStr(nextOrder(), key)],
        ['OrderSigner#buildOrderStr', () => signer.buildOrderStr(nextOrder())],
        ['buildOrderStrAsync, 64 in flight', () => buildOrderStrAsync(nextOrder(), signer), false, 64],
      ],
      verify: (s) => {
        const pre = s.slice(0, s.indexOf('&sign="'))
        const sig = decodeURIComponent(/&sign="([^"]+)"/.exec(s)[1])
        return crypto.verify(signType === 'RSA2' ? 'sha256' : 'sha1', Buffer.from(pre), pair.publicKey, Buffer.from(sig, 'base64'))
      },
      signer,
      keyObject,
      signType,
    }
  }
  const md5Signer = new OrderSigner({ signType: 'MD5', md5Key })
  return [
    rsaCase('RSA, 1024-bit, SHA-1', 'RSA', rsa1024),
    rsaCase('RSA2, 2048-bit, SHA-256', 'RSA2', rsa2048),
    {
      label: 'MD5',
      contenders: [
        ['JS sample, node:crypto md5 (baseline)', () => sampleOrderStr(nextOrder(), 'MD5', md5Key), true],
        ['buildOrderStr(params, key object)', () => buildOrderStr(nextOrder(), { signType: 'MD5', md5Key })],
        ['OrderSigner#buildOrderStr', () => md5Signer.buildOrderStr(nextOrder())],
        ['buildOrderStrAsync, 64 in flight', () => buildOrderStrAsync(nextOrder(), md5Signer), false, 64],
      ],
      verify: (s) => s === sampleOrderStr(parseBack(s), 'MD5', md5Key),
    },
  ]
}

function parseBack(s) {
  const pre = s.slice(0, s.indexOf('&sign="'))
  return Object.fromEntries(pre.split('"&').map((p) => {
    const i = p.indexOf('="')
    return [p.slice(0, i), p.slice(i + 2).replace(/"$/, '')]
  }))
}

async function eventLoopBurst(signType, pair, n) {
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' })
  const keyObject = crypto.createPrivateKey(pem)
  const signer = new OrderSigner({ signType, privateKey: pem })
  const measure = async (label, burst) => {
    const h = monitorEventLoopDelay({ resolution: 1 })
    // A timer keeps ticking so the loop's delay is sampled while the burst runs.
    const ticker = setInterval(() => {}, 1)
    h.enable()
    const t0 = process.hrtime.bigint()
    await burst()
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    h.disable()
    clearInterval(ticker)
    return { label, p99ms: h.percentile(99) / 1e6, maxms: h.max / 1e6, opsPerSec: n / secs }
  }
  const sync = await measure('JS sample, KeyObject, sync', async () => {
    // What a server does when requests pile up: each handler signs in turn on the loop.
    for (let i = 0; i < n; i += 50) {
      for (let j = 0; j < 50; j++) sampleOrderStr(nextOrder(), signType, keyObject)
      await new Promise(setImmediate)
    }
  })
  const ours = await measure('OrderSigner#buildOrderStrAsync', async () => {
    // The same arrival pattern: 50 requests a tick, each handler awaiting its signature.
    const inFlight = []
    for (let i = 0; i < n; i += 50) {
      for (let j = 0; j < 50; j++) inFlight.push(signer.buildOrderStrAsync(nextOrder()))
      await new Promise(setImmediate)
    }
    await Promise.all(inFlight)
  })
  const oursSync = await measure('OrderSigner#buildOrderStr, sync', async () => {
    for (let i = 0; i < n; i += 50) {
      for (let j = 0; j < 50; j++) signer.buildOrderStr(nextOrder())
      await new Promise(setImmediate)
    }
  })
  return [sync, oursSync, ours]
}

function fmt(x, digits = 2) {
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

async function main() {
  const lines = []
  const out = (s = '') => {
    lines.push(s)
    console.log(s)
  }
  out(`alipayhk-pay benchmark, ${new Date().toISOString().slice(0, 10)}`)
  out(`machine: ${os.cpus()[0].model.trim()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; libuv pool ${process.env.UV_THREADPOOL_SIZE || 4} threads; asyncConcurrency() ${asyncConcurrency()}`)
  out(`method: ${ROUNDS} rounds of ${MS} ms per contender, contenders alternating within a round; ratio = median over the rounds of (contender / baseline of the same round)`)
  out()
  for (const c of cases()) {
    for (const [, fn, , inFlight] of c.contenders) {
      const s = inFlight ? await fn() : fn()
      if (!c.verify(s)) throw new Error(`${c.label}: a contender produced an orderStr that does not verify`)
    }
    const samples = c.contenders.map(() => [])
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? [...c.contenders.keys()].reverse() : [...c.contenders.keys()]
      for (const i of order) {
        const [, fn, , inFlight] = c.contenders[i]
        samples[i].push(inFlight ? await asyncOpsPerSec(fn, inFlight) : opsPerSec(fn))
      }
    }
    // Each round's figure is divided by the baseline of the same round (measured next to it),
    // so a machine that speeds up or slows down between rounds moves both alike.
    const b = c.contenders.findIndex((x) => x[2])
    const ratios = samples.map((xs) => xs.map((x, r) => x / samples[b][r]))
    out(`### ${c.label}`)
    out()
    out('| contender | ops/s (median) | × baseline (median) | middle half of rounds |')
    out('|---|---:|---:|---:|')
    c.contenders.forEach(([name], i) => {
      const [lo, hi] = quartiles(ratios[i])
      out(`| ${name} | ${fmt(median(samples[i]), 0)} | ${fmt(median(ratios[i]))} | ${fmt(lo)}–${fmt(hi)} |`)
    })
    out()
  }
  out('### Event loop during a burst of 2,000 RSA2 2048-bit signatures (50 requests arriving per tick)')
  out()
  out('Each row runs in a fresh process; the libuv pool size is set per row (4 is Node\'s default).')
  out()
  out('| libuv pool | asyncConcurrency() | how | event-loop delay p99 | max | ops/s | × sync JS |')
  out('|---:|---:|---|---:|---:|---:|---:|')
  const pools = [...new Set([1, os.cpus().length, 4])].sort((a, b) => a - b)
  for (const pool of pools) {
    const r = require('node:child_process').spawnSync(process.execPath, [__filename, '--burst-only'], {
      env: { ...process.env, UV_THREADPOOL_SIZE: String(pool) },
      encoding: 'utf8',
    })
    if (r.status !== 0) throw new Error(`burst run failed: ${r.stderr}`)
    const { limit, rows: burst } = JSON.parse(r.stdout)
    for (const b of burst) {
      out(`| ${pool} | ${limit} | ${b.label} | ${fmt(b.p99ms)} ms | ${fmt(b.maxms)} ms | ${fmt(b.opsPerSec, 0)} | ${fmt(b.opsPerSec / burst[0].opsPerSec)} |`)
    }
  }
  out()
  if (MARKDOWN) require('node:fs').writeFileSync(require('node:path').join(__dirname, 'last-run.md'), lines.join('\n') + '\n')
}

async function burstOnly() {
  const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const rows = await eventLoopBurst('RSA2', pair, 2000)
  process.stdout.write(JSON.stringify({ limit: asyncConcurrency(), rows }))
}

;(argv.includes('--burst-only') ? burstOnly() : main()).catch((e) => {
  console.error(e)
  process.exit(1)
})
