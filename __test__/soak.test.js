// Soak (issue 6): bench/soak.js makes many mixed calls (sync and async signing, refused
// orders, genuine and tampered notifications) in one process and fails if its resident set
// keeps growing after the warm-up. 40,000 calls here; `npm run soak` runs the million.
'use strict'

const path = require('node:path')
const { spawnSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')

describe('soak', () => {
  test('40,000 mixed calls: RSS levels off (under 10 MB of growth after the warm-up), exit 0', () => {
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', '--max-semi-space-size=1', path.join(ROOT, 'bench', 'soak.js'), '--calls', '40000', '--max-growth-mb', '10'],
      { cwd: ROOT, encoding: 'utf8', timeout: 600000 },
    )
    expect(r.error).toBeUndefined()
    expect(r.signal).toBeNull()
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^calls: 40000 in /m)
    expect(r.stdout).toMatch(/^rss \(MB\) by calls: /m)
    const growth = /^growth after warm-up \(\d+ calls\): (-?[\d.]+) MB \(limit 10 MB\)$/m.exec(r.stdout)
    expect(growth).not.toBeNull()
    expect(Number(growth[1])).toBeLessThan(10)
    expect(r.status).toBe(0)
  })
})
