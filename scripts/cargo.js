#!/usr/bin/env node
// `node scripts/cargo.js ARGS…`: cargo, for the test and lint scripts of package.json.
//
// The addon build (`npm run build`) compiles the vendored OpenSSL in the release profile;
// `cargo test` builds in the dev profile, which would compile OpenSSL a second time (about as
// long as the whole rest of the test run). When the addon's OpenSSL is already built, the test
// build links that same static library instead (openssl-sys honours OPENSSL_NO_VENDOR and
// OPENSSL_DIR), so a fresh clone pays for OpenSSL once. Without it, cargo builds it as usual.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

/** The newest `openssl-build/install` that the vendored build left under target/. */
function vendoredOpenSsl() {
  const target = path.resolve(root, process.env.CARGO_TARGET_DIR || 'target')
  const found = []
  const profiles = []
  for (const entry of safeList(target)) {
    profiles.push(path.join(target, entry))
    for (const sub of safeList(path.join(target, entry))) profiles.push(path.join(target, entry, sub))
  }
  for (const dir of profiles) {
    const build = path.join(dir, 'build')
    for (const name of safeList(build)) {
      if (!name.startsWith('openssl-sys-')) continue
      const install = path.join(build, name, 'out', 'openssl-build', 'install')
      const lib = ['lib', 'lib64'].map((l) => path.join(install, l, 'libcrypto.a')).find((f) => fs.existsSync(f))
      if (lib && fs.existsSync(path.join(install, 'include', 'openssl', 'opensslv.h'))) {
        found.push({ install, mtime: fs.statSync(lib).mtimeMs })
      }
    }
  }
  found.sort((a, b) => b.mtime - a.mtime)
  return found.length ? found[0].install : null
}

function safeList(dir) {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

function cargo(args, env) {
  console.log(`> cargo ${args.join(' ')}`)
  const r = spawnSync('cargo', args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  if (r.error) throw r.error
  if (r.status !== 0) process.exit(r.status ?? 1)
}

const install = vendoredOpenSsl()
const env = {}
if (install && !process.env.OPENSSL_DIR) {
  console.log(`scripts/cargo.js: linking the addon's OpenSSL build (${path.relative(root, install)})`)
  Object.assign(env, { OPENSSL_NO_VENDOR: '1', OPENSSL_DIR: install, OPENSSL_STATIC: '1' })
} else if (!install) {
  console.log('scripts/cargo.js: no OpenSSL build of the addon found; cargo builds the vendored OpenSSL')
}
cargo(process.argv.slice(2), env)
