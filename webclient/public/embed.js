/*
 * Corkboard embed helper (docs/EMBED.md). Load it from the node that serves
 * the board, then:
 *
 *   const board = Corkboard.embed(document.getElementById('here'), {
 *     node: 'https://boards.example.com',    // default: where this script came from
 *     board: '0190f5e2-…', token: '…', mode: 'view',  // or 'edit'
 *   });
 *   board.on('ready', (e) => …); board.on('change', (e) => e.ids); board.on('selection', (e) => e.ids);
 *   await board.zoomTo(elementId); await board.select([id1, id2]);
 *   await board.setMode('edit'); await board.load(otherBoard, otherToken);
 *
 * Commands return promises that settle with the embed's answer. Messages are
 * posted to the node's origin only, and only messages from the iframe's
 * window at the node's origin are taken.
 */
(function () {
  'use strict';
  var here = document.currentScript && document.currentScript.src ? new URL(document.currentScript.src).origin : location.origin;

  function embed(container, opts) {
    opts = opts || {};
    var node = new URL(opts.node || here).origin;
    var mode = opts.mode === 'edit' ? 'edit' : 'view';
    var iframe = document.createElement('iframe');
    iframe.title = opts.title || 'Corkboard board';
    iframe.style.border = '0';
    iframe.style.width = opts.width || '100%';
    iframe.style.height = opts.height || '100%';
    iframe.allow = 'clipboard-write';
    var handlers = {};
    var waiting = {};
    var seq = 0;

    // The token goes in the fragment, which is never sent to a server (no
    // access log, no Referer); the embed takes it out of its address at once.
    function src(board, token) {
      var q = new URLSearchParams({ mode: mode, origin: location.origin });
      return node + '/embed/' + encodeURIComponent(board) + '?' + q.toString() + (token ? '#token=' + encodeURIComponent(token) : '');
    }

    function onMessage(ev) {
      if (ev.source !== iframe.contentWindow || ev.origin !== node) return;
      var m = ev.data;
      if (!m || m.corkboard !== 1 || typeof m.event !== 'string') return;
      if (m.event === 'result') {
        var w = waiting[m.id];
        if (w) {
          delete waiting[m.id];
          if (m.ok) w.resolve();
          else w.reject(new Error(m.error || 'failed'));
        }
        return;
      }
      (handlers[m.event] || []).slice().forEach(function (fn) {
        try {
          fn(m);
        } catch (e) {
          console.error(e);
        }
      });
    }
    window.addEventListener('message', onMessage);

    function send(msg) {
      return new Promise(function (resolve, reject) {
        var id = ++seq;
        waiting[id] = { resolve: resolve, reject: reject };
        msg.corkboard = 1;
        msg.id = id;
        iframe.contentWindow.postMessage(msg, node);
      });
    }

    iframe.src = src(opts.board, opts.token);
    container.appendChild(iframe);

    return {
      iframe: iframe,
      on: function (event, fn) {
        (handlers[event] = handlers[event] || []).push(fn);
        return this;
      },
      off: function (event, fn) {
        handlers[event] = (handlers[event] || []).filter(function (f) {
          return f !== fn;
        });
        return this;
      },
      load: function (board, token) {
        return send({ cmd: 'load', board: board, token: token || '' });
      },
      select: function (ids) {
        return send({ cmd: 'select', ids: ids });
      },
      zoomTo: function (elementId) {
        return send({ cmd: 'zoomTo', el: elementId });
      },
      setMode: function (m) {
        mode = m === 'edit' ? 'edit' : 'view';
        return send({ cmd: 'setMode', mode: mode });
      },
      destroy: function () {
        window.removeEventListener('message', onMessage);
        iframe.remove();
      },
    };
  }

  window.Corkboard = window.Corkboard || {};
  window.Corkboard.embed = embed;
})();
