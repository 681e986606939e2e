#!/usr/bin/env node
// `npm run audit`: the dependency audit CI runs.
// - cargo deny: licences, banned and duplicate crates, sources (deny.toml); must pass.
// - cargo deny advisories and npm audit (high and critical): must pass when their databases
//   can be reached. Where the network has no route to them (a closed build machine), each says
//   so plainly and the rest of the audit still counts.
'use strict'

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const CARGO_DENY_VERSION = '0.20.2'
let failed = false

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...opts })
  return { status: r.status, out: (r.stdout || '') + (r.stderr || '') }
}

function say(line) {
  console.log(`audit: ${line}`)
}

// cargo-deny, installed from crates.io when missing.
if (run('cargo', ['deny', '--version']).status !== 0) {
  say(`installing cargo-deny ${CARGO_DENY_VERSION} from crates.io (a few minutes, once)`)
  const r = spawnSync('cargo', ['install', 'cargo-deny', '--locked', '--version', CARGO_DENY_VERSION], {
    cwd: root,
    stdio: 'inherit',
  })
  if (r.status !== 0) {
    say('could not install cargo-deny')
    process.exit(1)
  }
}

const offline = run('cargo', ['deny', '--offline', 'check', 'licenses', 'bans', 'sources'])
process.stdout.write(offline.out)
if (offline.status !== 0) {
  say('cargo deny (licenses, bans, sources): FAILED')
  failed = true
} else say('cargo deny (licenses, bans, sources): ok')

const advisories = run('cargo', ['deny', 'check', 'advisories'])
if (advisories.status === 0) {
  process.stdout.write(advisories.out)
  say('cargo deny (advisories): ok')
} else if (/failed to fetch|could not resolve|network|Couldn't resolve|failed to open advisory database|git/i.test(advisories.out) && !/error\[(vulnerability|unsound|unmaintained|yanked)\]/.test(advisories.out)) {
  say('cargo deny (advisories): NOT CHECKED: the RustSec advisory database could not be fetched from here')
} else {
  process.stdout.write(advisories.out)
  say('cargo deny (advisories): FAILED')
  failed = true
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const audit = run(npm, ['audit', '--json', '--audit-level=high'])
let report
try {
  report = JSON.parse(audit.out.slice(audit.out.indexOf('{')))
} catch {
  report = undefined
}
if (!report || report.error) {
  say(`npm audit: NOT CHECKED: the registry's audit endpoint did not answer (${report && report.error ? report.error.summary || report.error.code : 'no JSON'})`)
} else {
  const v = (report.metadata && report.metadata.vulnerabilities) || {}
  const serious = (v.high || 0) + (v.critical || 0)
  if (serious > 0) {
    process.stdout.write(audit.out)
    say(`npm audit: FAILED (${v.high || 0} high, ${v.critical || 0} critical)`)
    failed = true
  } else say(`npm audit: ok (${v.total || 0} findings, none high or critical)`)
}

process.exit(failed ? 1 : 0)
