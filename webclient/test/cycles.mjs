// Fails when the modules of webclient/src import each other in a loop.
// Every import counts: static, `import type` (a type-only loop still ties
// two modules' meanings together) and dynamic import(). Run by
// test/run.sh before the browser tests, and by `npm run check:cycles`.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const mods = readdirSync(src).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.\/[^'"]+)['"]|import\(\s*['"](\.\/[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"](\.\/[^'"]+)['"]/g;

/** module → the modules of src it imports. */
const graph = new Map();
for (const f of mods) {
  const text = readFileSync(join(src, f), 'utf8');
  const deps = new Set();
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2] ?? m[3]).replace(/^\.\//, '');
    const name = spec.endsWith('.ts') ? spec : spec + '.ts';
    if (mods.includes(name)) deps.add(name);
  }
  graph.set(f, deps);
}

// Depth-first search; a back edge is a loop.
const state = new Map(); // 1: on the stack, 2: done
const stack = [];
const loops = [];
function visit(m) {
  state.set(m, 1);
  stack.push(m);
  for (const d of graph.get(m)) {
    if (state.get(d) === 1) loops.push([...stack.slice(stack.indexOf(d)), d].join(' → '));
    else if (!state.has(d)) visit(d);
  }
  stack.pop();
  state.set(m, 2);
}
for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);

if (loops.length) {
  console.error(`import cycles in webclient/src (${loops.length}):\n  ` + loops.join('\n  '));
  process.exit(1);
}
console.log(`no import cycles among the ${mods.length} modules of webclient/src`);
