// Follow mode (follow.ts): the viewport in presence, following a person by
// their avatar, one's own pan stopping it, and a presenter whom everyone
// follows until they stop.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode } from './lib.mjs';
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

/** The board point at the middle of a page's canvas. */
function centre(page) {
  return page.evaluate(() => {
    const c = window.__corkboard.camera();
    const r = document.querySelector('canvas').getBoundingClientRect();
    return { x: c.x + r.width / 2 / c.zoom, y: c.y + r.height / 2 / c.zoom, zoom: c.zoom };
  });
}

/** Waits until page b has heard of page a's viewport as it is now (no sleep: presence is the signal). */
async function heard(a, b, name) {
  const c = await a.evaluate(() => window.__corkboard.camera());
  await b.waitForFunction(
    ([n, x, y]) => [...window.__corkboard.sync.peers.values()].some((p) => p.name === n && p.data?.v?.x === Math.round(x) && p.data?.v?.y === Math.round(y)),
    [name, c.x, c.y],
    { timeout: 5000 },
  );
}

/** Waits until page b's view is centred where page a's is (within a few board units). */
async function sameCentre(a, b) {
  const want = await centre(a);
  await b.waitForFunction(
    (w) => {
      const c = window.__corkboard.camera();
      const r = document.querySelector('canvas').getBoundingClientRect();
      return Math.abs(c.x + r.width / 2 / c.zoom - w.x) < 3 && Math.abs(c.y + r.height / 2 / c.zoom - w.y) < 3;
    },
    want,
    { timeout: 5000 },
  );
}

test('click a person to follow their view; one’s own pan stops it', async () => {
  const b = await restBoard(node.url, 'Follow', { ownerName: 'Ada' });
  const { context: ac, page: ada } = await chrome.newPage();
  await openBoard(ada, node.url, b.id, b.token, 'Ada');
  await edit(ada, noteOps(fixedId(1), 0, 0, 'here'));
  const { context: bc, page: bob } = await chrome.newPage({ viewport: { width: 900, height: 700 } });
  await openBoard(bob, node.url, b.id, b.tokens.editor, 'Bob');

  // Ada's viewport reaches Bob in her presence.
  await ada.evaluate(() => window.__corkboard.app.panBy(-400, 150));
  await bob.waitForFunction(() => [...window.__corkboard.sync.peers.values()].some((p) => p.name === 'Ada' && p.data?.v?.z > 0));
  await bob.click('.avatars .avatar.peer');
  await bob.waitForSelector('.cb-follow:not([hidden])');
  assert.match(await bob.textContent('.cb-follow'), /Following Ada/);
  await sameCentre(ada, bob);
  // Bob's window is smaller: zoomed so that what Ada sees fits in his.
  const [za, zb] = [(await centre(ada)).zoom, (await centre(bob)).zoom];
  assert.ok(zb < za, `zoom ${zb} should be under ${za}`);

  // Ada moves and zooms: Bob's view follows.
  await ada.evaluate(() => {
    window.__corkboard.app.panBy(300, -200);
    window.__corkboard.app.zoomAt(300, 300, 1.5);
  });
  await sameCentre(ada, bob);

  // Bob pans himself: he stops following, and Ada's moves no longer move him.
  await bob.mouse.move(450, 350);
  await bob.mouse.wheel(0, 120);
  await bob.waitForSelector('.cb-follow', { state: 'hidden' });
  const before = await bob.evaluate(() => window.__corkboard.camera());
  await ada.evaluate(() => window.__corkboard.app.panBy(-500, 0));
  await heard(ada, bob, 'Ada');
  assert.deepEqual(await bob.evaluate(() => window.__corkboard.camera()), before);
  await Promise.all([ac.close(), bc.close()]);
});

test('a presenter brings everyone to their view; a viewer can stop following', async () => {
  const b = await restBoard(node.url, 'Present', { ownerName: 'Ada' });
  const { context: ac, page: ada } = await chrome.newPage();
  await openBoard(ada, node.url, b.id, b.token, 'Ada');
  const { context: vc, page: vic } = await chrome.newPage();
  await openBoard(vic, node.url, b.id, b.tokens.viewer, 'Vic');
  await vic.waitForFunction(() => window.__corkboard.sync.role === 'viewer');
  assert.equal(await vic.isVisible('.cb-present'), false, 'a viewer cannot present');

  await ada.evaluate(() => window.__corkboard.app.panBy(250, 250));
  await ada.click('.cb-present');
  await vic.waitForSelector('.cb-follow[data-spot=true]:not([hidden])');
  assert.match(await vic.textContent('.cb-follow'), /Ada is presenting/);
  await sameCentre(ada, vic);
  await ada.evaluate(() => window.__corkboard.app.panBy(-600, 100));
  await sameCentre(ada, vic);

  // Vic stops: Ada's next moves leave her where she is, though Ada still presents.
  await vic.click('.cb-follow button');
  await vic.waitForSelector('.cb-follow', { state: 'hidden' });
  const before = await vic.evaluate(() => window.__corkboard.camera());
  await ada.evaluate(() => window.__corkboard.app.panBy(0, -300));
  await heard(ada, vic, 'Ada');
  assert.deepEqual(await vic.evaluate(() => window.__corkboard.camera()), before);

  // Ada stops presenting and presents again: Vic is asked again.
  await ada.click('.cb-present');
  await vic.waitForFunction(() => ![...window.__corkboard.sync.peers.values()].some((p) => p.data?.spot));
  await ada.click('.cb-present');
  await vic.waitForSelector('.cb-follow[data-spot=true]:not([hidden])');
  await Promise.all([ac.close(), vc.close()]);
});

test('a viewer who sends "spot" in its presence moves nobody: the node stamps each peer with its role', async () => {
  const b = await restBoard(node.url, 'Forged spot', { ownerName: 'Ada' });
  const { context: ac, page: ada } = await chrome.newPage();
  await openBoard(ada, node.url, b.id, b.token, 'Ada');
  const { context: vc, page: vic } = await chrome.newPage();
  await openBoard(vic, node.url, b.id, b.tokens.viewer, 'Vic');
  await vic.waitForFunction(() => window.__corkboard.sync.role === 'viewer');
  const before = await ada.evaluate(() => window.__corkboard.camera());

  // Vic's page is the attacker's: it sends a spotlight from far away
  // straight through the socket, claiming a role in its data too.
  await vic.evaluate(() => {
    const s = window.__corkboard.sync;
    s.send(JSON.stringify({ type: 'presence', data: { spot: 1, role: 'owner', v: { x: 5000, y: 5000, z: 1, w: 800, h: 600 } } }));
  });
  await ada.waitForFunction(() => [...window.__corkboard.sync.peers.values()].some((p) => p.name === 'Vic' && p.data?.spot === 1), null, { timeout: 5000 });
  const vicPeer = await ada.evaluate(() => [...window.__corkboard.sync.peers.values()].find((p) => p.name === 'Vic'));
  assert.equal(vicPeer.role, 'viewer', 'the node says who Vic is, whatever the data claims');
  assert.equal(await ada.isVisible('.cb-follow'), false, 'no "is presenting" bar for a viewer');
  assert.deepEqual(await ada.evaluate(() => window.__corkboard.camera()), before, 'Ada’s view did not move');
  await Promise.all([ac.close(), vc.close()]);
});
