// Peers as the node reports them (welcome.peers, presence frames), checked
// once, where sync.ts receives them. A peer's `data` is whatever JSON its
// client sent (the node relays any value of up to 2048 bytes and looks
// inside none: PROTOCOL.md section 8), so anyone who may view the board, an
// anonymous visitor of a public board too, can send any shape there. The
// keys this page reads (`c`, `sel`, `drag`, `box`, `v`, `spot`) are kept
// only in the shape it draws, bounded like its own (20 selected ids, 12
// dragged): a key of another shape is dropped, whatever else the peer sent
// with it stays. Other keys are passed on as they came (an SDK
// application's own presence: docs/SDK.md); this page reads none of them.

/** What the web client puts in presence frames (free-form for the node; at most 2048 bytes). */
export interface PresenceData {
  /** Cursor in board units. */
  c?: { x: number; y: number };
  /** Selected element ids (at most 20). */
  sel?: string[];
  /** Elements being dragged (at most 12), and by how much so far. */
  drag?: { ids: string[]; dx: number; dy: number };
  /** An element being resized: its box so far. */
  box?: { id: string; x: number; y: number; w: number; h: number };
  /** The viewport (follow.ts): the board point at the canvas' top-left corner, the zoom, the canvas size. */
  v?: { x: number; y: number; z: number; w: number; h: number };
  /** 1 while an owner or editor asks everyone to follow them (follow.ts). */
  spot?: 1;
}

export interface Peer {
  session: string;
  replica: string;
  user: string;
  name: string;
  color?: string;
  /** The peer's current role, from the board's settings (set by the node, not by the peer). */
  role?: string;
  data?: PresenceData;
}

/** The most selected ids kept of a peer (the web client sends 20 at most). */
export const MAX_SEL = 20;
/** The most dragged ids kept of a peer (the web client sends 12 at most). */
export const MAX_DRAG = 12;
/** The longest element id kept (element ids are UUIDs: 36 characters). */
const MAX_ID = 64;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown): v is string => typeof v === 'string';

/** Up to max element ids out of a list (strings of an id's length; anything else dropped); null: not a list. */
function ids(v: unknown, max: number): string[] | null {
  if (!Array.isArray(v)) return null;
  const out: string[] = [];
  for (const x of v) {
    if (out.length >= max) break;
    if (str(x) && x.length > 0 && x.length <= MAX_ID) out.push(x);
  }
  return out;
}

/**
 * A peer's presence data, in the shapes this page reads (see above). Data
 * that is not an object (an SDK app's string, number or list: presence is
 * free-form JSON) is passed on as it is: none of the keys read here is
 * found on it. undefined for none.
 */
export function presenceData(raw: unknown): PresenceData | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObj(raw)) return raw as PresenceData;
  const out: Obj = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k === '__proto__') continue; // an own key of JSON.parse's objects; never a prototype here
    switch (k) {
      case 'c':
        if (isObj(v) && num(v.x) && num(v.y)) out.c = { x: v.x, y: v.y };
        break;
      case 'sel': {
        const sel = ids(v, MAX_SEL);
        if (sel) out.sel = sel;
        break;
      }
      case 'drag':
        if (isObj(v) && num(v.dx) && num(v.dy)) {
          const list = ids(v.ids, MAX_DRAG);
          if (list) out.drag = { ids: list, dx: v.dx, dy: v.dy };
        }
        break;
      case 'box':
        if (isObj(v) && str(v.id) && v.id.length <= MAX_ID && num(v.x) && num(v.y) && num(v.w) && num(v.h) && v.w >= 0 && v.h >= 0) out.box = { id: v.id, x: v.x, y: v.y, w: v.w, h: v.h };
        break;
      case 'v':
        if (isObj(v) && num(v.x) && num(v.y) && num(v.z) && num(v.w) && num(v.h) && v.z > 0 && v.w > 0 && v.h > 0) out.v = { x: v.x, y: v.y, z: v.z, w: v.w, h: v.h };
        break;
      case 'spot':
        if (v === 1) out.spot = 1;
        break;
      default:
        out[k] = v;
    }
  }
  return out as PresenceData;
}

/** A peer of a welcome or presence frame, checked; null when it names no session. */
export function peerOf(raw: unknown): Peer | null {
  if (!isObj(raw) || !str(raw.session) || !raw.session) return null;
  const p: Peer = {
    session: raw.session,
    replica: str(raw.replica) ? raw.replica : '',
    user: str(raw.user) ? raw.user : '',
    name: str(raw.name) ? raw.name : '',
  };
  if (str(raw.color)) p.color = raw.color;
  if (str(raw.role)) p.role = raw.role;
  const data = presenceData(raw.data);
  if (data) p.data = data;
  return p;
}
