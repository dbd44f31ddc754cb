// Follow mode: one's viewport in presence, following another person's,
// and a presenter asking everyone to follow them.
//
// Every page puts its viewport in its presence data ("v": the board point
// at the canvas' top-left, the zoom, and the canvas size; docs/PROTOCOL.md
// §8). Clicking a person's avatar follows them: this page's view tracks
// theirs, showing at least what they see (same centre, zoomed to fit their
// viewport in ours). Any pan or zoom of one's own stops following. An owner
// or editor may present ("spot": 1 in their presence): everyone not
// already following someone follows them, and each person can stop.
// Rejected: the spotlight as board settings over REST (a presenter's tab
// closing would leave everyone "following" nobody until someone cleared
// it; presence ends with the session); the node parsing presence data to
// strip "spot" from others (presence stays opaque to it). Instead the node
// stamps each peer frame with the peer's current role, and a page honours
// a spotlight only from an owner or editor: a viewer or commenter who sends
// "spot" moves nobody's view, and a presenter who is demoted stops being
// followed with their next presence frame (sent at once on a role change).
import type { CameraView } from './camera';
import { h } from './dom';
import { t } from './i18n';
import { personColor } from './ids';
import type { Camera, Renderer } from './render';
import type { Peer, PresenceData, Sync } from './sync';
import './canvasplus.css';

/** The words of follow mode, from the catalogue (src/i18n), read when shown. */
const T = {
  following: (n: string) => t('follow.following', { name: n }),
  presenting: (n: string) => t('follow.presenting', { name: n }),
  get stop() { return t('follow.stop'); },
  get present() { return t('follow.present'); },
  get presentTitle() { return t('follow.present.title'); },
  get stopPresent() { return t('follow.stopPresent'); },
  get youPresent() { return t('follow.youPresent'); },
};

/** A viewport in presence ("v"). */
export interface Viewport {
  x: number;
  y: number;
  z: number;
  w: number;
  h: number;
}

export interface FollowHost {
  sync: Sync;
  camera: CameraView;
  renderer: Renderer;
  /** Where the "Present" button goes (the top bar's people). */
  people: HTMLElement;
  /** Where the "Following …" bar goes. */
  board: HTMLElement;
  /** Sends this page's presence (with extra()). */
  sendPresence(): void;
  /** Whether this person may present (owner or editor). */
  canPresent(): boolean;
}

export class Follow {
  /** The session followed (null: none), and whether because it presents. */
  following: string | null = null;
  bySpot = false;
  presenting = false;
  /** Presenters whose spotlight this person stopped following (asked again when they present anew). */
  private declined = new Set<string>();
  private lastSet: Camera | null = null;
  readonly bar: HTMLElement;
  private barText: HTMLElement;
  readonly presentBtn: HTMLButtonElement;

  constructor(private host: FollowHost) {
    this.barText = h('span', {});
    const stop = h('button', { type: 'button', class: 'stop' }, T.stop) as HTMLButtonElement;
    stop.addEventListener('click', () => this.stop());
    this.bar = h('div', { class: 'cb-follow', role: 'status', hidden: '' }, this.barText, stop);
    host.board.appendChild(this.bar);
    this.presentBtn = h('button', { type: 'button', class: 'cb-present', title: T.presentTitle, 'aria-pressed': 'false' }, T.present) as HTMLButtonElement;
    this.presentBtn.addEventListener('click', () => this.present(!this.presenting));
    host.people.after(this.presentBtn);
    host.camera.onChange(() => this.viewChanged());
    this.showPresent();
  }

  /** What follow mode adds to this page's presence data. */
  extra(): Partial<PresenceData> & { v: Viewport; spot?: number } {
    const c = this.host.camera.cam;
    const v: Viewport = { x: Math.round(c.x), y: Math.round(c.y), z: Math.round(c.zoom * 10000) / 10000, w: Math.round(this.host.renderer.width || innerWidth), h: Math.round(this.host.renderer.height || innerHeight) };
    return this.presenting ? { v, spot: 1 } : { v };
  }

  /** Follows a peer's view (or stops, when it is the one followed). */
  follow(session: string, bySpot = false): void {
    if (this.following === session && !bySpot) {
      this.stop();
      return;
    }
    if (this.presenting) this.present(false);
    this.following = session;
    this.bySpot = bySpot;
    this.apply();
    this.show();
  }

  /** Stops following (a presenter's spotlight is declined until they present again). */
  stop(): void {
    if (this.following && this.bySpot) this.declined.add(this.following);
    this.following = null;
    this.bySpot = false;
    this.show();
  }

  /** Starts or stops presenting. */
  present(on: boolean): void {
    if (on && !this.host.canPresent()) return;
    this.presenting = on;
    if (on && this.following) this.stop();
    this.showPresent();
    this.host.sendPresence();
  }

  /** The peers changed: follow a new presenter, track the one followed. */
  peersChanged(): void {
    const peers = this.host.sync.peers;
    for (const s of [...this.declined]) if (!peers.get(s)?.data || !spotOf(peers.get(s)!)) this.declined.delete(s);
    if (this.following) {
      const p = peers.get(this.following);
      if (!p || (this.bySpot && !spotOf(p))) {
        // Gone, or the presenter stopped.
        this.following = null;
        this.bySpot = false;
      }
    }
    if (!this.following && !this.presenting) {
      const p = [...peers.values()].find((p) => spotOf(p) && !this.declined.has(p.session));
      if (p) {
        this.following = p.session;
        this.bySpot = true;
      }
    }
    if (this.following) this.apply();
    this.show();
    this.showPresent();
  }

  /** Moves the view to show what the followed person sees. */
  private apply(): void {
    const p = this.following ? this.host.sync.peers.get(this.following) : undefined;
    const v = viewportOf(p);
    if (!v) return;
    const W = this.host.renderer.width || innerWidth;
    const H = this.host.renderer.height || innerHeight;
    const bw = v.w / v.z;
    const bh = v.h / v.z;
    const zoom = Math.min(4, Math.max(0.05, Math.min(W / bw, H / bh)));
    const cam = { x: v.x + bw / 2 - W / 2 / zoom, y: v.y + bh / 2 - H / 2 / zoom, zoom };
    const c = this.host.camera.cam;
    if (Math.abs(c.x - cam.x) < 0.01 && Math.abs(c.y - cam.y) < 0.01 && Math.abs(c.zoom - cam.zoom) < 1e-6) return;
    this.lastSet = cam;
    this.host.camera.set(cam);
  }

  /** The view moved: one's own pan or zoom stops following; peers learn of it. */
  private viewChanged(): void {
    const set = this.lastSet;
    if (this.following && this.host.camera.cam !== set) this.stop();
    this.host.sendPresence();
  }

  private show(): void {
    const p = this.following ? this.host.sync.peers.get(this.following) : undefined;
    this.bar.hidden = !p;
    this.host.board.classList.toggle('cb-following', !!p);
    if (!p) return;
    this.barText.textContent = this.bySpot ? T.presenting(p.name) : T.following(p.name);
    this.bar.dataset.session = p.session;
    this.bar.dataset.spot = String(this.bySpot);
    this.host.board.style.setProperty('--follow-color', personColor(p.color));
  }

  private showPresent(): void {
    const can = this.host.canPresent();
    if (!can && this.presenting) {
      this.presenting = false;
      this.host.sendPresence();
    }
    this.presentBtn.hidden = !can;
    this.presentBtn.textContent = this.presenting ? T.stopPresent : T.present;
    this.presentBtn.title = this.presenting ? T.youPresent : T.presentTitle;
    this.presentBtn.setAttribute('aria-pressed', String(this.presenting));
    this.presentBtn.classList.toggle('on', this.presenting);
  }
}

function spotOf(p: Peer): boolean {
  if (p.role !== 'owner' && p.role !== 'editor') return false;
  return (p.data as { spot?: unknown } | undefined)?.spot === 1;
}

/** A peer's viewport, if it sent a sound one. */
function viewportOf(p: Peer | undefined): Viewport | null {
  const v = (p?.data as { v?: Partial<Viewport> } | undefined)?.v;
  if (!v) return null;
  const ok = (n: unknown, pos = false) => typeof n === 'number' && Number.isFinite(n) && (!pos || n > 0);
  if (!ok(v.x) || !ok(v.y) || !ok(v.z, true) || !ok(v.w, true) || !ok(v.h, true)) return null;
  return v as Viewport;
}
