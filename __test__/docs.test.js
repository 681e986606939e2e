// The documentation cannot drift from the code. README.md's parameter rules table is read row by
// row and every rule it states is tried on the addon at its boundary (the last value allowed and
// the first one refused), and held against the rows of core/src/rules.rs read as text; the
// README's error-code list must equal the codes of core/src/error.rs, the `ErrorCode` object the
// addon exports and the `ErrorCode` type of index.d.ts. Citations of the protocol reference
// (docs/protocol.md §N) must name a section that exists, and the files it names must exist.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { validParams, thrown } = require('./helpers')

const ROOT = path.join(__dirname, '..')
const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8')
const README = read('README.md')
const PROTOCOL_DOC = read('docs/protocol.md')
const addon = require('..')

const MD5_KEY = { signType: 'MD5', md5Key: 'docs0test0key0docs0test0key00001' }

// ---------------------------------------------------------------------------------------------
// Reading the documents

/** Splits a Markdown table line into its cells; `|` inside backticks does not split. */
function cells(line) {
  const out = []
  let cur = ''
  let code = false
  for (const ch of line.trim().replace(/^\||\|$/g, '')) {
    if (ch === '`') code = !code
    if (ch === '|' && !code) {
      out.push(cur.trim())
      cur = ''
    } else cur += ch
  }
  out.push(cur.trim())
  return out
}

/** The body rows of the first Markdown table after `start` whose header matches `header`. */
function tableRows(text, header, start = 0) {
  const lines = text.slice(start).split('\n')
  const at = lines.findIndex((l) => header.test(l))
  if (at < 0) throw new Error(`no table with the header ${header} in the README`)
  if (!/^\|[-| :]+\|$/.test(lines[at + 1].trim())) throw new Error(`the table ${header} has no separator line`)
  const rows = []
  for (const line of lines.slice(at + 2)) {
    if (!line.trim().startsWith('|')) break
    rows.push(cells(line))
  }
  return rows
}

const ticks = (s) => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1])

/** The README section under a heading, up to the next heading of the same or a higher level. */
function section(text, heading) {
  const at = text.indexOf(heading)
  if (at < 0) throw new Error(`no "${heading}" in the README`)
  const level = heading.match(/^#+/)[0].length
  const rest = text.slice(at + heading.length)
  const next = rest.search(new RegExp(`\\n#{1,${level}} `))
  return next < 0 ? rest : rest.slice(0, next)
}

/** PARAM_RULES of core/src/rules.rs, read as text: one object per `row(...)`. */
function rulesRs() {
  const src = read('core/src/rules.rs')
  const consts = Object.fromEntries(
    [...src.matchAll(/pub const ([A-Z_]+): &str = "([^"]*)";/g)].map((m) => [m[1], m[2]]),
  )
  const block = src.slice(src.indexOf('pub const PARAM_RULES'))
  const body = block.slice(0, block.indexOf('\n];'))
  const rows = []
  const rowRe = /row\(\s*"([^"]+)",\s*(Required|Optional|EitherOf\("([^"]+)"\)),\s*([\s\S]+?),\s*(\d+),\s*(None|Some\((\d+)\)),?\s*\)/g
  for (const m of body.matchAll(rowRe)) {
    const value = m[4].replace(/\s+/g, ' ').trim()
    const exact = /^(Exact|ExactIgnoreCase)\((?:"([^"]*)"|([A-Z_]+))\)$/.exec(value)
    rows.push({
      name: m[1],
      presence: m[2].startsWith('EitherOf') ? 'either' : m[2].toLowerCase(),
      kind: value.replace(/[({].*$/, ''),
      exact: exact ? (exact[2] ?? consts[exact[3]]) : undefined,
      oneOf: value.startsWith('OneOf') ? [...value.matchAll(/"([^"]*)"/g)].map((x) => x[1]) : undefined,
      digits: /^Digits\((\d+)\)$/.test(value) ? Number(value.match(/\d+/)[0]) : undefined,
      min: Number(m[5]),
      max: m[7] === undefined ? undefined : Number(m[7]),
    })
  }
  if (rows.length === 0) throw new Error('no row(...) read from core/src/rules.rs')
  return rows
}

// What each kind of README rule means, as a pattern over the rule's text. Each pattern takes
// its words out of the text; words no pattern takes fail the test, so a rule reworded or added
// to the README without a check here cannot pass unnoticed.
const CLAUSES = [
  { re: /^required,?\s*/, spec: () => ({ presence: 'required' }) },
  { re: /^exactly one;?\s*/, spec: () => ({ presence: 'either' }) },
  { re: /^passed through$/, spec: () => ({ passThrough: true }) },
  {
    re: /a decimal with at most (\d) fraction digits, (\d+\.\d+)–(\d+\.\d+), no sign, exponent or leading zero/,
    spec: (m) => ({ amount: { fraction: Number(m[1]), min: m[2], max: m[3] } }),
  },
  { re: /(\d+) digits starting with `(\d+)`/, spec: (m) => ({ idDigits: Number(m[1]), prefix: m[2] }) },
  { re: /^(\d+) digits$/, spec: (m) => ({ digits: Number(m[1]) }) },
  { re: /three capital letters(?: \(`([A-Z]{3})`\))?/, spec: (m) => ({ currency: m[1] ?? 'HKD' }) },
  { re: /absolute `http\(s\):\/\/` URL with a host,?\s*/, spec: () => ({ url: true }) },
  { re: /(?:at most (\d+)|(\d+)–(\d+)) characters/, spec: (m) => ({ min: m[2] && Number(m[2]), max: Number(m[1] ?? m[3]) }) },
  { re: /(?:^|\s)of `A-Z a-z 0-9 _ -`/, spec: () => ({ tradeNo: true }) },
  { re: /\(`([^`]+)` is fine\)/, spec: (m) => ({ example: m[1] }) },
  {
    re: /`(\d+)m`–`(\d+)d` as a whole number and `m`\/`h`\/`d` \(`(\d+m)`, not `([\d.]+h)`\), or `(1c)`/,
    spec: (m) => ({ timeout: { minM: Number(m[1]), maxD: Number(m[2]), good: m[3], bad: m[4], extra: m[5] } }),
  },
  { re: /^a JSON text$/, spec: () => ({ json: true }) },
  { re: /^`([^`]+)` or `([^`]+)`$/, spec: (m) => ({ oneOf: [m[1], m[2]] }) },
  { re: /^`([^`]+)`( \(any case\))?$/, spec: (m) => ({ exact: m[1], anyCase: Boolean(m[2]) }) },
]

/** The README's rule text for one row, as a spec; throws on words no clause understands. */
function specOf(rule) {
  let rest = rule
  const spec = { presence: 'optional' }
  for (const { re, spec: make } of CLAUSES) {
    const m = re.exec(rest)
    if (!m) continue
    Object.assign(spec, make(m))
    rest = (rest.slice(0, m.index) + ' ' + rest.slice(m.index + m[0].length)).replace(/^[\s,;]+|[\s,;]+$/g, '')
  }
  if (rest !== '') throw new Error(`README rule "${rule}": no check knows "${rest}"`)
  return spec
}

// ---------------------------------------------------------------------------------------------
// Trying values on the addon

/** A valid order with `name` set to `value` (`undefined` removes it). */
function orderWith(name, value, extra = {}) {
  const params = validParams(extra)
  if (value === undefined) delete params[name]
  else params[name] = value
  return params
}

/** The error code and field of building `params`, or 'ok'. */
function outcome(params) {
  try {
    const s = addon.buildOrderStr(params, MD5_KEY)
    if (typeof s !== 'string' || !s.includes('&sign="')) throw new Error(`not an orderStr: ${s}`)
    return 'ok'
  } catch (err) {
    return `${err.code} ${err.field}`
  }
}

/** `n` characters the parameter's rule allows. */
function filler(name, n) {
  if (name === 'notify_url') {
    const base = 'https://shop.example.com/'
    return base + 'n'.repeat(n - base.length)
  }
  if (name === 'out_trade_no') return 'A'.repeat(n)
  // Non-ASCII and outside the BMP in turn: "characters" are code points, not bytes or UTF-16 units.
  return Array.from({ length: n }, (_, i) => (i % 2 ? '商' : '😀')).join('')
}

/** [value, expected outcome, why] cases for one README row and one of its names. */
function casesFor(name, spec) {
  const ok = 'ok'
  const bad = `ERR_ALIPAYHK_INVALID_PARAM ${name}`
  const cases = []
  if (spec.max !== undefined) {
    cases.push([filler(name, spec.max), ok, `${spec.max} characters (the most allowed)`])
    cases.push([filler(name, spec.max + 1), bad, `${spec.max + 1} characters`])
    if (spec.min) cases.push([filler(name, spec.min), ok, `${spec.min} character(s) (the fewest allowed)`])
  }
  if (spec.exact !== undefined) {
    cases.push([spec.exact, ok, 'the exact value'])
    cases.push([spec.exact + 'x', bad, 'another value'])
    const other = spec.exact === spec.exact.toUpperCase() ? spec.exact.toLowerCase() : spec.exact.toUpperCase()
    if (other !== spec.exact) cases.push([other, spec.anyCase ? ok : bad, 'the value in another case'])
  }
  if (spec.oneOf) {
    for (const v of spec.oneOf) cases.push([v, ok, `one of the list`])
    cases.push([spec.oneOf[0].slice(0, -1) + 'X', bad, 'a value outside the list'])
  }
  if (spec.idDigits) {
    const id = spec.prefix + '1'.repeat(spec.idDigits - spec.prefix.length)
    cases.push([id, ok, `${spec.idDigits} digits starting with ${spec.prefix}`])
    cases.push([id.slice(0, -1), bad, 'one digit short'])
    cases.push([id + '1', bad, 'one digit more'])
    cases.push([String(Number(spec.prefix[0]) + 1) + id.slice(1), bad, 'another prefix'])
    cases.push([id.slice(0, -1) + 'a', bad, 'a letter'])
  }
  if (spec.digits) {
    const d = '1'.repeat(spec.digits)
    cases.push([d, ok, `${spec.digits} digits`], [d.slice(1), bad, 'one digit short'], [d + '1', bad, 'one digit more'])
    cases.push([d.slice(1) + 'a', bad, 'a letter'])
  }
  if (spec.currency) {
    cases.push([spec.currency, ok, 'the example'], ['USD', ok, 'another code'])
    cases.push([spec.currency.toLowerCase(), bad, 'small letters'], [spec.currency.slice(1), bad, 'two letters'])
    cases.push([spec.currency + 'D', bad, 'four letters'])
  }
  if (spec.url) {
    cases.push(['https://shop.example.com/n', ok, 'https'], ['http://shop.example.com/n', ok, 'http'])
    cases.push(['shop.example.com/n', bad, 'no scheme'], ['ftp://shop.example.com/n', bad, 'another scheme'])
    cases.push(['https:///n', bad, 'no host'], ['/alipay/notify', bad, 'a relative URL'])
  }
  if (spec.tradeNo) {
    cases.push(['Az09_-', ok, 'every kind of allowed character'])
    for (const c of ['.', ' ', '#', '商']) cases.push([`A${c}B`, bad, `${JSON.stringify(c)} is not allowed`])
  }
  if (spec.example) cases.push([spec.example, ok, 'the README example'])
  if (spec.amount) {
    const { min, max, fraction } = spec.amount
    const cents = (s) => Math.round(Number(s) * 100)
    const fmt = (c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`
    cases.push([min, ok, 'the least amount'], [max, ok, 'the largest amount'])
    cases.push([fmt(cents(min) - 1), bad, 'below the least'], [fmt(cents(max) + 1), bad, 'above the largest'])
    cases.push([`1.${'5'.repeat(fraction)}`, ok, `${fraction} fraction digits`])
    cases.push([`1.${'5'.repeat(fraction + 1)}`, bad, `${fraction + 1} fraction digits`])
    cases.push(['+1.00', bad, 'a sign'], ['1e2', bad, 'an exponent'], ['01.00', bad, 'a leading zero'])
  }
  if (spec.timeout) {
    const { minM, maxD, good, bad: badValue, extra } = spec.timeout
    cases.push([`${minM}m`, ok, 'the shortest'], [`${maxD}d`, ok, 'the longest'], [good, ok, 'the example'])
    cases.push([extra, ok, 'the midnight form'], [badValue, bad, 'a decimal'])
    cases.push([`${minM - 1}m`, bad, 'shorter than the shortest'], [`${maxD * 24 * 60 + 1}m`, bad, 'longer than the longest'])
    cases.push(['30s', bad, 'another unit'])
  }
  if (spec.json) {
    cases.push(['{"sku":"A1","qty":2}', ok, 'a JSON object'], ['{"sku":', bad, 'broken JSON'])
  }
  if (spec.passThrough) cases.push(['any text 商品 😀 #1', ok, 'any text'])
  return cases
}

// ---------------------------------------------------------------------------------------------

const ruleRows = tableRows(README, /^\| parameter \| rule \|$/)
const readmeRows = ruleRows.map(([names, rule]) => ({ names: ticks(names), rule, spec: specOf(rule) }))
const codeRows = rulesRs()

describe("README's parameter rules table says what the addon enforces", () => {
  test('the table is read: a row for every parameter, each rule understood', () => {
    expect(readmeRows.length).toBeGreaterThan(10)
    for (const row of readmeRows) expect(row.names.length).toBeGreaterThan(0)
  })

  test('it names exactly the parameters of core/src/rules.rs', () => {
    const fromReadme = readmeRows.flatMap((r) => r.names).sort()
    expect(fromReadme).toEqual(codeRows.map((r) => r.name).sort())
  })

  describe.each(readmeRows.flatMap((row) => row.names.map((name) => [name, row])))('%s', (name, row) => {
    const code = codeRows.find((r) => r.name === name)

    test('required or not, as core/src/rules.rs has it and as the addon does', () => {
      expect(code.presence).toBe(row.spec.presence)
      if (row.spec.presence === 'required') {
        expect(outcome(orderWith(name, undefined))).toBe(`ERR_ALIPAYHK_MISSING_PARAM ${name}`)
      } else if (row.spec.presence === 'either') {
        const other = row.names.find((n) => n !== name)
        const amount = validParams().total_fee
        const alone = orderWith('total_fee', undefined)
        // Either one alone is enough; neither is missing (named on the first); both is refused.
        expect(outcome({ ...alone, [name]: amount })).toBe('ok')
        expect(outcome(alone)).toBe(`ERR_ALIPAYHK_MISSING_PARAM ${row.names[0]}`)
        expect(outcome({ ...alone, [name]: amount, [other]: amount })).toMatch(/^ERR_ALIPAYHK_INVALID_PARAM /)
      } else {
        expect(outcome(orderWith(name, undefined))).toBe('ok')
      }
    })

    test('the same bounds and fixed values as core/src/rules.rs', () => {
      const readmeMax = row.spec.max ?? row.spec.idDigits ?? row.spec.digits ?? (row.spec.currency ? 3 : undefined)
      expect(code.max).toBe(readmeMax)
      if (row.spec.min) expect(code.min).toBe(row.spec.min)
      expect(code.exact).toBe(row.spec.exact)
      expect(code.kind === 'ExactIgnoreCase').toBe(Boolean(row.spec.anyCase))
      expect(code.oneOf).toEqual(row.spec.oneOf)
      expect(code.digits).toBe(row.spec.digits)
    })

    const cases = casesFor(name, row.spec)
    if (!row.spec.passThrough) {
      test('its rule has boundary cases to try', () => expect(cases.length).toBeGreaterThan(1))
    }
    test.each(cases.map(([value, expected, why]) => [why, value, expected]))('%s: %j → %s', (_why, value, expected) => {
      const params = orderWith(name, value)
      // The two amounts are tried alone, so that "exactly one" does not decide the outcome.
      if (name === 'rmb_fee') delete params.total_fee
      expect(outcome(params)).toBe(expected)
    })
  })

  describe('what the text under the table says', () => {
    const after = README.slice(README.indexOf('| `appenv`'))

    test('"no parameter outside this table": a name outside it is refused under strict', () => {
      expect(after).toMatch(/no parameter outside this table/)
      expect(outcome(orderWith('it_b_play', '30m'))).toBe('ERR_ALIPAYHK_INVALID_PARAM it_b_play')
      expect(addon.buildOrderStr(orderWith('it_b_play', '30m'), MD5_KEY, { strict: false })).toContain('it_b_play="30m"')
    })

    test('"no `&` in any value": refused in every parameter that takes free text', () => {
      expect(after).toMatch(/no `&` in any value/)
      for (const row of readmeRows.filter((r) => r.spec.passThrough || r.spec.max)) {
        for (const name of row.names) {
          const value = name === 'notify_url' ? 'https://shop.example.com/n?a=1&b=2' : 'A&B'
          expect([name, outcome(orderWith(name, value))]).toEqual([name, `ERR_ALIPAYHK_INVALID_PARAM ${name}`])
        }
      }
    })

    test('"The table lives in one place, `core/src/rules.rs`"', () => {
      expect(after).toMatch(/The table lives in one place, `core\/src\/rules\.rs`/)
      expect(fs.existsSync(path.join(ROOT, 'core/src/rules.rs'))).toBe(true)
    })
  })
})

// ---------------------------------------------------------------------------------------------

/** The ERR_ALIPAYHK_* codes in index.d.ts's `ErrorCode` declaration (a union or an enum). */
function dtsErrorCodes(dts) {
  const m =
    /export (?:declare )?type ErrorCode\s*=([^;]*?)(?:\n\s*\n|;|\n(?=export|\/\*\*))/.exec(dts) ||
    /export (?:declare )?(?:const )?enum ErrorCode\s*\{([^}]*)\}/.exec(dts)
  if (!m) throw new Error('no ErrorCode declaration in index.d.ts')
  return [...new Set(m[1].match(/ERR_ALIPAYHK_[A-Z_]+/g))].sort()
}

/** The codes `ErrorCode::as_str` returns in core/src/error.rs. */
function coreErrorCodes() {
  const src = read('core/src/error.rs')
  const fn = src.slice(src.indexOf('fn as_str'))
  return [...new Set(fn.slice(0, fn.indexOf('\n    }\n')).match(/"ERR_ALIPAYHK_[A-Z_]+"/g))]
    .map((s) => s.slice(1, -1))
    .sort()
}

// A call that provokes each code, and the class of error README promises for it.
const PROVOKE = {
  ERR_ALIPAYHK_MISSING_PARAM: () => addon.buildOrderStr(orderWith('subject', undefined), MD5_KEY),
  ERR_ALIPAYHK_INVALID_PARAM: () => addon.buildOrderStr(orderWith('total_fee', '12.345'), MD5_KEY),
  ERR_ALIPAYHK_INVALID_KEY: () => addon.buildOrderStr(validParams(), { signType: 'MD5', md5Key: '' }),
  ERR_ALIPAYHK_SIGN_TYPE: () => addon.buildOrderStr(validParams(), { signType: 'SHA256', md5Key: MD5_KEY.md5Key }),
  ERR_ALIPAYHK_INVALID_ARGUMENT: () => addon.buildOrderStr('service=mobile.securitypay.pay', MD5_KEY),
}

describe("README's error-code list is the codes the package has", () => {
  const errorSection = section(README, '### Error codes')
  const listed = tableRows(errorSection, /^\| code \| when \|$/).map(([code]) => ticks(code)[0])

  test('the list is read, one code a row, none twice', () => {
    expect(listed.length).toBeGreaterThan(3)
    for (const code of listed) expect(code).toMatch(/^ERR_ALIPAYHK_[A-Z_]+$/)
    expect(new Set(listed).size).toBe(listed.length)
  })

  test('the same codes as ErrorCode::as_str in core/src/error.rs', () => {
    expect([...listed].sort()).toEqual(coreErrorCodes())
  })

  test('the same codes as the ErrorCode object the addon exports', () => {
    expect(typeof addon.ErrorCode).toBe('object')
    expect([...listed].sort()).toEqual(Object.values(addon.ErrorCode).sort())
  })

  test('the same codes as the ErrorCode type of index.d.ts', () => {
    const dts = read('index.d.ts')
    expect([...listed].sort()).toEqual(dtsErrorCodes(dts))
  })

  test.each(Object.keys(PROVOKE))('%s is thrown as the README says', (code) => {
    expect(listed).toContain(code)
    const err = thrown(PROVOKE[code])
    expect(err.code).toBe(code)
    // "Every error is an `Error` (a `TypeError` for `ERR_ALIPAYHK_INVALID_ARGUMENT`)".
    expect(errorSection).toMatch(/a `TypeError` for `ERR_ALIPAYHK_INVALID_ARGUMENT`/)
    // (By name: the addon's errors come from Node's realm, not from jest's sandbox.)
    const kind = code === 'ERR_ALIPAYHK_INVALID_ARGUMENT' ? 'TypeError' : 'Error'
    expect([err.name, err.constructor.name, Object.prototype.toString.call(err)]).toEqual([kind, kind, '[object Error]'])
  })
})

// ---------------------------------------------------------------------------------------------

/** Files whose text may cite the protocol reference. */
function citingFiles() {
  const out = []
  const skip = new Set(['node_modules', 'target', '.git', 'fixtures', 'fuzz_regressions', 'seeds', 'corpus', 'artifacts'])
  const walk = (dir) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        if (!skip.has(entry.name) && !entry.name.startsWith('.')) walk(rel)
      } else if (/\.(rs|js|ts|md)$/.test(entry.name) && rel !== '__test__/docs.test.js') out.push(rel)
    }
  }
  walk('')
  return out
}

describe('docs/protocol.md is the protocol reference the code cites', () => {
  const headings = new Set(
    [...PROTOCOL_DOC.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]).concat(
      [...PROTOCOL_DOC.matchAll(/^- \*\*(A\.\d+) /gm)].map((m) => m[1]),
    ),
  )
  const files = citingFiles()

  test('its sections keep their numbers: 1 to 8, and 8.1 to 8.7', () => {
    for (const n of ['1', '2', '3', '4', '5', '6', '7', '8', '8.1', '8.2', '8.3', '8.4', '8.5', '8.6', '8.7']) {
      expect([n, headings.has(n)]).toEqual([n, true])
    }
  })

  test('every "docs/protocol.md §N" in the repository names a section that exists', () => {
    const cited = []
    for (const file of files) {
      read(file)
        .split('\n')
        .forEach((line, i) => {
          if (!/docs\/protocol\.md|\bprotocol §/.test(line) && file !== 'docs/protocol.md') return
          for (const m of line.matchAll(/§\s*(A\.\d+|\d+(?:\.\d+)?)/g)) cited.push([`${file}:${i + 1}`, m[1]])
        })
    }
    expect(cited.length).toBeGreaterThan(0)
    expect(cited.filter(([, n]) => !headings.has(n))).toEqual([])
  })

  test('no code or document cites a PROTOCOL.md the repository does not have', () => {
    const stale = []
    for (const file of files) {
      read(file)
        .split('\n')
        .forEach((line, i) => {
          if (/\bPROTOCOL\.md\b/.test(line)) stale.push(`${file}:${i + 1}: ${line.trim()}`)
        })
    }
    expect(stale).toEqual([])
  })

  test('every file of the repository it names exists', () => {
    const named = [...new Set(ticks(PROTOCOL_DOC).filter((t) => /^(core|src|simulator|examples|__test__|bin|bench|scripts)\/[\w./-]+$/.test(t)))]
    expect(named.length).toBeGreaterThan(5)
    expect(named.filter((rel) => !fs.existsSync(path.join(ROOT, rel)))).toEqual([])
  })

  test('8.5 says plainly that its reply layout is not confirmed by a published sample', () => {
    const s85 = PROTOCOL_DOC.slice(PROTOCOL_DOC.indexOf('### 8.5'), PROTOCOL_DOC.indexOf('### 8.6'))
    expect(s85).toMatch(/\*\*Not confirmed\.\*\* No real reply of this service has been published/)
  })
})
