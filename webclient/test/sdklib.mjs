// Helpers of the SDK's tests (sdk*.test.mjs): the SDK as built into
// webclient/sdk/dist (test/run.sh builds it), boards made through the REST
// API, a TCP proxy whose cable can be pulled, and waiting for a condition.
import { createServer, connect as tcpConnect } from 'node:net';

export const sdk = await import('../sdk/dist/index.js').catch((e) => {
  throw new Error('the SDK is not built (node webclient/sdk/build.mjs; test/run.sh does it): ' + e.message);
});

/** A new board on the node: its id, the owner's token, and the editor and viewer links' tokens. */
export async function newBoard(url, name = 'SDK test') {
  const r = await fetch(url + '/v1/boards', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, ownerName: 'Owner' }) });
  if (r.status !== 201) throw new Error(`POST /v1/boards: ${r.status} ${await r.text()}`);
  const j = await r.json();
  const link = (role) => decodeURIComponent(new URL(j.links[role]).hash.replace(/^#token=/, ''));
  return { id: j.board.id, token: j.token, editor: link('editor'), viewer: link('viewer') };
}

/** Waits until fn() is truthy (polled every 20 ms), and returns it; fails with what() after timeout ms. */
export async function waitFor(fn, what = () => '', timeout = 15000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out: ' + (typeof what === 'function' ? what() : what));
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A loopback TCP proxy to a node: cut() closes every connection through it
 * and refuses new ones (the network is gone), restore() lets them through
 * again. url is the node's address through the proxy.
 */
export async function proxy(target) {
  const { hostname, port } = new URL(target);
  const socks = new Set();
  let down = false;
  const srv = createServer((c) => {
    if (down) {
      c.destroy();
      return;
    }
    const u = tcpConnect(Number(port), hostname);
    socks.add(c);
    socks.add(u);
    const end = () => {
      c.destroy();
      u.destroy();
      socks.delete(c);
      socks.delete(u);
    };
    for (const s of [c, u]) {
      s.on('error', end);
      s.on('close', end);
    }
    c.pipe(u);
    u.pipe(c);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    cut() {
      down = true;
      for (const s of socks) s.destroy();
    },
    restore() {
      down = false;
    },
    close() {
      for (const s of socks) s.destroy();
      return new Promise((r) => srv.close(r));
    },
  };
}

/** A board's elements (deleted ones included) as comparable text, keys sorted (the doc's JSON has props in any order): what two replicas must agree on. */
export function docState(b) {
  const canon = (v) => (Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v);
  return JSON.stringify(canon(b.doc.elements().sort((x, y) => (x.id < y.id ? -1 : 1))));
}
