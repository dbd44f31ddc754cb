// A small SMTP server on a loopback port for the browser tests: the node
// sends its e-mails to it over real SMTP (--smtp-addr, --smtp-tls none),
// and the tests read them (decoded from quoted-printable) with their
// links. It accepts every message, speaks EHLO/HELO, MAIL, RCPT, DATA,
// RSET, NOOP and QUIT, and nothing else (no AUTH, no STARTTLS: the node is
// told not to ask).
import { createServer } from 'node:net';

/** Quoted-printable (RFC 2045) to text: soft line breaks joined, =XX decoded as UTF-8. */
export function unQP(s) {
  const joined = s.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const m = /^=([0-9A-F]{2})/i.exec(joined.slice(i, i + 3));
    if (m) {
      bytes.push(parseInt(m[1], 16));
      i += 2;
    } else bytes.push(...Buffer.from(joined[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Starts the server: {addr, messages: [{from, to: [...], data, text, subject}], waitFor(pred), close()}. */
export async function startSMTP() {
  const messages = [];
  const waiters = [];
  const server = createServer((sock) => {
    let buf = '';
    let inData = false;
    let cur = { from: '', to: [], data: '' };
    const say = (l) => sock.write(l + '\r\n');
    say('220 corkboard-test ESMTP');
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          cur.data = buf.slice(0, end).replace(/^\.\./gm, '.');
          buf = buf.slice(end + 5);
          inData = false;
          const text = unQP(cur.data);
          const subject = /^Subject: (.*)$/m.exec(cur.data)?.[1] ?? '';
          messages.push({ ...cur, text, subject });
          cur = { from: '', to: [], data: '' };
          say('250 OK queued');
          for (const w of waiters.splice(0)) w();
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') sock.write('250-corkboard-test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n');
        else if (verb === 'HELO') say('250 corkboard-test');
        else if (verb === 'MAIL') (cur.from = /<([^>]*)>/.exec(line)?.[1] ?? ''), say('250 OK');
        else if (verb === 'RCPT') cur.to.push(/<([^>]*)>/.exec(line)?.[1] ?? ''), say('250 OK');
        else if (verb === 'DATA') (inData = true), say('354 End data with <CR><LF>.<CR><LF>');
        else if (verb === 'RSET') (cur = { from: '', to: [], data: '' }), say('250 OK');
        else if (verb === 'NOOP') say('250 OK');
        else if (verb === 'QUIT') say('221 Bye'), sock.end();
        else say('502 not implemented');
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const addr = `127.0.0.1:${server.address().port}`;
  return {
    addr,
    messages,
    /** Waits (bounded) for an e-mail matching pred; returns it. Each arrival wakes the wait. */
    async waitFor(pred, timeout = 20000, what = 'an e-mail') {
      const end = Date.now() + timeout;
      for (;;) {
        const m = messages.find(pred);
        if (m) return m;
        if (Date.now() > end) throw new Error(`no ${what} within ${timeout} ms; got: ${JSON.stringify(messages.map((x) => [x.to, x.subject]))}`);
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, Math.max(0, end - Date.now()));
        });
      }
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

/** The first link in an e-mail's text matching re. */
export function linkIn(m, re) {
  const url = (m.text.match(/https?:\/\/[^\s"<>]+/g) ?? []).find((u) => re.test(u));
  if (!url) throw new Error(`no link like ${re} in: ${m.text}`);
  return url;
}
