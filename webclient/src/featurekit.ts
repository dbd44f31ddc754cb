// What the board page's features (images, export, comments, votes, "since
// your last visit", embedding) are given: the page (FeatureHost) and the
// features' shared kit (FeatureContext, which features.ts implements). Kept
// apart from features.ts, which imports every feature, so that a feature
// names what it uses without importing the module that imports it.
import type { CrdtDoc, LocalOp } from './crdt';
import type { Board, El } from './model';
import type { Camera, ImageSource, Renderer } from './render';
import type { Sync } from './sync';

/** What the board page gives the features. */
export interface FeatureHost {
  /** The page's root element (the board UI is inside it). */
  root: HTMLElement;
  canvas: HTMLCanvasElement;
  boardId: string;
  token(): string | undefined;
  /** Replaces the page's board token (stored; the connection reopens with it). */
  setToken(token: string): void;
  /** Keeps a role link for the top bar's Share button (null: forget it; role "*": every role). */
  keepLink(role: string, url: string | null): void;
  /** Copies the board's link (the editor link kept, or its address) and says so (boardlinks.ts). */
  copyLink(): Promise<void>;
  doc: CrdtDoc;
  /** The board as drawn; its change event reports every change, local or remote. */
  board: Board;
  sync: Sync;
  renderer: Renderer;
  camera(): Camera;
  setCamera(c: Camera): void;
  selection(): Set<string>;
  select(ids: string[]): void;
  /** Applies ops as one local change through the page's LocalEdits: "edit" (elements, editors and owners) or "annotate" (comments and votes, commenters too). */
  edit(ops: LocalOp[], kind?: 'edit' | 'annotate'): string[] | null;
  /** Whether the person may edit elements (not a viewer or commenter, not read-only). */
  canEdit(): boolean;
  /** Turns the page read-only (embedded in view mode) or back. */
  setReadOnly(ro: boolean): void;
  redraw(): void;
  toast(msg: string, error?: boolean): void;
  /** Calls fn when the view moved or was resized. */
  onView(fn: () => void): void;
  /** Calls fn when the selection changed. */
  onSelect(fn: () => void): void;
  /** Calls fn when the connection's state or the role changed. */
  onState(fn: () => void): void;
}

/** The pictures of image elements (images.ts), as the export draws them. */
export interface Pictures extends ImageSource {
  /** Resolves once the pictures of els are decoded (or failed). */
  ready(els: Iterable<El>): Promise<void>;
  /** A picture as a data: URL (null when it cannot be had). */
  dataURL(e: El): Promise<string | null>;
}

/** What the features share (features.ts). */
export interface FeatureContext {
  readonly host: FeatureHost;
  /** Overlays over the canvas (badges, pins), positioned in board-container pixels. */
  readonly layer: HTMLElement;
  readonly menu: HTMLElement;
  /**
   * The top of the board where notices sit (the closed banner, "since your
   * last visit", the voting bar): stacked one under the other, so that
   * none ever covers another; each has its own close button.
   */
  readonly notices: HTMLElement;
  readonly images: Pictures;
  /** Ids of the comment elements seen so far (they are kept out of the Board). */
  readonly commentIds: Set<string>;
  /** A menu button. */
  button(label: string, title: string, onClick: () => void, cls?: string): HTMLButtonElement;
  /** Calls fn with the ids of elements that changed (locally or remotely). */
  onChange(fn: (ids: string[]) => void): void;
  /** Asks for the overlays to be laid out again (at the next frame). */
  invalidate(): void;
  /** Applies ops as one local change for comments and votes (LocalEdits, "annotate"). */
  apply(ops: LocalOp[]): string[] | null;
  /** Whether the board is past its deadline (the node refuses every change then). */
  readonly closed: boolean;
  /** The user id edits are made as. */
  readonly userId: string | undefined;
  /** Board point → position in the board container (CSS px). */
  toScreen(x: number, y: number): { x: number; y: number };
  /** Centres the view on an element and selects it. */
  zoomTo(id: string): boolean;
}
