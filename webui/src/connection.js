/**
 * The session with the controller: sign-in over HTTP (a session cookie), then one socket.io
 * connection that carries RPC calls (the methods of docs/api.md) and live events.
 *
 * On every connection (the first one and each reconnection) the server says hello; the page then
 * subscribes again and re-reads everything it shows, so nothing missed while away stays stale.
 * A gap in an event subscription's sequence numbers also triggers a full refresh.
 *
 * The hub sync link: `sync.status` on every refresh, then the `sync` topic's changes (only a
 * controller with a hub sends them); state.sync is that status, `{ state: 'standalone' }` on a
 * controller without a hub, null until it is read or for a role that may not read it.
 */
import { io } from 'socket.io-client';
import { can, FEED_LIMIT, RECENT_AUDIT, state, update } from './store.js';

export const TOPICS = ['door', 'scanner', 'link', 'audit', 'sync'];
const RPC_TIMEOUT_MS = 15_000;

export class RpcError extends Error {
  constructor(error) {
    super(error?.message ?? 'request failed');
    this.code = error?.code ?? 0;
    this.data = error?.data ?? null;
  }
}

let socket = null;
/** last sequence number seen, per subscription id */
let seqs = new Map();
let refreshing = null;
let refreshAgain = false;

/** Calls a method of the controller; resolves with its result, rejects with an RpcError. */
export function rpc(method, params = {}) {
  return new Promise((resolve, reject) => {
    if (socket === null || !socket.connected) {
      reject(new RpcError({ message: 'not connected to the controller' }));
      return;
    }
    socket.timeout(RPC_TIMEOUT_MS).emit('rpc', method, params, (timedOut, answer) => {
      if (timedOut) reject(new RpcError({ message: `${method}: no answer from the controller` }));
      else if (answer?.error) reject(new RpcError(answer.error));
      else resolve(answer?.result);
    });
  });
}

async function fetchMe() {
  try {
    const response = await fetch('/auth/me', { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (response.status === 401) return null;
    if (!response.ok) return undefined;
    return await response.json();
  } catch {
    // The controller cannot be reached: not the same as "signed out".
    return undefined;
  }
}

/** Called once when the page loads: connects with a live session, else shows the sign-in form. */
export async function start() {
  const me = await fetchMe();
  if (me) {
    update({ user: { name: me.name, role: me.role }, allowed: new Set(me.allowed ?? []) });
    connect();
  } else {
    update({ phase: 'login', loginMessage: me === undefined ? 'The controller cannot be reached right now.' : null });
  }
}

/** Signs in; resolves with null on success, else with the message to show. */
export async function login(name, password) {
  let response;
  try {
    response = await fetch('/auth/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ name, password }),
    });
  } catch {
    return 'The controller cannot be reached.';
  }
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    update({ user: { name: body.name, role: body.role }, allowed: new Set(body.allowed ?? []), loginMessage: null });
    connect();
    return null;
  }
  if (response.status === 429) {
    const wait = Number(body.retryAfterSeconds);
    return `Too many failed sign-ins. Try again in ${Number.isFinite(wait) ? formatWait(wait) : 'a while'}.`;
  }
  if (response.status === 401) return body.error ?? 'Wrong name or password.';
  return body.error ?? `Sign-in failed (HTTP ${response.status}).`;
}

function formatWait(seconds) {
  return seconds < 90 ? `${Math.ceil(seconds)} s` : `${Math.ceil(seconds / 60)} min`;
}

export async function logout() {
  try {
    await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin' });
  } finally {
    signedOut(null);
  }
}

function signedOut(message) {
  const old = socket;
  socket = null;
  old?.disconnect();
  update({
    phase: 'login',
    loginMessage: message,
    user: null,
    allowed: new Set(),
    connected: false,
    everConnected: false,
    doors: [],
    scanners: [],
    scopes: [],
    feed: [],
    lastEvent: {},
    sync: null,
  });
}

function connect() {
  socket?.disconnect();
  seqs = new Map();
  update({ phase: 'app', connected: false });
  const s = io({ path: '/socket.io', withCredentials: true, reconnectionDelay: 250, reconnectionDelayMax: 2000, timeout: 5000 });
  socket = s;
  s.on('hello', (hello) => void onHello(s, hello));
  s.on('event', (event) => {
    if (s === socket) onEvent(event);
  });
  s.on('disconnect', (reason) => {
    if (s !== socket) return;
    update({ connected: false });
    // The server closed it (session ended, user disabled): no automatic reconnection.
    if (reason === 'io server disconnect') void recheckSession(s);
  });
  s.on('session-ended', (info) => {
    // A stopping controller ends every session: show "reconnecting…" until it is back, then the
    // sign-in form (the session check after the reconnection finds no session).
    if (s !== socket || info?.reason === 'stopped') return;
    signedOut(SESSION_ENDED[info?.reason] ?? 'Your session has ended. Please sign in again.');
  });
  s.on('connect_error', () => {
    if (s !== socket) return;
    update({ connected: false });
    // Refused by the server (not a network failure): socket.io does not retry by itself. A
    // refused handshake looks like a network failure: the session is checked then too.
    void recheckSession(s);
  });
}

const SESSION_ENDED = {
  idle: 'You were signed out after a while without activity. Please sign in again.',
  expired: 'Your session has expired. Please sign in again.',
  logout: 'You signed out.',
  revoked: 'Your account was disabled or removed.',
  evicted: 'Your session was closed. Please sign in again.',
};

let lastCheck = 0;
async function recheckSession(s) {
  if (s.active && Date.now() - lastCheck < 3000) return;
  lastCheck = Date.now();
  const me = await fetchMe();
  if (s !== socket) return;
  if (me === null) {
    signedOut('Your session has ended. Please sign in again.');
    return;
  }
  // Still signed in (or the controller is away): socket.io retries by itself while active.
  if (!s.active) {
    setTimeout(() => {
      if (s === socket && !s.connected) s.connect();
    }, 1000);
  }
}

async function onHello(s, hello) {
  if (s !== socket) return;
  seqs = new Map();
  update({
    user: hello.user,
    allowed: new Set(hello.allowed ?? []),
    site: hello.site ?? null,
    controllerId: hello.controllerId ?? null,
    version: hello.version ?? null,
    connected: true,
    everConnected: true,
  });
  try {
    await rpc('subscribe', { topics: TOPICS });
  } catch (error) {
    console.warn('subscribe failed', error);
  }
  await refreshAll();
}

function onEvent({ subscription, topic, seq, data }) {
  const last = seqs.get(subscription) ?? 0;
  if (typeof seq === 'number') {
    if (seq <= last) return;
    seqs.set(subscription, seq);
    // Missed notifications: re-read everything (what is shown may be stale).
    if (seq !== last + 1) void refreshAll();
  }
  if (topic === 'door') applyDoor(data);
  else if (topic === 'scanner') applyScanner(data);
  else if (topic === 'link') update({ linkChanges: state.linkChanges + 1 });
  else if (topic === 'audit') applyAudit(data);
  else if (topic === 'sync') update({ sync: data });
}

function replaceById(list, item) {
  let found = false;
  const next = list.map((x) => {
    if (x.id !== item.id) return x;
    found = true;
    return item;
  });
  return found ? next : [...list, item];
}

export function applyDoor(door) {
  update({ doors: replaceById(state.doors, door) });
}

function applyScanner(scanner) {
  update({ scanners: replaceById(state.scanners, scanner) });
}

function applyAudit(event) {
  const patch = { recentAudit: [event, ...state.recentAudit.slice(0, RECENT_AUDIT - 1)] };
  if (shownAsLast(event)) {
    const previous = state.lastEvent[event.door];
    if (!previous || previous.seq < event.seq) patch.lastEvent = { ...state.lastEvent, [event.door]: event };
  }
  if (matchesFilter(event, state.feedFilter)) patch.feed = mergeEvents([event], state.feed);
  update(patch);
}

/**
 * A door card's "last event": the last scan decision or operator action at the door. Its state
 * changes are not repeated there: the card shows the state and since when.
 */
function shownAsLast(event) {
  return Boolean(event.door) && event.type !== 'door';
}

export function matchesFilter(event, filter) {
  if (filter.door && event.door !== filter.door) return false;
  if (filter.verdict && event.verdict !== filter.verdict) return false;
  if (filter.subject && event.subject !== filter.subject) return false;
  if (filter.holder && !holderMatches(event, filter.holder)) return false;
  return true;
}

/**
 * As audit.query's `holder`: the event's subject is a site link or credential (not a partner's
 * code, nor a webhook's holder) whose name contains the text. A live event kept on other terms
 * would vanish at the next refresh, which asks the controller.
 */
function holderMatches(event, text) {
  if (!event.subject || event.issuer || typeof event.holder !== 'string') return false;
  return event.holder.toLowerCase().includes(text.toLowerCase());
}

/** Newest first, without duplicates, at most FEED_LIMIT. */
function mergeEvents(a, b) {
  const bySeq = new Map();
  for (const e of [...a, ...b]) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort((x, y) => y.seq - x.seq).slice(0, FEED_LIMIT);
}

/** The audit.query parameters of a feed filter. */
export function filterParams(filter) {
  const params = {};
  if (filter.door) params.door = filter.door;
  if (filter.verdict) params.verdict = filter.verdict;
  if (filter.subject) params.subject = filter.subject;
  if (filter.holder) params.holder = filter.holder;
  return params;
}

/** Re-reads doors, scanners, scopes, the last event of each door and the feed. */
export function refreshAll() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      try {
        await refreshOnce();
      } catch (error) {
        console.warn('refresh failed', error);
      }
    } while (refreshAgain && socket?.connected);
    refreshing = null;
  })();
  return refreshing;
}

async function refreshOnce() {
  // Names of scopes are a convenience: the doors and the feed load without them.
  const scopesRead = rpc('scopes.list').catch((error) => {
    console.warn('scopes.list failed', error);
    return state.scopes;
  });
  // Kept as soon as it comes: a `sync` event after it is newer, and must not be overwritten by
  // this answer once the slower reads are done. A failed read keeps what is shown.
  const syncRead = can('sync.status')
    ? rpc('sync.status').then(
        (sync) => update({ sync }),
        (error) => console.warn('sync.status failed', error),
      )
    : update({ sync: null });
  const [doors, scanners, recent, scopes] = await Promise.all([rpc('doors.list'), rpc('scanners.list'), rpc('audit.query', { order: 'desc', limit: 200 }), scopesRead, syncRead]);
  const lastEvent = {};
  for (const e of recent.events) if (shownAsLast(e) && !lastEvent[e.door]) lastEvent[e.door] = e;
  // Doors quiet for longer than the last 200 events: a query each.
  const quiet = doors.filter((d) => !lastEvent[d.id]).slice(0, 64);
  const older = await Promise.all(quiet.map((d) => rpc('audit.query', { door: d.id, order: 'desc', limit: 20 }).catch(() => null)));
  older.forEach((page, i) => {
    const e = page?.events?.find(shownAsLast);
    if (e) lastEvent[quiet[i].id] = e;
  });
  // Live events that arrived meanwhile may be newer.
  for (const [door, e] of Object.entries(state.lastEvent)) if (!lastEvent[door] || lastEvent[door].seq < e.seq) lastEvent[door] = e;
  update({ doors, scanners, scopes: Array.isArray(scopes) ? scopes : [], lastEvent });
  await loadFeed();
  update({ refreshCount: state.refreshCount + 1 });
}

/** Reads the newest events matching the feed's filter. */
export async function loadFeed() {
  const filter = state.feedFilter;
  const page = await rpc('audit.query', { ...filterParams(filter), order: 'desc', limit: 100 });
  if (filter !== state.feedFilter) return;
  update({ feed: mergeEvents(page.events, state.feed.filter((e) => matchesFilter(e, filter))) });
}

export function setFeedFilter(filter) {
  update({ feedFilter: filter, feed: state.feed.filter((e) => matchesFilter(e, filter)) });
  return loadFeed();
}

/** For tests and measures: the socket, while connected. */
export function currentSocket() {
  return socket;
}
