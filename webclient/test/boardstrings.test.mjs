// Strings from a board in the page's pure functions: the SVG export's
// escape (src/export.ts, esc). A board's strings are anyone's who may edit
// it (or import a board file): a note's text with a control character made
// the SVG export unreadable as XML. In Node, the modules bundled with
// esbuild.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

async function load() {
  const dir = mkdtempSync(join(tmpdir(), 'boardstrings-'));
  const out = join(dir, 'm.mjs');
  await build({
    stdin: { contents: "export { esc } from './src/export.ts';", resolveDir: join(here, '..'), loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    loader: { '.css': 'empty' },
    outfile: out,
    logLevel: 'silent',
  });
  const m = await import(pathToFileURL(out).href);
  rmSync(dir, { recursive: true, force: true });
  return m;
}

const m = await load();

/** Every character XML 1.0 allows (its Char production). */
const XML_CHARS = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

test('esc leaves out what XML forbids, escapes markup, keeps the rest', () => {
  const all = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('') + '\uFFFE\uFFFF\uD800x\uDC00y\uDBFF';
  const out = m.esc(all);
  assert.ok(XML_CHARS.test(out), JSON.stringify(out));
  assert.equal(out, '\t\n\rxy');
  assert.equal(m.esc('a\u0001b <c> & "d" 😀 é \u2028 \uFFFD'), 'ab &lt;c&gt; &amp; &quot;d&quot; 😀 é \u2028 \uFFFD');
  // A whole note's text, as the export writes it, is well-formed.
  const text = 'Plan\u0001\u0008\u000B\u001F for Q3 \uD83D — <b>bold</b>';
  assert.ok(XML_CHARS.test(m.esc(text)));
});
