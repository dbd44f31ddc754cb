// A WebSocket whose socket lives in a dedicated worker (socket.worker.ts):
// the page's first-visit connection (early.ts, opened by main.ts). A big
// board's snapshot (17.5 MB for 100,000 elements) reaches a page through
// the browser's WebSocket receive path, which hands it to the thread that
// owns the socket in chunks of ~128 KiB, a task each; on the page's
// thread those tasks wait behind its start (the wasm, IndexedDB, the far
// view's frame), and the snapshot came in 0.5-0.7 s after the node had
// written it. In the worker it is in while the page is still starting,
// and handed over whole (transferred, not copied).
//
// It implements the part of WebSocket that Sync uses (readyState, send,
// close, the four handlers), so Sync takes it over like any connection;
// every later connection of the page is an ordinary WebSocket.
//
// Rejected: all of Sync in a worker (every path of it reads the doc, which
// is the page's wasm), and the snapshot over HTTP (a second way to catch
// up, with its own token and version checks, for the same bytes).
export class WorkerSocket {
  readyState: number = 0; // CONNECTING
  binaryType: BinaryType = 'arraybuffer';
  readonly protocol: string;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  private worker: Worker;

  /**
   * Starts the worker (its script loads meanwhile) and returns what opens
   * the socket in it, once: hello is the first message, sent by the
   * worker as soon as the socket opens. Unused, it is discarded.
   */
  static prepare(): { open: (url: string, protocol: string, hello?: string) => WorkerSocket; discard: () => void } {
    const worker = new Worker(new URL('./socket.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (ev) => ev.data?.ready && markAt('corkboard:socket-worker', ev.data.at);
    return { open: (url, protocol, hello) => new WorkerSocket(worker, url, protocol, hello), discard: () => worker.terminate() };
  }

  private constructor(worker: Worker, url: string, protocol: string, hello?: string) {
    this.protocol = protocol;
    this.worker = worker;
    this.worker.onmessage = (ev) => this.event(ev.data);
    this.worker.onerror = () => this.event({ error: true, close: [1006, ''] });
    this.worker.postMessage({ open: url, protocol, hello });
    performance.mark('corkboard:socket-asked');
  }

  private event(m: { ready?: boolean; open?: boolean; data?: string | ArrayBuffer; close?: [number, string]; error?: boolean; at?: number }): void {
    if (this.readyState === 3) return;
    if (m.ready) markAt('corkboard:socket-worker', m.at);
    if (m.open) {
      this.readyState = 1;
      markAt('corkboard:socket-open', m.at);
      this.onopen?.(new Event('open'));
    }
    if (m.data !== undefined) {
      if (m.data instanceof ArrayBuffer && !this.snapshotSeen && m.data.byteLength && new Uint8Array(m.data, 0, 1)[0] === 0x03) {
        this.snapshotSeen = true;
        markAt('corkboard:socket-snapshot', m.at);
      }
      this.onmessage?.(new MessageEvent('message', { data: m.data }));
    }
    if (m.error) this.onerror?.(new Event('error'));
    if (m.close) {
      this.readyState = 3;
      this.worker.terminate();
      this.onclose?.(new CloseEvent('close', { code: m.close[0], reason: m.close[1], wasClean: m.close[0] !== 1006 }));
    }
  }

  private snapshotSeen = false;

  send(data: string | ArrayBufferView | ArrayBuffer): void {
    if (this.readyState !== 1) throw new DOMException('not open', 'InvalidStateError');
    this.worker.postMessage({ send: data });
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.worker.postMessage({ close: code === undefined ? [] : [code, reason ?? ''] });
  }
}

/** Marks when the worker saw it (bench/web's traces: how long it waited for this thread). */
function markAt(name: string, at?: number): void {
  if (at === undefined) return;
  try {
    performance.mark(name, { startTime: Math.max(0, at - performance.timeOrigin) });
  } catch {
    /* no marks with a start time here */
  }
}
