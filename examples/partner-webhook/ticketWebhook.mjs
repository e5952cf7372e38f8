#!/usr/bin/env node
// A partner's webhook for Postern's delegated evaluation: it opens the door for the ticket codes
// it knows. Node.js 18 or later, no package. Run it with the secret shared with the site:
//
//   POSTERN_WEBHOOK_SECRET=<the site's delegation secret> TICKETS_FILE=tickets.json node ticketWebhook.mjs
//
// tickets.json maps each ticket code to its holder's name: {"TKT-7F3K-2291": "Ada Lovelace"}
// (TICKETS may hold the same JSON instead of a file). PORT (default 8090; 0 picks a free one) and
// HOST (default 127.0.0.1) say where to listen; it prints "listening on http://HOST:PORT/".
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const SECRET = process.env.POSTERN_WEBHOOK_SECRET ?? '';
const TOLERANCE_SECONDS = 300; // what Postern allows too: keep both clocks on NTP
const MAX_REQUEST_BYTES = 64 * 1024;

if (SECRET.length < 32) {
  console.error('POSTERN_WEBHOOK_SECRET must hold the shared secret (at least 32 characters)');
  process.exit(2);
}
const tickets = JSON.parse(process.env.TICKETS_FILE ? readFileSync(process.env.TICKETS_FILE, 'utf8') : (process.env.TICKETS ?? '{}'));

/** HMAC-SHA256 over "<t>.<body>", in hex. */
function mac(timestamp, body) {
  return createHmac('sha256', SECRET).update(`${timestamp}.`).update(body).digest('hex');
}

/** "t=<unix seconds>,v1=<hex>" for a body signed now. */
function sign(body) {
  const now = Math.floor(Date.now() / 1000);
  return `t=${now},v1=${mac(now, body)}`;
}

/** True when the Postern-Signature header fits the raw body and is fresh. */
function verify(header, body) {
  if (typeof header !== 'string') return false;
  let timestamp;
  const candidates = [];
  for (const part of header.split(',')) {
    const [key, value = ''] = part.trim().split('=');
    if (key === 't' && /^\d+$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined) return false;
  const expected = Buffer.from(mac(timestamp, body), 'hex');
  const matched = candidates.some((candidate) => timingSafeEqual(candidate, expected));
  return matched && Math.abs(Date.now() / 1000 - timestamp) <= TOLERANCE_SECONDS;
}

/** The decision for one scan: grant a known ticket, deny anything else. */
function decide(scan) {
  const holder = Object.hasOwn(tickets, scan.text) ? tickets[scan.text] : undefined;
  if (holder === undefined) return { nonce: scan.nonce, decision: 'deny', reason: 'unknown ticket' };
  return { nonce: scan.nonce, decision: 'grant', subject: holder, reason: `ticket valid at ${scan.door}` };
}

function reply(res, status, answer) {
  const body = JSON.stringify(answer);
  res.writeHead(status, { 'content-type': 'application/json', 'postern-signature': sign(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') return reply(res, 405, { error: 'POST only' });
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => {
    // The signature covers the bytes as received: verify before parsing.
    const body = Buffer.concat(chunks);
    if (!verify(req.headers['postern-signature'], body)) return reply(res, 401, { error: 'bad signature' });
    let scan;
    try {
      scan = JSON.parse(body.toString('utf8'));
    } catch {
      return reply(res, 400, { error: 'not JSON' });
    }
    if (scan.type !== 'scan' || typeof scan.text !== 'string' || typeof scan.nonce !== 'string') return reply(res, 400, { error: 'not a scan' });
    const answer = decide(scan);
    console.log(`${scan.id} ${scan.site}/${scan.door}: ${answer.decision}${answer.subject ? ` (${answer.subject})` : ''}`);
    reply(res, 200, answer);
  });
});

server.listen(Number(process.env.PORT ?? 8090), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}/`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
