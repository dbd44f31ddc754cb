// Entry point: the home page at /, a board at /b/{board}, an embedded
// board at /embed/{board} (embed.ts).
import './styles.css';
import wasmUrl from './gen/crdt.wasm?url';
import { askBoard, openEarly, type EarlySocketMaker } from './early';
import { WorkerSocket } from './workersocket';
import { handedOver, handOver, takeURLToken } from './boardtoken';
import { myColor, myName, newReplicaId } from './ids';

const root = document.getElementById('app')!;
const m = /^\/(?:b|embed)\/([0-9a-fA-F-]{36})\/?$/.exec(location.pathname);
if (m) {
  // A board needs the CRDT's WebAssembly before it can show anything, and
  // compiling it is the longest step of a first visit: start fetching and
  // compiling it now, while the board's code loads (crdt.ts takes the
  // module). Streaming: it compiles while it downloads.
  globalThis.corkboardWasm = compileWasm(wasmUrl);
  globalThis.corkboardWasm.catch(() => {}); // crdt.ts falls back to its own fetch
  // A first visit: ask the node for the board at once too (early.ts).
  const board = m[1].toLowerCase();
  // A link's token leaves the address bar before anything else (boardtoken.ts).
  const fromURL = takeURLToken();
  if (fromURL) handOver(board, fromURL);
  const token = fromURL ?? handedOver(board);
  // Whether the node lets this browser in (and the board's name): asked
  // first, before any connection is tried (early.ts, board.ts).
  const access = askBoard(board, token);
  access.catch(() => {}); // offline: the page starts from what it stored
  // Its socket in a worker (workersocket.ts): the snapshot comes in off
  // the page's busy thread. A test that routes or watches the page's own
  // WebSockets keeps it in the page (globalThis.corkboardSocketInPage).
  const inWorker: EarlySocketMaker | undefined =
    typeof Worker === 'function' && !(globalThis as { corkboardSocketInPage?: unknown }).corkboardSocketInPage
      ? () => {
          const w = WorkerSocket.prepare();
          return { open: (url, protocol, hello) => w.open(url, protocol, hello) as unknown as WebSocket, discard: w.discard };
        }
      : undefined;
  const early = openEarly(board, token, newReplicaId(), myName(), myColor(), access, inWorker);
  import('./board').then(({ startBoard }) => startBoard(root, board, early, token, access)).catch(fail);
  // A link to this board opened on its page only changes the fragment,
  // which loads nothing: take the token, and load the page with it.
  addEventListener('hashchange', () => {
    const t = takeURLToken();
    if (t && handOver(board, t)) location.reload();
  });
} else {
  import('./home').then(({ startHome }) => startHome(root)).catch(fail);
}

async function compileWasm(url: string): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compileStreaming(fetch(url));
  } catch {
    // Served without application/wasm: compile from bytes.
    return WebAssembly.compile(await (await fetch(url)).arrayBuffer());
  }
}

function fail(e: unknown): void {
  console.error(e);
  root.innerHTML = '';
  const p = document.createElement('p');
  p.className = 'fatal';
  const error = e instanceof Error ? e.message : String(e);
  p.textContent = 'Corkboard could not start: ' + error;
  // In the page's language once the catalogue is there (not on the start-up path).
  import('./i18n')
    .then(({ t }) => (p.textContent = t('main.failed', { error })))
    .catch(() => {});
  root.appendChild(p);
}
