#!/usr/bin/env node
// The `alipayhk-pay` command: sign, inspect, verify-notify, keygen; query, refund, refund-status
// (the gateway services, over HTTP); reconcile (a day's transaction file against the ledger).
// Exit codes: 0 ok, 1 verification failed (query, refund, refund-status: not the state asked for,
// refused by the gateway, a reply that does not verify, or no answer), 2 bad usage or input (one
// line on stderr, or with --json one JSON object on stdout).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const INPUT_RULE = `Input: the main input of sign (the parameters), inspect (the orderStr) and verify-notify (the
notification body) is read from a FILE argument, from stdin with "-" (or when no FILE is named and
stdin is a pipe), or from --text '<...>', the text itself. Give one of the three.`

const JSON_RULE = `--json: print one JSON object on stdout instead of text, for scripts: the result, or
{ "error": { "code", "field", "message" } } for bad usage or input. The exit codes stay the same.`

const GATEWAY_OPTIONS = `Options (the account and the gateway; the same for query, refund and refund-status):
  --partner PID                your partner ID: 16 digits starting with 2088
  --sign-type TYPE             required: RSA2, RSA or MD5, as set in the AlipayHK merchant portal
  --key FILE                   the merchant's RSA private key (signs the request; PEM or bare
                               base64); for --sign-type MD5, a file holding the MD5 key
  --md5-key KEY                the MD5 key itself (implies --sign-type MD5)
  --alipay-public-key FILE     Alipay's public key from the merchant portal, never your own:
                               checks the signature on Alipay's replies (RSA and RSA2)
  --gateway GATEWAY            production (default), sandbox, or a URL: https, or http to a
                               loopback host only (the simulator)
  --method GET|POST            how the request is sent (default GET)
  --timeout-ms N               how long one try may take, in ms (default 10000)
  --retries N                  more tries after a network error, a time-out or HTTP 5xx (default 2)`

const GATEWAY_JSON_ERRORS = `With --json, a refusal or a failure is { "error": { "code", "field", "message", … } } as for bad
usage, with "gatewayError", "explanation" and "retryable" (a gateway refusal) or "reason" (a
signature that failed), and the exit code 1.`

const GATEWAY_EXIT = `Exit 0 when the state is the one --expect names; 1 when it is another, when the gateway
refused the request (its code and what usually causes it are printed), when the reply's
signature failed, or when the gateway could not be reached; 2 on bad usage or input.
${GATEWAY_JSON_ERRORS}`

const HELP = {
  main: `alipayhk-pay: build and check AlipayHK orderStr strings and notifications

Usage:
  alipayhk-pay sign order.json --key merchant.pem --sign-type RSA2|RSA|MD5 [--sort-keys] [--no-strict]
  alipayhk-pay inspect orderstr.txt [--public-key merchant_pub.pem | --md5-key KEY]
  alipayhk-pay verify-notify body.txt --alipay-public-key alipay_pub.pem
  alipayhk-pay keygen [--bits 2048] [--out dir]
  alipayhk-pay reconcile PID_fptrade_YYYYMMDD.csv --ledger data/ledger.jsonl [--settlement-batch FILE]
  alipayhk-pay reconcile PID_fptrade_YYYYMMDD.csv --database-url postgres://… (the PostgreSQL ledger)
  alipayhk-pay query --out-trade-no NO <account>
  alipayhk-pay refund --out-trade-no NO --out-return-no NO --amount 12.50 --reason TEXT <account>
  alipayhk-pay refund-status --out-trade-no NO --out-return-no NO <account>
    <account>: --partner PID --sign-type RSA2|RSA|MD5 --key merchant.pem
               --alipay-public-key alipay_pub.pem [--gateway production|sandbox|URL]

Every command takes --json and --help.

${INPUT_RULE} query, refund and
refund-status read no input: options name the order and the refund.

${JSON_RULE}

Run "alipayhk-pay <command> --help" for the details of one command.
Exit codes: 0 ok, 1 verification failed (query, refund, refund-status: not the state asked for,
refused by the gateway, a reply that does not verify, or no answer), 2 bad usage or input.
`,
  sign: `alipayhk-pay sign: print the signed orderStr for the parameters in a JSON file

Usage:
  alipayhk-pay sign order.json --key merchant.pem --sign-type RSA2 [options]
  cat order.json | alipayhk-pay sign --key merchant.pem --sign-type RSA2
  alipayhk-pay sign --text '{"subject":"…",…}' --md5-key KEY

The input is a JSON object of parameters, signed in the order written: a FILE, "-" for stdin
(also read when no FILE is named and stdin is a pipe), or --text '<JSON>'. --params FILE is the
older spelling of the FILE argument and still works.

Options:
  --sign-type TYPE    required: RSA2 (SHA256withRSA) or RSA (SHA1withRSA), whichever is set in the
                      AlipayHK merchant portal, or MD5. There is no default: a sign type other than
                      the portal's shows up only as "sign check fail" on the payer's phone.
  --key FILE          the merchant's RSA private key (PKCS#8/PKCS#1 PEM or bare base64);
                      for --sign-type MD5, a file holding the MD5 key
  --md5-key KEY       the MD5 key itself (implies --sign-type MD5)
  --sort-keys         sort the parameter names instead of keeping their order
  --no-strict         apply only the safety rules, not the AlipayHK parameter rules
  --json              print { "orderStr", "signType" }

Prints the orderStr and a newline. Exit 2 on bad parameters, with the error code and field.
`,
  inspect: `alipayhk-pay inspect: take an orderStr apart and say what the gateway would think of it

Usage:
  alipayhk-pay inspect orderstr.txt [--public-key merchant_pub.pem | --md5-key KEY]
  echo "$ORDER_STR" | alipayhk-pay inspect - [--public-key merchant_pub.pem]
  alipayhk-pay inspect --text "$ORDER_STR" [--public-key merchant_pub.pem]

The input is the orderStr: a FILE, "-" for stdin, or --text '<orderStr>'. One line ending at the
end of a file or of stdin is not part of the orderStr (an orderStr never ends with one). The
older form, the orderStr itself as the argument, still works when it names no file and holds
key="value" pairs.

Prints the parameters as a table, the exact pre-sign string, the sign type and the signature,
and every known mistake found (the documented sample's among them: method instead of service,
payment_type twice, sign not URL-encoded, text outside the quotes, a sign_type that does not
match the signature). With the merchant's public key (PEM or bare base64) or the MD5 key it
also checks the signature.

Options:
  --public-key FILE   the merchant's own public key: the gateway checks an orderStr with it
  --md5-key KEY       the MD5 key
  --json              print { "ok", "signatureChecked", "signType", "sign", "preSign",
                      "params": [{ "name", "value" }], "mistakes": [{ "reason", "message" }], "reason" }

Exit 0 when it verifies (or, without a key, when no mistake was found), 1 when it does not,
2 when the text is not an orderStr at all or the key cannot be read.
`,
  'verify-notify': `alipayhk-pay verify-notify: check an asynchronous notification from Alipay

Usage:
  alipayhk-pay verify-notify body.txt --alipay-public-key alipay_pub.pem
  alipayhk-pay verify-notify - --md5-key KEY          (body on stdin)
  alipayhk-pay verify-notify --text 'notify_id=…&sign=…' --alipay-public-key alipay_pub.pem

The input is the raw application/x-www-form-urlencoded body Alipay POSTed: a FILE, "-" for stdin,
or --text '<body>'. It is passed on byte for byte, as your server would pass it to verifyNotify,
so the verdict is the library's.

Options:
  --alipay-public-key FILE   Alipay's public key from the merchant portal (PEM or bare base64),
                             never your own
  --md5-key KEY              the MD5 key (instead of --alipay-public-key)
  --json                     print { "ok": true, "signType", "tradeStatus", "paid", "params" },
                             or { "ok": false, "reason", "message", "signType" } (no fields: they
                             are not verified)

Prints "ok" and the fields (exit 0), or "not verified" and the reason (exit 1).
`,
  keygen: `alipayhk-pay keygen: make a fresh RSA key pair for testing (or for the merchant portal)

Usage:
  alipayhk-pay keygen [--bits 2048] [--out dir] [--force] [--json]

Writes DIR/merchant_private_key.pem (PKCS#8 PEM, mode 0600: keep it secret) and
DIR/merchant_public_key.txt (the bare base64 SubjectPublicKeyInfo that Alipay's merchant portal
asks for), and prints the public key. --bits: 1024, 2048 (default), 3072 or 4096. Existing files
are not replaced unless --force is given. --json prints { "bits", "privateKeyFile",
"publicKeyFile", "publicKey" }.
`,
  query: `alipayhk-pay query: ask Alipay for an order's state (single_trade_query)

Usage:
  alipayhk-pay query --out-trade-no A1 --partner PID --sign-type RSA2 --key merchant.pem --alipay-public-key alipay_pub.pem
  alipayhk-pay query --trade-no 2024050121001004… --partner PID --md5-key KEY --gateway sandbox

Reads no input: the order is named by an option. The state comes from a reply whose signature
verifies with Alipay's public key (or the MD5 key); a reply that does not verify is never taken
for a state.

${GATEWAY_OPTIONS}
  --out-trade-no NO            your order number, or
  --trade-no NO                Alipay's trade number
  --expect STATUS              the state that counts as ok: PAID (default), WAIT_BUYER_PAY, CLOSED
                               or NOT_FOUND
  --json                       print { "status", "signedByAlipay", "signType", "trade" }

Prints the state (PAID, WAIT_BUYER_PAY, CLOSED, or NOT_FOUND: normal right after the orderStr,
before the buyer opens the cashier) and the signed fields of the trade.
${GATEWAY_EXIT}
`,
  refund: `alipayhk-pay refund: refund all or part of a paid order (forex_refund)

Usage:
  alipayhk-pay refund --out-trade-no A1 --out-return-no R1 --amount 12.50 --reason "returned" \\
    --partner PID --sign-type RSA2 --key merchant.pem --alipay-public-key alipay_pub.pem

Reads no input: the refund is named by options. --out-return-no is your refund id, the
idempotency key: Alipay refunds an id once, so running the command again with the same id can
never refund twice (the gateway answers REPEATED_REFUNDMENT_REQUEST, and refund-status says what
became of it). Never give a new id to a refund that may have been made. Within one run, a try
whose reply was lost is sent again byte for byte and settled by the refund query. Partial
refunds may add up to the amount paid.

${GATEWAY_OPTIONS}
  --out-trade-no NO            the paid order
  --out-return-no NO           your refund id (at most 64 characters)
  --amount AMOUNT              a decimal such as 12.50 (at most 2 decimals)
  --reason TEXT                required by the HK gateway, at most 100 characters
  --currency CUR               the order's currency (default HKD)
  --async                      is_sync=N: accepted now, the result comes later by a
                               refund_status_sync notification (then ask refund-status)
  --notify-url URL             where that notification goes (default: the order's notify_url)
  --gmt-return-format FORMAT   "yyyy-MM-dd HH:mm:ss" (default) or yyyyMMddHHmmss
  --json                       print { "status", "signedByAlipay", "signType", "outTradeNo",
                               "outReturnNo", "refund" }

Without --async the outcome is confirmed by the signed refund query before it is printed:
SUCCESS, FAILED (with refund_error_code), CANCELED, PROCESSING.
Exit 0 when the refund is SUCCESS (with --async: ACCEPTED); 1 when it is not, when the gateway
refused it (RETURN_AMOUNT_EXCEED, CURRENCY_NOT_SAME, PURCHASE_TRADE_NOT_EXIST, …), when the
reply's signature failed, or when the gateway could not be reached (then nothing is known: ask
refund-status before anything else); 2 on bad usage or input.
${GATEWAY_JSON_ERRORS}
`,
  'refund-status': `alipayhk-pay refund-status: ask Alipay for a refund's state (alipay.acquire.refund.query)

Usage:
  alipayhk-pay refund-status --out-trade-no A1 --out-return-no R1 --partner PID --sign-type RSA2 \\
    --key merchant.pem --alipay-public-key alipay_pub.pem

Reads no input: the refund is named by options. The state comes from a reply whose signature
verifies with Alipay's public key (or the MD5 key).

${GATEWAY_OPTIONS}
  --out-trade-no NO            the order
  --out-return-no NO           your refund id
  --expect STATUS              the state that counts as ok: SUCCESS (default), FAILED, CANCELED,
                               PROCESSING or NOT_FOUND
  --json                       print { "status", "signedByAlipay", "signType", "refund" }

Prints the state (SUCCESS, FAILED with refund_error_code, CANCELED, PROCESSING, NOT_FOUND) and
the signed fields.
${GATEWAY_EXIT}
`,
  reconcile: `alipayhk-pay reconcile: compare a day's transaction file from Alipay with the merchant's books

Usage:
  alipayhk-pay reconcile 2088…_fptrade_20240501.csv --ledger data/ledger.jsonl \\
    [--settlement-batch 2088…_settlebatch_20240501.csv] [--date YYYY-MM-DD|all] [--json]
  alipayhk-pay reconcile 2088…_fptrade_20240501.csv --database-url postgres://user@host/shop
  cat 2088…_fptrade_20240501.csv | alipayhk-pay reconcile - --ledger data/ledger.jsonl --date 2024-05-01

FILE is the transaction file Alipay drops by SFTP each day (PID_fptrade_YYYYMMDD.csv, or a
settlement file PID_settle_YYYYMMDD_BatchID.csv), or - for stdin. It is read in chunks: a file
of millions of rows takes the memory of the ledger's records, not of the file.

Options:
  --ledger FILE             the merchant's books, JSON lines: the example merchant server's
                            ledger.jsonl (payment and refund entries; a refund counts until its
                            result says FAILED), or one record per line { "kind": "payment" |
                            "refund", "outTradeNo", "outReturnNo" (refunds), "amount": "12.30",
                            "currency": "HKD", "time": "YYYY-MM-DD HH:MM:SS" (optional) }
  --database-url URL        instead of --ledger: the example merchant server's PostgreSQL ledger
                            (examples/ledger/, its payments and refunds tables; needs the pg
                            package: npm install pg). One of --ledger and --database-url
  --date YYYY-MM-DD|all     compare the records of this day (by their time, Hong Kong time;
                            records without a time always count); by default the day in FILE's
                            name; all: every record of the ledger
  --settlement-batch FILE   the settlement batch file (PID_settlebatch_YYYYMMDD.csv, in the
                            day's zip): each batch is checked against the rows settled that day
  --list-limit N            how many entries each list of the report holds (default 10000; the
                            counts are always exact)
  --json                    print the report: { "ok", "rows", "records", "matched", "counts",
                            "onlyAtAlipay", "onlyInMerchant", "mismatches",
                            "refundsWithoutPayment", "duplicatesAtAlipay", "days", "settlements",
                            "settledWithoutBatch" } (amounts as strings)

Prints the counts, the findings (payments and refunds only at Alipay, only in the books, with
another amount or currency, refunds whose payment is unknown, rows given twice), the totals by
day (payments − refunds − fees = settlement) and the settlement batches against the rows.

Exit 0 when everything matches, every day adds up and every batch matches its rows; 1 when
anything does not; 2 on bad usage or input (a row of the file that breaks the format is
ERR_ALIPAYHK_INVALID_FILE naming its line and column, a bad ledger line names its line).
`,
}

// Codes of the errors the command itself finds; the library's errors keep their own code.
const USAGE = 'ERR_ALIPAYHK_USAGE' // the command line is wrong
const IO = 'ERR_ALIPAYHK_IO' // a file cannot be read or written

class CliError extends Error {
  constructor(message, { code = USAGE, field = null } = {}) {
    super(message)
    this.code = code
    this.field = field
  }
}

const usage = (message, field) => new CliError(message, { code: USAGE, field })
const ioError = (message, field) => new CliError(message, { code: IO, field })

let jsonOutput = false

// Where a run writes, reads stdin and leaves its exit code: the process, or (runWith, for the
// tests) buffers. Every output of the command goes through print, printJson and fail.
const PROCESS_IO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  stdinBytes: () => fs.readFileSync(0),
  stdinStream: () => process.stdin,
  stdinIsTTY: () => Boolean(process.stdin.isTTY),
  exit: (code) => {
    process.exitCode = code
  },
}
let io = PROCESS_IO

function print(text) {
  io.out(text)
}

function printJson(value) {
  io.out(JSON.stringify(value) + '\n')
}

function fail(command, err) {
  const isOurs = err instanceof CliError
  const isLibrary = typeof err.code === 'string' && err.code.startsWith('ERR_ALIPAYHK_')
  const code = isOurs || isLibrary ? err.code : 'ERR_ALIPAYHK_INTERNAL'
  const field = typeof err.field === 'string' ? err.field : null
  const message = String(err.message).replace(/\s*\n\s*/g, ' ')
  io.exit(2)
  if (jsonOutput) return printJson({ error: { code, field, message } })
  const prefix = command ? `alipayhk-pay ${command}` : 'alipayhk-pay'
  // The command line's own mistakes read as sentences; an error about the input names its code.
  const reason = code === USAGE || code === IO ? message : `${code}${field ? ` (${field})` : ''}: ${message}`
  io.err(`${prefix}: ${reason}\n`)
}

// --- near misses ----------------------------------------------------------------------------------

// Edits (insert, delete, replace, swap two neighbours) between a and b: "sing" is 1 from "sign".
function editDistance(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

// Whether the words of `short` appear in `long` in the same order ("alipay-key" in "alipay-public-key").
function wordsWithin(short, long) {
  const words = long.split('-')
  let at = 0
  for (const w of short.split('-')) {
    at = words.indexOf(w, at)
    if (at < 0) return false
    at++
  }
  return true
}

/**
 * The known names `given` was probably meant to be: a few letters off (at most 1 for short
 * names, 2 from 5 letters, 3 from 12), its words among theirs or theirs among its own
 * (`public-key` for `alipay-public-key`, `merchant-public-key` for `public-key`), or cut short
 * or run on (`pub`, `output`).
 */
function nearMisses(given, known) {
  const g = given.toLowerCase().replace(/_/g, '-')
  const scored = []
  for (const k of known) {
    const d = editDistance(g, k)
    const limit = k.length >= 12 ? 3 : k.length >= 5 ? 2 : 1
    const sameWords = wordsWithin(g, k) || wordsWithin(k, g)
    const cutShort = Math.min(g.length, k.length) >= 3 && (k.startsWith(g) || g.startsWith(k))
    if (d <= limit || sameWords || cutShort) scored.push([d <= limit ? d : limit + 1, k])
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]))
  return scored.map(([, k]) => k)
}

function didYouMean(candidates, prefix) {
  if (!candidates.length) return ''
  const names = candidates.slice(0, 3).map((c) => prefix + c)
  return ` (did you mean ${names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`}?)`
}

// --- arguments ------------------------------------------------------------------------------------

/**
 * Reads `--name value`, `--name=value` and boolean `--name`. `spec` maps each option to
 * 'string' or 'boolean'; anything else is a usage error, with the near misses named.
 */
function parseArgs(argv, spec) {
  spec = { ...spec, json: 'boolean' }
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
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg)
      continue
    }
    if (!arg.startsWith('--')) {
      // Only the name: `-md5-key=…` must not print the key it holds.
      const given = arg.split('=')[0]
      throw usage(`unknown option ${given}${didYouMean(nearMisses(given.replace(/^-+/, ''), Object.keys(spec)), '--')}`, given)
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const kind = spec[name]
    if (!kind) throw usage(`unknown option --${name}${didYouMean(nearMisses(name, Object.keys(spec)), '--')}`, `--${name}`)
    if (kind === 'boolean') {
      if (eq >= 0) throw usage(`--${name} takes no value`, `--${name}`)
      options[name] = true
    } else {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i]
      if (value === undefined || (eq < 0 && value.startsWith('--'))) throw usage(`--${name} needs a value`, `--${name}`)
      if (options[name] !== undefined) throw usage(`--${name} is given twice`, `--${name}`)
      options[name] = value
    }
  }
  return { options, positionals }
}

function readFileArg(file, what, field) {
  try {
    return fs.readFileSync(file)
  } catch (err) {
    throw ioError(`cannot read ${what} from ${file} (${err.code || err.message})`, field)
  }
}

function readStdin(what) {
  try {
    return io.stdinBytes()
  } catch (err) {
    throw ioError(`cannot read ${what} from stdin (${err.code || err.message})`, '-')
  }
}

/**
 * The command's main input, as bytes or text, from exactly one of: a FILE argument (or "-" for
 * stdin), a file option kept from older versions (`legacyFile`), `--text`, or stdin when it is a
 * pipe and nothing was named. `what` names the input in messages ("the orderStr").
 */
function mainInput({ options, positionals }, what, { legacyFile, legacyText } = {}) {
  if (positionals.length > 1) {
    throw usage(`give ${what} as one FILE, - for stdin, or --text '<${what.replace(/^the /, '')}>' (got ${positionals.length} arguments; quote the text: it holds & and ")`, null)
  }
  const sources = []
  if (positionals.length) sources.push('a FILE argument')
  if (legacyFile && options[legacyFile] !== undefined) sources.push(`--${legacyFile}`)
  if (options.text !== undefined) sources.push('--text')
  if (sources.length > 1) throw usage(`give ${what} once, not with both ${sources.join(' and ')}`, null)

  if (options.text !== undefined) return { text: options.text, from: 'text' }
  const file = positionals.length ? positionals[0] : legacyFile ? options[legacyFile] : undefined
  const field = positionals.length ? null : legacyFile && file !== undefined ? `--${legacyFile}` : null
  if (file === '-' || (file === undefined && !io.stdinIsTTY())) return { bytes: readStdin(what), from: 'stdin' }
  if (file === undefined) throw usage(`${what} is required: a FILE, - for stdin, or --text '<${what.replace(/^the /, '')}>'`, null)
  try {
    return { bytes: fs.readFileSync(file), from: 'file' }
  } catch (err) {
    // The older `inspect '<orderStr>'`: an argument that names no file and holds key="value".
    if (legacyText && positionals.length && ['ENOENT', 'ENOTDIR', 'ENAMETOOLONG'].includes(err.code) && legacyText(file)) return { text: file, from: 'argument' }
    const hint = err.code === 'ENOENT' ? `; to pass the text itself, use --text '<${what.replace(/^the /, '')}>'` : ''
    throw ioError(`cannot read ${what} from ${file} (${err.code || err.message})${hint}`, field)
  }
}

function loadAddon() {
  return require('..')
}

// --- sign -----------------------------------------------------------------------------------------

const SIGN_TYPES = ['RSA', 'RSA2', 'MD5']

function cmdSign(argv) {
  const args = parseArgs(argv, {
    params: 'string',
    text: 'string',
    key: 'string',
    'md5-key': 'string',
    'sign-type': 'string',
    'sort-keys': 'boolean',
    'no-strict': 'boolean',
  })
  const { options } = args
  if (options.help) return print(HELP.sign)
  let signType = options['sign-type']
  if (signType === undefined) {
    if (options['md5-key'] === undefined) {
      throw usage(
        '--sign-type is required: pass --sign-type RSA2 (or RSA, as set in the AlipayHK merchant portal; MD5 with --md5-key). ' +
          'A sign type other than the portal\'s shows up only as "sign check fail" on the payer\'s phone',
        '--sign-type',
      )
    }
    signType = 'MD5'
  }
  if (!SIGN_TYPES.includes(signType)) throw usage(`--sign-type must be RSA2, RSA or MD5, not ${JSON.stringify(signType)}`, '--sign-type')

  let key
  if (signType === 'MD5') {
    const md5Key = options['md5-key'] ?? (options.key !== undefined ? readFileArg(options.key, 'the MD5 key', '--key').toString('utf8').trim() : undefined)
    if (!md5Key) throw usage('--sign-type MD5 needs --md5-key KEY or --key FILE holding the MD5 key', '--md5-key')
    key = { signType: 'MD5', md5Key }
  } else {
    if (options['md5-key'] !== undefined) throw usage(`--md5-key goes with --sign-type MD5, not ${signType}`, '--md5-key')
    if (options.key === undefined) throw usage('--key FILE (the merchant private key) is required', '--key')
    key = { signType, privateKey: readFileArg(options.key, 'the private key', '--key').toString('utf8') }
  }

  const input = mainInput(args, 'the parameters', { legacyFile: 'params' })
  const text = input.text ?? input.bytes.toString('utf8')
  let params
  try {
    params = JSON.parse(text)
  } catch (err) {
    throw new CliError(`the parameters are not JSON (${err.message})`, { code: 'ERR_ALIPAYHK_INVALID_ARGUMENT', field: 'params' })
  }
  if (!params || typeof params !== 'object' || Array.isArray(params)) {
    throw new CliError('the parameters must be a JSON object of parameter names to values', { code: 'ERR_ALIPAYHK_INVALID_ARGUMENT', field: 'params' })
  }

  const { buildOrderStr } = loadAddon()
  const orderStr = buildOrderStr(params, key, { sortKeys: !!options['sort-keys'], strict: !options['no-strict'] })
  if (jsonOutput) return printJson({ orderStr, signType })
  print(orderStr + '\n')
}

// --- inspect --------------------------------------------------------------------------------------

function table(rows, headers) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => '  ' + cells.map((c, i) => (i === cells.length - 1 ? String(c) : String(c).padEnd(widths[i]))).join('  ')
  return [line(headers), ...rows.map(line)].join('\n')
}

function cmdInspect(argv) {
  const args = parseArgs(argv, { text: 'string', 'public-key': 'string', 'md5-key': 'string' })
  const { options } = args
  if (options.help) return print(HELP.inspect)
  if (options['public-key'] !== undefined && options['md5-key'] !== undefined) throw usage('give --public-key or --md5-key, not both', '--md5-key')
  const input = mainInput(args, 'the orderStr', { legacyText: (arg) => arg.includes('="') })
  // A file or a pipe ends in a line ending that no orderStr has (echo adds one).
  const orderStr = input.text ?? input.bytes.toString('utf8').replace(/\r?\n$/, '')
  const { parseOrderStr, verifyOrderStr } = loadAddon()

  const parsed = parseOrderStr(orderStr)
  let verification
  let keyGiven = true
  if (options['public-key'] !== undefined) {
    verification = verifyOrderStr(orderStr, { publicKey: readFileArg(options['public-key'], 'the public key', '--public-key').toString('utf8') })
  } else if (options['md5-key'] !== undefined) verification = verifyOrderStr(orderStr, { md5Key: options['md5-key'] })
  else {
    // Without a key, verifyOrderStr checks the form only (signatureChecked: false).
    keyGiven = false
    verification = verifyOrderStr(orderStr)
  }
  if (!verification.ok) io.exit(1)

  if (jsonOutput) {
    return printJson({
      ok: verification.ok,
      signatureChecked: keyGiven,
      signType: parsed.signType || null,
      sign: parsed.sign || null,
      preSign: parsed.preSign,
      params: parsed.params.map(([name, value]) => ({ name, value })),
      mistakes: verification.mistakes.map((m) => ({ reason: m.reason, message: m.message, ...(m.field ? { field: m.field } : {}) })),
      reason: verification.ok ? null : verification.reason || (verification.mistakes[0] && verification.mistakes[0].reason) || null,
    })
  }

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
  if (verification.mistakes.length) {
    out.push(`mistakes (${verification.mistakes.length}):`)
    for (const m of verification.mistakes) out.push(`  ${m.reason}: ${m.message}`)
  } else out.push('mistakes: none found')
  if (keyGiven) {
    const which = options['public-key'] !== undefined ? `the public key in ${options['public-key']}` : 'the MD5 key'
    out.push(
      verification.ok
        ? `verification: ok (the signature verifies with ${which})`
        : `verification: FAILED (${verification.mistakes.map((m) => m.reason).join(', ') || verification.reason})`,
    )
  } else {
    out.push('verification: signature not checked (give --public-key or --md5-key)')
  }
  print(out.join('\n') + '\n')
}

// --- verify-notify --------------------------------------------------------------------------------

function cmdVerifyNotify(argv) {
  const args = parseArgs(argv, { text: 'string', 'alipay-public-key': 'string', 'md5-key': 'string' })
  const { options } = args
  if (options.help) return print(HELP['verify-notify'])
  const hasRsa = options['alipay-public-key'] !== undefined
  const hasMd5 = options['md5-key'] !== undefined
  if (hasRsa === hasMd5) throw usage('give --alipay-public-key FILE or --md5-key KEY (one of the two)', hasRsa ? '--md5-key' : '--alipay-public-key')
  const key = hasRsa
    ? { alipayPublicKey: readFileArg(options['alipay-public-key'], "Alipay's public key", '--alipay-public-key').toString('utf8') }
    : { md5Key: options['md5-key'] }
  // Byte for byte: whatever the library decides about the body (a trailing newline included)
  // is the verdict here too.
  const input = mainInput(args, 'the notification body')
  const body = input.text ?? input.bytes
  const { verifyNotify, isPaid } = loadAddon()
  const result = verifyNotify(body, key)
  if (!result.ok) {
    io.exit(1)
    if (jsonOutput) return printJson({ ok: false, reason: result.reason, message: result.message, signType: result.signType || null })
    return print(`not verified: ${result.reason}: ${result.message}\n`)
  }
  // Only a verified result has a notification (its fields); isPaid takes nothing else.
  const { notification } = result
  const params = Object.fromEntries(Object.entries(notification.params).filter(([k]) => k !== 'sign'))
  const tradeStatus = notification.tradeStatus || null
  const paid = isPaid(notification)
  if (jsonOutput) return printJson({ ok: true, signType: result.signType, tradeStatus, paid, params })
  print(
    `ok: the ${result.signType} signature verifies; trade_status ${tradeStatus || '(none)'}` +
      ` (${paid ? 'paid' : 'not paid'})\n\n${table(Object.entries(params), ['field', 'value'])}\n`,
  )
}

// --- keygen ---------------------------------------------------------------------------------------

function cmdKeygen(argv) {
  const { options, positionals } = parseArgs(argv, { bits: 'string', out: 'string', force: 'boolean' })
  if (options.help) return print(HELP.keygen)
  if (positionals.length) throw usage(`unexpected argument ${JSON.stringify(positionals[0])} (keygen reads no input; --out DIR names where to write)`, null)
  const bits = options.bits === undefined ? 2048 : Number(options.bits)
  if (![1024, 2048, 3072, 4096].includes(bits)) throw usage(`--bits must be 1024, 2048, 3072 or 4096, not ${JSON.stringify(options.bits)}`, '--bits')
  const dir = options.out || '.'
  const privateFile = path.join(dir, 'merchant_private_key.pem')
  const publicFile = path.join(dir, 'merchant_public_key.txt')
  if (!options.force) {
    for (const f of [privateFile, publicFile]) if (fs.existsSync(f)) throw ioError(`${f} exists (use --force to replace it)`, '--out')
  }
  try {
    fs.mkdirSync(dir, { recursive: true })
  } catch (err) {
    throw ioError(`cannot create ${dir} (${err.code || err.message})`, '--out')
  }
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits })
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' })
  const publicBase64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  try {
    fs.writeFileSync(privateFile, privatePem, { mode: 0o600 })
    fs.chmodSync(privateFile, 0o600) // a replaced file keeps its old mode otherwise
    fs.writeFileSync(publicFile, publicBase64 + '\n')
  } catch (err) {
    throw ioError(`cannot write the key files in ${dir} (${err.code || err.message})`, '--out')
  }
  if (jsonOutput) return printJson({ bits, privateKeyFile: privateFile, publicKeyFile: publicFile, publicKey: publicBase64 })
  print(
    `private key (${bits}-bit RSA, PKCS#8 PEM, mode 0600, keep it secret): ${privateFile}\n` +
      `public key (bare base64 SubjectPublicKeyInfo, for Alipay's merchant portal): ${publicFile}\n` +
      `${publicBase64}\n`,
  )
}

// --- query, refund, refund-status ---------------------------------------------------------------

// The account and gateway options of the three gateway commands.
const GATEWAY_SPEC = {
  partner: 'string',
  'sign-type': 'string',
  key: 'string',
  'md5-key': 'string',
  'alipay-public-key': 'string',
  gateway: 'string',
  method: 'string',
  'timeout-ms': 'string',
  retries: 'string',
}

// What the library's errors name in `field`, as the option that gave it.
const CONFIG_FIELDS = {
  partner: '--partner',
  'config.partner': '--partner',
  'config.privateKey': '--key',
  'config.md5Key': '--md5-key',
  'config.alipayPublicKey': '--alipay-public-key',
  'config.gateway': '--gateway',
  'config.method': '--method',
  'config.gmtReturnFormat': '--gmt-return-format',
}

// The library's errors that are an answer (or the lack of one), not a mistake on the command line.
const OUTCOME_CODES = ['ERR_ALIPAYHK_GATEWAY_ERROR', 'ERR_ALIPAYHK_REPLY_SIGNATURE', 'ERR_ALIPAYHK_MALFORMED_REPLY', 'ERR_ALIPAYHK_GATEWAY_UNREACHABLE']

function noPositionals(positionals, command) {
  if (positionals.length) {
    throw usage(`unexpected argument ${JSON.stringify(positionals[0])} (${command} reads no input: name the order with options, see alipayhk-pay ${command} --help)`, null)
  }
}

function required(options, name, what) {
  const v = options[name]
  if (v === undefined || v === '') throw usage(`--${name} is required: ${what}`, `--${name}`)
  return v
}

function wholeNumber(options, name, min, max) {
  const v = options[name]
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw usage(`--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`, `--${name}`)
  return Number(v)
}

/** `new AlipayHK(config)` from the account and gateway options. */
function gatewayAccount(options, extra = {}) {
  const partner = required(options, 'partner', 'your partner ID (PID), 16 digits starting with 2088')
  let signType = options['sign-type']
  if (signType === undefined) {
    if (options['md5-key'] === undefined) {
      throw usage('--sign-type is required: pass --sign-type RSA2 (or RSA, as set in the AlipayHK merchant portal; MD5 with --md5-key)', '--sign-type')
    }
    signType = 'MD5'
  }
  if (!SIGN_TYPES.includes(signType)) throw usage(`--sign-type must be RSA2, RSA or MD5, not ${JSON.stringify(signType)}`, '--sign-type')
  const config = { partner, signType }
  if (signType === 'MD5') {
    if (options['alipay-public-key'] !== undefined) throw usage('--alipay-public-key goes with --sign-type RSA or RSA2; with MD5 the MD5 key checks the replies', '--alipay-public-key')
    const md5Key = options['md5-key'] ?? (options.key !== undefined ? readFileArg(options.key, 'the MD5 key', '--key').toString('utf8').trim() : undefined)
    if (!md5Key) throw usage('--sign-type MD5 needs --md5-key KEY or --key FILE holding the MD5 key', '--md5-key')
    config.md5Key = md5Key
  } else {
    if (options['md5-key'] !== undefined) throw usage(`--md5-key goes with --sign-type MD5, not ${signType}`, '--md5-key')
    if (options.key === undefined) throw usage('--key FILE (the merchant private key, which signs the request) is required', '--key')
    if (options['alipay-public-key'] === undefined) {
      throw usage("--alipay-public-key FILE is required: Alipay's public key checks the signature on the reply (a reply that does not verify is never taken for a state)", '--alipay-public-key')
    }
    config.privateKey = readFileArg(options.key, 'the private key', '--key').toString('utf8')
    config.alipayPublicKey = readFileArg(options['alipay-public-key'], "Alipay's public key", '--alipay-public-key').toString('utf8')
  }
  if (options.gateway !== undefined) config.gateway = options.gateway
  if (options.method !== undefined) {
    if (!['GET', 'POST'].includes(options.method)) throw usage(`--method must be GET or POST, not ${JSON.stringify(options.method)}`, '--method')
    config.method = options.method
  }
  const timeoutMs = wholeNumber(options, 'timeout-ms', 1, 600000)
  const retries = wholeNumber(options, 'retries', 0, 10)
  if (timeoutMs !== undefined) config.timeoutMs = timeoutMs
  if (retries !== undefined) config.retries = retries
  Object.assign(config, extra)
  const { AlipayHK } = loadAddon()
  try {
    return new AlipayHK(config)
  } catch (err) {
    if (CONFIG_FIELDS[err.field]) err.field = CONFIG_FIELDS[err.field]
    throw err
  }
}

function expectOption(options, allowed) {
  const v = options.expect === undefined ? allowed[0] : options.expect
  if (!allowed.includes(v)) throw usage(`--expect must be ${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}, not ${JSON.stringify(v)}`, '--expect')
  return v
}

/**
 * Runs a gateway call. An answer the library throws (a gateway refusal, a reply that does not
 * verify or is not a reply, no answer at all) is printed and exits 1; anything else (bad
 * parameters, keys) goes on to `fail` (exit 2).
 */
async function gatewayOutcome(call) {
  try {
    return { result: await call() }
  } catch (err) {
    if (!err || !OUTCOME_CODES.includes(err.code)) throw err
    io.exit(1)
    const message = String(err.message).replace(/\s*\n\s*/g, ' ')
    if (jsonOutput) {
      const error = { code: err.code, field: typeof err.field === 'string' ? err.field : null, message }
      if (err.gatewayError !== undefined) Object.assign(error, { gatewayError: err.gatewayError, explanation: err.explanation, retryable: err.retryable })
      if (err.reason !== undefined) error.reason = err.reason
      if (err.cause) error.cause = causeChain(err)
      printJson({ error })
    } else if (err.code === 'ERR_ALIPAYHK_GATEWAY_ERROR') print(`refused: ${err.gatewayError}: ${err.explanation}\n`)
    else if (err.code === 'ERR_ALIPAYHK_REPLY_SIGNATURE') print(`not verified: ${err.reason || 'BAD_SIGNATURE'}: ${message} (no state is taken from this reply)\n`)
    else if (err.code === 'ERR_ALIPAYHK_MALFORMED_REPLY') print(`not a reply: ${message}\n`)
    else print(`no answer: ${message}${err.cause ? ` (cause: ${causeChain(err)})` : ''}\n`)
    return { failed: true }
  }
}

/** `fetch failed: connect ECONNREFUSED 127.0.0.1:9` from an error's chain of causes. */
function causeChain(err) {
  const parts = []
  for (let c = err.cause; c && parts.length < 4; c = c.cause) {
    const text = String(c.message || c.code || c).replace(/\s*\n\s*/g, ' ')
    if (!parts.includes(text)) parts.push(text)
  }
  return parts.join(': ')
}

function signedBy(r) {
  return r.signedByAlipay ? `reply signed ${r.signType}, verified with Alipay's key` : 'nothing signed in the reply'
}

function fieldsTable(fields) {
  const rows = Object.keys(fields || {})
    .sort()
    .map((k) => [k, fields[k]])
  return rows.length ? `\n${table(rows, ['field', 'value'])}\n` : ''
}

async function cmdQuery(argv) {
  const args = parseArgs(argv, { ...GATEWAY_SPEC, 'out-trade-no': 'string', 'trade-no': 'string', expect: 'string' })
  const { options } = args
  if (options.help) return print(HELP.query)
  noPositionals(args.positionals, 'query')
  const outTradeNo = options['out-trade-no']
  const tradeNo = options['trade-no']
  if ((outTradeNo === undefined) === (tradeNo === undefined)) {
    throw usage('give --out-trade-no NO (your order number) or --trade-no NO (Alipay\'s), one of the two', outTradeNo === undefined ? '--out-trade-no' : '--trade-no')
  }
  const want = expectOption(options, ['PAID', 'WAIT_BUYER_PAY', 'CLOSED', 'NOT_FOUND'])
  const alipay = gatewayAccount(options)
  const { result: r, failed } = await gatewayOutcome(() => alipay.queryOrder(outTradeNo !== undefined ? { outTradeNo } : { tradeNo }))
  if (failed) return
  if (r.status !== want) io.exit(1)
  if (jsonOutput) return printJson({ status: r.status, signedByAlipay: r.signedByAlipay, signType: r.signType || null, trade: r.trade || null })
  const name = outTradeNo !== undefined ? `order ${outTradeNo}` : `trade ${tradeNo}`
  if (r.status === 'NOT_FOUND') {
    return print(`NOT_FOUND: Alipay has no trade for ${name} (normal right after the orderStr, before the buyer opens the cashier)\n`)
  }
  print(`${r.status}: ${name}, trade_status ${r.trade.tradeStatus} (${signedBy(r)})\n${fieldsTable(r.trade.fields)}`)
}

async function cmdRefund(argv) {
  const args = parseArgs(argv, {
    ...GATEWAY_SPEC,
    'out-trade-no': 'string',
    'out-return-no': 'string',
    amount: 'string',
    reason: 'string',
    currency: 'string',
    async: 'boolean',
    'notify-url': 'string',
    'gmt-return-format': 'string',
  })
  const { options } = args
  if (options.help) return print(HELP.refund)
  noPositionals(args.positionals, 'refund')
  const outTradeNo = required(options, 'out-trade-no', 'the paid order to refund')
  const outReturnNo = required(options, 'out-return-no', 'your refund id, the same every time this refund is asked for')
  const amount = required(options, 'amount', 'the amount to refund, a decimal such as 12.50')
  const reason = required(options, 'reason', 'why the refund is made (the HK gateway requires it; at most 100 characters)')
  const extra = options['gmt-return-format'] === undefined ? {} : { gmtReturnFormat: options['gmt-return-format'] }
  const alipay = gatewayAccount(options, extra)
  const refund = { outTradeNo, outReturnNo, amount, reason, sync: !options.async }
  if (options.currency !== undefined) refund.currency = options.currency
  if (options['notify-url'] !== undefined) refund.notifyUrl = options['notify-url']
  const { result: r, failed } = await gatewayOutcome(() => alipay.refund(refund))
  if (failed) return
  if (r.status !== (options.async ? 'ACCEPTED' : 'SUCCESS')) io.exit(1)
  if (jsonOutput) {
    return printJson({ status: r.status, signedByAlipay: r.signedByAlipay, signType: r.signType || null, outTradeNo, outReturnNo, refund: r.refund || null })
  }
  // The amount is the one asked for: the signed refund query confirms the status, not an amount.
  const what = `refund ${outReturnNo} of order ${outTradeNo} (${amount} ${refund.currency || 'HKD'} requested)`
  if (r.status === 'ACCEPTED') {
    return print(`ACCEPTED: ${what}: the result comes by a refund_status_sync notification; or ask with alipayhk-pay refund-status\n`)
  }
  const detail = r.refund && r.refund.refundErrorCode ? `, ${r.refund.refundErrorCode}` : ''
  print(`${r.status}: ${what}${detail} (confirmed by the refund query: ${signedBy(r)})\n${fieldsTable(r.refund && r.refund.fields)}`)
}

async function cmdRefundStatus(argv) {
  const args = parseArgs(argv, { ...GATEWAY_SPEC, 'out-trade-no': 'string', 'out-return-no': 'string', expect: 'string' })
  const { options } = args
  if (options.help) return print(HELP['refund-status'])
  noPositionals(args.positionals, 'refund-status')
  const outTradeNo = required(options, 'out-trade-no', 'the order the refund belongs to')
  const outReturnNo = required(options, 'out-return-no', 'your refund id')
  const want = expectOption(options, ['SUCCESS', 'FAILED', 'CANCELED', 'PROCESSING', 'NOT_FOUND'])
  const alipay = gatewayAccount(options)
  const { result: r, failed } = await gatewayOutcome(() => alipay.refundStatus({ outTradeNo, outReturnNo }))
  if (failed) return
  if (r.status !== want) io.exit(1)
  if (jsonOutput) return printJson({ status: r.status, signedByAlipay: r.signedByAlipay, signType: r.signType || null, refund: r.refund || null })
  const detail = r.refund && r.refund.refundErrorCode ? `, ${r.refund.refundErrorCode}` : ''
  const what = r.status === 'NOT_FOUND' ? `Alipay has no refund ${outReturnNo} of order ${outTradeNo}` : `refund ${outReturnNo} of order ${outTradeNo}${detail}`
  print(`${r.status}: ${what} (${signedBy(r)})\n${fieldsTable(r.refund && r.refund.fields)}`)
}

// --- reconcile ------------------------------------------------------------------------------------

// How many entries of each list the text output shows (--json has them all, up to --list-limit).
const SHOWN_PER_LIST = 20

/** 'YYYY-MM-DD HH:MM:SS' in Hong Kong time (GMT+8, as Alipay's files write times) of an ISO time; undefined if it is none. */
function hongKongTime(iso) {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN
  if (Number.isNaN(ms)) return undefined
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ')
}

/** 3600 → '36.00' (whole cents only; anything else is left for the library to refuse). */
function centsText(cents) {
  if (!Number.isSafeInteger(cents) || cents < 0) return undefined
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
}

/**
 * A payment of the example merchant's ledger as a merchant record: its amount (totalFee, or
 * amountCents), its time (gmtPayment, Alipay's own, else when it was recorded). The file's
 * `payment` entries and the PostgreSQL store's `payments()` rows (examples/ledger/) have these
 * fields alike.
 */
function paymentRecord(p) {
  const time = p.gmtPayment ?? hongKongTime(p.recordedAt ?? p.receivedAt)
  return { kind: 'payment', outTradeNo: p.outTradeNo, amount: p.totalFee ?? p.amount ?? centsText(p.amountCents), currency: p.currency, time }
}

/**
 * A refund of the example merchant's ledger as a merchant record, or null when it FAILED (no
 * money moved). One still PENDING counts: if Alipay did not make it, it shows up as only in
 * the books. Its time: when its result was recorded (settledAt), else when it was asked for.
 * The file's `refund` entries (with their `refund_result`) and the store's `refunds()` rows
 * have these fields alike.
 */
function refundRecord(r) {
  if (r.status === 'FAILED') return null
  const time = hongKongTime(r.settledAt ?? r.requestedAt)
  return { kind: 'refund', outTradeNo: r.outTradeNo, outReturnNo: r.outReturnNo, amount: r.amount ?? centsText(r.amountCents), currency: r.currency, time }
}

/** Whether a record's time (YYYY-MM-DD HH:MM:SS) is on `day`; null: every day. A record without a time always counts. */
const onDay = (day, time) => day === null || typeof time !== 'string' || time.slice(0, 10) === day

/**
 * The merchant records in a ledger given as JSON lines, each with the line it came from. A line
 * is either a merchant record ({ kind, outTradeNo, outReturnNo?, amount, currency, time? }) or
 * an entry of the example merchant server's ledger (examples/ledger/file.js, ledger.jsonl):
 * `payment` entries (paymentRecord), `refund` entries with the status of their later
 * `refund_result` (refundRecord); `order`, `closed` and other entries are not money moved and
 * are passed over. `day` ('YYYY-MM-DD', or null for every day) keeps the records of that day.
 *
 * The PostgreSQL store (--database-url) yields the same { record, line } pairs:
 * ledgerDatabaseRecords.
 */
async function* ledgerFileRecords(file, day) {
  let fd
  try {
    fd = fs.openSync(file, 'r')
  } catch (err) {
    throw ioError(`cannot read the ledger from ${file} (${err.code || err.message})`, '--ledger')
  }
  const bad = (line, why) => new CliError(`${file} line ${line}: ${why}`, { code: 'ERR_ALIPAYHK_INVALID_ARGUMENT', field: '--ledger' })
  const refunds = new Map() // outReturnNo -> { refund, line }
  // Closed in `finally` also when the reading stops early (a refused record, a bad line).
  const input = fs.createReadStream(null, { fd })
  const lines = require('node:readline').createInterface({ input, crlfDelay: Infinity })
  let n = 0
  try {
    for await (const text of lines) {
      n++
      if (!text.trim()) continue
      let e
      try {
        e = JSON.parse(text)
      } catch (err) {
        throw bad(n, `not JSON (${err.message})`)
      }
      if (e === null || typeof e !== 'object' || Array.isArray(e)) throw bad(n, 'not a JSON object')
      if (Object.prototype.hasOwnProperty.call(e, 'kind')) {
        if (onDay(day, e.time)) yield { record: e, line: n }
      } else if (e.type === 'payment') {
        const record = paymentRecord(e)
        if (onDay(day, record.time)) yield { record, line: n }
      } else if (e.type === 'refund') {
        refunds.set(e.outReturnNo, { refund: { ...e, status: 'PENDING', settledAt: undefined }, line: n })
      } else if (e.type === 'refund_result') {
        const r = refunds.get(e.outReturnNo)
        if (r) Object.assign(r.refund, { status: e.status, settledAt: e.settledAt })
      } else if (typeof e.type !== 'string') {
        throw bad(n, 'neither a merchant record { "kind", "outTradeNo", "amount", "currency", … } nor an entry of the example merchant server\'s ledger { "type", … }')
      }
    }
  } catch (err) {
    // A read error (a directory, EIO) is the ledger's, not the transaction file's.
    if (err && typeof err.syscall === 'string') throw ioError(`cannot read the ledger from ${file} (${err.code || err.message})`, '--ledger')
    throw err
  } finally {
    lines.close()
    input.destroy()
  }
  for (const { refund, line } of refunds.values()) {
    const record = refundRecord(refund)
    if (record && onDay(day, record.time)) yield { record, line }
  }
}

/**
 * The merchant records of the example merchant server's PostgreSQL ledger (examples/ledger/,
 * openLedger({ databaseUrl })): paymentRecord of each `payments()` row, refundRecord of each
 * `refunds()` row, with `line` null. `pg` is a devDependency of this package: loaded here, only
 * for --database-url, and when it is missing the command says how to install it.
 */
async function* ledgerDatabaseRecords(databaseUrl, day) {
  try {
    require('pg')
  } catch (err) {
    throw usage(`--database-url needs the PostgreSQL client package pg, which is not installed: npm install pg (${err.code || err.message})`, '--database-url')
  }
  const { openLedger } = require('../examples/ledger')
  let ledger
  try {
    ledger = await openLedger({ databaseUrl, connectTimeoutMs: 10_000, poolSize: 2 })
  } catch (err) {
    // The ledger's message names the URL with its password replaced.
    throw ioError(err.message, '--database-url')
  }
  let payments, refunds
  try {
    payments = await ledger.payments()
    refunds = await ledger.refunds()
  } catch (err) {
    throw ioError(`cannot read the ledger's payments and refunds at ${redactUrl(databaseUrl)} (${err.code || err.message})`, '--database-url')
  } finally {
    await ledger.close().catch(() => {})
  }
  for (const p of payments) {
    const record = paymentRecord(p)
    if (onDay(day, record.time)) yield { record, line: null }
  }
  for (const r of refunds) {
    const record = refundRecord(r)
    if (record && onDay(day, record.time)) yield { record, line: null }
  }
}

/** A database URL with its passwords replaced, to print (the example ledger's redact). */
function redactUrl(url) {
  return require('../examples/ledger/postgres').redact(url)
}

const money = (x) => {
  const [int, frac] = String(x).replace('-', '').split('.')
  return `${String(x).startsWith('-') ? '-' : ''}${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac === undefined ? '' : `.${frac}`}`
}
const count = (n) => n.toLocaleString('en-US')

function reportText(report, { file, ledger, day, settlementBatch }) {
  const out = []
  const c = report.counts
  const verdict = report.ok ? 'OK: everything matches' : 'NOT RECONCILED: see below'
  out.push(`${file} against ${ledger} (${day === null ? 'records of every day' : `records of ${day}`}): ${verdict}`)
  out.push('')
  out.push(
    table(
      [
        ['Alipay rows', count(report.rows)],
        ['merchant records', count(report.records)],
        ['matched', count(report.matched)],
        ['only at Alipay', count(c.onlyAtAlipay)],
        ["only in the merchant's books", count(c.onlyInMerchant)],
        ['amount or currency differs', count(c.mismatches)],
        ['refunds without their payment', count(c.refundsWithoutPayment)],
        ['rows twice at Alipay', count(c.duplicatesAtAlipay)],
      ],
      ['', ''],
    )
      .split('\n')
      .slice(1)
      .join('\n'),
  )
  const list = (title, total, entries, line) => {
    if (!total) return
    out.push('')
    out.push(`${title} (${count(total)}):`)
    for (const e of entries.slice(0, SHOWN_PER_LIST)) out.push(`  ${line(e)}`)
    if (total > Math.min(entries.length, SHOWN_PER_LIST)) out.push(`  … and ${count(total - Math.min(entries.length, SHOWN_PER_LIST))} more (--json lists up to --list-limit of each)`)
  }
  const row = (e) =>
    `line ${e.line}: ${e.kind} ${e.partnerTransactionId}${e.originalPartnerTransactionId ? ` of ${e.originalPartnerTransactionId}` : ''}, ${money(e.amount)} ${e.currency}, ${e.paymentTime}, Alipay ${e.transactionId}`
  list('only at Alipay', c.onlyAtAlipay, report.onlyAtAlipay, row)
  list("only in the merchant's books", c.onlyInMerchant, report.onlyInMerchant, (e) =>
    e.kind === 'refund'
      ? `refund ${e.outReturnNo} of ${e.outTradeNo}, ${money(e.amount)} ${e.currency}${e.time ? `, ${e.time}` : ''}`
      : `payment ${e.outTradeNo}, ${money(e.amount)} ${e.currency}${e.time ? `, ${e.time}` : ''}`,
  )
  list('amount or currency differs', c.mismatches, report.mismatches, (m) => {
    const what = m.fields.map((f) =>
      f === 'amount'
        ? `amount: Alipay ${money(m.alipayAmount)}, books ${money(m.merchantAmount)}`
        : f === 'currency'
          ? `currency: Alipay ${m.alipayCurrency}, books ${m.merchantCurrency}`
          : `refunded order: Alipay ${m.alipayOutTradeNo || '(none)'}, books ${m.merchantOutTradeNo || '(none)'}`,
    )
    return `line ${m.line}: ${m.kind} ${m.partnerTransactionId}: ${what.join('; ')}`
  })
  list('refunds without their payment', c.refundsWithoutPayment, report.refundsWithoutPayment, row)
  list('rows twice at Alipay', c.duplicatesAtAlipay, report.duplicatesAtAlipay, row)
  if (report.days.length) {
    out.push('')
    out.push('totals by day of payment (payments − refunds − fees = settlement):')
    out.push(
      table(
        report.days.map((d) => [
          d.date,
          d.currency,
          `${count(d.paymentCount)} / ${money(d.payments)}`,
          `${count(d.refundCount)} / ${money(d.refunds)}`,
          money(d.fees),
          money(d.settlement),
          (d.addsUp ? 'adds up' : 'DOES NOT ADD UP') + (d.unsettledCount ? ` (${count(d.unsettledCount)} rows not settled yet)` : ''),
        ]),
        ['date', 'cur.', 'payments', 'refunds', 'fees', 'settlement', ''],
      ),
    )
  }
  const sums = (s) => `${money(s.amount)} / ${money(s.fee)} / ${money(s.settlement)}`
  if (report.settlements.length) {
    out.push('')
    out.push(`settlement batches (${settlementBatch}) against the rows settled that day (amount / fee / settlement):`)
    out.push(
      table(
        report.settlements.map((s) => [s.date, s.currency, s.batchNos.join(' '), sums(s.file), `${sums(s.rows)} (${count(s.rowCount)} rows)`, s.matches ? 'matches' : 'DOES NOT MATCH']),
        ['date', 'cur.', 'batch', 'batch file', 'rows', ''],
      ),
    )
  }
  if (report.settledWithoutBatch.length) {
    out.push('')
    out.push(
      `rows settled on a day no batch given covers${settlementBatch ? '' : ' (give --settlement-batch PID_settlebatch_YYYYMMDD.csv to check them)'}: ` +
        report.settledWithoutBatch.map((s) => `${s.date} ${s.currency} ${sums(s.rows)} (${count(s.rowCount)} rows)`).join('; '),
    )
  }
  return out.map((line) => line.trimEnd()).join('\n') + '\n'
}

async function cmdReconcile(argv) {
  const args = parseArgs(argv, { ledger: 'string', 'database-url': 'string', 'settlement-batch': 'string', date: 'string', 'list-limit': 'string' })
  const { options, positionals } = args
  if (options.help) return print(HELP.reconcile)
  if (positionals.length !== 1) {
    throw usage(
      positionals.length
        ? `give one transaction file (got ${positionals.length} arguments)`
        : 'the transaction file is required: alipayhk-pay reconcile PID_fptrade_YYYYMMDD.csv --ledger LEDGER (- reads it from stdin)',
      null,
    )
  }
  const [file] = positionals
  const databaseUrl = options['database-url']
  if (databaseUrl !== undefined && options.ledger !== undefined) throw usage('give --ledger FILE or --database-url URL, not both', '--database-url')
  if (databaseUrl !== undefined && !/^postgres(?:ql)?:\/\/./.test(databaseUrl)) {
    throw usage(`--database-url must be a PostgreSQL URL, postgres://user:password@host:5432/database, not ${JSON.stringify(redactUrl(databaseUrl))}`, '--database-url')
  }
  const ledger =
    databaseUrl !== undefined
      ? redactUrl(databaseUrl)
      : required(
          options,
          'ledger',
          'the merchant\'s books as JSON lines: the example merchant server\'s ledger.jsonl, or one record { "kind", "outTradeNo", "outReturnNo"?, "amount", "currency", "time"? } per line (or --database-url URL: the PostgreSQL ledger)',
        )
  let day
  if (options.date === 'all') day = null
  else if (options.date !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(options.date)) throw usage(`--date must be YYYY-MM-DD or all, not ${JSON.stringify(options.date)}`, '--date')
    day = options.date
  } else {
    const m = /_(?:fptrade|settle)_(\d{4})(\d{2})(\d{2})(?:[_.]|$)/.exec(path.basename(file))
    if (!m) {
      throw usage(
        `the day cannot be read from the file name ${JSON.stringify(path.basename(file))} (Alipay names it PID_fptrade_YYYYMMDD.csv): give --date YYYY-MM-DD, the day whose records to compare, or --date all`,
        '--date',
      )
    }
    day = `${m[1]}-${m[2]}-${m[3]}`
  }
  const listLimit = wholeNumber(options, 'list-limit', 0, 1000000000)
  const settlementBatch = options['settlement-batch'] === undefined ? undefined : readFileArg(options['settlement-batch'], 'the settlement batch file', '--settlement-batch')
  if (file !== '-') {
    try {
      if (fs.statSync(file).isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EISDIR' })
      fs.closeSync(fs.openSync(file, 'r'))
    } catch (err) {
      throw ioError(`cannot read the transaction file from ${file} (${err.code || err.message})`, null)
    }
  }
  // A path is read by reconcileFile in chunks into one buffer.
  const input = file === '-' ? io.stdinStream() : file

  // The line of the ledger each record came from, by the order given: a refused record is
  // named by its line.
  const lineOf = []
  async function* records() {
    const source = databaseUrl !== undefined ? ledgerDatabaseRecords(databaseUrl, day) : ledgerFileRecords(ledger, day)
    for await (const { record, line } of source) {
      lineOf.push(line)
      yield record
    }
  }
  const { reconcileFile } = loadAddon()
  let report
  try {
    report = await reconcileFile(input, records(), { settlementBatch, listLimit })
  } catch (err) {
    if (err && err.code === 'ERR_ALIPAYHK_INVALID_FILE') {
      err.message = `${err.file === 'settlementBatch' ? options['settlement-batch'] : file === '-' ? 'stdin' : file}: ${err.message}`
    } else if (err && err.code === 'ERR_ALIPAYHK_INVALID_ARGUMENT' && /^merchantRecords\[(\d+)\]/.test(err.field || '')) {
      const i = Number(/^merchantRecords\[(\d+)\]/.exec(err.field)[1])
      err.message = lineOf[i] === null ? `${ledger}: ${err.message}` : `${ledger} line ${lineOf[i]}: ${err.message}`
    } else if (err && typeof err.syscall === 'string') {
      throw ioError(`reading ${err.path || (file === '-' ? 'stdin' : file)} failed (${err.code || err.message})`, null)
    }
    throw err
  }
  if (!report.ok) io.exit(1)
  if (jsonOutput) return printJson(report)
  print(reportText(report, { file: file === '-' ? 'stdin' : file, ledger, day, settlementBatch: options['settlement-batch'] }))
}

// --- main -----------------------------------------------------------------------------------------

const COMMANDS = {
  sign: cmdSign,
  inspect: cmdInspect,
  'verify-notify': cmdVerifyNotify,
  keygen: cmdKeygen,
  query: cmdQuery,
  refund: cmdRefund,
  'refund-status': cmdRefundStatus,
  reconcile: cmdReconcile,
}

function unknownCommand(command) {
  return usage(`unknown command ${JSON.stringify(command)}${didYouMean(nearMisses(command, Object.keys(COMMANDS)), '')} (see alipayhk-pay --help)`, null)
}

function main(argv) {
  // Known before anything can fail, so that every error of a --json run is JSON.
  const end = argv.indexOf('--')
  jsonOutput = (end < 0 ? argv : argv.slice(0, end)).includes('--json')
  // `alipayhk-pay --json <command> …` too.
  const [command, ...rest] = argv[0] === '--json' ? argv.slice(1) : argv
  if (command === undefined) return fail(null, usage('a command is required: sign, inspect, verify-notify, keygen, query, refund, refund-status or reconcile (see alipayhk-pay --help)', null))
  if (command === '--help' || command === '-h') return print(HELP.main)
  if (command === 'help') {
    const topic = rest.find((a) => a !== '--json')
    if (topic && !HELP[topic]) return fail(null, unknownCommand(topic))
    return print(HELP[topic || 'main'])
  }
  if (command === '--version') {
    const { version } = require('../package.json')
    return jsonOutput ? printJson({ version }) : print(version + '\n')
  }
  const run = COMMANDS[command]
  if (!run) return fail(null, unknownCommand(command))
  try {
    // The gateway commands are async: their errors arrive as a rejection.
    const done = run(rest)
    if (done && typeof done.then === 'function') return done.catch((err) => fail(command, err))
  } catch (err) {
    fail(command, err)
  }
}

/**
 * One command line run in this process, for the tests: what it printed and its exit code, as
 * `{ code, stdout, stderr }`, or a Promise of it for the commands that wait (the gateway
 * commands and reconcile). `stdin` is what it reads from stdin, which is a pipe unless
 * `stdinIsTTY`. Relative paths are the process's (the caller changes directory). One run at a
 * time.
 */
function runWith(argv, { stdin = '', stdinIsTTY = false } = {}) {
  if (io !== PROCESS_IO) throw new Error('runWith: a run is already under way')
  const out = []
  const err = []
  let code = 0
  const bytes = Buffer.from(stdin)
  io = {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    stdinBytes: () => bytes,
    stdinStream: () => require('node:stream').Readable.from([bytes]),
    stdinIsTTY: () => stdinIsTTY,
    exit: (c) => {
      code = c
    },
  }
  const finish = () => {
    io = PROCESS_IO
    return { code, stdout: out.join(''), stderr: err.join('') }
  }
  let done
  try {
    done = main(argv)
  } catch (e) {
    io = PROCESS_IO
    throw e
  }
  if (done && typeof done.then === 'function') return done.then(finish, (e) => {
    io = PROCESS_IO
    throw e
  })
  return finish()
}

if (require.main === module) main(process.argv.slice(2))
else module.exports = { runWith }
