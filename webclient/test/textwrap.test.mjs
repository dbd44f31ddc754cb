// The renderer's word wrap (src/render.ts, Renderer.layout): its cost is
// linear in the text, whatever the box, and its line breaks are those of
// measuring every candidate line, as it did before (kept below as the
// reference). A text element 1e8 units wide put a whole paragraph on one
// line, which that way cost the square of its length: 4,096 words held a
// page for 50 s. In Node, the module bundled with esbuild, with a canvas
// whose measureText counts what it is asked (widths by character, with
// kerning pairs, so that a line's width is not quite the sum of its
// pieces'). The seed is logged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** What measureText was asked: calls and characters. */
const asked = { calls: 0, chars: 0 };

/** A 2D context of widths only: 0.55 em a character (0.3 for i, l and spaces, 0 for U+200B and U+FEFF), less 0.08 em per kerning pair. */
function measureCtx() {
  const ctx = {
    font: '10px sans-serif',
    measureText(s) {
      asked.calls++;
      asked.chars += s.length;
      const em = parseFloat(ctx.font);
      let w = 0;
      let prev = '';
      for (const ch of s) {
        w += ch === '\u200b' || ch === '\ufeff' ? 0 : /[il\s]/.test(ch) ? 0.3 : 0.55;
        if ((prev === 'A' && ch === 'V') || (prev === 'T' && ch === 'o')) w -= 0.08;
        prev = ch;
      }
      return { width: w * em };
    },
  };
  return ctx;
}

async function load() {
  const dir = mkdtempSync(join(tmpdir(), 'textwrap-'));
  const out = join(dir, 'render.mjs');
  await build({ entryPoints: [join(here, '../src/render.ts')], bundle: true, format: 'esm', platform: 'neutral', mainFields: ['module', 'main'], outfile: out, logLevel: 'silent' });
  globalThis.document = { createElement: () => ({ getContext: () => measureCtx() }) };
  const m = await import(pathToFileURL(out).href);
  rmSync(dir, { recursive: true, force: true });
  return m;
}

/** The wrap as it was: every candidate line measured whole. */
function reference(ctx, text, width, fs, font) {
  ctx.font = `${fs}px ${font}`;
  const out = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const w of para.split(/(\s+)/)) {
      if (!w) continue;
      const cand = line + w;
      if (ctx.measureText(cand).width <= width || !line) {
        if (!line && ctx.measureText(w).width > width && !/^\s+$/.test(w)) {
          let part = '';
          for (const ch of w) {
            if (part && ctx.measureText(part + ch).width > width) {
              out.push(part);
              part = '';
            }
            part += ch;
          }
          line = part;
        } else line = cand;
      } else {
        out.push(line.trimEnd());
        line = /^\s+$/.test(w) ? '' : w;
      }
    }
    out.push(line.trimEnd());
  }
  return out;
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const m = await load();
const renderer = () => new m.Renderer({ getContext: () => measureCtx() });

test('a paragraph on one very wide line is measured in time linear in its length', () => {
  for (const words of [2048, 4096, 16384]) {
    const text = 'ab '.repeat(words);
    asked.calls = asked.chars = 0;
    const l = renderer().layout(text, 1e8, 5000, 24, false);
    assert.ok(asked.chars <= 4 * text.length, `${words} words: ${asked.chars} characters measured for ${text.length}`);
    // "ab" and " " once each, and a few measures of each line near its end.
    assert.ok(asked.calls <= 2 + 5 * l.lines.length, `${words} words: ${asked.calls} measures for ${l.lines.length} lines`);
  }
  // Distinct words: one measure each, and the lines at most 1000 ems wide.
  const text = Array.from({ length: 20000 }, (_, i) => 'w' + i).join(' ');
  asked.calls = asked.chars = 0;
  const l = renderer().layout(text, 1e8, 1e8, 24, false);
  assert.ok(asked.chars <= 4 * text.length, `${asked.chars} characters measured for ${text.length}`);
  const ctx = measureCtx();
  ctx.font = `24px ${m.FONT}`;
  for (const line of l.lines) assert.ok(ctx.measureText(line).width <= 24 * m.MAX_WRAP_EMS, 'a line within 1000 ems');
});

test('a word wider than the box is broken in linear time too, and zero-width characters cost no more', () => {
  // 378 Ms are 4,989.6 wide: a line 10 short of the edge, then 40,000 words
  // of no width (U+FEFF is a space to \s), each of which lands within an em
  // of the edge.
  for (const text of ['x'.repeat(200_000), 'M'.repeat(378) + '\ufeff\u200b'.repeat(20_000), 'AV'.repeat(30_000)]) {
    asked.calls = asked.chars = 0;
    renderer().layout(text, 5000, 1e8, 24, false);
    assert.ok(asked.chars <= 8 * Math.min(text.length, m.MAX_LAYOUT_CHARS), `${asked.chars} characters measured for ${text.length}`);
  }
});

test('a text past MAX_LAYOUT_CHARS is laid out up to there, with an ellipsis', () => {
  const text = 'word '.repeat(40_000);
  const l = renderer().layout(text, 400, 1e8, 20, false);
  const joined = l.lines.join(' ');
  assert.ok(joined.endsWith('…'));
  assert.ok(joined.length <= m.MAX_LAYOUT_CHARS + 1);
  // Not half of a surrogate pair.
  const emoji = 'a'.repeat(m.MAX_LAYOUT_CHARS - 1) + '😀'.repeat(10);
  const e = renderer().layout(emoji, 1e8, 1e8, 20, false).lines.join('');
  assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(e), 'no lone high surrogate');
});

test('the line breaks are those of measuring every candidate line', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 1e9);
  console.log('seed', seed);
  const rand = rng(seed);
  const pieces = ['a', 'To', 'AV', 'il', 'Wm', 'x', '😀', 'é', '\u200b'];
  const spaces = [' ', ' ', ' ', '  ', '\t', '\n', ' \n '];
  const r = renderer();
  const ctx = measureCtx();
  for (let k = 0; k < 300; k++) {
    let text = '';
    const n = Math.floor(rand() * 80);
    for (let i = 0; i < n; i++) {
      const len = rand() < 0.05 ? 40 + Math.floor(rand() * 80) : 1 + Math.floor(rand() * 6);
      for (let j = 0; j < len; j++) text += pieces[Math.floor(rand() * pieces.length)];
      text += spaces[Math.floor(rand() * spaces.length)];
    }
    const width = 4 + Math.floor(rand() * 600);
    const fs = [8, 12, 16, 20, 24, 48][Math.floor(rand() * 6)];
    const want = reference(ctx, text, width, fs, m.FONT);
    const got = r.layout(text, width, 1e9, fs, false).lines;
    assert.deepEqual(got, want, `text ${JSON.stringify(text)} at width ${width}, ${fs}px`);
  }
});
