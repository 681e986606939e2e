// The package as a merchant's backend gets it: `npm pack`, install the tarball into a scratch
// project outside the repository (offline: the package has no dependencies), require it there
// and type-check a TypeScript file against the installed index.d.ts.
'use strict'

const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

describe('the packed tarball, installed in a scratch project', () => {
  let scratch
  let tarball
  let packedFiles

  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-pay-merchant-'))
    // --ignore-scripts: pack the addon that is already built instead of rebuilding it.
    const out = execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], {
      cwd: root,
      encoding: 'utf8',
    })
    const [info] = JSON.parse(out)
    tarball = path.join(scratch, info.filename)
    packedFiles = info.files.map((f) => f.path)
    fs.writeFileSync(
      path.join(scratch, 'package.json'),
      JSON.stringify({ name: 'merchant-backend', version: '1.0.0', private: true }),
    )
    execFileSync(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], {
      cwd: scratch,
      encoding: 'utf8',
    })
  })

  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true })
  })

  test('carries the loader, the types, the built addon for this platform, README and LICENSE, and nothing of the sources', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'README.md', 'LICENSE', 'package.json']))
    expect(packedFiles.some((f) => /^alipayhk-pay\..+\.node$/.test(f))).toBe(true)
    expect(packedFiles.filter((f) => f.startsWith('src/') || f.startsWith('core/') || f.startsWith('__test__/'))).toEqual([])
  })

  test('require("alipayhk-pay") from the merchant project signs an order that node:crypto verifies', () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' })
    fs.writeFileSync(path.join(scratch, 'merchant.pem'), pem)
    fs.writeFileSync(
      path.join(scratch, 'sign.js'),
      `const fs = require('fs')
       const { buildOrderStr, preSignString } = require('alipayhk-pay')
       const params = { service: 'mobile.securitypay.pay', partner: '2088101568358171', seller_id: '2088101568358171',
         out_trade_no: 'PACK-1', subject: '商品名稱', total_fee: '0.10', currency: 'HKD',
         notify_url: 'https://shop.example.com/notify', payment_type: '1', _input_charset: 'utf-8',
         product_code: 'NEW_WAP_OVERSEAS_SELLER', forex_biz: 'FP' }
       const key = { signType: 'RSA2', privateKey: fs.readFileSync('merchant.pem', 'utf8') }
       process.stdout.write(JSON.stringify({ where: require.resolve('alipayhk-pay'), preSign: preSignString(params), orderStr: buildOrderStr(params, key) }))`,
    )
    const result = JSON.parse(execFileSync(process.execPath, ['sign.js'], { cwd: scratch, encoding: 'utf8' }))
    expect(result.where.startsWith(path.join(scratch, 'node_modules', 'alipayhk-pay'))).toBe(true)
    const sign = decodeURIComponent(/&sign="([^"]+)"&sign_type="RSA2"$/.exec(result.orderStr)[1])
    expect(result.orderStr.startsWith(result.preSign + '&sign="')).toBe(true)
    expect(crypto.verify('sha256', Buffer.from(result.preSign, 'utf8'), publicKey, Buffer.from(sign, 'base64'))).toBe(true)
  })

  test('a TypeScript file type-checks against the installed index.d.ts, and a misuse does not', () => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2020',
        module: 'commonjs',
        moduleResolution: 'node',
        typeRoots: [path.join(root, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['order.ts'],
    }
    fs.writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify(tsconfig))
    const good = `import { buildOrderStr, OrderSigner, type AlipayHKError } from 'alipayhk-pay'
      const signer = new OrderSigner({ signType: 'RSA2', privateKey: process.env.KEY ?? '' })
      const s: string = buildOrderStr({ subject: 'x', total_fee: 1.5 }, signer, { sortKeys: false })
      try { signer.buildOrderStr({}) } catch (e) { const code: string = (e as AlipayHKError).code; console.log(code, s) }
    `
    fs.writeFileSync(path.join(scratch, 'order.ts'), good)
    execFileSync(process.execPath, [tsc, '-p', scratch], { cwd: scratch, encoding: 'utf8' })

    fs.writeFileSync(path.join(scratch, 'order.ts'), good + `\nconst n: number = buildOrderStr({}, { signType: 'MD5', md5Key: 'k' })\n`)
    let failure
    try {
      execFileSync(process.execPath, [tsc, '-p', scratch], { cwd: scratch, encoding: 'utf8' })
    } catch (e) {
      failure = e
    }
    expect(failure).toBeDefined()
    expect(String(failure.stdout)).toMatch(/TS2322/)
  })
})
