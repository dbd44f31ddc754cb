// The board page's shared view of the board's metadata and one's access
// to it (GET /v1/boards/{board}), with the types of the account API. The
// access pieces (share.ts, notify.ts, voting.ts, summary.ts) take a
// BoardAccess; account.ts makes it (installBoardAccess). Kept apart from
// account.ts so that those pieces do not import the module that imports
// them.
import { api } from './api';
import type { Features } from './features';
import type { TimerState } from './timer';

/** A signed-in person (GET /v1/me). */
export interface User {
  id: string;
  email: string;
  name: string;
  color?: string;
  tz?: string;
}

/** A board's metadata (docs/API.md, POST /v1/boards). */
export interface BoardMeta {
  id: string;
  name: string;
  created: number;
  owner: string;
  access: string;
  publicRole?: string;
  deadline?: number;
  voting?: VotingMeta;
  /** The facilitation timer (timer.ts). */
  timer?: TimerState;
  epoch: number;
  updated?: number;
}

export interface VotingMeta {
  session: string;
  state: string;
  dots: number;
  anonymous: boolean;
  opened: number;
  closed?: number;
}

export interface Me {
  user: User;
  boards: { board: BoardMeta; role: string }[];
}

/** GET /v1/boards/{board}. */
export interface BoardView {
  board: BoardMeta;
  you: { id: string; name: string; role: string };
  closed: boolean;
  voter: string;
  /** The node's clock (unix ms). */
  now?: number;
}

/** What the board page's access pieces share; see the file comment. */
export class BoardAccess {
  view: BoardView | null = null;
  me: Me | null = null;
  /** A read_only refusal's message, until the metadata says the board reopened. */
  refused = '';
  private listeners: (() => void)[] = [];
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private loading: Promise<void> | null = null;

  constructor(readonly f: Features) {}

  get boardId(): string {
    return this.f.host.boardId;
  }

  /** The board token this page uses, if any (a session cookie otherwise). */
  get token(): string | undefined {
    return this.f.host.sync.record.token ?? this.f.host.token();
  }

  /** The role now: the live one (role frames) over the last metadata. */
  get role(): string {
    return this.f.host.sync.role ?? this.view?.you.role ?? '';
  }

  get isOwner(): boolean {
    return this.role === 'owner';
  }

  /** Whether the board is past its deadline now. */
  get closed(): boolean {
    const d = this.view?.board.deadline ?? 0;
    return (d > 0 && Date.now() >= d) || this.view?.closed === true;
  }

  /**
   * Calls the board's REST API with this page's credentials; session:
   * with the signed-in session only (what is one's own as a person —
   * notification preferences, one's last visit — needs it even when the
   * page holds a board token).
   */
  call<T = unknown>(method: string, sub: string, body?: unknown, session = false): Promise<T> {
    return api<T>(method, `/v1/boards/${this.boardId}${sub}`, body, session ? undefined : this.token);
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Reads the board's metadata again (coalesced). */
  refresh(): Promise<void> {
    this.loading ??= this.call<BoardView>('GET', '')
      .then((v) => this.set(v))
      .catch((e) => console.warn('corkboard: board metadata', e))
      .finally(() => (this.loading = null));
    return this.loading;
  }

  /** Takes a metadata answer (GET or PATCH). */
  set(v: BoardView): void {
    this.view = v;
    // One deadline on the page: the features' (read-only, the chips) follows each answer at once.
    this.f.setDeadline(v.board.deadline ?? 0, v.closed === true);
    this.f.timer.fromBoard(v.board.timer, v.now);
    if (!this.closed && !/voting/.test(this.refused)) this.refused = '';
    clearTimeout(this.deadlineTimer);
    const d = v.board.deadline ?? 0;
    // A deadline to come: turn read-only when it passes (capped: timers overflow past 24.8 days).
    if (d > Date.now()) this.deadlineTimer = setTimeout(() => this.emit(), Math.min(d - Date.now() + 50, 2 ** 31 - 1));
    this.emit();
  }

  emit(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (e) {
        console.error('corkboard: access listener', e);
      }
    }
  }
}
