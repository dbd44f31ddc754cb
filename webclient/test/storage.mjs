// Fails when a module of webclient/src other than store.ts touches the
// browser's storage (localStorage, sessionStorage, IndexedDB, idb): all
// persistence lives in store.ts. Comments do not count. Run by
// test/run.sh before the browser tests, and by `npm run typecheck`.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const STORAGE = /\b(localStorage|sessionStorage|indexedDB|IDBKeyRange)\b|from\s*['"]idb['"]/;
const bad = [];
for (const f of readdirSync(src).filter((f) => f.endsWith('.ts') && f !== 'store.ts')) {
  const code = readFileSync(join(src, f), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  code.split('\n').forEach((line, i) => {
    if (STORAGE.test(line)) bad.push(`${f}:${i + 1}: ${line.trim()}`);
  });
}
if (bad.length) {
  console.error('browser storage outside store.ts:\n  ' + bad.join('\n  '));
  process.exit(1);
}
console.log('browser storage only in store.ts');
