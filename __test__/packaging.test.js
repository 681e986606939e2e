// The packages as a merchant's backend gets them. The binary this work tree built (`npm run
// build`) is packed the release way (scripts/release.js pack: a package per platform, listed as
// optionalDependencies of a main package that carries none), served from a loopback registry
// (scripts/release-registry.js), and installed with `npm install alipayhk-pay` into a scratch
// project outside the repository. There it must load from the platform package, sign what
// node:crypto verifies, type-check, and, when no binary fits, fail with an error naming the
// platform. (`npm run test:install` does the same with the glibc 2.17 release build and no
// compiler on PATH; `npm run test:platforms` on musl, arm64 and WebAssembly.)
'use strict'

const { execFileSync, spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnRegistry, readManifest } = require('../scripts/release-registry')
const { npmCli } = require('../scripts/release')

const root = path.join(__dirname, '..')
const pkg = require('../package.json')
const hostBinary = fs.readdirSync(root).find((f) => /^alipayhk-pay\.[a-z0-9-]+\.node$/.test(f))
const platform = hostBinary && hostBinary.split('.')[1]

function npm(args, cwd) {
  return execFileSync(process.execPath, [npmCli(), ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function tarEntries(tgz) {
  return execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''))
}

function project(dir) {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'merchant-backend', version: '1.0.0', private: true }))
  return dir
}

describe('the release packages, installed from a registry into a scratch project', () => {
  let scratch
  let dist
  let registry
  let mainTgz
  let platformTgz
  let app

  beforeAll(async () => {
    if (!hostBinary) throw new Error('no alipayhk-pay.<platform>.node in the work tree: run npm run build first')
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-pay-merchant-'))
    dist = path.join(scratch, 'dist')
    fs.mkdirSync(path.join(dist, 'artifacts'), { recursive: true })
    fs.copyFileSync(path.join(root, hostBinary), path.join(dist, 'artifacts', hostBinary))
    execFileSync(process.execPath, [path.join(root, 'scripts', 'release.js'), 'pack', '--partial'], {
      cwd: root,
      env: { ...process.env, ALIPAYHK_DIST: dist },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const packages = path.join(dist, 'packages')
    const tgzs = fs.readdirSync(packages).map((f) => path.join(packages, f))
    mainTgz = tgzs.find((f) => path.basename(f) === `alipayhk-pay-${pkg.version}.tgz`)
    platformTgz = tgzs.find((f) => path.basename(f) === `alipayhk-pay-${platform}-${pkg.version}.tgz`)
    registry = await spawnRegistry(tgzs)
    app = project(path.join(scratch, 'app'))
    npm(['install', 'alipayhk-pay', '--registry', registry.url, '--cache', path.join(scratch, 'npm-cache'), '--no-audit', '--no-fund'], app)
  })

  afterAll(async () => {
    if (registry) await registry.close()
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true })
  })

  test('the main package carries the loader, the types, README and LICENSE, no binary, no sources, and no install-time script', () => {
    const files = tarEntries(mainTgz)
    expect(files).toEqual(
      expect.arrayContaining(['lib/index.js', 'lib/index.mjs', 'lib/index.d.ts', 'loader.js', 'index.js', 'index.d.ts', 'README.md', 'LICENSE', 'package.json']),
    )
    expect(files.filter((f) => /\.(node|wasm)$/.test(f))).toEqual([])
    expect(files.filter((f) => /^(src|core|__test__|scripts|target)\//.test(f) || f === 'binding.gyp')).toEqual([])
    const manifest = readManifest(mainTgz)
    // The public entry (lib/, CommonJS and ES module) over the loader (loader.js) and the binding.
    expect(manifest.main).toBe('lib/index.js')
    expect(manifest.exports['.']).toEqual({ types: './lib/index.d.ts', import: './lib/index.mjs', require: './lib/index.js' })
    expect(Object.keys(manifest.scripts || {}).filter((s) => /^(pre|post)?install$|^prepare$/.test(s))).toEqual([])
    expect(manifest.optionalDependencies).toEqual({ [`alipayhk-pay-${platform}`]: pkg.version })
  })

  test("the platform package carries this platform's binary and nothing else that runs, and says which os, cpu and libc it is for", () => {
    const files = tarEntries(platformTgz)
    expect(files.filter((f) => /\.(node|wasm|js)$/.test(f))).toEqual([hostBinary])
    const manifest = readManifest(platformTgz)
    expect(manifest.main).toBe(hostBinary)
    expect(manifest.os).toEqual([process.platform])
    expect(manifest.cpu).toEqual([process.arch])
    if (platform.endsWith('-gnu')) expect(manifest.libc).toEqual(['glibc'])
    if (platform.endsWith('-musl')) expect(manifest.libc).toEqual(['musl'])
  })

  test('npm installs the main package and only the platform package that fits, by name, from the registry', () => {
    const installed = fs.readdirSync(path.join(app, 'node_modules')).filter((n) => !n.startsWith('.'))
    expect(installed.sort()).toEqual(['alipayhk-pay', `alipayhk-pay-${platform}`])
    expect(registry.requested()).toEqual(expect.arrayContaining(['GET /alipayhk-pay', `GET /alipayhk-pay-${platform}`]))
  })

  test('require("alipayhk-pay") loads the binary from the platform package and signs what node:crypto verifies', () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    fs.writeFileSync(path.join(app, 'merchant.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }))
    fs.writeFileSync(
      path.join(app, 'sign.js'),
      `const fs = require('fs')
       const { buildOrderStr, preSignString } = require('alipayhk-pay')
       const params = { service: 'mobile.securitypay.pay', partner: '2088101568358171', seller_id: '2088101568358171',
         out_trade_no: 'PACK-1', subject: '商品名稱', total_fee: '0.10', currency: 'HKD',
         notify_url: 'https://shop.example.com/notify', payment_type: '1', _input_charset: 'utf-8',
         product_code: 'NEW_WAP_OVERSEAS_SELLER', forex_biz: 'FP' }
       const key = { signType: 'RSA2', privateKey: fs.readFileSync('merchant.pem', 'utf8') }
       process.stdout.write(JSON.stringify({ where: require.resolve('alipayhk-pay'), binaries: Object.keys(require.cache).filter((f) => f.endsWith('.node')),
         preSign: preSignString(params), orderStr: buildOrderStr(params, key) }))`,
    )
    const result = JSON.parse(execFileSync(process.execPath, ['sign.js'], { cwd: app, encoding: 'utf8' }))
    const modules = fs.realpathSync(path.join(app, 'node_modules'))
    expect(result.where).toBe(path.join(modules, 'alipayhk-pay', 'lib', 'index.js'))
    expect(result.binaries).toEqual([path.join(modules, `alipayhk-pay-${platform}`, hostBinary)])
    const sign = decodeURIComponent(/&sign="([^"]+)"&sign_type="RSA2"$/.exec(result.orderStr)[1])
    expect(result.orderStr.startsWith(result.preSign + '&sign="')).toBe(true)
    expect(crypto.verify('sha256', Buffer.from(result.preSign, 'utf8'), publicKey, Buffer.from(sign, 'base64'))).toBe(true)
  })

  test('an ES module imports the named exports of the installed package', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "import { buildOrderStr, OrderSigner, verifyNotify } from 'alipayhk-pay'; console.log([buildOrderStr, OrderSigner, verifyNotify].map((f) => typeof f).join())"],
      { cwd: app, encoding: 'utf8' },
    )
    expect(out.trim()).toBe('function,function,function')
  })

  test('a TypeScript file type-checks against the installed index.d.ts, and a misuse does not', () => {
    // skipLibCheck as most projects set it: the declarations themselves are checked in full by
    // `npm run test:types`; here, one compiler run: the misuse on the last line is the only error.
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        target: 'ES2020',
        module: 'commonjs',
        moduleResolution: 'node',
        typeRoots: [path.join(root, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['order.ts'],
    }
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(tsconfig))
    const good = `import { buildOrderStr, OrderSigner, type AlipayHKError } from 'alipayhk-pay'
const signer = new OrderSigner({ signType: 'RSA2', privateKey: process.env.KEY ?? '' })
const s: string = buildOrderStr({ subject: 'x', total_fee: 1.5 }, signer, { sortKeys: false })
try { signer.buildOrderStr({}) } catch (e) { const code: string = (e as AlipayHKError).code; console.log(code, s) }
`
    const misuse = `const n: number = buildOrderStr({}, { signType: 'MD5', md5Key: 'k' })\n`
    fs.writeFileSync(path.join(app, 'order.ts'), good + misuse)
    const r = spawnSync(process.execPath, [tsc, '-p', app], { cwd: app, encoding: 'utf8' })
    expect(r.status).not.toBe(0)
    const errors = r.stdout.split('\n').filter((l) => /error TS/.test(l))
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^order\\.ts\\(${good.split('\n').length},\\d+\\): error TS2322`))])
  })

  describe('when no binary fits, require fails with an error that names the platform and what to do', () => {
    test('without the platform package (optional dependencies omitted): names the package and the cause', () => {
      const bare = project(path.join(scratch, 'omit-optional'))
      npm(['install', 'alipayhk-pay', '--omit=optional', '--registry', registry.url, '--cache', path.join(scratch, 'npm-cache'), '--no-audit', '--no-fund'], bare)
      expect(fs.readdirSync(path.join(bare, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['alipayhk-pay'])
      const r = spawnSync(process.execPath, ['-e', "try { require('alipayhk-pay') } catch (e) { console.log(JSON.stringify({ code: e.code, platform: e.platform, message: e.message, cause: !!e.cause })) }"], {
        cwd: bare,
        encoding: 'utf8',
      })
      const err = JSON.parse(r.stdout)
      expect(err.code).toBe('ERR_ALIPAYHK_NO_BINDING')
      expect(err.platform).toBe(platform)
      expect(err.message).toContain(`alipayhk-pay-${platform}`)
      expect(err.message).toMatch(/--omit=optional/)
      expect(err.message).toMatch(/Cannot find module 'alipayhk-pay-/)
      expect(err.message).toMatch(/build from source/)
      expect(err.cause).toBe(true)
    })

    test('on a platform without a prebuilt package: lists the prebuilt ones, the WebAssembly package and the source build', () => {
      fs.writeFileSync(path.join(scratch, 'as-freebsd.js'), "Object.defineProperty(process, 'platform', { value: 'freebsd' })\n")
      const r = spawnSync(
        process.execPath,
        ['-r', path.join(scratch, 'as-freebsd.js'), '-e', "try { require('alipayhk-pay') } catch (e) { console.log(JSON.stringify({ code: e.code, platform: e.platform, message: e.message })) }"],
        { cwd: app, encoding: 'utf8' },
      )
      const err = JSON.parse(r.stdout)
      expect(err.code).toBe('ERR_ALIPAYHK_NO_BINDING')
      expect(err.platform).toBe(`freebsd-${process.arch}`)
      expect(err.message).toContain(`no usable binary for freebsd-${process.arch}`)
      expect(err.message).toContain('linux-x64-musl')
      expect(err.message).toContain('alipayhk-pay-wasm32-wasi')
      expect(err.message).toMatch(/build from source/)
      expect(err.message).not.toMatch(/npm has a bug/)
    })
  })
})

test("the loader's list of prebuilt platforms is napi.targets", () => {
  const source = fs.readFileSync(path.join(root, 'loader.js'), 'utf8')
  const block = /const PREBUILT = \{([\s\S]*?)\n\}/.exec(source)[1]
  const listed = [...block.matchAll(/^\s+'([a-z0-9-]+)':/gm)].map((m) => m[1])
  // napi-rs's own names for the targets (its CLI is ESM underneath, out of jest's reach).
  const script = `const { parseTriple } = require('@napi-rs/cli'); console.log(JSON.stringify(${JSON.stringify(pkg.napi.targets)}.map((t) => parseTriple(t).platformArchABI)))`
  const names = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }))
  expect(names).toHaveLength(8)
  expect(listed.sort()).toEqual(names.sort())
})
