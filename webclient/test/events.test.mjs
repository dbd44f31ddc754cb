// How the board page learns of changes (src/localedits.ts, src/model.ts'
// change event, src/features.ts): every change, local or remote, reaches
// the features through the Board's change event, once; nothing patches
// the Board, and an idle page asks for no animation frames (the features
// used to poll every frame).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, waitSettled, waitState } from './lib.mjs';
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

/** Animation frames the page asks for while the test lets `frames` frames pass (its own requests not counted). */
function framesAsked(page, frames) {
  return page.evaluate(
    (frames) =>
      new Promise((resolve) => {
        const raf = window.requestAnimationFrame.bind(window);
        let asked = 0;
        window.requestAnimationFrame = (cb) => {
          asked++;
          return raf(cb);
        };
        let n = 0;
        const step = () => {
          if (++n < frames) raf(step);
          else {
            window.requestAnimationFrame = raf;
            resolve(asked);
          }
        };
        raf(step);
      }),
    frames,
  );
}

test('changes reach the features through the Board change event, and an idle page asks for no frames', async () => {
  const b = await restBoard(node.url, 'Events', { ownerName: 'Ada' });
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await waitSettled(a.page);
  assert.equal(await a.page.evaluate(() => Object.hasOwn(window.__corkboard.board, 'upsert')), false, 'the Board is not patched');

  // Idle: 30 frames pass, and the page asked for (almost) none of them: a
  // timer of the features may happen to lay out once; a per-frame loop
  // would ask for every one.
  assert.ok((await framesAsked(a.page, 30)) < 3, 'an idle page does not poll every frame');

  // A local change (LocalEdits) and a remote one (another person's) each reach the features' listeners once.
  await a.page.evaluate(() => {
    window.__changes = [];
    window.__corkboard.features.onChange((ids) => window.__changes.push(ids));
  });
  const [mine, theirs] = [fixedId(61), fixedId(62)];
  await edit(a.page, noteOps(mine, 0, 0, 'Mine'));
  assert.deepEqual(await a.page.evaluate(() => window.__changes), [[mine]]);
  const bob = await chrome.newPage();
  await openBoard(bob.page, node.url, b.id, b.tokens.editor, 'Bob');
  await edit(bob.page, noteOps(theirs, 300, 0, 'Theirs'));
  await waitState(a.page, (s, id) => s.elements.some((e) => e.id === id), theirs);
  const seen = await a.page.evaluate(() => window.__changes.flat());
  assert.deepEqual(
    seen.filter((id) => id === theirs),
    [theirs],
  );
  await bob.context.close();
  await a.context.close();
});
