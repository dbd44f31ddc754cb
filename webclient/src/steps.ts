// Long work in slices: a big board's snapshot is loaded into the CRDT, its
// elements read out of it (crdt.SnapshotLoader, the wasm's
// loadSnapshotStep and elementsPage), and its spatial index built
// (Board.indexInSlices), in the page's idle time: the page draws (the
// far-view summary, panned and zoomed) and takes input meanwhile instead
// of freezing for seconds.
//
// Idle time (requestIdleCallback) rather than a yield after every slice of
// fixed length: a yielding loop ran at about half speed in Chromium (the
// browser drew a frame at every yield), and a continuation scheduled by
// scheduler.yield outranked the frames themselves (a 2 s freeze while the
// index was built). An idle period is what is left of a frame, up to 50 ms
// when nothing is drawn; the work fills it in small steps (STEP_MS, each
// step's budget following the time the last one took).
import type { CrdtDoc, ElementJSON } from './crdtdoc';

/** What one step aims at, ms: small enough to stay inside an idle period. */
export const STEP_MS = 4;

/** The least time given to a slice when the page is never idle (every frame full): the work still goes on. */
const MIN_SLICE_MS = 8;

/** A snapshot body smaller than this loads in one call (a small board: a few ms, no yield). */
export const STEPPED_BYTES = 512 << 10;

/** STEPPED_BYTES, or the page's globalThis.corkboardSteppedBytes (the browser tests load small boards in slices). */
export function steppedBytes(): number {
  const t = (globalThis as { corkboardSteppedBytes?: unknown }).corkboardSteppedBytes;
  return typeof t === 'number' && t >= 0 ? t : STEPPED_BYTES;
}

/** Elements read out of the doc in the first page (later pages adapt); a board with fewer is read in one call. */
export const FIRST_PAGE = 2000;

type IdleWindow = { requestIdleCallback?: (f: (d: { timeRemaining(): number }) => void, o?: { timeout: number }) => number };

/**
 * Waits for the page's next idle period (at most 100 ms: then a slice of
 * MIN_SLICE_MS anyway); resolves with the time until which work may go on
 * (performance.now()). Without idle callbacks (Node: the SDK), the next
 * turn of the event loop and MIN_SLICE_MS.
 */
export function idleSlice(): Promise<number> {
  const ric = (globalThis as IdleWindow).requestIdleCallback;
  if (typeof ric === 'function') return new Promise((r) => ric((d) => r(performance.now() + Math.max(d.timeRemaining(), MIN_SLICE_MS)), { timeout: 100 }));
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  const next = typeof immediate === 'function' ? new Promise<void>((r) => immediate(r)) : new Promise<void>((r) => setTimeout(r, 0));
  return next.then(() => performance.now() + MIN_SLICE_MS);
}

/** The next budget: scaled to aim at STEP_MS, within [lo, hi] and at most 4× either way. */
function adapt(budget: number, ms: number, lo: number, hi: number): number {
  const next = ms > 0.25 ? (budget * STEP_MS) / ms : budget * 4;
  return Math.round(Math.min(hi, Math.max(lo, next, budget / 4), budget * 4));
}

/**
 * Replaces the doc's state with a snapshot, in idle time. The doc is
 * untouched until the last step; throws what loadSnapshot would.
 */
export async function loadSnapshotInSlices(doc: CrdtDoc, snap: Uint8Array): Promise<void> {
  let budget = 64 << 10;
  let first: Uint8Array | undefined = snap;
  for (;;) {
    const until = await idleSlice();
    do {
      const t = performance.now();
      const done = doc.loadSnapshotStep(first, budget);
      first = undefined;
      if (done) return;
      budget = adapt(budget, performance.now() - t, 8 << 10, 16 << 20);
    } while (performance.now() + STEP_MS <= until);
  }
}

/**
 * Every element of the doc (deleted ones included), read a page at a
 * time in idle time after the first, full page (doc.elementsPage(0,
 * FIRST_PAGE), of `from` elements), each page given to take before the
 * next is read. stale() is asked after each wait: true gives up (the doc
 * was loaded again meanwhile) and resolves to false.
 */
export async function elementsInSlices(doc: CrdtDoc, from: number, take: (page: ElementJSON[]) => void, stale: () => boolean): Promise<boolean> {
  let n = 500;
  for (let at = from; ; ) {
    const until = await idleSlice();
    if (stale()) return false;
    do {
      const t = performance.now();
      const page = doc.elementsPage(at, n);
      take(page);
      at += page.length;
      if (page.length < n) return true;
      n = adapt(n, performance.now() - t, 50, 50000);
    } while (performance.now() + STEP_MS <= until);
  }
}
