// Key inputs as merchants hold them (docs/protocol.md §6), read with node:crypto alone: the
// simulator must not trust the addon it is testing.
'use strict'

const crypto = require('node:crypto')

function isKeyObject(key) {
  return key instanceof crypto.KeyObject
}

// PEM as is; otherwise a bare base64 body (stray whitespace and line breaks allowed) or DER bytes.
function toPublicKey(input, what = 'public key') {
  if (isKeyObject(input)) return input.type === 'private' ? crypto.createPublicKey(input) : input
  try {
    if (typeof input === 'string' && input.includes('-----BEGIN')) return crypto.createPublicKey(input)
    const der = typeof input === 'string' ? Buffer.from(input.replace(/\s+/g, ''), 'base64') : Buffer.from(input)
    if (der.includes('-----BEGIN')) return crypto.createPublicKey(der.toString('utf8'))
    try {
      return crypto.createPublicKey({ key: der, format: 'der', type: 'spki' })
    } catch {
      return crypto.createPublicKey({ key: der, format: 'der', type: 'pkcs1' })
    }
  } catch (err) {
    // The input itself is never echoed: it may be a private key pasted in the wrong place.
    throw new Error(`${what}: not an RSA public key in PEM, bare base64 or DER (${err.code || err.message})`)
  }
}

function toPrivateKey(input, what = 'private key') {
  if (isKeyObject(input)) {
    if (input.type !== 'private') throw new Error(`${what}: a public key was given where a private key is needed`)
    return input
  }
  try {
    if (typeof input === 'string' && input.includes('-----BEGIN')) return crypto.createPrivateKey(input)
    const der = typeof input === 'string' ? Buffer.from(input.replace(/\s+/g, ''), 'base64') : Buffer.from(input)
    if (der.includes('-----BEGIN')) return crypto.createPrivateKey(der.toString('utf8'))
    try {
      return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    } catch {
      return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs1' })
    }
  } catch (err) {
    throw new Error(`${what}: not an RSA private key in PEM, bare base64 or DER (${err.code || err.message})`)
  }
}

function publicKeyPem(key) {
  return toPublicKey(key).export({ type: 'spki', format: 'pem' })
}

// What Alipay's portal shows: the SubjectPublicKeyInfo DER in base64, no header lines.
function publicKeyBase64(key) {
  return toPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64')
}

const HASH_OF_SIGN_TYPE = { RSA: 'sha1', RSA2: 'sha256' }

// RSA/RSA2: base64 PKCS#1 v1.5 signature. MD5: lowercase hex of MD5(content + key).
function signWith(signType, content, { privateKey, md5Key }) {
  if (signType === 'MD5') {
    if (!md5Key) throw new Error('sign type MD5 needs an MD5 key')
    return crypto.createHash('md5').update(content + md5Key, 'utf8').digest('hex')
  }
  const hash = HASH_OF_SIGN_TYPE[signType]
  if (!hash) throw new Error(`unsupported sign type ${JSON.stringify(signType)}`)
  return crypto.sign(hash, Buffer.from(content, 'utf8'), toPrivateKey(privateKey)).toString('base64')
}

function verifyWith(signType, content, sign, { publicKey, md5Key }) {
  if (signType === 'MD5') {
    const expected = crypto.createHash('md5').update(content + md5Key, 'utf8').digest('hex')
    const given = Buffer.from(String(sign).toLowerCase(), 'utf8')
    return given.length === expected.length && crypto.timingSafeEqual(given, Buffer.from(expected, 'utf8'))
  }
  const hash = HASH_OF_SIGN_TYPE[signType]
  if (!hash) return false
  try {
    return crypto.verify(hash, Buffer.from(content, 'utf8'), publicKey, Buffer.from(sign, 'base64'))
  } catch {
    return false
  }
}

module.exports = { toPublicKey, toPrivateKey, publicKeyPem, publicKeyBase64, signWith, verifyWith, HASH_OF_SIGN_TYPE }
