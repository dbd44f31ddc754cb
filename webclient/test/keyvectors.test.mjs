// The position-key vectors of docs/vectors/keys.json (docs/PROTOCOL.md
// section 5.7), run against the npm package fractional-indexing that the
// web client makes its keys with: the node (crdt.KeyBetween, checked
// against the same file by crdt's TestVectors) and the client must make
// the same keys and accept the same keys. Needs no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateKeyBetween, generateNKeysBetween } from 'fractional-indexing';

const keys = JSON.parse(readFileSync(new URL('../../docs/vectors/keys.json', import.meta.url), 'utf8'));

test('the package is the version the vectors were recorded from', () => {
  const pkg = JSON.parse(readFileSync(new URL('../node_modules/fractional-indexing/package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.version, '4.0.0');
});

test('generateKeyBetween gives every key of keys.json "between"', () => {
  assert.ok(keys.between.length >= 50, 'too few vectors');
  for (const v of keys.between) {
    // "npm" names the one deliberate difference: there the package answers
    // a key that is not valid, and the node answers a valid one.
    const want = v.npm ?? v.key;
    assert.equal(generateKeyBetween(v.a, v.b), want, `between ${v.a} and ${v.b}`);
  }
});

test('generateNKeysBetween gives every list of keys.json "nBetween"', () => {
  assert.ok(keys.nBetween.length > 0);
  for (const v of keys.nBetween) {
    assert.deepEqual(generateNKeysBetween(v.a, v.b, v.n), v.keys, `${v.n} keys between ${v.a} and ${v.b}`);
  }
});

test('the package refuses the invalid keys the node refuses (but those it reads as digit 0)', () => {
  assert.ok(keys.invalid.length > 0);
  for (const v of keys.invalid) {
    if (v.key === '') continue; // the package's null is the open end, not ""
    const call = () => generateKeyBetween(v.key, null);
    if (v.npmAccepts) {
      assert.doesNotThrow(call, `${JSON.stringify(v.key)} (${v.why})`);
    } else {
      assert.throws(call, `${JSON.stringify(v.key)} (${v.why})`);
    }
  }
});

test('sibling order is bytewise by key, then by element id', () => {
  for (const v of keys.siblingOrder) {
    const cmp = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
    // Element ids compare as their 16 bytes: their lowercase hex strings
    // compare the same way. Keys are ASCII, so string order is byte order.
    const got = [...v.siblings].sort((a, b) => cmp(a.pos, b.pos) || cmp(a.id, b.id)).map((s) => s.id);
    assert.deepEqual(got, v.order);
  }
});
