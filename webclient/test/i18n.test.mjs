// The client's words (src/i18n): the English and French catalogues have
// the same keys, the same placeholders in each message and an "other"
// form in each plural; and in a browser whose language is French the home
// page, the board's frame, the Share dialog and the outline (a plural)
// speak French, while a language without a catalogue gets English; and the
// board page's own words (status, deadline and role chips, search, timer,
// comments, context bar, shortcuts help, a refused edit's toast) in French.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import ts from 'typescript';
import { launch, startNode, toScreen, waitLive } from './lib.mjs';
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

test('the board page in French: status, deadline and role chips, search, timer, comments, context bar, shortcuts', async () => {
  const b = await restBoard(node.url, 'Tableau', { ownerName: 'Ada' });
  const r = await fetch(`${node.url}/v1/boards/${b.id}`, {
    method: 'PATCH',
    headers: { Authorization: 'Bearer ' + b.token, 'Content-Type': 'application/json' },
    body: JSON.stringify({ deadline: Date.now() + 3_600_000 }),
  });
  assert.equal(r.status, 200, await r.text());
  const { page, context } = await chrome.newPage({ locale: 'fr-FR' });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  assert.equal(await page.textContent('.topbar .conn'), 'En direct');
  await page.waitForSelector('.topbar .fx-deadline:not([hidden])');
  assert.match(await page.textContent('.fx-deadline'), /^Fermeture dans (59:\d\d|1:00:00)$/);
  assert.match(await page.getAttribute('.fx-deadline', 'title'), /^Ce tableau ferme le .+ : ensuite, plus rien ne peut changer$/);
  assert.equal(await page.textContent('.fx-comment-btn'), 'Commenter');
  assert.equal(await page.textContent('.fx-timer-btn'), 'Minuteur');
  assert.equal(await page.getAttribute('.fx-timer-btn', 'title'), 'Minuteur d’animation (visible par tous)');

  // The context bar of a selected note, and the search box with its count.
  await edit(page, noteOps(fixedId(1), 0, 0, 'Parc', 'yellow', 'a0'));
  const at = await toScreen(page, 100, 100);
  await page.mouse.click(at.x, at.y);
  await page.waitForSelector('.context:not([hidden]) .swatch[data-color=yellow]');
  assert.equal(await page.getAttribute('.context .swatch[data-color=yellow]', 'aria-label'), 'Couleur jaune');
  assert.equal(await page.getAttribute('.context .del', 'aria-label'), 'Supprimer');
  await page.keyboard.press('Control+f');
  await page.waitForSelector('.cb-search:not([hidden])');
  assert.equal(await page.getAttribute('.cb-search-input', 'placeholder'), 'Rechercher dans les notes, nœuds, commentaires…');
  assert.equal(await page.getAttribute('.cb-search-input', 'aria-label'), 'Rechercher dans le tableau');
  await page.keyboard.type('parc');
  await page.waitForSelector('.cb-search[data-hits="1"]');
  assert.equal(await page.textContent('.cb-search-count'), '1 sur 1');
  await page.keyboard.type('zzz');
  await page.waitForFunction(() => document.querySelector('.cb-search-count')?.textContent === 'Aucun résultat');
  await page.keyboard.press('Escape');

  // The shortcuts help, opened with its button.
  await page.click('.help-button');
  await page.waitForSelector('.help:not([hidden])');
  const rows = await page.$$eval('.help tr', (trs) => trs.map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));
  assert.deepEqual(rows[0], ['V · H', 'Sélectionner · déplacer la vue (ou maintenir Espace, ou glisser avec le bouton du milieu)']);
  assert.ok(rows.some(([k, w]) => k === 'Ctrl+D' && w === 'Dupliquer'), JSON.stringify(rows));
  assert.ok(rows.some(([k, w]) => k === 'Maj pendant une rotation' && w === 'Par pas de 15°'), JSON.stringify(rows));
  await page.click('.help-button');
  assert.deepEqual(errors, []);
  await context.close();

  // A commenter: the role chip, and the toast when trying to edit.
  const c = await chrome.newPage({ locale: 'fr-FR' });
  await openBoard(c.page, node.url, b.id, b.tokens.commenter, 'Cleo');
  await c.page.waitForSelector('.fx-role:not([hidden])');
  assert.equal(await c.page.textContent('.fx-role'), 'Peut commenter et voter');
  assert.equal(await c.page.getAttribute('.fx-role', 'title'), 'Votre lien vous permet de commenter et de voter, pas de modifier');
  await c.page.evaluate((ops) => window.__corkboard.app.edit(ops), noteOps(fixedId(2), 300, 0, 'Non'));
  await c.page.waitForSelector('.toast:not([hidden])');
  assert.equal(await c.page.textContent('.toast'), 'Vous pouvez seulement consulter ce tableau.');
  await c.context.close();
});
