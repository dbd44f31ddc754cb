// Bundles the peer editors' pages (src/*.jsx) into dist/ with esbuild: one
// script, its CSS and an HTML page each, production builds of React and of
// the editors; Excalidraw's fonts are copied beside them (it loads them
// from EXCALIDRAW_ASSET_PATH), so the pages need no network.
import { build } from 'esbuild';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
mkdirSync(dist, { recursive: true });
for (const name of ['excalidraw', 'tldraw']) {
  await build({
    entryPoints: [join(here, 'src', name + '.jsx')],
    bundle: true,
    minify: process.env.PEERS_MINIFY !== "0",
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    conditions: ['production'],
    define: { 'process.env.NODE_ENV': '"production"', 'process.env.IS_PREACT': '"false"' },
    // tldraw's assets are imported as files (@tldraw/assets/imports), its
    // translations too; Excalidraw imports JSON as data (open-color).
    loader: { '.woff2': 'file', '.ttf': 'file', '.svg': 'file', '.png': 'file', ...(name === 'tldraw' ? { '.json': 'file' } : {}) },
    publicPath: '/',
    outfile: join(dist, name + '.js'),
    logLevel: 'warning',
  });
  writeFileSync(
    join(dist, name + '.html'),
    `<!doctype html><html><head><meta charset="utf-8"><title>${name}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/${name}.css"></head>` +
      `<body style="margin:0"><div id="root"></div><script type="module" src="/${name}.js"></script></body></html>\n`,
  );
}
cpSync(join(here, 'node_modules/@excalidraw/excalidraw/dist/prod/fonts'), join(dist, 'fonts'), { recursive: true });
