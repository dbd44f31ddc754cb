// Strings from a board in the page's pure functions: the SVG export's
// escape (src/export.ts, esc), colour names (src/ids.ts, cssColor) and
// reaction tallies (src/votes.ts, tallyOf). A board's strings are anyone's
// who may edit it (or import a board file): a note's text with a control
// character made the SVG export unreadable as XML, a colour "constructor"
// was read as Object's constructor (the SVG export and print then threw),
// and a reaction "constructor" showed that function as its count. In Node,
// the modules bundled with esbuild.
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
    stdin: { contents: "export { esc } from './src/export.ts'; export { cssColor, PALETTE } from './src/ids.ts'; export { tallyOf } from './src/votes.ts';", resolveDir: join(here, '..'), loader: 'ts' },
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

test('cssColor reads palette names as the palette own, never what every object has', () => {
  assert.equal(m.cssColor('yellow', '#000000'), m.PALETTE.yellow);
  for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf']) {
    assert.equal(m.cssColor(name, '#1e1e1e'), '#1e1e1e', name);
    assert.equal(m.cssColor(name, 'constructor'), '#000000', `${name}, with a fallback of that name too`);
  }
  assert.equal(m.cssColor('#AbCdEf', '#000000'), '#AbCdEf');
  assert.equal(m.cssColor('transparent', '#000000'), 'transparent');
});

test('reactions of any name are counted as themselves', () => {
  const t = m.tallyOf(
    {
      react: { u1: 'constructor', u2: 'constructor', u3: '__proto__', u4: '👍', u5: 'toString', u6: 'x'.repeat(17), u7: 5 },
      vote: { u1: 2, u2: 'x', u3: 1.5, u4: -1 },
    },
    'u1',
    'u3',
  );
  assert.deepEqual({ ...t.reacts }, { constructor: 2, ['__proto__']: 1, '👍': 1, toString: 1 });
  assert.deepEqual(Object.keys(t.reacts).sort(), ['__proto__', 'constructor', 'toString', '👍']);
  assert.equal(t.reacts.valueOf, undefined, 'nothing inherited');
  assert.equal(t.myReact, '__proto__');
  assert.deepEqual([t.total, t.voters, t.mine], [3, 2, 2]);
  const none = m.tallyOf(undefined, undefined, undefined);
  assert.deepEqual([none.total, none.mine, Object.keys(none.reacts).length, none.reacts.constructor], [0, 0, 0, undefined]);
});
