// A loopback npm registry that serves the packed tarballs (dist/packages/*.tgz), so that a
// scratch project runs exactly what a merchant runs, `npm install alipayhk-pay`, and npm picks
// the platform package from the main package's optionalDependencies by os, cpu and libc, as it
// does with registry.npmjs.org. Nothing leaves 127.0.0.1: a name it does not hold gets a 404,
// which npm takes as "optional dependency not available" for the platform packages not packed.
// With `upstream`, names that are not alipayhk-pay's are looked up there (the WebAssembly
// package's runtime dependencies); alipayhk-pay-* names never are.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const zlib = require('node:zlib')

/** `package/package.json` of an npm tarball (ustar, as `npm pack` writes it). */
function readManifest(tgz) {
  const tar = zlib.gunzipSync(fs.readFileSync(tgz))
  const field = (header, from, length) => header.toString('utf8', from, from + length).replace(/\0[\s\S]*$/, '')
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512)
    if (header.every((b) => b === 0)) break
    const name = [field(header, 345, 155), field(header, 0, 100)].filter(Boolean).join('/')
    const size = parseInt(field(header, 124, 12).trim() || '0', 8)
    if (name === 'package/package.json') return JSON.parse(tar.toString('utf8', offset + 512, offset + 512 + size))
    offset += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`${tgz}: no package/package.json`)
}

/**
 * Starts the registry on 127.0.0.1 (a free port). Resolves to { url, packages, requested, close }.
 * @param {string[]} tarballs paths of `npm pack` outputs
 * @param {{ upstream?: string, onRequest?: (line: string) => void }} [options]
 */
function startRegistry(tarballs, options = {}) {
  const packuments = new Map()
  const files = new Map()
  for (const tgz of tarballs) {
    const manifest = readManifest(tgz)
    const data = fs.readFileSync(tgz)
    const file = path.basename(tgz)
    files.set(`/${manifest.name}/-/${file}`, data)
    const doc = packuments.get(manifest.name) || { name: manifest.name, 'dist-tags': {}, versions: {} }
    doc.versions[manifest.version] = {
      ...manifest,
      _id: `${manifest.name}@${manifest.version}`,
      dist: {
        tarball: `/${manifest.name}/-/${file}`, // made absolute per request below
        shasum: crypto.createHash('sha1').update(data).digest('hex'),
        integrity: 'sha512-' + crypto.createHash('sha512').update(data).digest('base64'),
      },
    }
    doc['dist-tags'].latest = manifest.version
    packuments.set(manifest.name, doc)
  }
  const requested = []
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url.split('?')[0])
    requested.push(`${req.method} ${url}`)
    if (options.onRequest) options.onRequest(`${req.method} ${url}`)
    if (req.method === 'GET' && files.has(url)) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      return res.end(files.get(url))
    }
    const doc = req.method === 'GET' && packuments.get(url.slice(1))
    if (doc) {
      const base = `http://${req.headers.host}`
      const versions = {}
      for (const [v, m] of Object.entries(doc.versions)) versions[v] = { ...m, dist: { ...m.dist, tarball: base + m.dist.tarball } }
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ ...doc, versions }))
    }
    // A packument (/name, /@scope/name) or a tarball (/name/-/file.tgz) of someone else's package;
    // npm asks this registry for tarballs too, since it rewrites registry.npmjs.org URLs to it.
    const name = url.slice(1)
    const foreign = /^((@[^/]+\/)?[^/@]+)(\/-\/[^/]+\.tgz)?$/.exec(name)
    if (options.upstream && req.method === 'GET' && foreign && !foreign[1].startsWith('alipayhk-pay')) {
      const upstream = options.upstream.replace(/\/?$/, '/') + (foreign[3] ? name : name.replace('/', '%2f'))
      return fetch(upstream, { headers: { accept: req.headers.accept || 'application/json' } }).then(
        async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') || 'application/json' })
          res.end(Buffer.from(await r.arrayBuffer()))
        },
        (err) => {
          res.writeHead(502, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: String(err) }))
        },
      )
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'not found' }))
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}/`,
        packages: [...packuments.keys()],
        requested,
        close: () => new Promise((done) => server.close(done)),
      })
    })
  })
}

/**
 * The same registry in a child process, for callers that then block on `npm install` with
 * spawnSync/execFileSync (an in-process server could not answer while they wait).
 * Resolves to { url, requested(), close() }.
 */
function spawnRegistry(tarballs, options = {}) {
  const { spawn } = require('node:child_process')
  const os = require('node:os')
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'alipayhk-pay-registry-')), 'requests.log')
  const args = [__filename, '--log', log, ...(options.upstream ? ['--upstream', options.upstream] : []), ...tarballs]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`registry exited (${code}) before listening`)))
    child.stdout.on('data', (chunk) => {
      out += chunk
      const line = out.split('\n')[0]
      if (!out.includes('\n')) return
      child.stdout.removeAllListeners('data')
      child.stdout.resume()
      child.removeAllListeners('exit')
      const { url, packages } = JSON.parse(line)
      resolve({
        url,
        packages,
        requested: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
        close: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done()
            child.once('exit', () => {
              fs.rmSync(path.dirname(log), { recursive: true, force: true })
              done()
            })
            child.kill()
          }),
      })
    })
  })
}

module.exports = { startRegistry, spawnRegistry, readManifest }

// node scripts/release-registry.js [--log FILE] [--upstream URL] dist/packages/*.tgz
// Serves until killed; the first line on stdout is {"url": ..., "packages": [...]}.
if (require.main === module) {
  const argv = process.argv.slice(2)
  const take = (flag) => {
    const i = argv.indexOf(flag)
    return i === -1 ? undefined : argv.splice(i, 2)[1]
  }
  const log = take('--log')
  const upstream = take('--upstream')
  const onRequest = log && ((line) => fs.appendFileSync(log, line + '\n'))
  startRegistry(argv, { upstream, onRequest }).then((r) => {
    process.stdout.write(JSON.stringify({ url: r.url, packages: r.packages }) + '\n')
    if (!log) console.error(`npm install alipayhk-pay --registry ${r.url}`)
  })
}
