// Builds @corkboard/client into dist/: the bundle (esbuild: ES modules,
// index.js headless, element.js with <corkboard-board>, shared chunks), the
// CRDT's WebAssembly next to it (crdt.wasm, from `make webclient`), the
// type declarations (tsc), and the licence files. `node build.mjs
// --no-types` skips the declarations (the tests' quick build).
//
// esbuild rather than Vite's library mode: Vite inlines assets referenced
// with new URL(…, import.meta.url) in library mode (the wasm would ship as
// base64, a third larger), and esbuild leaves that URL for the consumer's
// bundler or for Node to resolve next to the file.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const wasm = join(here, '..', 'src', 'gen', 'crdt.wasm');
if (!existsSync(wasm)) {
  console.error('no webclient/src/gen/crdt.wasm: run make webclient first');
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: { index: join(here, 'src', 'index.ts'), element: join(here, 'src', 'element.ts') },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  target: 'es2022',
  minify: true,
  legalComments: 'eof',
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
});
copyFileSync(wasm, join(dist, 'crdt.wasm'));
for (const f of ['LICENSE', 'NOTICE']) copyFileSync(join(here, '..', '..', f), join(here, f));
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, [join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-p', here], { stdio: 'inherit' });
  // Relative imports with their extension, as Node's ESM resolution (and
  // TypeScript's node16/nodenext) wants them: './sync' → './sync.js'.
  const fix = (dir) => {
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, f.name);
      if (f.isDirectory()) fix(p);
      else if (f.name.endsWith('.d.ts')) {
        const t = readFileSync(p, 'utf8').replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+?)(['"])/g, (m, a, spec, b) => (/\.(js|mjs|cjs|json)$/.test(spec) ? m : a + spec + '.js' + b));
        writeFileSync(p, t);
      }
    }
  };
  fix(join(dist, 'types'));
}
