// The client's words (src/i18n): the English and French catalogues have
// the same keys, the same placeholders in each message and an "other"
// form in each plural; and in a browser whose language is French the home
// page, the board's frame, the Share dialog and the outline (a plural)
// speak French, while a language without a catalogue gets English.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import ts from 'typescript';
import { launch, startNode, waitLive } from './lib.mjs';
import { edit, fixedId, noteOps, openBoard, restBoard } from './fx.mjs';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'i18n');

/** A catalogue module of src/i18n, compiled from TypeScript and imported. */
async function catalogue(name) {
  const src = readFileSync(join(DIR, name + '.ts'), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  return import('data:text/javascript;base64,' + Buffer.from(js).toString('base64'));
}

const holes = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const forms = (m) => (typeof m === 'string' ? { '': m } : m);

test('the catalogues have the same keys and placeholders', async () => {
  const { en } = await catalogue('en');
  const { fr } = await catalogue('fr');
  assert.deepEqual(Object.keys(fr).sort(), Object.keys(en).sort(), 'the same keys');
  assert.ok(Object.keys(en).length > 150, `${Object.keys(en).length} messages`);
  for (const k of Object.keys(en)) {
    const [e, f] = [forms(en[k]), forms(fr[k])];
    assert.equal(typeof en[k], typeof fr[k], `${k}: a plural in both or neither`);
    if (typeof en[k] === 'object') assert.ok(e.other && f.other, `${k}: an "other" form`);
    const want = [...new Set(Object.values(e).flatMap(holes))].sort();
    for (const [form, text] of Object.entries(f)) {
      assert.ok(text.trim(), `${k}${form && '.' + form}: empty`);
      assert.deepEqual([...new Set(holes(text))].sort().filter((h) => !want.includes(h)), [], `${k}${form && '.' + form}: placeholders English lacks`);
    }
    for (const [form, text] of Object.entries(e)) {
      // Each placeholder of a message is in its translation (a plural's {n} may be left out of a form).
      const got = new Set(Object.values(f).flatMap(holes));
      for (const h of holes(text)) assert.ok(got.has(h) || (h === 'n' && form), `${k}: {${h}} missing in French`);
    }
  }
});

let node;
let chrome;

before(async () => {
  node = await startNode();
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await node?.stop();
});

test('a French browser gets the client in French, with plurals; German falls back to English', async () => {
  const { page, context } = await chrome.newPage({ locale: 'fr-FR' });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(node.url + '/');
  await page.waitForSelector('.account[data-state]');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'fr');
  assert.equal(await page.textContent('.hero h1'), 'Vos tableaux, ensemble');
  assert.equal(await page.textContent('form.create button[type=submit]'), 'Créer le tableau');
  assert.equal(await page.textContent('.account h2'), 'Votre compte');
  assert.equal(await page.$eval('form.create select[name=template] option[value=retro]', (o) => o.textContent), 'Rétrospective');

  const b = await restBoard(node.url, 'Tableau', { ownerName: 'Ada' });
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  assert.equal(await page.textContent('.people .share'), 'Partager');
  assert.equal(await page.getAttribute('.history button[aria-label]', 'aria-label'), 'Annuler');
  assert.equal(await page.getAttribute('.toolbar [data-tool=note]', 'aria-label'), 'Note adhésive');
  await edit(page, noteOps(fixedId(1), 0, 0, 'Un', 'yellow', 'a0'));
  await page.waitForFunction(() => document.querySelector('.cb-outline h2')?.textContent === 'Plan du tableau : 1 élément');
  await edit(page, noteOps(fixedId(2), 300, 0, 'Deux', 'pink', 'a1'));
  await page.waitForFunction(() => document.querySelector('.cb-outline h2')?.textContent === 'Plan du tableau : 2 éléments');
  await page.click('.people .share');
  await page.waitForSelector('dialog.cb-share[open] .owner-part:not([hidden])');
  assert.equal(await page.textContent('dialog.cb-share header h2'), 'Partage et réglages');
  assert.equal(await page.textContent('dialog.cb-share .copy-board-link'), 'Copier le lien');
  assert.equal(await page.$eval('dialog.cb-share select[name=publicRole] option[value=viewer]', (o) => o.textContent), 'lecteur');
  assert.deepEqual(errors, []);
  await context.close();

  const de = await chrome.newPage({ locale: 'de-DE' });
  await de.page.goto(node.url + '/');
  await de.page.waitForSelector('.account[data-state]');
  assert.equal(await de.page.evaluate(() => document.documentElement.lang), 'en');
  assert.equal(await de.page.textContent('.hero h1'), 'Your boards, together');
  await de.context.close();
});
