#!/usr/bin/env node
// The `alipayhk-pay` command: sign, inspect, verify-notify, keygen.
// Exit codes: 0 ok, 1 verification failed, 2 bad usage or input (one line on stderr).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const HELP = {
  main: `alipayhk-pay: build and check AlipayHK orderStr strings and notifications

Usage:
  alipayhk-pay sign --params order.json --key merchant.pem [--sign-type RSA|RSA2|MD5] [--sort-keys] [--no-strict]
  alipayhk-pay inspect '<orderStr>' [--public-key merchant_pub.pem | --md5-key KEY]
  alipayhk-pay verify-notify --alipay-public-key alipay_pub.pem [body-file | -]
  alipayhk-pay keygen [--bits 2048] [--out dir]

Run "alipayhk-pay <command> --help" for the details of one command.
Exit codes: 0 ok, 1 verification failed, 2 bad usage or input.
`,
  sign: `alipayhk-pay sign: print the signed orderStr for the parameters in a JSON file

Usage:
  alipayhk-pay sign --params order.json --key merchant.pem [options]
  cat order.json | alipayhk-pay sign --key merchant.pem

Options:
  --params FILE       a JSON object of parameters, signed in the order written; "-" (or no
                      --params with a pipe on stdin) reads it from stdin
  --key FILE          the merchant's RSA private key (PKCS#8/PKCS#1 PEM or bare base64);
                      for --sign-type MD5, a file holding the MD5 key
  --md5-key KEY       the MD5 key itself (implies --sign-type MD5)
  --sign-type TYPE    RSA (SHA1withRSA, the default), RSA2 (SHA256withRSA) or MD5
  --sort-keys         sort the parameter names instead of keeping their order
  --no-strict         apply only the safety rules, not the AlipayHK parameter rules

Prints the orderStr and a newline. Exit 2 on bad parameters, with the error code and field.
`,
  inspect: `alipayhk-pay inspect: take an orderStr apart and say what the gateway would think of it

Usage:
  alipayhk-pay inspect '<orderStr>' [--public-key merchant_pub.pem | --md5-key KEY]
  echo '<orderStr>' | alipayhk-pay inspect -

Prints the parameters as a table, the exact pre-sign string, the sign type and the signature,
and every known mistake found (the documented sample's among them: method instead of service,
payment_type twice, sign not URL-encoded, text outside the quotes, a sign_type that does not
match the signature). With the merchant's public key (PEM or bare base64) or the MD5 key it
also checks the signature.

Exit 0 when it verifies (or, without a key, when no mistake was found), 1 when it does not,
2 when the text is not an orderStr at all or the key cannot be read.
`,
  'verify-notify': `alipayhk-pay verify-notify: check an asynchronous notification from Alipay

Usage:
  alipayhk-pay verify-notify --alipay-public-key alipay_pub.pem body.txt
  alipayhk-pay verify-notify --md5-key KEY -        (body on stdin)

The body is the raw application/x-www-form-urlencoded text Alipay POSTed (one trailing newline
is ignored). --alipay-public-key is Alipay's public key from the merchant portal (PEM or bare
base64), never your own.

Prints "ok" and the fields (exit 0), or "not verified" and the reason (exit 1).
`,
  keygen: `alipayhk-pay keygen: make a fresh RSA key pair for testing (or for the merchant portal)

Usage:
  alipayhk-pay keygen [--bits 2048] [--out dir] [--force]

Writes DIR/merchant_private_key.pem (PKCS#8 PEM, mode 0600: keep it secret) and
DIR/merchant_public_key.txt (the bare base64 SubjectPublicKeyInfo that Alipay's merchant portal
asks for), and prints the public key. --bits: 1024, 2048 (default), 3072 or 4096. Existing files
are not replaced unless --force is given.
`,
}

class UsageError extends Error {}

function fail(command, err) {
  const prefix = command ? `alipayhk-pay ${command}` : 'alipayhk-pay'
  let reason = err.message
  if (err.code && String(err.code).startsWith('ERR_ALIPAYHK_')) {
    reason = `${err.code}${err.field ? ` (${err.field})` : ''}: ${err.message}`
  }
  process.stderr.write(`${prefix}: ${String(reason).replace(/\s*\n\s*/g, ' ')}\n`)
  process.exitCode = 2
}

/**
 * Reads `--name value`, `--name=value` and boolean `--name`. `spec` maps each option to
 * 'string' or 'boolean'; anything else is a usage error.
 */
function parseArgs(argv, spec) {
  const options = {}
  const positionals = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (arg === '-h' || arg === '--help') {
      options.help = true
      continue
    }
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const kind = spec[name]
    if (!kind) throw new UsageError(`unknown option --${name}`)
    if (kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`)
      options[name] = true
    } else {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i]
      if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`)
      options[name] = value
    }
  }
  return { options, positionals }
}

function readFileArg(file, option) {
  try {
    return fs.readFileSync(file)
  } catch (err) {
    throw new UsageError(`cannot read the ${option} file ${file} (${err.code || err.message})`)
  }
}

function readStdin() {
  try {
    return fs.readFileSync(0)
  } catch (err) {
    throw new UsageError(`cannot read stdin (${err.code || err.message})`)
  }
}

// One input from a file name, "-" for stdin, or stdin when nothing was named and stdin is a pipe.
function readInput(source, what) {
  if (source === '-' || (source === undefined && !process.stdin.isTTY)) return readStdin()
  if (source === undefined) throw new UsageError(`${what} is required (or pipe it on stdin)`)
  return readFileArg(source, what)
}

function stripFinalNewline(text) {
  return text.replace(/\r?\n$/, '')
}

function loadAddon() {
  return require('..')
}

// --- sign ---------------------------------------------------------------------------------------

function cmdSign(argv) {
  const { options, positionals } = parseArgs(argv, {
    params: 'string',
    key: 'string',
    'md5-key': 'string',
    'sign-type': 'string',
    'sort-keys': 'boolean',
    'no-strict': 'boolean',
  })
  if (options.help) return process.stdout.write(HELP.sign)
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  const signType = options['sign-type'] || (options['md5-key'] ? 'MD5' : 'RSA')
  if (!['RSA', 'RSA2', 'MD5'].includes(signType)) throw new UsageError(`--sign-type must be RSA, RSA2 or MD5, not ${JSON.stringify(signType)}`)

  let key
  if (signType === 'MD5') {
    const md5Key = options['md5-key'] ?? (options.key !== undefined ? readFileArg(options.key, '--key').toString('utf8').trim() : undefined)
    if (!md5Key) throw new UsageError('--sign-type MD5 needs --md5-key KEY or --key FILE holding the MD5 key')
    key = { signType: 'MD5', md5Key }
  } else {
    if (options['md5-key']) throw new UsageError(`--md5-key goes with --sign-type MD5, not ${signType}`)
    if (options.key === undefined) throw new UsageError('--key FILE (the merchant private key) is required')
    key = { signType, privateKey: readFileArg(options.key, '--key').toString('utf8') }
  }

  const text = readInput(options.params, '--params').toString('utf8')
  let params
  try {
    params = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`--params is not JSON (${err.message})`)
  }
  if (!params || typeof params !== 'object' || Array.isArray(params)) throw new UsageError('--params must hold a JSON object of parameter names to values')

  const { buildOrderStr } = loadAddon()
  const orderStr = buildOrderStr(params, key, { sortKeys: !!options['sort-keys'], strict: !options['no-strict'] })
  process.stdout.write(orderStr + '\n')
}

// --- inspect ------------------------------------------------------------------------------------

function table(rows, headers) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => '  ' + cells.map((c, i) => (i === cells.length - 1 ? String(c) : String(c).padEnd(widths[i]))).join('  ')
  return [line(headers), ...rows.map(line)].join('\n')
}

function cmdInspect(argv) {
  const { options, positionals } = parseArgs(argv, { 'public-key': 'string', 'md5-key': 'string' })
  if (options.help) return process.stdout.write(HELP.inspect)
  if (positionals.length > 1) throw new UsageError('give one orderStr (quote it: it holds & and ")')
  if (options['public-key'] && options['md5-key']) throw new UsageError('give --public-key or --md5-key, not both')
  const orderStr =
    positionals.length === 1 && positionals[0] !== '-'
      ? positionals[0]
      : stripFinalNewline(readInput(positionals[0], 'the orderStr').toString('utf8'))
  const { parseOrderStr, verifyOrderStr } = loadAddon()

  const parsed = parseOrderStr(orderStr)
  const seen = new Map()
  const rows = parsed.params.map(([name, value], i) => {
    const n = (seen.get(name) || 0) + 1
    seen.set(name, n)
    return [i + 1, name, value + (n > 1 ? '   <- again' : '')]
  })
  const out = []
  out.push(`orderStr: ${parsed.params.length} signed parameters, sign_type ${parsed.signType ? JSON.stringify(parsed.signType) : '(none)'}`)
  out.push('')
  out.push(table(rows, ['#', 'name', 'value']))
  out.push('')
  out.push(`pre-sign string (the exact text the signature covers, ${Buffer.byteLength(parsed.preSign)} bytes of UTF-8):`)
  out.push(parsed.preSign)
  out.push('')
  out.push(`sign_type: ${parsed.signType || '(none)'}`)
  out.push(`sign (URL-decoded, ${parsed.sign.length} characters): ${parsed.sign || '(none)'}`)
  out.push('')

  let verification
  let keyGiven = true
  if (options['public-key']) verification = verifyOrderStr(orderStr, { publicKey: readFileArg(options['public-key'], '--public-key').toString('utf8') })
  else if (options['md5-key']) verification = verifyOrderStr(orderStr, { md5Key: options['md5-key'] })
  else {
    // Without a key, verifyOrderStr checks the form only (signatureChecked: false).
    keyGiven = false
    verification = verifyOrderStr(orderStr)
  }

  if (verification.mistakes.length) {
    out.push(`mistakes (${verification.mistakes.length}):`)
    for (const m of verification.mistakes) out.push(`  ${m.reason}: ${m.message}`)
  } else out.push('mistakes: none found')
  if (keyGiven) {
    const which = options['public-key'] ? `the public key in ${options['public-key']}` : 'the MD5 key'
    out.push(
      verification.ok
        ? `verification: ok (the signature verifies with ${which})`
        : `verification: FAILED (${verification.mistakes.map((m) => m.reason).join(', ') || verification.reason})`,
    )
  } else {
    out.push('verification: signature not checked (give --public-key or --md5-key)')
  }
  process.stdout.write(out.join('\n') + '\n')
  if (!verification.ok) process.exitCode = 1
}

// --- verify-notify ------------------------------------------------------------------------------

function cmdVerifyNotify(argv) {
  const { options, positionals } = parseArgs(argv, { 'alipay-public-key': 'string', 'md5-key': 'string' })
  if (options.help) return process.stdout.write(HELP['verify-notify'])
  if (positionals.length > 1) throw new UsageError('give one body file (or - for stdin)')
  const hasRsa = options['alipay-public-key'] !== undefined
  const hasMd5 = options['md5-key'] !== undefined
  if (hasRsa === hasMd5) throw new UsageError('give --alipay-public-key FILE or --md5-key KEY (one of the two)')
  const key = hasRsa
    ? { alipayPublicKey: readFileArg(options['alipay-public-key'], '--alipay-public-key').toString('utf8') }
    : { md5Key: options['md5-key'] }
  const body = stripFinalNewline(readInput(positionals[0], 'the notification body').toString('utf8'))
  const { verifyNotify, isPaid } = loadAddon()
  const result = verifyNotify(body, key)
  if (!result.ok) {
    process.stdout.write(`not verified: ${result.reason}: ${result.message}\n`)
    process.exitCode = 1
    return
  }
  const fields = Object.entries(result.params).filter(([k]) => k !== 'sign')
  process.stdout.write(
    `ok: the ${result.signType} signature verifies; trade_status ${result.params.trade_status || '(none)'}` +
      ` (${isPaid(result.params) ? 'paid' : 'not paid'})\n\n${table(fields, ['field', 'value'])}\n`,
  )
}

// --- keygen -------------------------------------------------------------------------------------

function cmdKeygen(argv) {
  const { options, positionals } = parseArgs(argv, { bits: 'string', out: 'string', force: 'boolean' })
  if (options.help) return process.stdout.write(HELP.keygen)
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  const bits = options.bits === undefined ? 2048 : Number(options.bits)
  if (![1024, 2048, 3072, 4096].includes(bits)) throw new UsageError(`--bits must be 1024, 2048, 3072 or 4096, not ${JSON.stringify(options.bits)}`)
  const dir = options.out || '.'
  const privateFile = path.join(dir, 'merchant_private_key.pem')
  const publicFile = path.join(dir, 'merchant_public_key.txt')
  if (!options.force) {
    for (const f of [privateFile, publicFile]) if (fs.existsSync(f)) throw new UsageError(`${f} exists (use --force to replace it)`)
  }
  try {
    fs.mkdirSync(dir, { recursive: true })
  } catch (err) {
    throw new UsageError(`cannot create ${dir} (${err.code || err.message})`)
  }
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits })
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' })
  const publicBase64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  try {
    fs.writeFileSync(privateFile, privatePem, { mode: 0o600 })
    fs.chmodSync(privateFile, 0o600) // a replaced file keeps its old mode otherwise
    fs.writeFileSync(publicFile, publicBase64 + '\n')
  } catch (err) {
    throw new UsageError(`cannot write the key files in ${dir} (${err.code || err.message})`)
  }
  process.stdout.write(
    `private key (${bits}-bit RSA, PKCS#8 PEM, mode 0600, keep it secret): ${privateFile}\n` +
      `public key (bare base64 SubjectPublicKeyInfo, for Alipay's merchant portal): ${publicFile}\n` +
      `${publicBase64}\n`,
  )
}

// --- main ---------------------------------------------------------------------------------------

const COMMANDS = { sign: cmdSign, inspect: cmdInspect, 'verify-notify': cmdVerifyNotify, keygen: cmdKeygen }

function main(argv) {
  const [command, ...rest] = argv
  if (command === undefined) return fail(null, new UsageError('a command is required: sign, inspect, verify-notify or keygen (see alipayhk-pay --help)'))
  if (command === '--help' || command === '-h') return process.stdout.write(HELP.main)
  if (command === 'help') {
    if (rest[0] && !HELP[rest[0]]) return fail(null, new UsageError(`unknown command ${JSON.stringify(rest[0])} (see alipayhk-pay --help)`))
    return process.stdout.write(HELP[rest[0] || 'main'])
  }
  if (command === '--version') return process.stdout.write(require('../package.json').version + '\n')
  const run = COMMANDS[command]
  if (!run) return fail(null, new UsageError(`unknown command ${JSON.stringify(command)} (see alipayhk-pay --help)`))
  try {
    run(rest)
  } catch (err) {
    fail(command, err)
  }
}

main(process.argv.slice(2))
