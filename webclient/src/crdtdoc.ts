// The board CRDT's typed wrapper: package crdt compiled to WebAssembly
// (webclient/wasm), started from a module however it was obtained. The
// browser page (crdt.ts, through Vite's asset URL) and the SDK
// (sdk/src/wasm.ts: a file in Node, a URL next to the bundle in a browser)
// differ only in how they get the module's bytes; both run the very same
// code as the nodes, and nothing here re-implements it.
import './gen/wasm_exec.js';

/** The JSON view of one element (crdt.ElementJSON). */
export interface ElementJSON {
  id: string;
  kind: string;
  deleted?: boolean;
  parent?: string;
  pos?: string;
  props?: Record<string, unknown>;
  text?: Record<string, string>;
  votes?: Record<string, Record<string, unknown>>;
}

/** One local edit. Text positions and counts are in Unicode code points. */
export type LocalOp =
  | { op: 'create'; el: string; kind: string }
  | { op: 'set'; el: string; key: string; value: unknown }
  | { op: 'delete'; el: string }
  | { op: 'restore'; el: string }
  | { op: 'insertText'; el: string; field: string; pos: number; text: string }
  | { op: 'deleteText'; el: string; field: string; pos: number; count: number }
  | { op: 'move'; el: string; parent?: string; posKey: string }
  | { op: 'vote'; el: string; key: string; voter: string; value: unknown };

/** A committed local change: its binary form (for the outbox), its first counter, the elements it touched. */
export interface Committed {
  change: Uint8Array;
  start: number;
  ids: string[];
  /** An op failed: the ops before it are applied and in `change`. */
  error?: string;
}

/** What applying remote changes did. */
export interface Applied {
  ids: string[];
  applied: number;
  held: number;
}

export type VersionVector = Record<string, number>;

interface Handle {
  setReplica(hex: string): unknown;
  edit(ops: string, nowMs: number, undoable?: boolean): unknown;
  undo(nowMs: number): unknown;
  redo(nowMs: number): unknown;
  canUndo(): boolean;
  canRedo(): boolean;
  applyBatch(b: Uint8Array): unknown;
  applyChange(b: Uint8Array): unknown;
  loadSnapshot(b: Uint8Array): unknown;
  loadSnapshotStep(b: Uint8Array | undefined, budget: number): unknown;
  elementsPage(start: number, n: number): unknown;
  reset(): unknown;
  snapshot(raw?: boolean): unknown;
  version(): unknown;
  elements(ids?: string): unknown;
  text(id: string, field: string): unknown;
  checkOps(ops: string): unknown;
  held(): unknown;
  changeInfo(b: Uint8Array): unknown;
  changeJSON(b: Uint8Array): unknown;
}

declare global {
  // Set by wasm_exec.js and by webclient/wasm/main.go.
  var Go: { new (): { importObject: WebAssembly.Imports; run(i: WebAssembly.Instance): Promise<void> } };
  var corkboardCRDT: { newDoc(): Handle } | undefined;
  var corkboardCRDTReady: (() => void) | undefined;
}

// The Go side returns an Error instead of throwing (a panic across
// syscall/js would end the Go program): rethrow it here.
function check<T>(v: unknown): T {
  if (v instanceof Error) throw v;
  return v as T;
}

let starting: Promise<void> | null = null;

/**
 * Starts the WebAssembly module once: instantiate makes its instance with
 * the Go runtime's imports. Later calls return the first start.
 */
export function startCRDT(instantiate: (imports: WebAssembly.Imports) => Promise<WebAssembly.Instance>): Promise<void> {
  if (!starting) {
    starting = (async () => {
      if (globalThis.corkboardCRDT) return;
      const go = new Go();
      const inst = await instantiate(go.importObject);
      const ready = new Promise<void>((resolve) => {
        globalThis.corkboardCRDTReady = resolve;
      });
      void go.run(inst);
      if (!globalThis.corkboardCRDT) await ready;
    })();
    starting.catch(() => (starting = null));
  }
  return starting;
}

/** One replica's copy of a board. loadCRDT must have resolved. */
export class CrdtDoc {
  private h: Handle;
  /**
   * The node's clock minus this page's, in ms (sync.ts sets it from each
   * welcome's "now"). Changes are stamped with the node's time: a node
   * refuses a change stamped more than a few minutes past its clock
   * (clock_ahead, docs/PROTOCOL.md 5.1), which a page whose clock runs
   * fast would otherwise make.
   */
  clockOffset = 0;

  constructor() {
    if (!globalThis.corkboardCRDT) throw new Error('crdt: WebAssembly module not loaded');
    this.h = globalThis.corkboardCRDT.newDoc();
  }

  /** Sets the replica that local edits are made by; the undo history starts afresh. */
  setReplica(hex: string): void {
    check(this.h.setReplica(hex));
  }

  /** The node's time now as this page knows it (ms): what local changes are stamped with. */
  now(): number {
    return Date.now() + this.clockOffset;
  }

  /** Applies the ops as one local change (one undo step unless undoable is false). Null when nothing changed. */
  edit(ops: LocalOp[], nowMs = this.now(), undoable = true): Committed | null {
    const r = check<Committed | { error: string } | null>(this.h.edit(JSON.stringify(ops), nowMs, undoable));
    if (r && !('change' in r)) throw new Error(r.error);
    return r;
  }

  undo(nowMs = this.now()): Committed | null {
    return check(this.h.undo(nowMs));
  }

  redo(nowMs = this.now()): Committed | null {
    return check(this.h.redo(nowMs));
  }

  canUndo(): boolean {
    return check(this.h.canUndo());
  }

  canRedo(): boolean {
    return check(this.h.canRedo());
  }

  /** Applies a batch (the body of a node's 0x02 message). */
  applyBatch(batch: Uint8Array): Applied {
    return check(this.h.applyBatch(batch));
  }

  /** Applies one binary change (re-applying the outbox). */
  applyChange(change: Uint8Array): Applied {
    return check(this.h.applyChange(change));
  }

  /** Replaces the whole state with a snapshot. The replica and undo history stay. */
  loadSnapshot(snap: Uint8Array): void {
    check(this.h.loadSnapshot(snap));
  }

  /**
   * One step of loading a snapshot (steps.ts): snap starts a load,
   * undefined goes on with it; about budget bytes of work. True when done:
   * the state is replaced then, and untouched before. Another
   * loadSnapshot or reset gives the load up.
   */
  loadSnapshotStep(snap: Uint8Array | undefined, budget: number): boolean {
    return check(this.h.loadSnapshotStep(snap, budget));
  }

  /**
   * Every element (deleted ones included), a page at a time: start 0
   * takes the ids in ascending order, later pages go on through them; an
   * empty page past the end.
   */
  elementsPage(start: number, n: number): ElementJSON[] {
    return JSON.parse(check<string>(this.h.elementsPage(start, n)));
  }

  /** Empties the doc and forgets the replica (after a refused change). */
  reset(): void {
    check(this.h.reset());
  }

  /** The doc's snapshot; raw: uncompressed (quicker to make, larger). */
  snapshot(raw = false): Uint8Array {
    return check(this.h.snapshot(raw));
  }

  version(): VersionVector {
    return JSON.parse(check<string>(this.h.version()));
  }

  /** The elements with these ids (deleted ones included), or every element. */
  elements(ids?: string[]): ElementJSON[] {
    return JSON.parse(check<string>(this.h.elements(ids ? JSON.stringify(ids) : undefined)));
  }

  text(id: string, field: string): string {
    return check(this.h.text(id, field));
  }

  /** The indices of the ops a node would refuse (malformed, or not fitting the schema); see webclient/wasm/main.go. */
  checkOps(ops: LocalOp[]): number[] {
    return JSON.parse(check<string>(this.h.checkOps(JSON.stringify(ops))));
  }

  /** Number of remote changes waiting for their dependencies. */
  held(): number {
    return check(this.h.held());
  }

  /** Who made a binary change, and the counters it takes. */
  changeInfo(change: Uint8Array): { replica: string; start: number; end: number } {
    return check(this.h.changeInfo(change));
  }

  /** The JSON form of a binary change (debugging, tests). */
  changeJSON(change: Uint8Array): unknown {
    return JSON.parse(check<string>(this.h.changeJSON(change)));
  }
}
