// The package's entry point (package.json "main"). It is index.js, the loader `napi build`
// generates (committed, never edited by hand), with one change: when no binary fits this
// machine, the error names the platform, says which platforms have a prebuilt package, and how
// to build from source, instead of napi-rs's generic "Cannot find native binding". The errors
// of each load attempt stay on `err.cause`.
//
// index.js tries, in order: a local alipayhk-pay.<platform>.node (a clone after `npm run build`,
// or a git install), the alipayhk-pay-<platform> package npm installed as an optional
// dependency, then the WebAssembly build (alipayhk-pay.wasi.cjs, or the alipayhk-pay-wasm32-wasi
// package). The exports are index.js's own object, so index.d.ts describes this file too, and
// `module.exports = require(...)` is the form Node's ESM import detects named exports through.
'use strict'

// napi.targets in package.json, by the name of their npm package (alipayhk-pay-<name>);
// __test__/packaging.test.js checks that the two lists agree.
const PREBUILT = {
  'linux-x64-gnu': 'Linux x64, glibc 2.17 or newer',
  'linux-arm64-gnu': 'Linux arm64, glibc 2.17 or newer',
  'linux-x64-musl': 'Linux x64, musl (Alpine)',
  'linux-arm64-musl': 'Linux arm64, musl (Alpine)',
  'darwin-x64': 'macOS x64',
  'darwin-arm64': 'macOS arm64',
  'win32-x64-msvc': 'Windows x64',
  'wasm32-wasi': 'WebAssembly (WASI) fallback for any other platform, Node.js ^20.19 or ≥ 22',
}

function glibcVersion() {
  try {
    const report = process.report && process.report.getReport()
    return (report && report.header && report.header.glibcVersionRuntime) || null
  } catch {
    return null
  }
}

function thisPlatform() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = glibcVersion()
    return glibc
      ? { name: `linux-${arch}-gnu`, label: `linux-${arch} with glibc ${glibc}`, glibc }
      : { name: `linux-${arch}-musl`, label: `linux-${arch} with musl libc` }
  }
  if (platform === 'win32') return { name: `win32-${arch}-msvc`, label: `win32-${arch}` }
  return { name: `${platform}-${arch}`, label: `${platform}-${arch}` }
}

function repositoryUrl() {
  try {
    const repo = require('./package.json').repository
    const url = typeof repo === 'string' ? repo : repo && repo.url
    return url ? url.replace(/^git\+/, '').replace(/\.git$/, '') : null
  } catch {
    return null
  }
}

function bindingNotFound(cause) {
  const host = thisPlatform()
  const repo = repositoryUrl() || 'the alipayhk-pay repository'
  const lines = [`alipayhk-pay: no usable binary for ${host.label} (Node.js ${process.version}).`]
  const tooOld = host.glibc && host.glibc.split('.').map(Number).reduce((major, minor) => major * 1000 + minor) < 2017
  if (PREBUILT[host.name] && !tooOld) {
    lines.push(
      `The prebuilt binary for this platform is the package alipayhk-pay-${host.name}, an optional dependency of ` +
        `alipayhk-pay, and it did not load: ${reason(cause, host.name)}.`,
      'npm leaves it out when optional dependencies are omitted (--omit=optional, --no-optional), when node_modules ' +
        'was installed on another platform and copied here (install inside the image instead), or through its ' +
        'optional-dependency bug (https://github.com/npm/cli/issues/4828). ' +
        'Reinstall on this machine: rm -rf node_modules package-lock.json && npm install',
    )
  } else {
    if (tooOld) lines.push(`The prebuilt Linux binaries need glibc 2.17 or newer; this system has ${host.glibc}.`)
    lines.push(`Prebuilt packages: ${Object.keys(PREBUILT).join(', ')}.`)
    lines.push(
      'On any platform the WebAssembly build works, slower: npm install alipayhk-pay alipayhk-pay-wasm32-wasi --cpu=wasm32',
    )
  }
  lines.push(
    `To build from source (stable Rust with cargo, a C compiler, perl and make; a few minutes): ` +
      `npm install git+${repo}.git (npm builds it while installing), or clone ${repo}, then npm install && npm run build. ` +
      'Without a C compiler, build the pure-Rust backend: npx napi build --platform --release --no-default-features',
  )
  const error = new Error(lines.join('\n'))
  error.code = 'ERR_ALIPAYHK_NO_BINDING'
  error.platform = host.name
  error.cause = cause
  return error
}

// napi-rs chains one error per attempt. A binary that was found but failed to load (a glibc too
// old, a wrong architecture) says the most; else the attempt at this platform's package.
function reason(err, name) {
  const messages = []
  for (let e = err; e; e = e.cause) messages.push(String(e.message || e).split('\n')[0])
  return (
    messages.find((m) => !/Cannot find module|Cannot find native binding/.test(m)) ||
    messages.find((m) => m.includes(`alipayhk-pay-${name}`)) ||
    messages[messages.length - 1]
  )
}

try {
  module.exports = require('./index.js')
} catch (err) {
  throw bindingNotFound(err)
}
