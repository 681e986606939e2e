// Issue 10: what a merchant tripped over in the first hour. Each describe is one item, with the
// exact calls the report quoted; every one of them behaved the other way before the change.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const util = require('node:util')
const { execFileSync, spawnSync } = require('node:child_process')

const lib = require('..')
const {
  AlipayHK,
  VerifiedNotification,
  ErrorCode,
  buildOrderStr,
  checkNotifyMatchesOrder,
  decideNotify,
  isPaid,
  verifyNotify,
} = lib
const { PARTNER, rsaPair, pkcs8Pem, spkiPem, pemBody, thrown, notifyFields, signedNotifyBody, validParams } = require('./helpers')

const root = path.join(__dirname, '..')
const merchant = rsaPair(2048)
const alipayKeys = rsaPair(2048)
const nextAlipayKeys = rsaPair(2048)
const alipayPub = spkiPem(alipayKeys)

function body(overrides, signType = 'RSA2', key = alipayKeys.privateKey) {
  return signedNotifyBody(notifyFields(overrides), signType, key)
}

function verified(overrides) {
  const v = verifyNotify(body(overrides), { alipayPublicKey: alipayPub })
  expect(v.ok).toBe(true)
  return v.notification
}

function front(config = {}) {
  return new AlipayHK({
    partner: PARTNER,
    signType: 'RSA2',
    privateKey: pkcs8Pem(merchant),
    alipayPublicKey: alipayPub,
    ...config,
  })
}

describe('1. checkNotifyMatchesOrder never says "all agree" when it compared nothing', () => {
  const n = () => verified({ out_trade_no: 'ORDER-1', total_fee: '28.00', currency: 'HKD' })

  test('another order number with the same amount is a mismatch, returned as data', () => {
    const m = checkNotifyMatchesOrder(n(), { outTradeNo: 'ORDER-999', totalFee: '28.00', currency: 'HKD' })
    expect(m).toEqual([
      expect.objectContaining({ field: 'out_trade_no', notification: 'ORDER-1', order: 'ORDER-999' }),
    ])
    expect(m[0].message).toMatch(/^out_trade_no/)
  })

  test.each([
    ['{}', {}, ErrorCode.MissingParam, 'expected.outTradeNo'],
    ['a snake_case typo', { total_fee: '1.00' }, ErrorCode.InvalidArgument, 'expected.total_fee'],
    ['totalFee: undefined', { outTradeNo: 'ORDER-1', totalFee: undefined }, ErrorCode.MissingParam, 'expected.totalFee'],
    ['no order number', { totalFee: '28.00' }, ErrorCode.MissingParam, 'expected.outTradeNo'],
    ['an id instead of outTradeNo', { id: 'ORDER-1', totalFee: '28.00' }, ErrorCode.InvalidArgument, 'expected.id'],
    ['an amount that is not a decimal', { outTradeNo: 'ORDER-1', totalFee: '28.001' }, ErrorCode.InvalidParam, 'expected.totalFee'],
  ])('%s is refused, not an empty list', (_, expected, code, field) => {
    const e = thrown(() => checkNotifyMatchesOrder(n(), expected))
    expect(e).toMatchObject({ code, field })
  })

  test('a field the order names but the notification lacks is reported', () => {
    const v = verifyNotify(
      signedNotifyBody(
        notifyFields({ out_trade_no: 'ORDER-1', total_fee: '28.00' }).filter(([k]) => k !== 'currency' && k !== 'seller_id'),
        'RSA2',
        alipayKeys.privateKey,
      ),
      { alipayPublicKey: alipayPub },
    )
    const m = checkNotifyMatchesOrder(v.notification, { outTradeNo: 'ORDER-1', totalFee: '28', currency: 'HKD', sellerId: PARTNER })
    expect(m.map((x) => [x.field, x.notification])).toEqual([
      ['currency', undefined],
      ['seller_id', undefined],
    ])
  })

  test('an order that agrees gives an empty list (amounts as decimals)', () => {
    expect(checkNotifyMatchesOrder(n(), { outTradeNo: 'ORDER-1', totalFee: 28, currency: 'HKD', sellerId: PARTNER })).toEqual([])
  })
})

describe('2. a failed verification hands back nothing that passes for verified fields', () => {
  const tampered = () => body({ total_fee: '28.00' }).replace('total_fee=28.00', 'total_fee=0.01')

  test('isPaid(verifyNotify(tamperedBody, key).params) no longer says true: there is no params', () => {
    const v = verifyNotify(tampered(), { alipayPublicKey: alipayPub })
    expect(v.ok).toBe(false)
    expect(v.reason).toBe('BAD_SIGNATURE')
    expect(v).not.toHaveProperty('params')
    expect(v).not.toHaveProperty('notification')
    expect(thrown(() => isPaid(v.params))).toMatchObject({ code: ErrorCode.InvalidArgument, field: 'notification' })
  })

  test('the fields are kept for logs under a name that says so, and isPaid refuses them', () => {
    const v = verifyNotify(tampered(), { alipayPublicKey: alipayPub })
    expect(v.unverifiedParams.trade_status).toBe('TRADE_FINISHED')
    expect(thrown(() => isPaid(v.unverifiedParams))).toMatchObject({ code: ErrorCode.InvalidArgument })
    expect(thrown(() => checkNotifyMatchesOrder(v.unverifiedParams, { outTradeNo: 'x', totalFee: '1' }))).toMatchObject({
      code: ErrorCode.InvalidArgument,
      field: 'notification',
    })
  })

  test('a VerifiedNotification cannot be made or imitated from JavaScript', () => {
    const real = verified()
    expect(() => new VerifiedNotification()).toThrow()
    expect(thrown(() => isPaid(Object.create(real)))).toMatchObject({ code: ErrorCode.InvalidArgument })
    expect(thrown(() => isPaid({ ...real.params }))).toMatchObject({ code: ErrorCode.InvalidArgument })
    expect(isPaid(real)).toBe(true)
    expect(real.isPaid()).toBe(true)
    expect(Object.isFrozen(real.params)).toBe(true)
  })

  test('decideNotify on an unverified result rejects it, whatever its fields say', () => {
    const v = verifyNotify(tampered(), { alipayPublicKey: alipayPub })
    const d = decideNotify(v, { outTradeNo: 'HOSTILE-0001', totalFee: '0.01' })
    expect(d).toMatchObject({ action: 'REJECT', answer: 'fail' })
    // An object made up to look verified is refused: its notification is not a real one.
    const forged = { ok: true, notification: { ...v.unverifiedParams }, signType: 'RSA2' }
    expect(thrown(() => decideNotify(forged, null))).toMatchObject({ code: ErrorCode.InvalidArgument, field: 'verification.notification' })
  })
})

describe('3. no sign type is chosen silently', () => {
  test('buildOrderStr(params, pemString) is refused and says how to name the sign type', () => {
    const e = thrown(() => buildOrderStr(validParams(), pkcs8Pem(merchant)))
    expect(e).toMatchObject({ code: ErrorCode.SignType, field: 'key.signType' })
    expect(e.message).toMatch(/RSA2/)
    expect(e.message).not.toContain(pemBody(pkcs8Pem(merchant)).slice(0, 40))
  })

  test('the CLI sign command without --sign-type exits 2 and prints no orderStr', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ahk-'))
    const keyFile = path.join(dir, 'k.pem')
    const paramsFile = path.join(dir, 'p.json')
    fs.writeFileSync(keyFile, pkcs8Pem(merchant))
    fs.writeFileSync(paramsFile, JSON.stringify(validParams()))
    const r = spawnSync(process.execPath, [path.join(root, 'bin/alipayhk-pay.js'), 'sign', '--params', paramsFile, '--key', keyFile], {
      encoding: 'utf8',
    })
    expect(r.status).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/--sign-type/)
  })
})

describe('4. notifications are checked in the sign types the account accepts', () => {
  test('an RSA2 account refuses a genuine notification labelled RSA (SHA-1)', () => {
    const v = front().verifyNotify(body({}, 'RSA'))
    expect(v).toMatchObject({ ok: false, reason: 'SIGN_TYPE_NOT_ACCEPTED' })
    expect(v.message).toMatch(/acceptSignTypes/)
  })

  test('acceptSignTypes widens it during a migration, and is shown on the account', () => {
    const a = front({ acceptSignTypes: ['RSA2', 'RSA'] })
    expect(a.acceptSignTypes).toEqual(['RSA2', 'RSA'])
    expect(a.verifyNotify(body({}, 'RSA')).ok).toBe(true)
    expect(front().acceptSignTypes).toEqual(['RSA2'])
  })

  test('accepting a sign type there is no key for is a configuration error', () => {
    expect(thrown(() => front({ acceptSignTypes: ['MD5'] }))).toMatchObject({
      code: ErrorCode.SignType,
      field: 'config.acceptSignTypes',
    })
    expect(thrown(() => front({ acceptSignTypes: ['SHA1'] }))).toMatchObject({ code: ErrorCode.SignType })
  })
})

describe("5. several of Alipay's public keys at once", () => {
  const fingerprint = (pair) => crypto.createHash('sha256').update(spkiDer(pair)).digest('hex')
  const spkiDer = (pair) => pair.publicKey.export({ type: 'spki', format: 'der' })

  test('during a rotation both keys verify, and the result names the one that did', () => {
    const a = front({ alipayPublicKey: [alipayPub, spkiPem(nextAlipayKeys)] })
    expect(a.alipayKeyFingerprints).toEqual([fingerprint(alipayKeys), fingerprint(nextAlipayKeys)])
    const old = a.verifyNotify(body({}, 'RSA2', alipayKeys.privateKey))
    const next = a.verifyNotify(body({}, 'RSA2', nextAlipayKeys.privateKey))
    expect(old).toMatchObject({ ok: true, keyFingerprint: fingerprint(alipayKeys) })
    expect(next).toMatchObject({ ok: true, keyFingerprint: fingerprint(nextAlipayKeys) })
    expect(next.notification.keyFingerprint).toBe(fingerprint(nextAlipayKeys))
    // The free function takes a list too.
    const v = verifyNotify(body({}, 'RSA2', nextAlipayKeys.privateKey), { alipayPublicKey: [alipayPub, spkiPem(nextAlipayKeys)] })
    expect(v.keyFingerprint).toBe(fingerprint(nextAlipayKeys))
  })

  test('the merchant’s own public key anywhere in the list is refused, naming the setting', () => {
    const e = thrown(() => front({ alipayPublicKey: [alipayPub, spkiPem(merchant)] }))
    expect(e).toMatchObject({ code: ErrorCode.InvalidKey, field: 'config.alipayPublicKey' })
    expect(thrown(() => front({ alipayPublicKey: [] }))).toMatchObject({ field: 'config.alipayPublicKey' })
  })
})

describe('6. one call for the notification handler: the decision table', () => {
  const order = { outTradeNo: 'HOSTILE-0001', totalFee: '12.50', currency: 'HKD', sellerId: PARTNER }
  const lookup = async (no) => (no === order.outTradeNo ? order : undefined)

  test.each([
    ['paid and matching', {}, 'RECORD_PAYMENT', 'success'],
    ['TRADE_SUCCESS is paid too', { trade_status: 'TRADE_SUCCESS' }, 'RECORD_PAYMENT', 'success'],
    ['verified but another amount', { total_fee: '1.00' }, 'INVESTIGATE', 'success'],
    ['no such order', { out_trade_no: 'NOT-MINE' }, 'INVESTIGATE', 'fail'],
    ['WAIT_BUYER_PAY', { trade_status: 'WAIT_BUYER_PAY' }, 'NOTHING', 'success'],
    ['TRADE_CLOSED', { trade_status: 'TRADE_CLOSED' }, 'RECORD_CLOSED', 'success'],
  ])('%s → %s, answer %s', async (_, overrides, action, answer) => {
    const d = await front().handleNotify(body(overrides), lookup)
    expect(d).toMatchObject({ action, answer, verified: true, kind: 'payment' })
    expect(d.notification).toBeInstanceOf(VerifiedNotification)
  })

  test('a forged notification → REJECT, fail, and the lookup is never asked', async () => {
    let asked = 0
    const d = await front().handleNotify(body({}, 'RSA2', merchant.privateKey), () => {
      asked += 1
      return order
    })
    expect(d).toMatchObject({ action: 'REJECT', answer: 'fail', verified: false, reason: 'BAD_SIGNATURE' })
    expect(d).not.toHaveProperty('notification')
    expect(asked).toBe(0)
  })

  test('a duplicate is decided the same way every time (the record must be idempotent)', async () => {
    const b = body({})
    const a1 = await front().handleNotify(b, lookup)
    const a2 = await front().handleNotify(b, lookup)
    expect([a1.action, a2.action]).toEqual(['RECORD_PAYMENT', 'RECORD_PAYMENT'])
  })

  test('refund notifications are told apart', async () => {
    const refund = signedNotifyBody(
      [
        ['notify_id', 'r1'],
        ['notify_type', 'refund_status_sync'],
        ['notify_time', '2026-11-28 13:00:00'],
        ['out_trade_no', 'HOSTILE-0001'],
        ['out_return_no', 'REFUND-1'],
        ['refund_status', 'REFUND_SUCCESS'],
        ['return_amount', '2.50'],
        ['currency', 'HKD'],
      ],
      'RSA2',
      alipayKeys.privateKey,
    )
    const d = await front().handleNotify(refund, lookup)
    expect(d).toMatchObject({ action: 'RECORD_REFUND', answer: 'success', kind: 'refund' })
    expect(d.notification.isPaid()).toBe(false)
  })

  test('lookup must be a function', async () => {
    await expect(front().handleNotify(body({}), order)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, field: 'lookup' })
  })

  test('the README has the decision table, one row per action', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
    for (const action of ['RECORD_PAYMENT', 'RECORD_CLOSED', 'RECORD_REFUND', 'RECORD_REFUND_FAILURE', 'NOTHING', 'INVESTIGATE', 'REJECT']) {
      expect(readme).toMatch(new RegExp(`^\\|[^\\n]*\`${action}\`[^\\n]*\\|`, 'm'))
    }
  })
})

describe('7 and 8. every export works by name from ESM and CommonJS, and types and runtime agree', () => {
  const dts = fs.readFileSync(path.join(root, 'lib/index.d.ts'), 'utf8')
  const valueNames = [
    ...[...dts.matchAll(/^export \{([^}]*)\} from '\.\.\/index'/gm)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean)),
    ...[...dts.matchAll(/^export declare const (\w+)/gm)].map((m) => m[1]),
  ].sort()

  test('the CommonJS entry exports exactly the values lib/index.d.ts declares', () => {
    expect(valueNames.length).toBeGreaterThan(15)
    expect(Object.keys(lib).sort()).toEqual(valueNames)
    expect(lib).not.toHaveProperty('__panicForTests')
    expect(lib).not.toHaveProperty('__napiBindingTarget')
  })

  test('the ES module entry exports the same values by name, as the same objects', () => {
    const script = `import * as m from 'alipayhk-pay'; import { AlipayHK, TRADE_PAY_RESULT_CODES } from 'alipayhk-pay';
      const cjs = (await import('node:module')).createRequire(import.meta.url)('alipayhk-pay');
      const names = Object.keys(m).filter((n) => n !== 'default').sort();
      const same = names.every((n) => m[n] === cjs[n]);
      console.log(JSON.stringify({ names, same, code: TRADE_PAY_RESULT_CODES['9000'], cls: typeof AlipayHK }))`
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
    const r = JSON.parse(out)
    expect(r.names).toEqual(valueNames)
    expect(r).toMatchObject({ same: true, code: 'success', cls: 'function' })
  })

  test('ErrorCode is an object at runtime with every code the type names', () => {
    const m = dts.match(/export declare const ErrorCode: \{([^}]*)\}/)
    const declared = Object.fromEntries([...m[1].matchAll(/readonly (\w+): '([A-Z_]+)'/g)].map((x) => [x[1], x[2]]))
    expect(ErrorCode).toEqual(declared)
  })

  test('TypeScript with module nodenext compiles an ESM and a CommonJS consumer, and refuses wrong shapes', () => {
    // One compiler run over the two consumers and the misuses (tsconfig.bad.json names all three
    // files, with the full library check): each marked line of bad.mts has its own error, and
    // there is no other error anywhere, so esm.mts and cjs.cts compile clean.
    const dir = path.join(root, '__test__', 'types-nodenext')
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const bad = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.bad.json')], { encoding: 'utf8' })
    expect(bad.stderr).toBe('')
    const errors = bad.stdout.split('\n').filter((l) => /error TS/.test(l))
    const lines = fs
      .readFileSync(path.join(dir, 'bad.mts'), 'utf8')
      .split('\n')
      .map((l, i) => (l.includes('// @error') ? i + 1 : 0))
      .filter(Boolean)
    expect(lines.length).toBeGreaterThan(5)
    expect(errors.filter((e) => !e.startsWith('__test__/types-nodenext/bad.mts(') && !e.includes('bad.mts('))).toEqual([])
    for (const line of lines) expect(errors.some((e) => e.includes(`bad.mts(${line},`))).toBe(true)
    expect(errors.length).toBe(lines.length)
  })

  test('links in the README resolve inside the published package', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }))[0].files.map(
      (f) => f.path,
    )
    const relative = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l))
    expect(relative.length).toBeGreaterThan(0)
    for (const link of relative) {
      const target = path.normalize(link).replace(/\/$/, '')
      expect([link, packed.some((f) => f === target || f.startsWith(`${target}/`))]).toEqual([link, true])
    }
  })
})

describe('9. keys as merchants hold them', () => {
  test('a PEM from an environment variable with written-out \\n signs like the file', () => {
    const envText = pkcs8Pem(merchant).trim().replace(/\n/g, '\\n')
    const a = buildOrderStr(validParams(), { signType: 'RSA2', privateKey: envText })
    const b = buildOrderStr(validParams(), { signType: 'RSA2', privateKey: pkcs8Pem(merchant) })
    expect(a).toBe(b)
  })

  test('a PKCS#8 body under BEGIN RSA PRIVATE KEY is read', () => {
    const mislabelled = `-----BEGIN RSA PRIVATE KEY-----\n${pemBody(pkcs8Pem(merchant))}\n-----END RSA PRIVATE KEY-----\n`
    expect(buildOrderStr(validParams(), { signType: 'RSA2', privateKey: mislabelled })).toBe(
      buildOrderStr(validParams(), { signType: 'RSA2', privateKey: pkcs8Pem(merchant) }),
    )
  })

  test('a file path passed as the key says to pass the file’s contents', () => {
    const e = thrown(() => front({ privateKey: './keys/merchant_private_key.pem' }))
    expect(e).toMatchObject({ code: ErrorCode.InvalidKey, field: 'config.privateKey' })
    expect(e.message).toMatch(/file path.*readFileSync/)
  })

  test('key errors from new AlipayHK name the setting', () => {
    expect(thrown(() => front({ privateKey: 'not a key' }))).toMatchObject({ field: 'config.privateKey' })
    expect(thrown(() => front({ alipayPublicKey: 'not a key' }))).toMatchObject({ field: 'config.alipayPublicKey' })
    expect(
      thrown(() => new AlipayHK({ partner: PARTNER, signType: 'MD5', md5Key: 'has space' })),
    ).toMatchObject({ code: ErrorCode.InvalidKey, field: 'config.md5Key' })
  })
})

describe('10. the same body, the same verdict in the library and the CLI', () => {
  test('a body with one trailing newline verifies in both; with two, in neither', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ahk-'))
    fs.writeFileSync(path.join(dir, 'alipay.pem'), alipayPub)
    for (const [tail, ok] of [
      ['\n', true],
      ['\r\n', true],
      ['\n\n', false],
    ]) {
      const b = body({}) + tail
      fs.writeFileSync(path.join(dir, 'body.txt'), b)
      const r = spawnSync(
        process.execPath,
        [path.join(root, 'bin/alipayhk-pay.js'), 'verify-notify', '--alipay-public-key', path.join(dir, 'alipay.pem'), path.join(dir, 'body.txt')],
        { encoding: 'utf8' },
      )
      expect([JSON.stringify(tail), verifyNotify(b, { alipayPublicKey: alipayPub }).ok, r.status === 0]).toEqual([JSON.stringify(tail), ok, ok])
    }
  })
})

describe('13. console.log(alipay) shows the account and fingerprints, never a key', () => {
  test('partner, sign type and fingerprints are shown; no key text is', () => {
    const a = front({ alipayPublicKey: [alipayPub, spkiPem(nextAlipayKeys)] })
    const shown = util.inspect(a)
    expect(shown).toContain(PARTNER)
    expect(shown).toContain("'RSA2'")
    expect(shown).toContain(a.fingerprint)
    for (const f of a.alipayKeyFingerprints) expect(shown).toContain(f)
    for (const secret of [pemBody(pkcs8Pem(merchant)), pemBody(alipayPub)]) {
      for (let i = 0; i + 24 <= secret.length; i += 24) expect(shown).not.toContain(secret.slice(i, i + 24))
    }
  })

  test('a verified notification shows what it is about', () => {
    const shown = util.inspect(verified({ out_trade_no: 'ORDER-7' }))
    expect(shown).toMatch(/VerifiedNotification/)
    expect(shown).toContain('ORDER-7')
  })
})
