#!/usr/bin/env node
/**
 * A first Postern integrator client: unlock a door for 3 seconds and watch it lock again.
 *
 * Plain Node.js 20 (no build step) and one package, `ws`. Run it against `npm start`:
 *
 *   npm run postern -- token create --name me --role operator     # prints a token, once
 *   POSTERN_TOKEN=pst_... node examples/doorClient.mjs front
 *
 * It prints one line per change of the door, e.g.
 *
 *   door front: unlocked
 *   door front: open
 *   door front: secured
 *
 * Environment:
 *   POSTERN_URL    the controller's API (default ws://127.0.0.1:8080/api; wss://... with api.tls)
 *   POSTERN_TOKEN  an API token with the operator role or above (required)
 * Argument: the door id (default `front`).
 *
 * Exit status: 0 once the door is secured again; 1 on any error (refused connection, a JSON-RPC
 * error, a dropped connection, no relock within 20 s); 2 when POSTERN_TOKEN is missing.
 *
 * The whole API is described in docs/api.md.
 */
import WebSocket from 'ws';

const url = process.env.POSTERN_URL || 'ws://127.0.0.1:8080/api';
const token = process.env.POSTERN_TOKEN;
const door = process.argv[2] || 'front';
const UNLOCK_SECONDS = 3;
const TIMEOUT_MS = 20_000;

if (!token) {
  console.error('POSTERN_TOKEN is not set. Create a token with the operator role and pass it in the environment:');
  console.error('  npm run postern -- token create --name me --role operator');
  console.error(`  POSTERN_TOKEN=pst_... node examples/doorClient.mjs ${door}`);
  process.exit(2);
}

// The token travels in the Authorization header of the WebSocket upgrade, never in the URL (the
// controller refuses `?token=`). A bad token is refused before any socket exists: HTTP 401.
const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, handshakeTimeout: 5000 });

let finished = false;
const timer = setTimeout(() => finish(1, `timed out: door ${door} was not secured again within ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);

/** Ends the script once: prints the message, closes the socket, sets the exit status. */
function finish(code, message) {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  if (message) (code === 0 ? console.log : console.error)(message);
  process.exitCode = code;
  if (socket.readyState === WebSocket.OPEN) {
    // A polite close (1000); if the controller does not answer it within a second, just go.
    socket.close(1000, 'done');
    setTimeout(() => socket.terminate(), 1000).unref();
  } else {
    socket.terminate();
  }
}

// ---- JSON-RPC 2.0: each request gets an id; the answer carries the same id back ----

let nextId = 1;
/** id -> { method, resolve } of the requests still waiting for their answer */
const pending = new Map();

/** Sends one request and resolves with its result. A JSON-RPC error ends the script. */
function call(method, params) {
  const id = nextId++;
  const message = { jsonrpc: '2.0', id, method };
  if (params !== undefined) message.params = params; // by name: an object
  socket.send(JSON.stringify(message));
  return new Promise((resolve) => pending.set(id, { method, resolve }));
}

/** Explains a JSON-RPC error object: its code, its message and Postern's stable data.code. */
function describeError(error) {
  const detail = [error.code, error.data?.code, error.data?.field && `field ${error.data.field}`].filter(Boolean).join(', ');
  return `${error.message} (${detail})`;
}

socket.on('message', (raw) => {
  const message = JSON.parse(raw.toString());
  // A notification from a subscription: method "event", no id.
  if (message.method === 'event') return onEvent(message.params);
  const waiting = pending.get(message.id);
  if (message.error) {
    // An error answers one of our requests by its id (doors.unlock: -32003 for a door in lockdown,
    // -32004 with data.retryAfterMs for a door commanded too often), or with id null none in
    // particular: the connection's rate limit, or a message the controller could not parse.
    // Either way we stop here.
    return finish(1, `${waiting ? waiting.method : 'request'} failed: ${describeError(message.error)}`);
  }
  if (waiting) {
    pending.delete(message.id);
    waiting.resolve(message.result);
  }
});

// ---- live door changes ----

let lastSeq = 0;
let leftSecured = false;

/** params: { subscription, topic, seq, data }; for topic `door`, data is the door's status. */
function onEvent({ topic, seq, data }) {
  // seq counts 1, 2, 3 ... per subscription: a gap would mean missed changes. A real client would
  // then fetch the current state with doors.get (and missed audit events with audit.query).
  if (seq !== lastSeq + 1) console.warn(`(missed ${seq - lastSeq - 1} notification(s): the door's state may have skipped a step)`);
  lastSeq = seq;
  if (topic !== 'door') return;
  console.log(`door ${data.id}: ${data.state}${data.alarm ? ` (alarm: ${data.alarm.kind})` : ''}`);
  // Changes that keep the state (a sensor, an acknowledged alarm) are notified too: wait for the
  // door to leave `secured` and then come back to it.
  if (data.state !== 'secured') leftSecured = true;
  else if (leftSecured) finish(0);
}

// ---- the conversation ----

socket.on('open', async () => {
  // Who and where we are: the site, the controller's version, and our token's role.
  const info = await call('system.info');
  console.log(`connected to ${info.site.name} (postern ${info.version}) as ${info.you.name}, role ${info.you.role}`);

  // Subscribe before acting, so that no change is missed. Door filters are optional.
  await call('subscribe', { topics: ['door'], doors: [door] });

  // Unlock for a few seconds. The answer is the door's status right after the command; the
  // notifications tell the rest (open, closed, relocked).
  await call('doors.unlock', { door, seconds: UNLOCK_SECONDS });
});

// The upgrade was answered with an HTTP error instead of a socket.
socket.on('unexpected-response', (_request, response) => {
  const why = {
    400: 'bad request (is the token in the URL? send it in the Authorization header only)',
    401: 'the token was refused: check POSTERN_TOKEN (revoked? another site?)',
    403: 'this Origin is not allowed (api.allowedOrigins)',
    404: `no API at ${url} (the path is /api)`,
    503: 'the controller cannot check the token right now (store unavailable): try again later',
  };
  finish(1, `${url}: HTTP ${response.statusCode}: ${why[response.statusCode] ?? 'refused'}`);
});

socket.on('error', (error) => finish(1, `cannot talk to ${url}: ${error.message}`));

// The controller closed the connection: stopping (1001), the token revoked (1008), ...
socket.on('close', (code, reason) => finish(1, `the controller closed the connection (${code}${reason.length ? `: ${reason}` : ''})`));
