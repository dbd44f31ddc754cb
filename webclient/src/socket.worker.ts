// The WebSocket of a first visit's early connection, in a dedicated worker
// (workersocket.ts): it receives on this thread, not the page's, which is
// busy starting the board while the node's far view and snapshot come in.
// Messages in: {open: url, protocol, hello} once, then {send: data} and
// {close: [code, reason]}. Messages out: {open, at}, {data} (an
// ArrayBuffer transferred, not copied, with at), {close: [code, reason]},
// {error}, and {ready, at} as it starts; at: when it happened here (ms
// since the epoch).
type Scope = {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent) => void) | null;
};
const scope = self as unknown as Scope;
let ws: WebSocket | undefined;
scope.postMessage({ ready: true, at: performance.timeOrigin + performance.now() });

scope.onmessage = (ev) => {
  const m = ev.data as { open?: string; protocol?: string; hello?: string; send?: string | Uint8Array; close?: [number?, string?] };
  if (m.open !== undefined) {
    if (ws) return;
    try {
      ws = new WebSocket(m.open, m.protocol);
    } catch {
      scope.postMessage({ error: true });
      scope.postMessage({ close: [1006, ''] });
      return;
    }
    ws.binaryType = 'arraybuffer';
    const hello = m.hello;
    ws.onopen = () => {
      // The hello goes out from here, without waiting for the page's thread.
      if (hello !== undefined) ws!.send(hello);
      scope.postMessage({ open: true, at: performance.timeOrigin + performance.now() });
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') scope.postMessage({ data: e.data });
      else scope.postMessage({ data: e.data, at: performance.timeOrigin + performance.now() }, [e.data as ArrayBuffer]);
    };
    ws.onerror = () => scope.postMessage({ error: true });
    ws.onclose = (e) => scope.postMessage({ close: [e.code, e.reason] });
  } else if (m.send !== undefined) {
    if (ws?.readyState === WebSocket.OPEN) ws.send(m.send as string);
  } else if (m.close) {
    try {
      ws?.close(...(m.close as [number, string]));
    } catch {
      ws?.close();
    }
  }
};
