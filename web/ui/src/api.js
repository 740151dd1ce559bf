// Calls to the Sluice API. The page is served by the same server, so the
// session cookie (set by the login page when the server has a token)
// carries auth for every fetch and websocket; a 401 means the session
// ended, and the page goes back to the login.

let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

export class SessionEnded extends Error {}

export async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.body = body;
    init.headers['Content-Type'] = 'application/sql';
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    unauthorized();
    throw new SessionEnded('the session ended: log in again');
  }
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  return { status: res.status, ok: res.ok, data };
}

export async function getJSON(path) {
  const r = await call('GET', path);
  return r.ok ? r.data : null;
}

// openPreview opens the preview websocket and sends the request as its
// first message (so the SQL never appears in a logged URL).
export function openPreview(request, on) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/preview`);
  let heard = false;
  ws.onopen = () => ws.send(JSON.stringify(request));
  ws.onmessage = (ev) => {
    heard = true;
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    on.message(msg);
  };
  ws.onclose = async (ev) => {
    if (!heard) {
      // A refused upgrade says nothing to the page: ask the API whether
      // the session is still good.
      try { await call('GET', '/api/v1/sources'); } catch { return; }
    }
    on.close(ev, heard);
  };
  return ws;
}

// openSocket opens a websocket to an API path that needs no request
// message (a pipeline's tail or live counters).
export function openSocket(path, on) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}${path}`);
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    on.message(msg);
  };
  ws.onclose = (ev) => on.close && on.close(ev);
  return ws;
}
