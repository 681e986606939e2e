// Shared by the ledger and merchant-server suites: a PostgreSQL server (DATABASE_URL, or a
// throwaway one started with scripts/postgres.sh), a fresh database per suite, merchant-server
// child processes, HTTP on loopback, and bounded waits.
'use strict'

const { spawn, spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')

const root = path.join(__dirname, '..')
const KEYS = path.join(root, 'examples', 'test-keys')
const SCRIPT = path.join(root, 'scripts', 'postgres.sh')
const { redact } = require('../examples/ledger/postgres')
const readKey = (name) => fs.readFileSync(path.join(KEYS, name), 'utf8')
const MERCHANT_PRIVATE = readKey('merchant_private_key.TEST-ONLY.pem')
const MERCHANT_PUBLIC = readKey('merchant_public_key.TEST-ONLY.pem')
const ALIPAY_PRIVATE = readKey('alipay_private_key.TEST-ONLY.pem')
const ALIPAY_PUBLIC = readKey('alipay_public_key.TEST-ONLY.pem')
const PARTNER = '2088101568358171'

const HOW_TO = [
  'The PostgreSQL tests never skip. Either install PostgreSQL\'s server programs (Debian/Ubuntu:',
  'sudo apt-get install postgresql) and the tests start a throwaway server themselves with',
  'scripts/postgres.sh, or start one and point DATABASE_URL at it:',
  '  eval "$(scripts/postgres.sh start)"   # exports DATABASE_URL; then npm test; scripts/postgres.sh stop',
].join('\n')

async function connect(url) {
  const { Client } = require('pg')
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  await client.connect()
  return client
}

/**
 * A PostgreSQL server for one suite: the one of DATABASE_URL when set, else a throwaway one
 * this starts with scripts/postgres.sh (and `stop()` stops). Fails, saying how to get a
 * server, when there is none: these tests never skip.
 * @returns {Promise<{ url: string, started: boolean, newDatabase(): Promise<{ url: string, drop(): Promise<void> }>, stop(): Promise<void> }>}
 */
async function startPostgres() {
  let serverUrl = process.env.DATABASE_URL
  let pgDir = null
  if (serverUrl) {
    try {
      const c = await connect(serverUrl)
      await c.end()
    } catch (err) {
      throw new Error(`DATABASE_URL=${redact(serverUrl)} cannot be reached (${err.code || err.message}).\n${HOW_TO}\n(or unset DATABASE_URL to let the tests start their own)`)
    }
  } else {
    const found = spawnSync('bash', [SCRIPT, 'bindir'], { encoding: 'utf8', timeout: 10_000 })
    if (found.status !== 0) throw new Error(`no DATABASE_URL, and no PostgreSQL to start: ${(found.stderr || found.error || '').toString().trim()}\n${HOW_TO}`)
    const started = spawnSync('bash', [SCRIPT, 'start'], { encoding: 'utf8', timeout: 120_000 })
    const url = /^export DATABASE_URL='([^']+)'$/m.exec(started.stdout || '')
    const dir = /^export ALIPAYHK_PG_DIR='([^']+)'$/m.exec(started.stdout || '')
    if (started.status !== 0 || !url || !dir) throw new Error(`scripts/postgres.sh start failed: ${started.stderr || started.error}\n${HOW_TO}`)
    serverUrl = url[1]
    pgDir = dir[1]
  }
  const databases = new Set()
  return {
    url: serverUrl,
    started: Boolean(pgDir),
    /** A new, empty database on that server (so suites never see each other's rows). */
    async newDatabase() {
      const name = `alipayhk_test_${crypto.randomBytes(6).toString('hex')}`
      const admin = await connect(serverUrl)
      try {
        await admin.query(`CREATE DATABASE ${name}`)
      } catch (err) {
        throw new Error(`cannot create a test database on ${redact(serverUrl)} (${err.message}): the DATABASE_URL user needs CREATEDB.\n${HOW_TO}`)
      } finally {
        await admin.end()
      }
      databases.add(name)
      const u = new URL(serverUrl)
      u.pathname = `/${name}`
      return {
        url: u.toString(),
        async drop() {
          databases.delete(name)
          const c = await connect(serverUrl)
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
          } finally {
            await c.end()
          }
        },
      }
    },
    async stop() {
      try {
        if (databases.size && !pgDir) {
          const c = await connect(serverUrl)
          try {
            for (const name of databases) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
          } finally {
            await c.end()
          }
        }
      } finally {
        if (pgDir) spawnSync('bash', [SCRIPT, 'stop', pgDir], { timeout: 60_000 })
      }
    },
  }
}

/** An HTTP request on a fresh connection: { status, text, json() }. Rejects on a socket error. */
function request(method, url, body, { contentType, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
    const headers = payload
      ? { 'content-type': contentType || (typeof body === 'string' ? 'text/plain' : 'application/json'), 'content-length': payload.length }
      : {}
    const req = http.request(url, { method, agent: false, headers, timeout: timeoutMs }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode, text, json: () => JSON.parse(text) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(payload)
  })
}

/** Posts a notification body as Alipay does. */
function deliver(merchantUrl, body) {
  return request('POST', `${merchantUrl}/alipay/notify`, body, { contentType: 'application/x-www-form-urlencoded' })
}

/** Polls `fn` until it returns something truthy, at most `timeoutMs`; then fails saying `what`. */
async function waitUntil(fn, { timeoutMs = 10_000, intervalMs = 50, what = 'the condition' } = {}) {
  const until = Date.now() + timeoutMs
  let last
  for (;;) {
    last = await fn()
    if (last) return last
    if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** Runs `fn` over `items` with at most `limit` at once; results in order. */
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i], i)
      }
    }),
  )
  return out
}

/**
 * examples/merchant-server.js as a child process (the TEST keys, RSA2). `env` adds to or
 * overrides the environment: DATABASE_URL or ALIPAYHK_DATA_DIR, ALIPAYHK_GATEWAY, …
 * Resolves once it listens: { proc, url, output(), waitFor(text, ms), kill9(), stop() }.
 */
function spawnMerchant(env, { startTimeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    const childEnv = {
      ...process.env,
      PORT: '0',
      ALIPAYHK_PARTNER: PARTNER,
      ALIPAYHK_SIGN_TYPE: 'RSA2',
      ALIPAYHK_PRIVATE_KEY_FILE: path.join(KEYS, 'merchant_private_key.TEST-ONLY.pem'),
      ALIPAYHK_ALIPAY_PUBLIC_KEY_FILE: path.join(KEYS, 'alipay_public_key.TEST-ONLY.pem'),
      ...env,
    }
    for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k]
    const proc = spawn(process.execPath, [path.join(root, 'examples', 'merchant-server.js')], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const watchers = new Set()
    const onData = (c) => {
      out += c
      for (const w of watchers) w()
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    const exited = new Promise((r) => proc.once('exit', r))
    const child = {
      proc,
      url: null,
      output: () => out,
      /** Resolves when the output holds `text` (counting from the start), at most `ms`. */
      waitFor(text, ms = 10_000) {
        return new Promise((res, rej) => {
          const check = () => {
            if (out.includes(text)) {
              watchers.delete(check)
              clearTimeout(t)
              res()
            }
          }
          const t = setTimeout(() => {
            watchers.delete(check)
            rej(new Error(`the merchant server did not print ${JSON.stringify(text)} within ${ms} ms:\n${out}`))
          }, ms)
          watchers.add(check)
          check()
        })
      },
      kill9() {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
        return exited
      },
      stop() {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
        return exited.finally(() => clearTimeout(t))
      },
    }
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`the merchant server did not start within ${startTimeoutMs} ms:\n${out}`))
    }, startTimeoutMs)
    const onStart = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (!m) return
      watchers.delete(onStart)
      clearTimeout(timer)
      child.url = m[1]
      resolve(child)
    }
    watchers.add(onStart)
    proc.once('exit', (code, sig) => {
      clearTimeout(timer)
      if (!child.url) reject(new Error(`the merchant server exited (${code ?? sig}) before it listened:\n${out}`))
    })
  })
}

module.exports = {
  root,
  KEYS,
  PARTNER,
  MERCHANT_PRIVATE,
  MERCHANT_PUBLIC,
  ALIPAY_PRIVATE,
  ALIPAY_PUBLIC,
  HOW_TO,
  startPostgres,
  connect,
  request,
  deliver,
  waitUntil,
  mapLimit,
  spawnMerchant,
}
