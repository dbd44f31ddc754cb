// The board page: an infinite canvas over the board's CRDT, kept in sync
// with the node by Sync, stored in IndexedDB, drawn by Renderer. This file
// starts the page and composes it (BoardApp); each concern has a module:
// the view (camera.ts), what is selected (selection.ts), the tools and what
// they make (tools.ts), the pointer's gestures (pointer.ts), the keyboard
// (shortcuts.ts), the peers (presence.ts), the one path of local changes
// (localedits.ts), the board's token and links (boardlinks.ts) and the DOM
// (boardui.ts). The parts get what they use as small host interfaces, so
// that none imports this file: BoardApp wires them and carries the page's
// own state (connection state, toasts, drawing).
import { installBoardAccess } from './account';
import { forgetToken, stillOwner, BoardLinks } from './boardlinks';
import { markRefused, takeRefused, tokenStored } from './boardtoken';
import { buildUI, keepTopClear, zoomButtons, type UI } from './boardui';
import { CameraView } from './camera';
import { BoardClient } from './client';
import { loadCRDT, type CrdtDoc, type ElementJSON, type LocalOp } from './crdt';
import { h } from './dom';
import { askBoard, farViewFrom, markKnown, type EarlySocket } from './early';
import { decodeFarSummary, type FarSummary } from './farsummary';
import { LOD_PX } from './lod';
import { installFeatures } from './features';
import { myColor, myName } from './ids';
import { LocalEdits, type EditKind } from './localedits';
import { Board, type BoardChange } from './model';
import { askPassword, refusalText } from './password';
import { Pointer } from './pointer';
import { Follow } from './follow';
import { Presence } from './presence';
import { Renderer, type Camera, type Overlay, type Preview } from './render';
import { claimNew, claimReplica, sweepReplicas } from './replica';
import { ContextBar, Handles, Selection } from './selection';
import { bindKeys } from './shortcuts';
import { elementsInSlices, FIRST_PAGE, nextSlice } from './steps';
import { onStoreClosed, openStore, type BoardRecord, type Persistence } from './store';
import type { Sync } from './sync';
import { TextEditor } from './textedit';
import { Tools } from './tools';
import { t as tr } from './i18n';

/**
 * Starts the board page in root; earlyOpening: the first visit's
 * connection, opened by main.ts once the node let this browser in;
 * asked: main.ts's GET of the board with the token arrived; arrived: a token the page was opened with (a link's,
 * taken out of the address by main.ts) or handed over (boardtoken.ts).
 */
export async function startBoard(root: HTMLElement, boardId: string, earlyOpening: Promise<EarlySocket | undefined>, arrived?: string, asked?: Promise<Response>): Promise<void> {
  root.innerHTML = '';
  const ui = buildUI(root);
  ui.status.textContent = tr('board.loading');

  const crdtReady = loadCRDT().then(() => performance.mark('corkboard:wasm-ready'));
  crdtReady.catch(() => {}); // awaited below
  const store = await openStore();
  performance.mark('corkboard:store-open');
  // A newer version took the database over in another tab: nothing this
  // page writes would be kept, so it reloads into that version. Every
  // change made here is in the outbox already (written as it is made), and
  // an outbox entry leaves it only with the save that stores it.
  // (After the event: a navigation started inside it kept the connection from closing.)
  onStoreClosed(() => setTimeout(() => location.reload(), 100));
  const rec: BoardRecord = (await store.getBoard(boardId)) ?? { id: boardId, lastOpened: Date.now() };
  // A token the node refused on the last load (see the 401 below).
  const forgot = takeRefused(boardId);
  if (forgot) await forgetToken(store, rec, forgot);
  let keptOwner = false;
  if (arrived && arrived !== rec.token) {
    // A link replaces the token this browser had for the board, except the
    // owner's: an owner opening one of their own links stays owner.
    keptOwner = !!rec.token && rec.role === 'owner' && (await stillOwner(boardId, rec.token));
    if (!keptOwner) {
      rec.token = arrived;
      rec.role = undefined;
    }
  }
  rec.lastOpened = Date.now();
  const stored = store.putBoard(rec);
  if (arrived && store.durable) void stored.then(() => tokenStored(boardId, arrived));

  // The board's name and our role, when the node can be reached; offline,
  // the stored copy is all there is, and that is fine.
  // Whether Sync may connect: not when the node refused (a password to
  // give, a sign-in, no such board): a connection would be refused too.
  // Asked with the token the page uses (main.ts asked already when it is
  // the one the page arrived with).
  const access: Promise<boolean> = (asked && arrived === rec.token ? asked : askBoard(boardId, rec.token))
    .then(async (r) => {
      if (r.ok) {
        const j = await r.json();
        rec.name = j.board.name;
        rec.role = j.you?.role;
        ui.name.textContent = j.board.name;
        document.title = `${j.board.name} · Corkboard`;
        void store.putBoard(rec);
        return true;
      } else if (r.status === 404 || r.status === 400) {
        fatal(root, tr('board.noSuch'));
        return false;
      } else if (r.status === 401) {
        const j = await r.json().catch(() => null);
        if (rec.token && rec.token !== forgot) {
          // The node no longer takes this browser's token (its link was
          // revoked, a password was set): the page loads again without it
          // (forgotten first thing, before the replica that connects with
          // it is claimed), as whoever one is then: a visitor, the
          // password prompt, sign-in.
          tokenStored(boardId, rec.token);
          if (markRefused(boardId, rec.token)) {
            location.reload();
            return false;
          }
        }
        if (!askPassword(root, boardId, j?.error?.message ?? '')) fatal(root, tr('board.needsLink'));
        return false;
      }
      return true; // a passing trouble (5xx, 429): Sync's own retries and checks
    })
    .catch(() => true); // offline: what is stored, and Sync reconnects when it can
  const early = await earlyOpening;
  if (rec.name) {
    ui.name.textContent = rec.name;
    document.title = `${rec.name} · Corkboard`;
  }

  // On a first visit, the replica the early connection said hello as.
  const claim = await claimReplica(store, boardId, rec.token, early?.replica);
  if (!claim.rec.token && rec.token) claim.rec.token = rec.token;
  markKnown(boardId);
  performance.mark('corkboard:claimed');
  await crdtReady;
  // The doc, its sync, outbox and store: the SDK's board object (client.ts).
  // The page draws it and edits it through LocalEdits, which commits through it.
  let app: BoardApp | undefined;
  const client = await BoardClient.open({
    board: boardId,
    name: myName(),
    color: myColor(),
    store,
    claim,
    newClaim: () => claimNew(store, boardId, rec.token),
    beforeRemote: () => app?.editor.commit(),
    farViewFrom: farViewFrom(),
    farView: (b) => app?.farView(b),
    busy: () => !!app?.reading(),
  });
  const doc = client.doc;
  const board = new Board();
  const renderer = new Renderer(ui.canvas);
  renderer.words = { frame: tr('render.frame'), imageUnavailable: tr('render.imageUnavailable'), imageLoading: tr('render.imageLoading') };
  app = new BoardApp(root, ui, boardId, rec, store, doc, board, renderer);
  app.client = client;
  app.sync = client.sync;
  const page = app;
  client.on('change', (c) => c.origin === 'remote' && page.remote(c.ids));
  client.on('state', () => page.showState());
  client.on('presence', () => page.peersChanged());
  client.on('notice', (n) => {
    const r = n.refused;
    page.toast(!r ? n.message : !r.lost ? tr('sync.refused', { why: r.why }) : tr(r.kept ? 'sync.refused.kept' : 'sync.refused.dropped', { why: r.why, n: r.lost }), n.error);
  });
  board.upsert(doc.elements());
  performance.mark('corkboard:stored-loaded');
  app.start();
  performance.mark('corkboard:app-started');
  if (keptOwner) app.toast(tr('board.ownLink'));
  // The answer usually came long ago; a node slow to give it does not
  // hold the connection back for more than a few seconds.
  if (!(await Promise.race([access, new Promise<boolean>((r) => setTimeout(() => r(true), 4000))]))) {
    early?.discard();
    app.hold(tr('board.notConnected'));
    return;
  }
  client.start(early);
  app.startAccess();
  void sweepReplicas(store, boardId, claim.rec.replica);
  registerServiceWorker();
}

function fatal(root: HTMLElement, msg: string): void {
  const box = h('div', { class: 'fatal' }, h('h1', {}, 'Corkboard'), h('p', {}, msg), h('p', {}, h('a', { href: '/' }, tr('board.create'))));
  root.querySelector('.fatal')?.remove();
  root.appendChild(box);
}

function registerServiceWorker(): void {
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('corkboard: no offline shell', e));
  }
}

/** The board page, composed of its parts (see the file comment). */
/** How long after a first visit went live its fitted view is fitted again when the notices grow ("since your last visit" comes a moment after). */
const ARRIVAL_NOTICES_MS = 10_000;

class BoardApp {
  client!: BoardClient;
  sync!: Sync;
  readonly editor: TextEditor;
  readonly camera: CameraView;
  readonly sel = new Selection();
  readonly edits: LocalEdits;
  readonly tools: Tools;
  readonly handles: Handles;
  private context: ContextBar;
  private pointer!: Pointer;
  private presence!: Presence;
  follow!: Follow;
  /** Read-only whatever the role (an embed in view mode, features.ts). */
  readOnly = false;
  private closed = () => false;
  private drawQueued = false;
  private painted = false;
  private interactive = false;
  /** The node's far-view summary, drawn until the board is loaded (farView). */
  private summary: FarSummary | null = null;
  /**
   * No view was kept for this board (this browser's first visit): what
   * arrives until the page is first live (a far-view summary, the board)
   * is shown fitted, unless the person moved the view meanwhile.
   */
  private fitOnArrival = false;
  /** The view the page last fitted by itself while fitOnArrival: another one is the person's. */
  private arrivalCam: Camera | null = null;
  /** Until when the first visit's fitted view follows the notices' size (performance.now(), ms): ARRIVAL_NOTICES_MS after it went live. */
  private arrivalUntil = Infinity;
  private remoteMarked = false;
  /** Loads of the whole doc so far (remote(null)); a page-at-a-time read of an earlier one gives up. */
  private reloads = 0;
  /** While the doc's elements are read a page at a time: the elements changed meanwhile. */
  private reloadIds: Set<string> | null = null;
  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  private pct: HTMLElement | null = null;
  private links: BoardLinks;
  private stateListeners: (() => void)[] = [];

  constructor(
    private root: HTMLElement,
    private ui: UI,
    private boardId: string,
    private rec: BoardRecord,
    store: Persistence,
    private doc: CrdtDoc,
    private board: Board,
    private renderer: Renderer,
  ) {
    this.camera = new CameraView(boardId, board, renderer);
    this.links = new BoardLinks(boardId, rec, store, () => this.sync, (m) => this.toast(m));
    this.edits = new LocalEdits({
      doc,
      board,
      sync: () => this.client,
      commitTyping: () => this.editor.commit(),
      readOnly: () => this.readOnly,
      closed: () => this.closed(),
      toast: (m, e) => this.toast(m, e),
      edited: () => {
        // The view is where the person works now.
        this.fitOnArrival = false;
        this.arrivalCam = null;
      },
    });
    this.editor = new TextEditor(ui.layer, {
      renderer,
      element: (id) => this.board.get(id),
      text: (id, field) => this.doc.text(id, field),
      edit: (ops) => this.edits.apply(ops, 'edit', true) !== null,
      camera: () => this.camera.cam,
      changed: () => this.redraw(),
      history: (redo) => this.history(redo),
      key: (e, id) => this.tools.editorKey(e, id),
    });
    this.tools = new Tools({
      boardId,
      doc,
      board,
      edits: this.edits,
      sel: this.sel,
      camera: this.camera,
      renderer,
      editor: this.editor,
      userId: () => this.sync.user?.id,
      cursor: () => this.pointer.cursor,
      showTool: (t) => {
        for (const [k, b] of this.ui.tools) b.classList.toggle('active', k === t);
        this.ui.canvas.dataset.tool = t;
      },
      afterSelect: () => this.afterSelect(),
      toast: (m, e) => this.toast(m, e),
    });
    this.handles = new Handles(board, this.sel, this.camera, () => this.canEdit);
    this.context = new ContextBar(ui.context, board, this.sel, this.camera, this.handles, {
      setColor: (c) => this.tools.setColor(c),
      toggleCollapse: (ids) => this.tools.toggleCollapse(ids),
      addChild: (id) => void this.tools.addChild(id),
      edit: (ops) => void this.edits.apply(ops),
      deleteSelection: () => this.tools.deleteSelection(),
      convertible: (id) => this.features?.convert.label(id) ?? null,
      convert: (id) => void this.features?.convert.convert(id),
      busy: () => !!this.pointer?.drag,
    });
    board.textSize = (t, fs, maxW) => renderer.textSize(t, fs, maxW);
    board.remeasure();
  }

  start(): void {
    this.bind();
    this.links.listen();
    this.board.onChange((c) => this.changed(c));
    this.camera.onChange(() => this.viewChanged());
    if (this.renderer.far) {
      const far = this.renderer.far;
      far.redraw = () => this.redraw(); // the far view after a zoom (lod.ts)
      this.board.onChange((c) => far.changed(c, this.board.version)); // where to draw its bitmap again
    }
    if (!this.camera.restore()) {
      this.fitOnArrival = true;
      this.renderer.resize();
      this.camera.fit();
      this.arrivalCam = this.camera.cam;
    }
    this.tools.setTool('select');
    this.onResize();
    keepTopClear(this.root);
    this.showState();
    this.peersChanged();
    (window as unknown as { __corkboard: unknown }).__corkboard = {
      doc: this.doc,
      board: this.board,
      sync: this.sync,
      client: this.client,
      app: this,
      camera: () => ({ ...this.camera.cam }),
      /** A summary for tests and debugging. */
      state: () => ({
        state: this.sync.state,
        replica: this.sync.replica,
        unacked: this.sync.unacked,
        role: this.sync.role,
        peers: [...this.sync.peers.values()].map((p) => p.name),
        elements: [...this.board.els.values()]
          .filter((e) => !e.deleted && !e.hidden)
          .map((e) => ({ id: e.id, kind: e.kind, x: e.x, y: e.y, w: e.w, h: e.h, text: e.text.text ?? '', color: e.props.color, parent: e.parent ?? null, pos: e.pos, rot: e.rot, collapsed: e.props.collapsed === true, from: e.props.from ?? null, to: e.props.to ?? null, route: e.props.route ?? null, title: e.text.title ?? '', points: Array.isArray(e.props.points) ? e.props.points.length / 3 : 0 })),
        /** Every element, hidden ones (under a collapsed or deleted element) included. */
        hidden: [...this.board.els.values()].filter((e) => !e.deleted && e.hidden).map((e) => e.id),
        selection: [...this.sel.ids],
      }),
      /** Board coordinates → page (CSS) pixels. */
      toScreen: (x: number, y: number) => {
        const r = this.ui.canvas.getBoundingClientRect();
        const p = this.camera.toCanvas(x, y);
        return { x: r.left + p.x, y: r.top + p.y };
      },
    };
    const features = installFeatures({
      root: this.root,
      canvas: this.ui.canvas,
      boardId: this.boardId,
      token: () => this.rec.token,
      setToken: (t) => this.links.setToken(t),
      keepLink: (role, url) => this.links.keepLink(role, url),
      copyLink: () => this.links.share(),
      doc: this.doc,
      board: this.board,
      sync: this.sync,
      renderer: this.renderer,
      camera: () => this.camera.cam,
      setCamera: (c) => this.camera.set(c),
      selection: () => this.sel.ids,
      select: (ids) => {
        this.sel.replace(ids);
        this.afterSelect();
      },
      edit: (ops, kind?: EditKind) => this.edits.apply(ops, kind),
      canEdit: () => this.canEdit,
      setReadOnly: (ro) => {
        this.readOnly = ro;
        this.showState();
      },
      redraw: () => this.redraw(),
      toast: (m, e) => this.toast(m, e),
      onView: (fn) => this.camera.onChange(fn),
      onSelect: (fn) => this.sel.onChange(fn),
      onState: (fn) => this.stateListeners.push(fn),
    });
    this.closed = () => features.closed;
    this.features = features;
    // The notices at the top ("since your last visit", the voting bar)
    // cover no content of a view the page fitted: it is fitted below them,
    // and again when they grow or shrink while the view is still the one
    // the page fitted on a first visit (the person has not moved it, nor
    // edited). "Since your last visit" opened over the top row of notes
    // just fitted in view.
    this.camera.topInset = () => coveredTop(features.notices, this.ui.canvas);
    new ResizeObserver(() => {
      // Not under a gesture (the view would jump under the pointer), and
      // only for a while after the first visit went live.
      if (this.pointer?.drag || performance.now() > this.arrivalUntil) return;
      if (this.arrivalCam && this.camera.cam === this.arrivalCam && this.board.size && !this.reloadIds) {
        this.camera.fit();
        this.arrivalCam = this.camera.cam;
      }
    }).observe(features.notices);
  }

  private features: ReturnType<typeof installFeatures> | undefined;

  /**
   * Attaches the pieces that ask the node about one's access (share,
   * notifications, voting, summary): once the node let this page in, so
   * that a board waiting for its password is not asked again and again.
   */
  startAccess(): void {
    if (this.features) installBoardAccess(this.features);
  }

  // ---- state from the doc ----

  /** Every change of the Board, local or remote: what is drawn follows. */
  private changed(c: BoardChange): void {
    if (c.reset) return; // the elements come back in the next change
    if (!c.ids.length) {
      this.redraw();
      return;
    }
    for (const id of c.ids) if (!this.board.get(id)) this.sel.delete(id);
    this.redraw();
    this.context.show();
  }

  /**
   * The node's far-view summary of the board, ahead of its snapshot
   * (farsummary.ts): drawn, fitted when this browser kept no view of the
   * board, if every box in it is drawn as a box at that view, until the
   * board is loaded. The promise settles once it is on screen (Sync holds
   * the snapshot until then); nothing to wait for when it is not drawn.
   */
  farView(body: Uint8Array): Promise<void> | void {
    if (this.board.size || this.painted) return;
    let s: FarSummary;
    try {
      s = decodeFarSummary(body);
    } catch (e) {
      console.warn('corkboard: far-view summary unreadable', e);
      return;
    }
    if (!s.bounds) return;
    const cam = this.fitOnArrival ? this.camera.fitted(s.bounds) : this.camera.cam;
    if (s.largest * cam.zoom * (window.devicePixelRatio || 1) >= LOD_PX) return;
    performance.mark('corkboard:far-view-in');
    this.summary = s;
    if (this.fitOnArrival && this.camera.cam === this.arrivalCam) {
      this.camera.set(cam);
      this.arrivalCam = cam;
    }
    this.redraw();
    // After the frame that draws it (rAF), once it is painted (a task later).
    return new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  }

  /** Whether the board loaded whole is being read, a page at a time (saves wait: SyncOptions.busy). */
  reading(): boolean {
    return this.reloadIds !== null;
  }

  /** Remote changes applied to the doc (null: the doc was reloaded whole). */
  remote(ids: string[] | null): void {
    if (!this.remoteMarked) {
      this.remoteMarked = true;
      performance.mark('corkboard:first-remote'); // the node's first answer, applied (bench/web)
    }
    if (ids === null) {
      // The doc was loaded whole: read it again, a page at a time (a big
      // board takes a second; steps.ts), the board and the summary drawn
      // meanwhile. Changes that come before the end wait for it (their
      // elements are read again then), and a later reload makes this one
      // give up.
      const first = this.doc.elementsPage(0, FIRST_PAGE);
      if (first.length < FIRST_PAGE) {
        this.reloads++;
        this.reloadIds = null;
        this.reloaded(first);
        return;
      }
      // Filled apart, a page at a time, then adopted whole (Board.beginFill).
      const gen = ++this.reloads;
      this.reloadIds = new Set();
      const fill = new Board();
      fill.beginFill();
      fill.upsert(first);
      // Local edits meanwhile go to the page's board (LocalEdits): read again too.
      const off = this.board.onChange((c) => {
        if (gen === this.reloads) for (const id of c.ids) this.reloadIds?.add(id);
      });
      void elementsInSlices(this.doc, first.length, (page) => fill.upsert(page), () => gen !== this.reloads).then(
        (whole) => {
          off();
          if (!whole) return;
          const later = [...this.reloadIds!];
          this.reloadIds = null;
          performance.mark('corkboard:elements-json');
          this.summary = null;
          this.board.adopt(fill);
          this.reloadedThen(later);
        },
        (e) => {
          off();
          console.error('corkboard: reading the board failed', e);
          if (gen !== this.reloads) return;
          this.reloadIds = null;
          this.reloaded(this.doc.elements()); // in one call, then
        },
      );
      return;
    }
    if (this.reloadIds) {
      for (const id of ids) this.reloadIds.add(id);
      return;
    }
    if (ids.length) this.board.upsert(this.doc.elements(ids));
    this.afterRemote(ids);
  }

  /** The board from the elements of a doc loaded whole, read in one call (a small board). */
  private reloaded(els: ElementJSON[]): void {
    performance.mark('corkboard:elements-json');
    this.summary = null;
    this.board.clear();
    this.board.upsert(els);
    this.reloadedThen([]);
  }

  /** After the board was taken whole from the doc: the elements changed meanwhile read again, the selection kept to what is left. */
  private reloadedThen(later: string[]): void {
    if (later.length) this.board.upsert(this.doc.elements(later));
    performance.mark('corkboard:elements-read');
    for (const id of [...this.sel.ids]) if (!this.board.get(id)) this.sel.delete(id);
    this.redraw();
    this.afterRemote(null);
  }

  /**
   * On a first visit, the content that came from the node fitted in view
   * (a board made elsewhere rarely sits around the origin, where the
   * view starts: an invitee saw an empty canvas), until the page is
   * first live with the board read whole. A view the person moved, or an
   * edit of theirs, ends it: the view is theirs then.
   */
  private fitArrived(): void {
    if (!this.fitOnArrival) return;
    if (this.camera.cam !== this.arrivalCam) {
      this.fitOnArrival = false;
      return;
    }
    if (this.board.size && !this.reloadIds) {
      this.camera.fit();
      this.arrivalCam = this.camera.cam;
    }
    if (this.sync?.state === 'live' && !this.reloadIds) {
      this.fitOnArrival = false;
      this.arrivalUntil = performance.now() + ARRIVAL_NOTICES_MS;
    }
  }

  private afterRemote(ids: string[] | null): void {
    if (this.editor.open && (ids === null || ids.includes(this.editor.id!))) this.editor.refresh();
    this.context.show();
    this.showState();
  }

  get canEdit(): boolean {
    return this.edits.canEdit;
  }

  /** Applies ops as one local change (LocalEdits). */
  edit(ops: LocalOp[]): string[] | null {
    return this.edits.apply(ops);
  }

  history(redo: boolean): void {
    const ids = this.edits.history(redo);
    if (!ids) return;
    if (this.editor.open && ids.includes(this.editor.id!)) this.editor.refresh();
    this.context.show();
  }

  // ---- view ----

  /** The view, and moving it: kept on the app for bench/web, which drives it from the page. */
  get cam(): Camera {
    return this.camera.cam;
  }
  fit(): void {
    this.camera.fit();
  }
  zoomAt(sx: number, sy: number, factor: number): void {
    this.camera.zoomAt(sx, sy, factor);
  }
  panBy(dx: number, dy: number): void {
    this.camera.panBy(dx, dy);
  }

  private viewChanged(): void {
    this.editor.position();
    if (this.pct) this.pct.textContent = Math.round(this.camera.cam.zoom * 100) + '%';
    this.redraw();
  }

  private onResize(): void {
    this.renderer.resize();
    this.camera.changed();
  }

  redraw(): void {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      this.draw();
    });
  }

  private draw(): void {
    // The summary until the board is read whole (edits made meanwhile wait for it too).
    if (this.summary && (this.reloadIds || !this.board.size)) {
      this.renderer.drawSummary(this.summary, this.camera.cam);
      if (!this.painted) {
        // The first frame, drawn from the node's summary (bench/web: "first paint"; "interactive" below).
        this.painted = true;
        performance.mark('corkboard:first-paint');
      }
      return;
    }
    // The overlays each in a guard: one that fails is left out of the
    // frame, and the board is still drawn (every frame after too).
    const preview = new Map<string, Preview>();
    const ghosts = this.guard('peers\' drags', () => this.presence.previews(preview), false);
    this.guard('the drag', () => this.pointer.previews(preview), undefined);
    const remote = this.guard('peers\' cursors and selections', () => this.presence.remote(), { selection: new Map<string, string>(), cursors: [] });
    const d = this.pointer.drag;
    const ov: Overlay = {
      selection: this.sel.ids,
      editing: this.editor.id ?? undefined,
      marquee: d?.kind === 'marquee' ? d.box : d?.kind === 'frame' ? d.box : undefined,
      preview,
      remoteSelection: remote.selection,
      cursors: remote.cursors,
      handles: !this.editor.open && d?.kind !== 'move' && this.handles.resizable(),
      rotateHandle: !this.editor.open && d?.kind !== 'move' && this.handles.rotatable() !== null,
      dropTarget: d?.kind === 'move' ? d.target : d?.kind === 'connect' ? d.target : undefined,
      ink: d?.kind === 'ink' ? { points: d.points, color: '#1e1e1e', width: 4 } : undefined,
      draft: d?.kind === 'connect' ? { from: this.pointer.endPoint(d.from) ?? d.fromPt, to: d.to, target: d.target } : undefined,
      shapeDraft: d?.kind === 'shape' && d.moved ? { shape: d.tool, box: d.box } : undefined,
    };
    if (!this.guard('the overlays', () => (this.renderer.draw(this.board, this.camera.cam, ov), true), false)) {
      // Again without what others and the pointer add: the board itself.
      const bare: Overlay = { selection: new Set(), preview: new Map(), remoteSelection: new Map(), cursors: [], handles: false };
      this.guard('the board', () => this.renderer.draw(this.board, this.camera.cam, bare), undefined);
    }
    if (!this.interactive && this.board.size) {
      // The first frame with elements drawn from the board: "interactive"
      // for the benchmark, and its "first paint" too unless a far-view
      // summary came first.
      this.interactive = true;
      if (!this.painted) performance.mark('corkboard:first-paint');
      this.painted = true;
      performance.mark('corkboard:interactive');
      // The spatial index, left unbuilt by a board loaded whole, built in slices (Board.indexInSlices).
      void this.board.indexInSlices(nextSlice);
    }
    if (ghosts) this.redraw();
  }

  /** Overlays that failed to draw (each logged once). */
  private failed = new Set<string>();

  /** What fn gives, or the fallback when it throws (logged once per overlay). */
  private guard<T>(what: string, fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (e) {
      if (!this.failed.has(what)) {
        this.failed.add(what);
        console.error(`corkboard: drawing ${what} failed`, e);
      }
      return fallback;
    }
  }

  // ---- presence and state ----

  peersChanged(): void {
    this.follow?.peersChanged();
    this.presence.peersChanged();
  }

  /** Why the page does not connect (the node refused: a password to give, a sign-in): shown instead of the connection's state. */
  private held = '';

  hold(why: string): void {
    this.held = why;
    this.showState();
  }

  showState(): void {
    const s = this.sync;
    if (!s) return;
    this.fitArrived();
    const n = s.unacked;
    const el = this.ui.status;
    el.dataset.state = s.state;
    el.dataset.pending = String(n);
    let text: string;
    switch (s.state) {
      case 'live':
        text = n ? tr('status.saving', { n }) : tr('status.live');
        break;
      case 'syncing':
        text = tr('status.syncing');
        break;
      case 'connecting':
        text = n ? tr('status.connectingPending', { n }) : tr('status.connecting');
        break;
      case 'offline':
        text = tr('status.offline', { n });
        break;
      default:
        text = tr('status.disconnected');
    }
    el.textContent = text;
    el.title = s.detail || (s.state === 'live' ? tr('status.live.title') : '');
    this.ui.retry.hidden = !(s.state === 'stopped' || s.state === 'offline');
    if (s.state === 'stopped' && s.detail) el.textContent = tr('status.disconnectedWhy', { why: refusalText(s.detail) });
    if (this.held) {
      el.textContent = this.held;
      el.dataset.state = 'stopped';
      el.title = '';
      this.ui.retry.hidden = true;
    }
    this.ui.undo.disabled = !this.doc.canUndo();
    this.ui.redo.disabled = !this.doc.canRedo();
    this.root.classList.toggle('readonly', !this.canEdit);
    for (const fn of this.stateListeners) fn();
  }

  toast(msg: string, error = false): void {
    const t = this.ui.toast;
    t.textContent = msg;
    t.classList.toggle('error', error);
    t.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (t.hidden = true), error ? 8000 : 2500);
  }

  private afterSelect(): void {
    this.context.show();
    this.presence.send();
    this.redraw();
  }

  // ---- input ----

  private bind(): void {
    addEventListener('resize', () => this.onResize());
    this.pointer = new Pointer({
      canvas: this.ui.canvas,
      board: this.board,
      camera: this.camera,
      sel: this.sel,
      handles: this.handles,
      tools: this.tools,
      edits: this.edits,
      editor: this.editor,
      renderer: this.renderer,
      hideContext: () => this.context.hide(),
      afterSelect: () => this.afterSelect(),
      presence: () => this.presence.send(),
      redraw: () => this.redraw(),
      attach: (note, node) => this.features?.convert.attach(note, node) ?? null,
    });
    this.presence = new Presence(this.sync, this.board, this.sel, this.pointer, this.ui.people, () => this.redraw());
    this.follow = new Follow({
      sync: this.sync,
      camera: this.camera,
      renderer: this.renderer,
      people: this.ui.people,
      board: (this.root.querySelector('.board') as HTMLElement | null) ?? this.root,
      sendPresence: () => this.presence.send(),
      canPresent: () => (this.sync.role === 'owner' || this.sync.role === 'editor') && !this.readOnly,
    });
    this.presence.extra = () => this.follow.extra();
    this.presence.onPeer = (s) => this.follow.follow(s);
    this.presence.followed = () => this.follow.following;
    bindKeys({
      canvas: this.ui.canvas,
      help: this.ui.help,
      board: this.board,
      sel: this.sel,
      tools: this.tools,
      pointer: this.pointer,
      camera: this.camera,
      edits: this.edits,
      editor: this.editor,
      history: (redo) => this.history(redo),
      afterSelect: () => this.afterSelect(),
    });
    for (const [t, b] of this.ui.tools) b.addEventListener('click', () => this.tools.setTool(t));
    this.ui.helpButton.addEventListener('click', () => (this.ui.help.hidden = !this.ui.help.hidden));
    this.ui.undo.addEventListener('click', () => this.history(false));
    this.ui.redo.addEventListener('click', () => this.history(true));
    this.ui.retry.addEventListener('click', () => this.sync.retry());
    this.ui.share.addEventListener('click', () => void this.links.share());
    this.pct = zoomButtons(this.ui.zoom, {
      zoomMid: (f) => this.camera.zoomMid(f),
      reset: () => this.camera.zoomMid(1 / this.camera.cam.zoom),
      fit: () => this.camera.fit(),
    });
  }
}

/** How far down from the canvas' top the notices cover it (CSS px; 0 when none is shown). */
function coveredTop(notices: HTMLElement, canvas: HTMLElement): number {
  if (![...notices.children].some((c) => (c as HTMLElement).offsetHeight > 0)) return 0;
  return Math.max(0, notices.getBoundingClientRect().bottom - canvas.getBoundingClientRect().top);
}
