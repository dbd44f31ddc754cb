// The script of embed-example.html (docs/EMBED.md): a page that embeds a
// board with the node's /embed.js and drives it from a few buttons. A file
// of its own, not inline, so that the node can serve the page with a CSP
// that runs its own origin's scripts only.
(function () {
  var q = new URLSearchParams(location.search);
  // The node to embed from: this page's own origin, or &node=, an http(s)
  // origin (anything else is refused). Its /embed.js is loaded as a script.
  var node = location.origin;
  if (q.get('node')) {
    try {
      var u = new URL(q.get('node'));
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
      node = u.origin;
    } catch (e) {
      log('node= must be an http(s) URL');
      return;
    }
  }
  var s = document.createElement('script');
  s.src = node + '/embed.js';
  s.onload = start;
  s.onerror = function () { log('could not load ' + s.src); };
  document.head.appendChild(s);
  function log(m) {
    var d = document.getElementById('log');
    d.textContent = m + '\n' + d.textContent;
  }
  function start() {
    var frag = new URLSearchParams(location.hash.slice(1));
    var token = frag.get('token') || q.get('token') || '';
    if (frag.has('token') || q.has('token')) {
      q.delete('token');
      history.replaceState(null, '', location.pathname + '?' + q.toString());
    }
    var board = Corkboard.embed(document.getElementById('board'), { node: node, board: q.get('board'), token: token, mode: q.get('mode') || 'view' });
    window.board = board;
    board.on('ready', function (e) { log('ready: ' + e.board + ' as ' + e.role + ' (' + e.mode + ')'); });
    board.on('change', function (e) { log('changed: ' + e.ids.join(', ')); });
    board.on('selection', function (e) {
      log('selection: ' + e.ids.join(', '));
      if (e.ids.length) document.getElementById('el').value = e.ids[0];
    });
    var el = function () { return document.getElementById('el').value.trim(); };
    var report = function (p) { p.catch(function (e) { log('error: ' + e.message); }); };
    document.getElementById('view').onclick = function () { report(board.setMode('view')); };
    document.getElementById('edit').onclick = function () { report(board.setMode('edit')); };
    document.getElementById('zoom').onclick = function () { report(board.zoomTo(el())); };
    document.getElementById('sel').onclick = function () { report(board.select([el()])); };
  }
})();
