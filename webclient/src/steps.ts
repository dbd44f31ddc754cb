// Long work in slices: a big board's snapshot is loaded into the CRDT, and
// its elements read out of it, a slice at a time (crdt.SnapshotLoader,
// the wasm's loadSnapshotStep and elementsPage), with a yield to the page
// between slices, so that it draws (the far-view summary, panned and
// zoomed) and takes input meanwhile instead of freezing for seconds. Each
// slice aims at SLICE_MS: its budget follows the time the last one took.
import type { CrdtDoc, ElementJSON } from './crdtdoc';

/** The time a slice aims at, ms: about a frame (60 fps); each yield may draw one, so shorter slices make the load longer. */
export const SLICE_MS = 16;

/** A snapshot body smaller than this loads in one call (a small board: a few ms, no yield). */
export const STEPPED_BYTES = 512 << 10;

/** STEPPED_BYTES, or the page's globalThis.corkboardSteppedBytes (the browser tests load small boards in slices). */
export function steppedBytes(): number {
  const t = (globalThis as { corkboardSteppedBytes?: unknown }).corkboardSteppedBytes;
  return typeof t === 'number' && t >= 0 ? t : STEPPED_BYTES;
}

/** Elements read out of the doc in the first page (later pages adapt); a board with fewer is read in one call. */
export const FIRST_PAGE = 2000;

/** Gives the page (or Node's event loop) a turn: rendering and input, no 4 ms timer clamp. */
export function yieldToPage(): Promise<void> {
  const s = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof s?.yield === 'function') return s.yield();
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate; // Node (the SDK)
  if (typeof immediate === 'function') return new Promise((r) => immediate(r));
  return new Promise((r) => {
    const c = new MessageChannel();
    c.port1.onmessage = () => {
      c.port1.close();
      r();
    };
    c.port2.postMessage(0);
  });
}

/** The next budget: scaled to aim at SLICE_MS, within [lo, hi]. */
function adapt(budget: number, ms: number, lo: number, hi: number): number {
  const next = ms > 0.5 ? (budget * SLICE_MS) / ms : budget * 2;
  return Math.round(Math.min(hi, Math.max(lo, next, budget / 4), budget * 4));
}

/**
 * Replaces the doc's state with a snapshot, in slices. The doc is
 * untouched until the last one; throws what loadSnapshot would.
 */
export async function loadSnapshotInSlices(doc: CrdtDoc, snap: Uint8Array): Promise<void> {
  let budget = 256 << 10;
  let first: Uint8Array | undefined = snap;
  for (;;) {
    const t = performance.now();
    const done = doc.loadSnapshotStep(first, budget);
    first = undefined;
    if (done) return;
    budget = adapt(budget, performance.now() - t, 16 << 10, 64 << 20);
    await yieldToPage();
  }
}

/**
 * Every element of the doc (deleted ones included), read a page at a
 * time after the first, full page (doc.elementsPage(0, FIRST_PAGE), of
 * `from` elements), each page given to take before the next is read.
 * stale() is asked after each yield: true gives up (the doc was loaded
 * again meanwhile) and resolves to false.
 */
export async function elementsInSlices(doc: CrdtDoc, from: number, take: (page: ElementJSON[]) => void, stale: () => boolean): Promise<boolean> {
  let n = FIRST_PAGE;
  for (let at = from; ; ) {
    await yieldToPage();
    if (stale()) return false;
    const t = performance.now();
    const page = doc.elementsPage(at, n);
    take(page);
    at += page.length;
    if (page.length < n) return true;
    n = adapt(n, performance.now() - t, 200, 100000);
  }
}
