'use strict'

/** A ledger error with a stable `code` (ERR_LEDGER_…). */
class LedgerError extends Error {
  constructor(code, message, extra = {}) {
    super(message)
    this.name = 'LedgerError'
    this.code = code
    Object.assign(this, extra)
  }
}

/**
 * A test hook: when `options.pauseAt` names this point, tell `options.onPause` and never go
 * on, so that a test can kill the process exactly there (in the middle of recording).
 * Off unless asked for.
 */
function pausePoint(options, name) {
  if (!options || options.pauseAt !== name) return undefined
  if (options.onPause) options.onPause(name)
  return new Promise(() => {})
}

module.exports = { LedgerError, pausePoint }
