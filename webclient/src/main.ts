// Entry point: the home page at /, a board at /b/{board}, an embedded
// board at /embed/{board} (embed.ts).
import './styles.css';

const root = document.getElementById('app')!;
const m = /^\/(?:b|embed)\/([0-9a-fA-F-]{36})\/?$/.exec(location.pathname);
if (m) {
  import('./board').then(({ startBoard }) => startBoard(root, m[1].toLowerCase())).catch(fail);
} else {
  import('./home').then(({ startHome }) => startHome(root)).catch(fail);
}

function fail(e: unknown): void {
  console.error(e);
  root.innerHTML = '';
  const p = document.createElement('p');
  p.className = 'fatal';
  p.textContent = 'Corkboard could not start: ' + (e instanceof Error ? e.message : String(e));
  root.appendChild(p);
}
