// @corkboard/client: a Corkboard board from any JavaScript program, in a
// browser or in Node 20+. connect() returns the very object the Corkboard
// web client's board page is built on (webclient/src/client.ts): the CRDT
// (package crdt as WebAssembly), sync with the outbox, presence and a
// store. This file adds what the page gets from its origin: where the
// node is, how the WebAssembly is loaded, which store. See docs/SDK.md.
import { BoardClient } from '../../src/client';
import { claimNew, claimReplica } from '../../src/replica';
import { MemoryStore, openStore, type Persistence } from '../../src/store';
import type { WebSocketClass } from '../../src/sync';
import { loadWasm, type WasmSource } from './wasm';

export { BoardClient, textOps } from '../../src/client';
export type { BoardEvents, ChangeEvent, CreateInit, ElementOf, Notice, PeerInfo, PresenceHandle, PropsOf, Status, TextOf, UpdatePatch } from '../../src/client';
export type { ElementJSON, LocalOp, VersionVector } from '../../src/crdtdoc';
export type { Persistence } from '../../src/store';
export type { Frame, User, WebSocketClass } from '../../src/sync';
export * from '../../src/schema.gen';
export { loadWasm, type WasmSource } from './wasm';

/** A connected board (the object connect returns). */
export type Board = BoardClient;

export interface ConnectOptions {
  /** The node's base URL: http(s)://host[:port][/prefix]. */
  url: string;
  /** The board's id (a UUID). */
  board: string;
  /** A board token (from a link, board creation or POST /v1/boards/{board}/join). Without one, a public board's guest. */
  token?: string;
  /**
   * Where the replica's copy and its unacked changes are kept: 'memory'
   * (the default; lost when the program ends), 'indexeddb' (browsers: kept
   * across reloads, resent on the next connect), or a Persistence of one's own.
   */
  store?: 'memory' | 'indexeddb' | Persistence;
  /** The name and colour (#rrggbb) others see in presence. */
  name?: string;
  color?: string;
  /** Refuse local changes (writes throw). */
  readOnly?: boolean;
  /** The WebSocket class; the global one by default (Node 20: run with --experimental-websocket, or pass the `ws` package's). */
  WebSocket?: WebSocketClass;
  /** The CRDT's WebAssembly, when not at its place next to the bundle (dist/crdt.wasm). */
  wasm?: WasmSource;
}

const COLORS = ['#e8590c', '#1c7ed6', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#e03131', '#5f3dc4'];

/**
 * Connects to a board. Resolves once the stored copy (if any) is loaded:
 * the board can be read and changed at once, offline included; changes go
 * out when the connection is up (await board.synced() to know they did).
 */
export async function connect(o: ConnectOptions): Promise<Board> {
  if (!/^https?:\/\//.test(o.url)) throw new Error('corkboard: url must be the node\'s http(s) address');
  if (!/^[0-9a-f-]{36}$/i.test(o.board)) throw new Error('corkboard: board must be a board id (a UUID)');
  const board = o.board.toLowerCase();
  const root = o.url.endsWith('/') ? o.url : o.url + '/';
  const endpoint = {
    ws(b: string, token?: string) {
      const u = new URL(`v1/boards/${b}/ws`, root);
      u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
      if (token) u.searchParams.set('token', token);
      return u.href;
    },
    http: (path: string) => new URL(path.replace(/^\//, ''), root).href,
  };
  const [store] = await Promise.all([resolveStore(o.store), loadWasm(o.wasm)]);
  const claim = store.durable ? await claimReplica(store, board, o.token) : await claimNew(store, board, o.token);
  if (!claim.rec.token && o.token) claim.rec.token = o.token;
  const client = await BoardClient.open({
    board,
    store,
    claim,
    newClaim: () => claimNew(store, board, o.token),
    name: o.name ?? 'Corkboard client',
    color: o.color ?? COLORS[Math.floor(Math.random() * COLORS.length)],
    endpoint,
    WebSocket: o.WebSocket,
    keepColor: () => {},
    keepWords: false,
    readOnly: o.readOnly,
  });
  client.start();
  return client;
}

async function resolveStore(s: ConnectOptions['store']): Promise<Persistence> {
  if (s === 'indexeddb') {
    if (typeof indexedDB === 'undefined') throw new Error('corkboard: no IndexedDB here (use store: "memory")');
    return openStore();
  }
  if (!s || s === 'memory') return new MemoryStore();
  return s;
}
