#!/usr/bin/env node
// Builds and packs the npm packages the napi-rs way: one small package per platform with its
// prebuilt binary (alipayhk-pay-<platform>), listed as optionalDependencies of the main package,
// which carries the loader and the types but no binary. The GitHub workflow runs these same
// commands (.github/workflows/release.yml); `npm run test:install` and `npm run test:platforms`
// install what `pack` wrote and run it.
//
//   node scripts/release.js build <target|linux|here|all> ...   build into dist/artifacts
//   node scripts/release.js pack [--partial]                   npm packages into dist/packages
//   node scripts/release.js glibc <file.node> [max]            newest GLIBC_ symbol needed
//
// Linux builds go through cargo-zigbuild and zig (`pip install ziglang cargo-zigbuild`), which
// link glibc targets against glibc 2.17 and build musl ones without a musl toolchain; both keep
// the vendored OpenSSL. The WebAssembly fallback uses the pure-Rust backend (no C compiler).
// Builds use their own cargo target dir (target/dist, or $CARGO_TARGET_DIR) so they neither wait
// for nor overwrite the host build of `npm run build`.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const DIST = process.env.ALIPAYHK_DIST ? path.resolve(process.env.ALIPAYHK_DIST) : path.join(ROOT, 'dist')
const ARTIFACTS = path.join(DIST, 'artifacts')
const PACKAGES = path.join(DIST, 'packages')
const STAGE = path.join(DIST, 'stage')
const TARGET_DIR = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target', 'dist')
const GLIBC_FLOOR = '2.17'
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const BINARY = pkg.napi.binaryName

// How each target of napi.targets is built. `host` is where the workflow builds it.
const TARGETS = {
  'x86_64-unknown-linux-gnu': { name: 'linux-x64-gnu', host: 'linux', args: ['--target', `x86_64-unknown-linux-gnu.${GLIBC_FLOOR}`, '-x'] },
  'aarch64-unknown-linux-gnu': { name: 'linux-arm64-gnu', host: 'linux', args: ['--target', `aarch64-unknown-linux-gnu.${GLIBC_FLOOR}`, '-x'] },
  'x86_64-unknown-linux-musl': { name: 'linux-x64-musl', host: 'linux', args: ['--target', 'x86_64-unknown-linux-musl', '-x'] },
  'aarch64-unknown-linux-musl': { name: 'linux-arm64-musl', host: 'linux', args: ['--target', 'aarch64-unknown-linux-musl', '-x'] },
  'x86_64-apple-darwin': { name: 'darwin-x64', host: 'macos', args: ['--target', 'x86_64-apple-darwin'] },
  'aarch64-apple-darwin': { name: 'darwin-arm64', host: 'macos', args: ['--target', 'aarch64-apple-darwin'] },
  'x86_64-pc-windows-msvc': { name: 'win32-x64-msvc', host: 'windows', args: ['--target', 'x86_64-pc-windows-msvc'] },
  'wasm32-wasip1-threads': { name: 'wasm32-wasi', host: 'linux', args: ['--target', 'wasm32-wasip1-threads', '--no-default-features'] },
}
const GROUPS = {
  linux: Object.keys(TARGETS).filter((t) => t.includes('-linux-')),
  here: Object.keys(TARGETS).filter((t) => TARGETS[t].host === 'linux'),
  all: Object.keys(TARGETS),
}

function fail(message) {
  throw new Error(`release: ${message}`)
}

function run(cmd, args, opts = {}) {
  console.log(`$ ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts })
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status}`})`)
}

function capture(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 64 << 20, ...opts })
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error}`)
  return r.stdout
}

const napiBin = path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
const napi = (args, opts) => run(process.execPath, [napiBin, ...args], opts)

/** npm's own script, run with this Node (no shell, so also on Windows, where npm is npm.cmd). */
function npmCli() {
  const dir = path.dirname(process.execPath)
  const candidates = [
    process.env.npm_execpath,
    path.join(dir, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'), // Linux, macOS
    path.join(dir, 'node_modules', 'npm', 'bin', 'npm-cli.js'), // Windows
  ]
  const found = candidates.find((c) => c && /npm-cli\.js$/.test(c) && fs.existsSync(c))
  if (!found) fail('npm-cli.js not found (run through npm, or with a standard Node install)')
  return found
}
const npmArgs = (args) => [npmCli(), ...args]

function checkTargetsMatchConfig() {
  const configured = [...pkg.napi.targets].sort()
  const known = Object.keys(TARGETS).sort()
  if (JSON.stringify(configured) !== JSON.stringify(known)) {
    fail(`package.json napi.targets (${configured}) and the TARGETS of scripts/release.js (${known}) differ`)
  }
}

function build(names) {
  const targets = [...new Set(names.flatMap((n) => GROUPS[n] || [n]))]
  for (const t of targets) if (!TARGETS[t]) fail(`unknown target ${t}; one of ${Object.keys(TARGETS).join(', ')} or ${Object.keys(GROUPS).join(', ')}`)
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  const times = []
  for (const t of targets) {
    const started = Date.now()
    // --no-js: the committed index.js is the loader for every target; --dts keeps the type
    // definitions napi writes beside the binary in dist/, away from the committed index.d.ts.
    napi(['build', '--platform', '--release', ...TARGETS[t].args, '--target-dir', TARGET_DIR, '--output-dir', ARTIFACTS, '--no-js', '--dts', `index.${TARGETS[t].name}.d.ts`])
    const file = artifactOf(t)
    if (!file) fail(`napi build for ${t} left no binary in ${ARTIFACTS}`)
    if (t.includes('-linux-gnu')) checkGlibc(file, GLIBC_FLOOR)
    times.push(`${t}: ${((Date.now() - started) / 1000).toFixed(0)} s, ${(fs.statSync(file).size / 1e6).toFixed(2)} MB ${path.basename(file)}`)
  }
  console.log(`release: built\n  ${times.join('\n  ')}`)
}

function artifactOf(target) {
  const { name } = TARGETS[target]
  const file = path.join(ARTIFACTS, `${BINARY}.${name}.${name === 'wasm32-wasi' ? 'wasm' : 'node'}`)
  return fs.existsSync(file) ? file : null
}

/** The newest GLIBC_x.y symbol version a binary needs (objdump -T); fails above `max`. */
function checkGlibc(file, max) {
  const out = capture('objdump', ['-T', file])
  const versions = [...new Set(out.match(/GLIBC_[0-9.]+/g) || [])].map((v) => v.slice(6))
  const key = (v) => v.split('.').map((n) => n.padStart(4, '0')).join('.')
  versions.sort((a, b) => (key(a) < key(b) ? -1 : 1))
  const newest = versions[versions.length - 1] || 'none'
  if (max && newest !== 'none' && key(newest) > key(max)) fail(`${path.basename(file)} needs GLIBC_${newest}, above the ${max} floor`)
  console.log(`release: ${path.basename(file)} needs GLIBC_${newest}${max ? ` (floor ${max}: ok)` : ''}`)
  return newest
}

/**
 * Stages the main package (the files `npm pack` would take from the work tree, minus any
 * binary) and the per-platform packages, runs napi's own packaging on the stage, and packs
 * everything into dist/packages. With --partial, platforms without a binary in dist/artifacts
 * are left out of the stage's napi.targets (and so of optionalDependencies); otherwise each one
 * must be there, as in the publish job.
 */
function pack(partial) {
  const built = Object.keys(TARGETS).filter(artifactOf)
  const missing = Object.keys(TARGETS).filter((t) => !built.includes(t))
  if (missing.length && !partial) fail(`no binary in ${ARTIFACTS} for ${missing.join(', ')} (use --partial to pack what is there)`)
  if (!built.length) fail(`no binary in ${ARTIFACTS}; run: node scripts/release.js build here`)

  fs.rmSync(STAGE, { recursive: true, force: true })
  fs.rmSync(PACKAGES, { recursive: true, force: true })
  fs.mkdirSync(STAGE, { recursive: true })
  fs.mkdirSync(PACKAGES, { recursive: true })

  const [listing] = JSON.parse(capture(process.execPath, npmArgs(['pack', '--dry-run', '--json', '--ignore-scripts'])))
  const isBinary = (f) => /\.(node|wasm)$/.test(f) || /\.wasi(-browser)?\.c?js$/.test(f) || /^wasi-worker/.test(f)
  for (const { path: f } of listing.files) {
    if (isBinary(f)) continue
    fs.mkdirSync(path.dirname(path.join(STAGE, f)), { recursive: true })
    fs.copyFileSync(path.join(ROOT, f), path.join(STAGE, f))
  }
  const staged = JSON.parse(fs.readFileSync(path.join(STAGE, 'package.json'), 'utf8'))
  staged.napi.targets = staged.napi.targets.filter((t) => built.includes(t))
  // From a registry the main package never carries a binary (a source install keeps "*.node",
  // the one it built), and has no sources to build.
  staged.files = staged.files.filter((f) => f !== '*.node')
  delete staged.scripts.prepare
  fs.writeFileSync(path.join(STAGE, 'package.json'), JSON.stringify(staged, null, 2) + '\n')
  if (missing.length) console.log(`release: --partial: leaving out ${missing.join(', ')}`)

  // The napi-rs steps of the template's publish job: platform package dirs, binaries into them,
  // then `prepublish` writes optionalDependencies and checks each package (it publishes nothing
  // with --skip-optional-publish and creates no GitHub release with --no-gh-release).
  napi(['create-npm-dirs'], { cwd: STAGE })
  napi(['artifacts', '--output-dir', ARTIFACTS, '--build-output-dir', ARTIFACTS], { cwd: STAGE })
  napi(['prepublish', '-t', 'npm', '--no-gh-release', '--skip-optional-publish'], { cwd: STAGE })
  // `napi artifacts` also copies each binary beside the loader, for a local run of the stage.
  for (const f of fs.readdirSync(STAGE)) if (isBinary(f)) fs.rmSync(path.join(STAGE, f))

  const rows = []
  const packDir = (dir) => {
    const [info] = JSON.parse(capture(process.execPath, npmArgs(['pack', '--json', '--ignore-scripts', '--pack-destination', PACKAGES]), { cwd: dir }))
    rows.push(info)
    return info
  }
  for (const t of built) {
    const info = packDir(path.join(STAGE, 'npm', TARGETS[t].name))
    const binaries = info.files.map((f) => f.path).filter(isBinary)
    const expected = path.basename(artifactOf(t))
    if (!binaries.includes(expected)) fail(`${info.name} does not carry ${expected}: ${binaries}`)
  }
  const main = packDir(STAGE)
  const strays = main.files.map((f) => f.path).filter(isBinary)
  if (strays.length) fail(`the main package would carry binaries: ${strays.join(', ')}`)
  const optional = JSON.parse(fs.readFileSync(path.join(STAGE, 'package.json'), 'utf8')).optionalDependencies || {}
  for (const t of built) if (!optional[`${pkg.name}-${TARGETS[t].name}`]) fail(`optionalDependencies lacks ${pkg.name}-${TARGETS[t].name}`)

  console.log('release: packages in ' + path.relative(ROOT, PACKAGES))
  for (const r of rows) console.log(`  ${r.filename.padEnd(44)} ${(r.size / 1e6).toFixed(2).padStart(6)} MB packed, ${(r.unpackedSize / 1e6).toFixed(2).padStart(6)} MB unpacked`)
  console.log(`  optionalDependencies: ${Object.keys(optional).join(', ')}`)
}

function main() {
  checkTargetsMatchConfig()
  const [command, ...args] = process.argv.slice(2)
  if (command === 'build') build(args.length ? args : ['here'])
  else if (command === 'pack') pack(args.includes('--partial'))
  else if (command === 'glibc') checkGlibc(args[0], args[1])
  else fail('usage: release.js build <target|linux|here|all>... | pack [--partial] | glibc <file> [max]')
}

module.exports = { TARGETS, GROUPS, DIST, ARTIFACTS, PACKAGES, GLIBC_FLOOR, checkGlibc, npmCli }

if (require.main === module) {
  try {
    main()
  } catch (err) {
    console.error(err.message)
    process.exit(1)
  }
}
