// yload: the load generator of bench/cmd/load for the Yjs servers
// (Hocuspocus and y-websocket), with the same workload and the same RESULT
// line, so that `make benchpeers` can print both sides (bench/README.md,
// "Peers").
//
//   node yload.mjs --proto hocuspocus|y-websocket --url ws://127.0.0.1:18282 \
//     --pid SERVER_PID --clients 1000 --boards 200 --rate 1000 --duration 20 --warmup 5
//
// The workload, as bench/cmd/load's: client i joins board i mod boards (one
// Y.Doc per board, one WebSocket and one full Y.Doc replica per client, every
// received update applied as a browser would); each board is seeded by its
// first member with `elements` notes that every member has before the load
// starts; ops at a fixed total rate, each to a random client, each its own
// change (one transaction, one update message): set x or y of a note (70),
// insert 3 letters into a note's Y.Text (20), create a note (5), move a note
// (its sibling position, a map key: Yjs has no tree) (3), vote (2). The
// end-to-end latency runs from the send on one client to the update applied
// on another client of the board: the receiver finds the sender and the
// change's first clock from the transaction's before/after state vectors
// (client ids are the clients' indices + 1) and looks the send time up in
// the sender's ring, kept in shared memory. The ack latency is Hocuspocus's
// SyncStatus answer to each update (y-websocket has no ack: its ack fields
// are -1 and expected deliveries are counted at the send). The server's CPU
// comes from /proc/<pid>/stat over the window.
//
// Clients are spread over worker threads (--workers, default 2): one
// JavaScript thread cannot apply every update of 1,000 replicas.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const RING = 256
const HIST_BUCKETS = 1_000_000 // 10 µs each: 10 s
const C = { sent: 0, expected: 1, deliveries: 2, untracked: 3, acked: 4, errors: 5, localFails: 6 }

function parseArgs (argv) {
  const o = {
    proto: 'hocuspocus', url: 'ws://127.0.0.1:18282', pid: 0, clients: 50, boards: 5, rate: 100,
    duration: 30, warmup: 5, elements: 20, workers: 2, seed: 1, drain: 5, mix: 'set=70,text=20,create=5,move=3,vote=2', dialers: 16, apply: 'all'
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`)
    const [k, inline] = a.slice(2).split('=', 2)
    const v = inline ?? argv[++i]
    if (!(k in o)) throw new Error(`unknown flag --${k}`)
    o[k] = typeof o[k] === 'number' ? Number(String(v).replace(/s$/, '')) : v
  }
  if (!/^wss?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(o.url + '/')) throw new Error('loopback URLs only')
  if (o.proto !== 'hocuspocus' && o.proto !== 'y-websocket') throw new Error('--proto hocuspocus or y-websocket')
  if (o.apply !== 'all' && o.apply !== 'none') throw new Error('--apply all or none')
  if (!(o.clients >= 1 && o.boards >= 1 && o.boards <= o.clients && o.rate > 0 && o.duration > 0)) throw new Error('want 1 <= boards <= clients, rate > 0, duration > 0')
  o.workers = Math.max(1, Math.min(o.workers, o.clients))
  return o
}

// ---- main thread ----

function procCPU (pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100 // utime + stime, USER_HZ
  } catch { return NaN }
}
function procRSSMB (pid) {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : -1
  } catch { return -1 }
}
function machineBusy () {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100
}
const loadavg1 = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]

function quantileMs (h, total, q) {
  if (total === 0) return 0
  const want = Math.ceil(total * q)
  let n = 0
  for (let i = 0; i < h.length; i++) {
    n += h[i]
    if (n >= want) return (i + 1) * 0.01
  }
  return h.length * 0.01
}

async function main () {
  const cfg = parseArgs(process.argv.slice(2))
  const shared = {
    ring: new SharedArrayBuffer(cfg.clients * RING * 2 * 8),
    counters: new SharedArrayBuffer(16 * 8),
    base: process.hrtime.bigint()
  }
  const counters = new BigInt64Array(shared.counters)
  const workers = []
  const waitAll = (type) => Promise.all(workers.map(w => new Promise((resolve, reject) => {
    const on = (m) => {
      if (m.type === 'error') { w.off('message', on); reject(new Error(m.message)) }
      if (m.type === type) { w.off('message', on); resolve(m) }
    }
    w.on('message', on)
  })))
  const t = Date.now()
  for (let w = 0; w < cfg.workers; w++) {
    const wk = new Worker(fileURLToPath(import.meta.url), { workerData: { cfg, shared, w } })
    wk.on('error', (e) => { console.error('yload: worker', w, e); process.exit(1) })
    workers.push(wk)
  }
  await waitAll('connected')
  console.error(`yload: ${cfg.clients} clients connected to ${cfg.proto} in ${Date.now() - t} ms`)
  workers.forEach(w => w.postMessage({ type: 'seed' }))
  await waitAll('seeded')
  console.error(`yload: boards seeded with ${cfg.elements} notes each`)

  const nowNs = () => Number(process.hrtime.bigint() - shared.base)
  const t0 = nowNs() + 200e6
  const windowStart = t0 + cfg.warmup * 1e9
  const windowEnd = windowStart + cfg.duration * 1e9
  workers.forEach(w => w.postMessage({ type: 'start', t0, windowStart, windowEnd }))
  const doneP = waitAll('done')
  await new Promise(resolve => setTimeout(resolve, (windowStart - nowNs()) / 1e6))
  const cpu0 = procCPU(cfg.pid); const own0 = process.cpuUsage(); const busy0 = machineBusy()
  await new Promise(resolve => setTimeout(resolve, (windowEnd - nowNs()) / 1e6))
  const cpu1 = procCPU(cfg.pid); const own1 = process.cpuUsage(); const busy1 = machineBusy()
  const la = loadavg1()
  await doneP
  // The last deliveries: wait until the count is stable.
  const deadline = Date.now() + cfg.drain * 1000
  for (let last = -1n; Date.now() < deadline;) {
    const n = Atomics.load(counters, C.deliveries)
    if (n === last) break
    last = n
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  workers.forEach(w => w.postMessage({ type: 'report' }))
  const reports = await waitAll('report')
  const e2e = new Uint32Array(HIST_BUCKETS); const ack = new Uint32Array(HIST_BUCKETS)
  let e2eMax = 0; let ackMax = 0; let e2eN = 0; let ackN = 0; let disconnects = 0
  for (const r of reports) {
    const a = new Uint32Array(r.e2e); const b = new Uint32Array(r.ack)
    for (let i = 0; i < HIST_BUCKETS; i++) { e2e[i] += a[i]; ack[i] += b[i]; e2eN += a[i]; ackN += b[i] }
    e2eMax = Math.max(e2eMax, r.e2eMax); ackMax = Math.max(ackMax, r.ackMax); disconnects += r.disconnects
  }
  workers.forEach(w => w.terminate())
  const secs = cfg.duration
  const get = (k) => Number(Atomics.load(counters, C[k]))
  const sent = get('sent'); const acked = cfg.proto === 'hocuspocus' ? get('acked') : -1
  const deliveries = get('deliveries'); const expected = get('expected')
  const nodeCPU = (cpu1 - cpu0) / secs
  const f2 = (v) => v.toFixed(2); const f1 = (v) => v.toFixed(1)
  const changes = cfg.proto === 'hocuspocus' ? acked : sent
  const ackQ = (q) => cfg.proto === 'hocuspocus' ? f2(quantileMs(ack, ackN, q)) : '-1'
  const ownCPU = ((own1.user + own1.system) - (own0.user + own0.system)) / 1e6 / secs
  console.error(`yload: errors: ${get('errors')} disconnects=${disconnects} untracked_deliveries=${get('untracked')} local_op_failures=${get('localFails')}; server peak RSS ${f1(procRSSMB(cfg.pid))} MiB`)
  console.log(`RESULT tool=yload server=${cfg.proto} apply=${cfg.apply} clients=${cfg.clients} boards=${cfg.boards} rate=${f1(cfg.rate)} duration_s=${f1(secs)} ops_sent=${sent} ops_acked=${acked} acked_per_s=${acked < 0 ? '-1' : f1(acked / secs)} deliveries_per_s=${f1(deliveries / secs)} ack_p50_ms=${ackQ(0.5)} ack_p99_ms=${ackQ(0.99)} ack_p999_ms=${ackQ(0.999)} e2e_p50_ms=${f2(quantileMs(e2e, e2eN, 0.5))} e2e_p99_ms=${f2(quantileMs(e2e, e2eN, 0.99))} e2e_p999_ms=${f2(quantileMs(e2e, e2eN, 0.999))} errors=${get('errors') + disconnects} deliveries=${deliveries} expected_deliveries=${expected} missing_deliveries=${Math.max(0, expected - deliveries)} delivery_ratio=${(expected ? deliveries / expected : 0).toFixed(4)} ack_max_ms=${cfg.proto === 'hocuspocus' ? f2(ackMax) : '-1'} e2e_max_ms=${f2(e2eMax)} node_cpu_cores=${f2(nodeCPU)} node_cpu_ms_per_change=${(changes > 0 ? (cpu1 - cpu0) * 1000 / changes : -1).toFixed(3)} load_cpu_cores=${f2(ownCPU)} machine_busy_cores=${f2((busy1 - busy0) / secs)} loadavg1=${la}`)
  process.exit(0)
}

// ---- worker thread: a share of the clients ----

async function workerMain () {
  const Y = await import('yjs')
  const encoding = await import('lib0/encoding')
  const decoding = await import('lib0/decoding')
  const syncProtocol = await import('y-protocols/sync')
  const { default: WebSocket } = await import('ws')
  const { cfg, shared, w } = workerData
  const ring = new BigInt64Array(shared.ring)
  const counters = new BigInt64Array(shared.counters)
  const add = (k, n = 1) => Atomics.add(counters, C[k], BigInt(n))
  const nowNs = () => Number(process.hrtime.bigint() - shared.base)
  const e2e = new Uint32Array(HIST_BUCKETS); const ack = new Uint32Array(HIST_BUCKETS)
  let e2eMax = 0; let ackMax = 0; let disconnects = 0
  let windowStart = Infinity; let windowEnd = -Infinity
  const inWindow = (ns) => ns >= windowStart && ns < windowEnd
  const record = (h, ns) => {
    const ms = ns / 1e6
    h[Math.min(HIST_BUCKETS - 1, Math.floor(ns / 1e4))]++
    return ms
  }
  // A seeded PRNG (mulberry32) per worker.
  let rs = (cfg.seed * 0x9e3779b1 + w * 0x85ebca6b) >>> 0
  const rand = () => { rs = (rs + 0x6d2b79f5) >>> 0; let t = rs; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296 }
  const randInt = (n) => Math.floor(rand() * n)
  const mix = cfg.mix.split(',').map(p => { const [k, v] = p.split('='); return [k.trim(), Number(v)] }).filter(([, v]) => v > 0)
  const mixTotal = mix.reduce((s, [, v]) => s + v, 0)
  const pickKind = () => { let r = randInt(mixTotal); for (const [k, v] of mix) { if (r < v) return k; r -= v } return mix[0][0] }
  const letters = 'abcdefghijklmnopqrstuvwxyz'
  const moveKeys = Array.from({ length: 64 }, (_, i) => 'a' + i.toString(36).padStart(2, '0'))
  const members = (b) => Math.floor((cfg.clients - 1 - b) / cfg.boards) + 1
  const uuid = () => crypto.randomUUID()

  const hocus = cfg.proto === 'hocuspocus'
  const light = cfg.apply === 'none'
  const clients = []
  for (let i = w; i < cfg.clients; i += cfg.workers) {
    const b = i % cfg.boards
    clients.push({ idx: i, board: b, name: `load-${b}`, doc: null, ws: null, synced: null, acks: [], elems: [] })
  }

  // The message framing: Hocuspocus prefixes each message with the
  // document's name; y-websocket names the document in the URL.
  const header = (c, enc) => { if (hocus) encoding.writeVarString(enc, c.name) }

  // countChanges records the deliveries of the sender's changes that
  // start at clocks in [before, after): each is found in the sender's ring
  // (several when an update waited for another, or a server merged them).
  function countChanges (c, client, before, after, now) {
    const from = client - 1
    if (from < 0 || from >= cfg.clients || from === c.idx) return
    let found = 0
    for (let start = before; start < after && start < before + 4 * RING; start++) {
      const at = (from * RING + (start % RING)) * 2
      if (Number(Atomics.load(ring, at)) !== start) continue
      const sentNs = Number(Atomics.load(ring, at + 1))
      found++
      if (inWindow(sentNs)) {
        add('deliveries')
        const ms = record(e2e, now - sentNs)
        if (ms > e2eMax) e2eMax = ms
      }
    }
    if (found === 0 && inWindow(now)) add('untracked')
  }

  function connect (c) {
    return new Promise((resolve, reject) => {
      const doc = new Y.Doc()
      doc.clientID = c.idx + 1
      c.doc = doc
      const url = hocus ? cfg.url : `${cfg.url.replace(/\/$/, '')}/${c.name}`
      const ws = new WebSocket(url, { perMessageDeflate: false })
      ws.binaryType = 'nodebuffer'
      c.ws = ws
      let done = false
      const timer = setTimeout(() => { if (!done) reject(new Error(`client ${c.idx}: no sync within 60 s`)) }, 60000)
      const synced = () => { if (!done) { done = true; clearTimeout(timer); resolve() } }
      doc.on('update', (update, origin) => {
        if (origin === 'remote') return
        const enc = encoding.createEncoder()
        header(c, enc)
        encoding.writeVarUint(enc, 0)
        syncProtocol.writeUpdate(enc, update)
        if (ws.readyState === WebSocket.OPEN) ws.send(encoding.toUint8Array(enc))
      })
      doc.on('afterTransaction', (tr) => {
        if (tr.origin !== 'remote') return
        const now = nowNs()
        tr.afterState.forEach((clock, client) => {
          const before = tr.beforeState.get(client) || 0
          if (clock <= before) return
          countChanges(c, client, before, clock, now)
        })
      })
      ws.on('open', () => {
        if (hocus) {
          const a = encoding.createEncoder()
          header(c, a)
          encoding.writeVarUint(a, 2) // Auth
          encoding.writeVarUint(a, 0) // Token
          encoding.writeVarString(a, 'bench')
          ws.send(encoding.toUint8Array(a))
        }
        const enc = encoding.createEncoder()
        header(c, enc)
        encoding.writeVarUint(enc, 0)
        syncProtocol.writeSyncStep1(enc, doc)
        ws.send(encoding.toUint8Array(enc))
      })
      ws.on('message', (data) => {
        const dec = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        if (hocus) decoding.readVarString(dec)
        const type = decoding.readVarUint(dec)
        if (type === 0 && light && c.ready && decoding.peekVarUint(dec) === 2) {
          // --apply none: a live update is not applied; the changes it
          // carries (one or several: a server may merge them) are read
          // from its structs' ids (Y.parseUpdateMeta).
          decoding.readVarUint(dec)
          const meta = Y.parseUpdateMeta(decoding.readVarUint8Array(dec))
          const now = nowNs()
          meta.from.forEach((before, client) => countChanges(c, client, before, meta.to.get(client), now))
        } else if (type === 0 || (hocus && type === 4)) { // Sync, SyncReply
          const enc = encoding.createEncoder()
          header(c, enc)
          encoding.writeVarUint(enc, 0)
          const sub = syncProtocol.readSyncMessage(dec, enc, doc, 'remote')
          if (sub === 0) ws.send(encoding.toUint8Array(enc)) // answer the server's step 1
          if (sub === 1) synced()
        } else if (hocus && type === 8) { // SyncStatus: the server applied our update
          const p = c.acks.shift()
          if (p !== undefined && p.measured) {
            add('acked')
            add('expected', members(c.board) - 1)
            const ms = record(ack, nowNs() - p.sent)
            if (ms > ackMax) ackMax = ms
          }
        }
      })
      ws.on('error', (e) => { if (!done) { done = true; reject(e) } else add('errors') })
      ws.on('close', () => { if (done && !closing) disconnects++ })
    })
  }
  let closing = false

  async function parallel (n, items, fn) {
    let next = 0
    await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++])
    }))
  }

  function elementsOf (c) { return c.doc.getMap('elements') }
  function newNote (doc) {
    const m = new Y.Map()
    m.set('type', 'note')
    m.set('text', new Y.Text())
    m.set('votes', new Y.Map())
    return m
  }

  function sendOp (c) {
    const kind = pickKind()
    const els = elementsOf(c)
    const el = els.get(c.elems[randInt(c.elems.length)])
    const start = Y.getState(c.doc.store, c.doc.clientID)
    const sent = nowNs()
    const at = (c.idx * RING + (start % RING)) * 2
    Atomics.store(ring, at, -1n)
    Atomics.store(ring, at + 1, BigInt(Math.round(sent)))
    Atomics.store(ring, at, BigInt(start))
    const measured = inWindow(sent)
    try {
      c.doc.transact(() => {
        switch (kind) {
          case 'set': el.set(randInt(2) ? 'y' : 'x', randInt(100000) / 10); break
          case 'text': { const t = el.get('text'); t.insert(randInt(t.length + 1), letters[randInt(26)] + letters[randInt(26)] + letters[randInt(26)]); break }
          case 'create': els.set(uuid(), newNote()); break
          case 'move': el.set('pos', moveKeys[randInt(moveKeys.length)]); break
          default: el.get('votes').set(`u${c.idx}`, randInt(2))
        }
      }, 'local')
    } catch (e) {
      add('localFails')
      return
    }
    if (c.ws.readyState !== WebSocket.OPEN) { if (measured) add('errors'); return }
    if (measured) {
      add('sent')
      if (!hocus) add('expected', members(c.board) - 1)
    }
    if (hocus) c.acks.push({ sent, measured })
  }

  try {
    await parallel(cfg.dialers, clients, connect)
  } catch (e) {
    parentPort.postMessage({ type: 'error', message: String(e && e.message || e) })
    return
  }
  parentPort.postMessage({ type: 'connected' })

  parentPort.on('message', async (m) => {
    if (m.type === 'seed') {
      for (const c of clients) {
        if (c.idx !== c.board) continue // the board's first member
        const els = elementsOf(c)
        c.doc.transact(() => { for (let k = 0; k < cfg.elements; k++) els.set(uuid(), newNote()) }, 'local')
        if (hocus) c.acks.push({ sent: 0, measured: false })
      }
      const deadline = Date.now() + 60000
      while (clients.some(c => elementsOf(c).size < cfg.elements)) {
        if (Date.now() > deadline) { parentPort.postMessage({ type: 'error', message: 'seed: members did not get the notes within 60 s' }); return }
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      for (const c of clients) { c.elems = [...elementsOf(c).keys()].sort(); c.ready = true }
      parentPort.postMessage({ type: 'seeded' })
    } else if (m.type === 'start') {
      windowStart = m.windowStart; windowEnd = m.windowEnd
      // This worker's share of the schedule: ops k*workers + w of the
      // total rate, each to a random client of this worker.
      const interval = 1e9 / cfg.rate
      let k = 0
      const tick = () => {
        const now = nowNs()
        for (;;) {
          const at = m.t0 + (k * cfg.workers + w) * interval
          if (at >= windowEnd) { parentPort.postMessage({ type: 'done' }); return }
          if (at > now) break
          sendOp(clients[randInt(clients.length)])
          k++
        }
        const at = m.t0 + (k * cfg.workers + w) * interval
        setTimeout(tick, Math.max(0, (at - nowNs()) / 1e6 - 0.5))
      }
      setTimeout(tick, Math.max(0, (m.t0 - nowNs()) / 1e6))
    } else if (m.type === 'report') {
      closing = true
      parentPort.postMessage({ type: 'report', e2e: e2e.buffer, ack: ack.buffer, e2eMax, ackMax, disconnects }, [e2e.buffer, ack.buffer])
      for (const c of clients) c.ws.terminate()
    }
  })
}

if (isMainThread) {
  main().catch((e) => { console.error('yload:', e.message || e); process.exit(1) })
} else {
  workerMain().catch((e) => parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) }))
}
