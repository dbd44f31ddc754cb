// Helpers of the browser tests: a Corkboard node of our own (a temp data
// dir, a free loopback port) and Debian's Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.CORKBOARD_BIN;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a node; stop() ends it (SIGTERM, a graceful shutdown) and removes its data, unless
 * opts.dir names the directory to use (its data is then kept: the benchmark's BENCH_DATA_DIR).
 * opts.logLevel: the node's --log-level (default warn; "info" logs e-mails, which a node
 * without an SMTP relay writes to its log); opts.publicURL: links in e-mails point at this
 * node's address (127.0.0.1, so that cookies set through them are the page's); opts.args:
 * more flags (an SMTP relay, a notification interval).
 */
export async function startNode(opts = {}) {
  if (!BIN) throw new Error('CORKBOARD_BIN is not set: run the tests through webclient/test/run.sh');
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'corkboard-webtest-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc = null;
  let log = '';
  const node = {
    url,
    dir,
    async start() {
      proc = spawn(BIN, ['--addr', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--log-level', opts.logLevel ?? 'warn', ...(opts.publicURL ? ['--public-url', url] : []), '--shutdown-timeout', '5s', '--boards-per-hour', '-1', ...(opts.args ?? [])], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      proc.stderr.on('data', (d) => (log += d));
      for (let i = 0; i < 100; i++) {
        try {
          const r = await fetch(url + '/readyz');
          if (r.ok) return;
        } catch {
          /* not yet */
        }
        if (proc.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('node did not become ready:\n' + log);
    },
    /** Stops the node gracefully and waits for it to exit. */
    async halt() {
      if (!proc || proc.exitCode !== null) return;
      const p = proc;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
      if (p.exitCode === null) p.kill('SIGKILL');
    },
    async stop() {
      await node.halt();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
    log: () => log,
  };
  await node.start();
  return node;
}

/**
 * A headless Chromium (playwright gives each launch a fresh temporary
 * profile); contexts from newPage are isolated from each other.
 */
export async function launch() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  return {
    browser,
    async newPage(opts = {}) {
      const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, ...opts });
      context.on('page', pollWithEvaluate);
      const page = await context.newPage();
      pollWithEvaluate(page);
      page.on('pageerror', (e) => console.log('[pageerror]', e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') console.log('[console]', m.text());
      });
      return { context, page };
    },
    async close() {
      await browser.close();
    },
  };
}

/**
 * Makes page.waitForFunction poll with page.evaluate. The node's pages
 * have a CSP without 'unsafe-eval', and Playwright's waitForFunction
 * compiles its predicate inside the page (refused by that CSP), while
 * evaluate goes through the DevTools protocol, which no CSP governs. So
 * the tests run against the pages' real CSP (rather than bypassCSP): a
 * client change that the CSP would break fails them.
 */
function pollWithEvaluate(page) {
  if (page.__polls) return;
  page.__polls = true;
  page.waitForFunction = async (fn, arg, opts = {}) => {
    const deadline = Date.now() + (opts?.timeout || 30000);
    for (;;) {
      try {
        const v = await page.evaluate(fn, arg);
        if (v) return v;
      } catch (e) {
        // A navigation between two polls: try again in the new page.
        if (!/context was destroyed|navigat|Target closed/i.test(e.message) || page.isClosed()) throw e;
      }
      if (Date.now() > deadline) throw new Error(`waitForFunction: timeout ${opts?.timeout || 30000}ms exceeded waiting for ${String(fn).slice(0, 200)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
}

/**
 * Creates a board through the home page and returns its id and the owner
 * token (which the page keeps in its storage, never in its address).
 */
export async function createBoard(page, base, name = 'Test board', owner = 'Ada') {
  await page.goto(base + '/');
  await page.fill('input[name=name]', name);
  await page.fill('input[name=owner]', owner);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/b\/[0-9a-f-]{36}/);
  await waitLive(page);
  const id = /\/b\/([0-9a-f-]{36})/.exec(page.url())[1];
  return { id, token: await storedToken(page, id) };
}

/** The board token the page's browser keeps for a board (its record in IndexedDB). */
export function storedToken(page, id) {
  return page.evaluate(
    (id) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('corkboard');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('boards').objectStore('boards').get(id);
          get.onsuccess = () => resolve(get.result?.token ?? null);
          get.onerror = () => reject(get.error);
        };
      }),
    id,
  );
}

/** The client's own summary (window.__corkboard.state()). */
export function state(page) {
  return page.evaluate(() => window.__corkboard.state());
}

export async function waitLive(page, timeout = 15000) {
  await page.waitForFunction(() => window.__corkboard?.state().state === 'live', null, { timeout });
}

/** Waits until the page is live with nothing unacked. */
export async function waitSettled(page, timeout = 15000) {
  await page.waitForFunction(
    () => {
      const s = window.__corkboard?.state();
      return s && s.state === 'live' && s.unacked === 0;
    },
    null,
    { timeout },
  );
}

/** Waits until fn(state) holds on the page; fn is serialised, so it must be self-contained. */
export async function waitState(page, fn, arg, timeout = 15000) {
  await page.waitForFunction(
    ([src, a]) => {
      const s = window.__corkboard?.state();
      return s && new Function('s', 'a', `return (${src})(s, a)`)(s, a);
    },
    [fn.toString(), arg],
    { timeout },
  );
  return state(page);
}

/** The screen point (page pixels) of a board point. */
export function toScreen(page, x, y) {
  return page.evaluate(([x, y]) => window.__corkboard.toScreen(x, y), [x, y]);
}

/** Drags with the mouse from one page point to another, in steps. */
export async function drag(page, from, to, steps = 8) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps });
  await page.mouse.up();
}

/** Double-clicks an element's centre and waits for its editor. */
export async function editElement(page, el) {
  const c = await toScreen(page, el.x + el.w / 2, el.y + el.h / 2);
  await page.mouse.dblclick(c.x, c.y);
  await page.waitForSelector('textarea.editor:not([hidden])');
}

/** Waits until key(state) is the same on every page, and returns it. */
export async function converged(pages, key, timeout = 15000) {
  const end = Date.now() + timeout;
  let seen = [];
  while (Date.now() < end) {
    seen = await Promise.all(pages.map(async (p) => key(await state(p))));
    if (seen.every((k) => k === seen[0])) return seen[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no convergence: ' + JSON.stringify(seen));
}

/** The page point at the centre of an element. */
export function centre(page, el) {
  return toScreen(page, el.x + el.w / 2, el.y + el.h / 2);
}

/** A note made by double-clicking the canvas at a page point, with text. */
export async function noteAt(page, x, y, text) {
  await page.mouse.dblclick(x, y);
  await page.keyboard.type(text);
  await page.keyboard.press('Escape');
  return (await waitState(page, (s, t) => s.elements.some((e) => e.text === t), text)).elements.find((e) => e.text === text);
}

/**
 * Makes n notes on the page's board, in changes of 100: a grid 100 wide,
 * 300 units apart, 200 wide, yellow and pink in turn, each with the text
 * "note <i>" (or, random, a fresh UUID: text that hardly compresses).
 * Returns their ids in order.
 */
export function seedGrid(page, n, random = false) {
  return page.evaluate(
    ([n, random]) => {
      const app = window.__corkboard.app;
      const out = [];
      for (let c = 0; c < n / 100; c++) {
        const ops = [];
        for (let k = 0; k < 100; k++) {
          const i = c * 100 + k;
          const id = crypto.randomUUID();
          out.push(id);
          ops.push({ op: 'create', el: id, kind: 'note' });
          for (const [key, value] of [['x', (i % 100) * 300], ['y', Math.floor(i / 100) * 300], ['w', 200], ['h', 200], ['color', i % 2 ? 'pink' : 'yellow'], ['z', 'a0' + String(i).padStart(5, '0') + 'V']]) ops.push({ op: 'set', el: id, key, value });
          ops.push({ op: 'insertText', el: id, field: 'text', pos: 0, text: random ? crypto.randomUUID() : 'note ' + i });
        }
        if (!app.edit(ops)) throw new Error('edit refused');
      }
      return out;
    },
    [n, random],
  );
}

/** Waits until the service worker controls the page: the offline shell, for a reload offline. */
export async function offlineShell(page) {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
  });
}
