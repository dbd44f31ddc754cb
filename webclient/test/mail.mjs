// The e-mails of a test node: a node without an SMTP relay writes each
// e-mail to its log (JSON lines, msg "mail (no SMTP relay configured, not
// sent)"); start it with startNode({logLevel: 'info', publicURL: true}).

/** Every e-mail the node has logged so far: {to, subject, text}. */
export function mails(node) {
  const out = [];
  for (const line of node.log().split('\n')) {
    if (!line.includes('no SMTP relay')) continue;
    let j;
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    const to = Array.isArray(j.to) ? j.to.join(',') : String(j.to ?? '');
    out.push({ to, subject: j.subject ?? '', text: j.text ?? '' });
  }
  return out;
}

/**
 * Waits for an e-mail to `to` with a link matching `re` that was not seen
 * before (the node's outbox sends it soon after the request), and returns
 * the link. A bounded poll of the node's log: the node is a real external
 * process that gives no other signal.
 */
export async function mailLink(node, to, re, seen = new Set(), timeout = 15000) {
  const end = Date.now() + timeout;
  for (;;) {
    for (const m of mails(node)) {
      if (!m.to.includes(to)) continue;
      for (const url of m.text.match(/https?:\/\/\S+/g) ?? []) {
        if (re.test(url) && !seen.has(url)) {
          seen.add(url);
          return url;
        }
      }
    }
    if (Date.now() > end) throw new Error(`no e-mail to ${to} with a link like ${re}; mails: ${JSON.stringify(mails(node))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** POSTs an e-mailed link (sign-in or invite) as an API client would: returns {session, user, next}. */
export async function confirmJSON(link) {
  const r = await fetch(link, { method: 'POST', headers: { Accept: 'application/json' } });
  if (r.status !== 200) throw new Error(`POST ${link}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Signs in over the API through the e-mailed link; returns the session token. */
export async function signInAPI(node, email, seen) {
  const r = await fetch(node.url + '/v1/signin', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email }) });
  if (r.status !== 202) throw new Error(`sign-in: ${r.status} ${await r.text()}`);
  return (await confirmJSON(await mailLink(node, email, /\/v1\/signin\//, seen))).session;
}

/** Gives a browser context the session (the cookie signing in would set). */
export function useSession(context, node, session) {
  return context.addCookies([{ name: 'cb_session', value: session, url: node.url, httpOnly: true, sameSite: 'Lax' }]);
}

/** A REST call on node with a session: the decoded JSON (throws on an unexpected status). */
export async function sessionCall(node, session, method, path, body, want = 200) {
  const r = await fetch(node.url + path, {
    method,
    headers: { Authorization: `Session ${session}`, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json().catch(() => null);
  if (r.status !== want) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)} (want ${want})`);
  return j;
}

/** Signs someone in over the API with a profile (name, colour): their session. */
export async function person(node, email, name, color) {
  const s = await signInAPI(node, email);
  await sessionCall(node, s, 'PATCH', '/v1/me', { name, color });
  return s;
}
