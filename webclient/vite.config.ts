import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const COMPRESS = /\.(js|css|html|svg|wasm|json)$/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/**
 * After the build: writes the service worker (with the asset list and a
 * version that changes with the content), precompresses text and wasm
 * files (.br and .gz, served by the node when the browser accepts them),
 * and keeps dist/.gitkeep, which lets `go build` embed an empty dist.
 */
function corkboardDist(): Plugin {
  return {
    name: 'corkboard-dist',
    apply: 'build',
    closeBundle() {
      const dist = join(__dirname, 'dist');
      const all = files(dist).filter((f) => !/\.(br|gz)$/.test(f) && !f.endsWith('.gitkeep'));
      const hash = createHash('sha256');
      for (const f of all.sort()) hash.update(relative(dist, f)).update(readFileSync(f));
      const assets = all.map((f) => '/' + relative(dist, f).split('\\').join('/')).filter((p) => p.startsWith('/assets/') || p === '/favicon.svg');
      const sw = readFileSync(join(__dirname, 'sw', 'sw.js'), 'utf8')
        .replace('__VERSION__', hash.digest('hex').slice(0, 12))
        .replace('__ASSETS__', JSON.stringify(assets));
      writeFileSync(join(dist, 'sw.js'), sw);
      for (const f of [...all, join(dist, 'sw.js')]) {
        if (!COMPRESS.test(f)) continue;
        const raw = readFileSync(f);
        if (raw.length < 1024) continue;
        const br = brotliCompressSync(raw, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
        });
        const gz = gzipSync(raw, { level: 9 });
        if (br.length < raw.length) writeFileSync(f + '.br', br);
        if (gz.length < raw.length) writeFileSync(f + '.gz', gz);
      }
      writeFileSync(join(dist, '.gitkeep'), '');
    },
  };
}

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 6000,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` next to a node on :8080.
    proxy: { '/v1': { target: 'http://localhost:8080', ws: true } },
  },
  plugins: [corkboardDist()],
});
