// The summary's "Print or save as PDF" (src/summaryprint.ts) in a real
// browser against a real node: the menu opens the node's printable summary
// in a new window with this client's SVG export of the board (the notes'
// text) in place of the node's numbered boxes, every idea with its thread,
// and calls print() there (stubbed: no dialog in a test); the page renders
// to a PDF of some substance. The menu also downloads the HTML page, named
// as the other downloads ("<board> summary.<ext>"), the ideas as CSV for a
// spreadsheet (ranked by dots, quoted, a note that would run as a formula
// kept as text) and the summary as plain text.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, waitSettled } from './lib.mjs';
import { edit, fixedId, noteOps, openBoard, restBoard } from './fx.mjs';

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

test('summary: print or save as PDF opens the summary with the board picture and prints it; HTML download', async () => {
  const { context, page } = await chrome.newPage();
  // Every page of the context, the print window included: print() counts
  // instead of opening the dialog.
  await context.addInitScript(() => {
    window.print = () => {
      window.__printed = (window.__printed ?? 0) + 1;
    };
  });
  const b = await restBoard(node.url, 'Offsite');
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const [n1, n2, n3, c1] = [fixedId(1), fixedId(2), fixedId(3), fixedId(4)];
  await edit(page, [
    ...noteOps(n1, 0, 0, 'Lake walk', 'yellow', 'a0'),
    ...noteOps(n2, 300, 0, 'Sauna <b> & co', 'blue', 'a1'),
    ...noteOps(n3, 600, 0, 'Board games', 'pink', 'a2'),
  ]);
  const me = await page.evaluate(() => window.__corkboard.sync.user.id);
  await edit(page, [
    { op: 'create', el: c1, kind: 'comment' },
    { op: 'set', el: c1, key: 'target', value: n1 },
    { op: 'set', el: c1, key: 'author', value: me },
    { op: 'insertText', el: c1, field: 'text', pos: 0, text: 'Bring boots' },
  ]);
  await waitSettled(page);

  await page.click('.cb-summary-btn');
  const [win] = await Promise.all([context.waitForEvent('page'), page.click('.cb-summary button[data-format=print]')]);
  await win.waitForFunction(() => window.__printed === 1 && document.readyState === 'complete', null, { timeout: 15000 });
  const got = await win.evaluate(() => {
    const fig = document.querySelector('figure.board');
    const svg = fig?.querySelector('svg');
    return {
      title: document.title,
      picture: fig?.dataset.picture,
      caption: !!fig?.querySelector('figcaption'),
      texts: svg ? [...svg.querySelectorAll('text')].map((t) => t.textContent) : [],
      shown: svg ? svg.getBoundingClientRect().width : 0,
      ideas: [...document.querySelectorAll('.idea')].map((e) => e.textContent.replace(/\s+/g, ' ').trim()),
      bold: document.querySelectorAll('b').length,
      printed: window.__printed,
    };
  });
  assert.equal(got.title, 'Offsite — summary');
  assert.equal(got.picture, 'board', "the client's export replaced the node's boxes");
  assert.equal(got.caption, false, 'the caption about numbered boxes went with them');
  for (const want of ['Lake walk', 'Sauna <b> & co', 'Board games']) assert.ok(got.texts.includes(want), `the picture lacks ${want}: ${got.texts}`);
  assert.ok(got.shown > 300, `the picture is shown at a page's width (${got.shown})`);
  assert.equal(got.ideas.length, 3, got.ideas.join('\n'));
  for (const want of ['Lake walk', 'Sauna <b> & co', 'Board games']) assert.ok(got.ideas.some((t) => t.includes(want)), `the list lacks ${want}`);
  assert.ok(got.ideas.find((t) => t.includes('Lake walk')).includes('Bring boots'), 'the idea carries its thread');
  assert.equal(got.bold, 0, "a note's <b> stays text");
  assert.equal(got.printed, 1);

  // It renders to PDF (Chromium headless), with some substance.
  const pdf = await win.pdf({ format: 'A4' });
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  assert.ok(pdf.length > 10_000, `PDF of ${pdf.length} bytes`);
  await win.close();

  // The HTML download: the same page, with the node's picture, named as the others.
  await page.click('.cb-summary-btn');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('.cb-summary button[data-format=html]')]);
  assert.equal(dl.suggestedFilename(), 'Offsite summary.html');
  const html = await new Response((await dl.createReadStream())).text();
  assert.match(html, /<figure class="board" data-picture="boxes"><svg /);
  assert.ok(html.includes('Sauna &lt;b&gt; &amp; co') && html.includes('Bring boots'));
  await context.close();
});

test('summary: the menu downloads the ideas as CSV for a spreadsheet, and the summary as plain text', async () => {
  const { context, page } = await chrome.newPage();
  const b = await restBoard(node.url, 'Retro');
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const [n1, n2, n3] = [fixedId(11), fixedId(12), fixedId(13)];
  await edit(page, [
    ...noteOps(n1, 0, 0, 'Lake walk, then "lunch"', 'yellow', 'a0'),
    ...noteOps(n2, 300, 0, '=HYPERLINK("http://evil.test","x")', 'blue', 'a1'),
    ...noteOps(n3, 600, 0, 'Board games', 'pink', 'a2'),
  ]);
  await page.evaluate((n) => window.__corkboard.features.votes.vote(n, 2), n3);
  await page.waitForFunction((n) => window.__corkboard.features.votes.tally(n).total === 2, n3);
  await waitSettled(page);

  await page.click('.cb-summary-btn');
  const labels = await page.$$eval('.cb-summary button', (bs) => bs.map((b) => [b.dataset.format, b.textContent.trim()]));
  assert.deepEqual(
    labels.map(([f]) => f),
    ['md', 'txt', 'csv', 'json', 'html', 'print'],
  );
  assert.ok(labels.every(([, l]) => l), `a label for every format: ${labels}`);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('.cb-summary button[data-format=csv]')]);
  assert.equal(dl.suggestedFilename(), 'Retro summary.csv');
  const csv = Buffer.from(await new Response(await dl.createReadStream()).arrayBuffer()).toString('utf8');
  assert.ok(csv.startsWith('\uFEFFRank,Idea,Kind,Dots,'), csv);
  const lines = csv.slice(1).split('\r\n');
  assert.equal(lines.at(-1), '', 'ends with CRLF');
  const ideas = lines.slice(1, -1);
  assert.equal(ideas.length, 3, csv);
  assert.match(ideas[0], /^1,Board games,note,2,1,,Owner,0,/);
  // No dots: by text, as in the other formats.
  assert.ok(ideas[1].startsWith(`2,"'=HYPERLINK(""http://evil.test"",""x"")",note,0,0,,Owner,0,`), ideas[1]);
  assert.ok(ideas[2].startsWith('3,"Lake walk, then ""lunch""",note,0,0,,Owner,0,'), ideas[2]);

  await page.click('.cb-summary-btn');
  const [dt] = await Promise.all([page.waitForEvent('download'), page.click('.cb-summary button[data-format=txt]')]);
  assert.equal(dt.suggestedFilename(), 'Retro summary.txt');
  const txt = await new Response(await dt.createReadStream()).text();
  assert.match(txt, /^Retro\n=====/);
  assert.ok(txt.includes('1. Board games (proposed by Owner)'), txt);
  await context.close();
});
