// The `alipayhk-pay` command, run for real in a child process: `node bin/alipayhk-pay.js …`.
'use strict'

const { spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { buildOrderStr, parseOrderStr } = require('..')
const { signedNotifyBody } = require('../simulator/notifier')

const root = path.join(__dirname, '..')
const BIN = path.join(root, 'bin', 'alipayhk-pay.js')
const KEYS = path.join(root, 'examples', 'test-keys')
const MERCHANT_PRIVATE_FILE = path.join(KEYS, 'merchant_private_key.TEST-ONLY.pem')
const MERCHANT_PUBLIC_FILE = path.join(KEYS, 'merchant_public_key.TEST-ONLY.pem')
const ALIPAY_PRIVATE_FILE = path.join(KEYS, 'alipay_private_key.TEST-ONLY.pem')
const ALIPAY_PUBLIC_FILE = path.join(KEYS, 'alipay_public_key.TEST-ONLY.pem')
const MERCHANT_PRIVATE = fs.readFileSync(MERCHANT_PRIVATE_FILE, 'utf8')
const MD5_KEY = 'k3j5h6g7f8d9s0a1q2w3e4r5t6y7u8i9'

const SEED_ORDER_STR = (() => {
  const seed = fs.readFileSync(path.join(__dirname, 'fixtures', 'alipayhk-tradepay-integration-flow.txt'), 'utf8') // a copy of ../shared/seed/
  return /var orderStr = "(.*)";/.exec(seed)[1].replace(/\\"/g, '"')
})()

const PARAMS = {
  service: 'mobile.securitypay.pay',
  partner: '2088101568358171',
  seller_id: '2088101568358171',
  out_trade_no: 'CLI-20240501-0001',
  subject: '雞蛋仔 Egg waffle',
  body: '原味 x1',
  total_fee: '25.00',
  currency: 'HKD',
  notify_url: 'https://shop.example.com/alipay/notify',
  payment_type: '1',
  _input_charset: 'utf-8',
  it_b_pay: '30m',
  payment_inst: 'ALIPAYHK',
  product_code: 'NEW_WAP_OVERSEAS_SELLER',
  forex_biz: 'FP',
}

let scratch
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-cli-'))
})
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true })
})

function write(name, content) {
  const file = path.join(scratch, name)
  fs.writeFileSync(file, content)
  return file
}

function run(args, input) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: input ?? '', encoding: 'utf8', cwd: scratch, timeout: 20000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function expectUsageError(r, pattern) {
  expect(r.code).toBe(2)
  expect(r.stdout).toBe('')
  const lines = r.stderr.split('\n').filter(Boolean)
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
}

function verifyRsa(orderStr, hash) {
  const { preSign, sign } = parseOrderStr(orderStr)
  expect(orderStr.startsWith(`${preSign}&sign="`)).toBe(true)
  return crypto.verify(hash, Buffer.from(preSign, 'utf8'), crypto.createPublicKey(MERCHANT_PRIVATE), Buffer.from(sign, 'base64'))
}

describe('alipayhk-pay sign', () => {
  test('from a file prints exactly what buildOrderStr returns, and node:crypto verifies it (RSA and RSA2)', () => {
    const file = write('order.json', JSON.stringify(PARAMS, null, 2))
    for (const [signType, hash] of [
      ['RSA', 'sha1'],
      ['RSA2', 'sha256'],
    ]) {
      const r = run(['sign', '--params', file, '--key', MERCHANT_PRIVATE_FILE, '--sign-type', signType])
      expect(r).toMatchObject({ code: 0, stderr: '' })
      const orderStr = r.stdout.replace(/\n$/, '')
      expect(orderStr).toBe(buildOrderStr(PARAMS, { signType, privateKey: MERCHANT_PRIVATE }))
      expect(orderStr.endsWith(`&sign_type="${signType}"`)).toBe(true)
      expect(verifyRsa(orderStr, hash)).toBe(true)
    }
  })

  test('reads the parameters from stdin, with --params - or with no --params at all', () => {
    const expected = buildOrderStr(PARAMS, { signType: 'RSA', privateKey: MERCHANT_PRIVATE }) + '\n'
    expect(run(['sign', '--params', '-', '--key', MERCHANT_PRIVATE_FILE], JSON.stringify(PARAMS))).toMatchObject({ code: 0, stdout: expected })
    expect(run(['sign', '--key', MERCHANT_PRIVATE_FILE], JSON.stringify(PARAMS))).toMatchObject({ code: 0, stdout: expected })
  })

  test('--sort-keys and --no-strict are passed on to buildOrderStr', () => {
    const file = write('order.json', JSON.stringify(PARAMS))
    const sorted = run(['sign', '--params', file, '--key', MERCHANT_PRIVATE_FILE, '--sort-keys'])
    expect(sorted.stdout).toBe(buildOrderStr(PARAMS, { signType: 'RSA', privateKey: MERCHANT_PRIVATE }, { sortKeys: true }) + '\n')
    expect(sorted.stdout.startsWith('_input_charset=')).toBe(true)

    const { forex_biz: _, ...loose } = PARAMS
    const looseFile = write('loose.json', JSON.stringify(loose))
    expectUsageError(run(['sign', '--params', looseFile, '--key', MERCHANT_PRIVATE_FILE]), /^alipayhk-pay sign: ERR_ALIPAYHK_\w+ \(forex_biz\): /)
    const r = run(['sign', '--params', looseFile, '--key', MERCHANT_PRIVATE_FILE, '--no-strict'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(buildOrderStr(loose, { signType: 'RSA', privateKey: MERCHANT_PRIVATE }, { strict: false }) + '\n')
  })

  test('MD5: the key from --md5-key or from the file named by --key', () => {
    const file = write('order.json', JSON.stringify(PARAMS))
    const expected = buildOrderStr(PARAMS, { signType: 'MD5', md5Key: MD5_KEY }) + '\n'
    expect(expected).toMatch(/&sign="[0-9a-f]{32}"&sign_type="MD5"\n$/)
    expect(run(['sign', '--params', file, '--md5-key', MD5_KEY])).toMatchObject({ code: 0, stdout: expected })
    const keyFile = write('md5.key', MD5_KEY + '\n')
    expect(run(['sign', '--params', file, '--sign-type', 'MD5', '--key', keyFile])).toMatchObject({ code: 0, stdout: expected })
  })

  test('bad parameters exit 2 with one line naming the error code and the field, and no key material', () => {
    const file = write('bad.json', JSON.stringify({ ...PARAMS, total_fee: '1.234' }))
    const r = run(['sign', '--params', file, '--md5-key', MD5_KEY])
    expectUsageError(r, /^alipayhk-pay sign: ERR_ALIPAYHK_INVALID_PARAM \(total_fee\): /)
    expect(r.stderr).not.toContain(MD5_KEY)

    expectUsageError(run(['sign', '--params', write('x.json', 'not json'), '--key', MERCHANT_PRIVATE_FILE]), /--params is not JSON/)
    expectUsageError(run(['sign', '--params', write('arr.json', '[1]'), '--key', MERCHANT_PRIVATE_FILE]), /JSON object/)
    expectUsageError(run(['sign', '--params', file]), /--key FILE/)
    expectUsageError(run(['sign', '--params', file, '--key', path.join(scratch, 'missing.pem')]), /cannot read the --key file .*ENOENT/)
  })

  test('a key that is not a private key exits 2 with the addon\'s code and without echoing the file', () => {
    const file = write('order.json', JSON.stringify(PARAMS))
    const notAKey = write('not-a-key.pem', 'MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEmo3qGy0t6z09AIJtH+5OeRV1be+N4cDYJKffGzDa88vQENZiRm0GRq6a+HPGQMd2kTQIhAKMSvzIBnni7ot/OSie2TmJLY4SwTQAevXysE2RbFDYdAiEBCUEaRQnMnbp79mxDXDf6AU0cN/RPBjb9qSHDcWZHGzUCIG2Es59z8ugGrDY+pxLQnwfotadxd+Uyv/Ow5T0q5gIJAiEAyS4RaI9YG8EWx/2w0T67ZUVAw8eOMB6BIUg0Xcu+3okCIBOs/5OiPgoTdSy7bcF9IGpSE8ZgGKzgYQVe+Kw=')
    const r = run(['sign', '--params', file, '--key', notAKey])
    expectUsageError(r, /^alipayhk-pay sign: ERR_ALIPAYHK_INVALID_KEY/)
    expect(r.stderr).not.toContain('MIIBOgIBAAJBAKj34')
  })
})

describe('alipayhk-pay inspect', () => {
  const good = buildOrderStr(PARAMS, { signType: 'RSA2', privateKey: MERCHANT_PRIVATE })

  test('the documented sample: a table of its parameters, the exact pre-sign string, the sign type, and each of its mistakes', () => {
    const r = run(['inspect', SEED_ORDER_STR])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('')
    const out = r.stdout
    expect(out).toMatch(/^\s+#\s+name\s+value$/m)
    expect(out).toMatch(/^\s+1\s+method\s+mobile\.securitypay\.pay$/m)
    expect(out).toMatch(/^\s+5\s+subject\s+商品名稱$/m)
    expect(out).toMatch(/^\s+17\s+payment_type\s+1\s+<- again$/m)
    expect(out.split('\n')).toContain(parseOrderStr(SEED_ORDER_STR).preSign)
    expect(out).toMatch(/^sign_type: MD5$/m)
    for (const reason of ['METHOD_INSTEAD_OF_SERVICE', 'DUPLICATE_PARAM', 'TEXT_OUTSIDE_QUOTES', 'SIGN_NOT_URL_ENCODED', 'SIGN_TYPE_MISMATCH']) {
      expect(out).toMatch(new RegExp(`^  ${reason}: `, 'm'))
    }
    expect(out).toMatch(/signature not checked/)
  })

  test('the documented sample with a key: verification FAILED, exit 1', () => {
    for (const keyArgs of [['--md5-key', MD5_KEY], ['--public-key', MERCHANT_PUBLIC_FILE]]) {
      const r = run(['inspect', SEED_ORDER_STR, ...keyArgs])
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/^verification: FAILED \(METHOD_INSTEAD_OF_SERVICE, /m)
      expect(r.stdout).not.toContain(MD5_KEY)
    }
  })

  test('a correct orderStr with the merchant\'s public key: verification ok, exit 0; read from stdin with -', () => {
    const r = run(['inspect', good, '--public-key', MERCHANT_PUBLIC_FILE])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/^mistakes: none found$/m)
    expect(r.stdout).toMatch(/^verification: ok/m)
    expect(r.stdout).toMatch(/^sign_type: RSA2$/m)
    expect(r.stdout.split('\n')).toContain(parseOrderStr(good).preSign)
    expect(run(['inspect', '-', '--public-key', MERCHANT_PUBLIC_FILE], good + '\n')).toMatchObject({ code: 0, stdout: r.stdout })
  })

  test('with a public key that did not sign it (or a changed amount): BAD_SIGNATURE, exit 1', () => {
    const wrong = run(['inspect', good, '--public-key', ALIPAY_PUBLIC_FILE])
    expect(wrong.code).toBe(1)
    expect(wrong.stdout).toMatch(/^verification: FAILED \(BAD_SIGNATURE\)$/m)
    const changed = run(['inspect', good.replace('total_fee="25.00"', 'total_fee="0.25"'), '--public-key', MERCHANT_PUBLIC_FILE])
    expect(changed.code).toBe(1)
    expect(changed.stdout).toMatch(/BAD_SIGNATURE/)
  })

  test('text that is no orderStr exits 2 with the addon\'s code; a private key given as --public-key is refused without being printed', () => {
    expectUsageError(run(['inspect', 'hello']), /^alipayhk-pay inspect: ERR_ALIPAYHK_INVALID_PARAM \(orderStr\): /)
    const r = run(['inspect', good, '--public-key', MERCHANT_PRIVATE_FILE])
    expectUsageError(r, /^alipayhk-pay inspect: ERR_ALIPAYHK_INVALID_KEY/)
    const body = MERCHANT_PRIVATE.split('\n')[1]
    expect(r.stderr).not.toContain(body.slice(0, 20))
  })
})

describe('alipayhk-pay verify-notify', () => {
  const params = {
    notify_id: 'a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2',
    notify_type: 'trade_status_sync',
    notify_time: '2024-05-01 12:00:00',
    trade_no: '2024050121001004000000000001',
    out_trade_no: 'CLI-20240501-0001',
    total_fee: '25.00',
    currency: 'HKD',
    trade_status: 'TRADE_FINISHED',
    subject: '雞蛋仔 Egg waffle+',
  }
  const body = signedNotifyBody(params, 'RSA2', { privateKey: fs.readFileSync(ALIPAY_PRIVATE_FILE, 'utf8') })

  test('a genuine notification: ok, exit 0, from a file or from stdin', () => {
    const file = write('notify.txt', body + '\n')
    const r = run(['verify-notify', '--alipay-public-key', ALIPAY_PUBLIC_FILE, file])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/^ok: the RSA2 signature verifies; trade_status TRADE_FINISHED \(paid\)/)
    expect(r.stdout).toMatch(/^\s+subject\s+雞蛋仔 Egg waffle\+$/m)
    expect(run(['verify-notify', '--alipay-public-key', ALIPAY_PUBLIC_FILE, '-'], body)).toMatchObject({ code: 0, stdout: r.stdout })
    expect(run(['verify-notify', '--alipay-public-key', ALIPAY_PUBLIC_FILE], body)).toMatchObject({ code: 0, stdout: r.stdout })
  })

  test('a tampered notification, or the merchant\'s own key: exit 1 with the reason', () => {
    const tampered = write('tampered.txt', body.replace('total_fee=25.00', 'total_fee=0.25'))
    const r = run(['verify-notify', '--alipay-public-key', ALIPAY_PUBLIC_FILE, tampered])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^not verified: BAD_SIGNATURE: /)
    const own = run(['verify-notify', '--alipay-public-key', MERCHANT_PUBLIC_FILE, write('n.txt', body)])
    expect(own.code).toBe(1)
    expect(own.stdout).toMatch(/^not verified: BAD_SIGNATURE: /)
    const unsigned = run(['verify-notify', '--alipay-public-key', ALIPAY_PUBLIC_FILE, '-'], new URLSearchParams(params).toString())
    expect(unsigned.code).toBe(1)
    expect(unsigned.stdout).toMatch(/^not verified: MISSING_SIGN: /)
  })

  test('MD5 with --md5-key', () => {
    const md5Body = signedNotifyBody(params, 'MD5', { md5Key: MD5_KEY })
    expect(run(['verify-notify', '--md5-key', MD5_KEY, '-'], md5Body).code).toBe(0)
    const r = run(['verify-notify', '--md5-key', 'x'.repeat(32), '-'], md5Body)
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^not verified: BAD_SIGNATURE: /)
  })

  test('without a key, or with both kinds: exit 2', () => {
    expectUsageError(run(['verify-notify', '-'], body), /--alipay-public-key FILE or --md5-key KEY/)
    expectUsageError(run(['verify-notify', '--alipay-public-key', ALIPAY_PUBLIC_FILE, '--md5-key', MD5_KEY, '-'], body), /one of the two/)
  })
})

describe('alipayhk-pay keygen', () => {
  test('writes a PKCS#8 private key with mode 0600 and the bare base64 public key, which it also prints', () => {
    const out = path.join(scratch, 'keys')
    const r = run(['keygen', '--out', out])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    const privateFile = path.join(out, 'merchant_private_key.pem')
    const publicFile = path.join(out, 'merchant_public_key.txt')
    expect(fs.statSync(privateFile).mode & 0o777).toBe(0o600)

    const pem = fs.readFileSync(privateFile, 'utf8')
    expect(pem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true)
    const privateKey = crypto.createPrivateKey(pem)
    expect(privateKey.asymmetricKeyDetails.modulusLength).toBe(2048)

    const base64 = fs.readFileSync(publicFile, 'utf8').trim()
    expect(base64).toMatch(/^MIIBIj[A-Za-z0-9+/]+={0,2}$/)
    expect(r.stdout.split('\n')).toContain(base64)
    expect(r.stdout).not.toContain(pem.split('\n')[1])
    const publicKey = crypto.createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' })
    const sig = crypto.sign('sha256', Buffer.from('pair'), privateKey)
    expect(crypto.verify('sha256', Buffer.from('pair'), publicKey, sig)).toBe(true)

    // The new key signs orders that the addon builds byte for byte the same.
    const signed = run(['sign', '--key', privateFile, '--sign-type', 'RSA2'], JSON.stringify(PARAMS))
    expect(signed.stdout).toBe(buildOrderStr(PARAMS, { signType: 'RSA2', privateKey: pem }) + '\n')

    expectUsageError(run(['keygen', '--out', out]), /exists \(use --force/)
    expect(run(['keygen', '--out', out, '--bits', '1024', '--force'])).toMatchObject({ code: 0 })
    expect(fs.readFileSync(publicFile, 'utf8')).toMatch(/^MIGf/)
    expect(fs.statSync(privateFile).mode & 0o777).toBe(0o600)
  })

  test('refuses a key size it does not offer', () => {
    expectUsageError(run(['keygen', '--bits', '512', '--out', path.join(scratch, 'small')]), /--bits must be 1024, 2048, 3072 or 4096/)
    expect(fs.existsSync(path.join(scratch, 'small'))).toBe(false)
  })
})

describe('usage', () => {
  test('--help, for the command and for each subcommand, exits 0 and prints the usage', () => {
    for (const args of [['--help'], ['-h'], ['help'], ['help', 'sign'], ['sign', '--help'], ['inspect', '--help'], ['verify-notify', '--help'], ['keygen', '--help']]) {
      const r = run(args)
      expect(r).toMatchObject({ code: 0, stderr: '' })
      expect(r.stdout).toMatch(/Usage:/)
    }
    expect(run(['inspect', '--help']).stdout).toMatch(/^alipayhk-pay inspect:/)
  })

  test('bad usage exits 2 with one line on stderr', () => {
    expectUsageError(run([]), /^alipayhk-pay: a command is required/)
    expectUsageError(run(['frobnicate']), /^alipayhk-pay: unknown command "frobnicate"/)
    expectUsageError(run(['sign', '--frob']), /^alipayhk-pay sign: unknown option --frob$/)
    expectUsageError(run(['sign', '--key']), /--key needs a value/)
    expectUsageError(run(['sign', '--sign-type', 'RSA3', '--key', MERCHANT_PRIVATE_FILE]), /--sign-type must be RSA, RSA2 or MD5/)
    expectUsageError(run(['inspect', 'a="1"', 'b="2"']), /give one orderStr/)
  })
})
