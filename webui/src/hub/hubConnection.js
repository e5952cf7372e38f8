/**
 * The hub page's session: one WebSocket to the hub's JSON-RPC 2.0 API (`GET /api`), signed in with
 * a hub account's token (`session.login`). The token is kept in sessionStorage only (this tab, until
 * it closes) so that a reload or a reconnection signs in again without asking; it never goes in the
 * URL, a cookie or localStorage.
 *
 * A lost socket is opened again with backoff and signs in again; `connections` counts the sign-ins,
 * so that views re-read what they show on every reconnection.
 */
import { observable } from '../observable.js';

const TOKEN_KEY = 'postern.hub.token';
const RPC_TIMEOUT_MS = 15_000;
const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000];

export const hub = {
  /** 'loading' (signing in with a kept token), 'login', or 'app' */
  phase: 'loading',
  /** why the sign-in form is shown again (a token refused), or null */
  loginError: null,
  /** { name, role } of the signed-in hub account */
  account: null,
  /** true while the socket is open and signed in */
  connected: false,
  everConnected: false,
  /** bumped at every sign-in (the first and each reconnection) */
  connections: 0,
  /** sites.overview's sites, or null before the first answer */
  sites: null,
  /** when `sites` was read (ms), and why the last read failed */
  sitesAt: null,
  sitesError: null,
};

const observed = observable(hub);

/** Changes the session's state; the components that use it render again (batched per microtask). */
export const update = observed.update;

/** Re-renders the caller on every change of `hub` (observable.js). */
export function useHub() {
  return observed.useObserved();
}

export class RpcError extends Error {
  constructor(error) {
    super(error?.message ?? 'request failed');
    this.code = error?.code ?? 0;
    this.data = error?.data ?? null;
  }

  /** The hub's stable error code (error.data.code), e.g. 'POSTERN_ERR_SITE_OFFLINE'. */
  get reason() {
    return this.data?.code ?? null;
  }
}

let socket = null;
let nextId = 1;
const waiting = new Map();
let retry = 0;
let retryTimer = null;

function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function apiUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`;
}

/** Calls a method of the hub; resolves with its result, rejects with an RpcError. */
export function rpc(method, params = {}) {
  if (socket === null || socket.readyState !== WebSocket.OPEN || (!hub.connected && method !== 'session.login')) {
    return Promise.reject(new RpcError({ message: 'not connected to the hub' }));
  }
  return send(socket, method, params);
}

function send(ws, method, params) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new RpcError({ message: `${method}: no answer from the hub` }));
    }, RPC_TIMEOUT_MS);
    waiting.set(id, { resolve, reject, timer });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
}

function failWaiting(message) {
  for (const [id, w] of waiting) {
    clearTimeout(w.timer);
    w.reject(new RpcError({ message }));
    waiting.delete(id);
  }
}

/** Words for a refused sign-in: the hub's code decides, the message is the hub's own otherwise. */
function refusal(error) {
  const code = error.reason ?? '';
  if (/throttl|too[-_]many|rate/i.test(code)) return 'Too many attempts: wait a minute and try again.';
  if (/unauthenticated|unauthori|forbidden|token/i.test(code)) {
    return 'The hub refused this token: it is wrong, or the account was removed. Check it, or ask a hub admin for a new one.';
  }
  return `The hub refused the sign-in: ${error.message}`;
}

/**
 * Opens the socket and signs in with `secret`. Resolves with null when signed in, or with the
 * words to show when refused or unreachable (the socket is closed then).
 */
function open(secret) {
  clearTimeout(retryTimer);
  retryTimer = null;
  return new Promise((resolve) => {
    let settled = false;
    const done = (problem) => {
      if (settled) return;
      settled = true;
      resolve(problem);
    };
    let ws;
    try {
      ws = new WebSocket(apiUrl());
    } catch (e) {
      done(`Cannot reach the hub: ${e.message}`);
      return;
    }
    socket = ws;
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      const w = waiting.get(message?.id);
      if (!w) return;
      waiting.delete(message.id);
      clearTimeout(w.timer);
      if (message.error) w.reject(new RpcError(message.error));
      else w.resolve(message.result);
    };
    ws.onopen = () => {
      send(ws, 'session.login', { token: secret }).then(
        (result) => {
          retry = 0;
          update({ phase: 'app', loginError: null, account: result?.account ?? null, connected: true, everConnected: true, connections: hub.connections + 1 });
          done(null);
        },
        (error) => {
          done(error.code === 0 && !error.data ? `Cannot sign in: ${error.message}` : refusal(error));
          ws.onclose = null;
          ws.close();
          if (socket === ws) socket = null;
        },
      );
    };
    ws.onclose = () => {
      if (socket === ws) socket = null;
      failWaiting('the connection to the hub was lost');
      if (!settled) {
        done('Cannot reach the hub: the connection closed. Try again in a moment.');
        return;
      }
      update({ connected: false });
      if (hub.phase === 'app') scheduleRetry();
    };
  });
}

function scheduleRetry() {
  if (retryTimer !== null) return;
  const delay = BACKOFF_MS[Math.min(retry, BACKOFF_MS.length - 1)];
  retry++;
  retryTimer = setTimeout(async () => {
    retryTimer = null;
    const secret = token();
    if (secret === null) return update({ phase: 'login', connected: false });
    const problem = await open(secret);
    if (problem === null) return;
    // Refused now (the account was removed): back to the sign-in form, with the reason.
    if (/refused/.test(problem)) {
      forget();
      update({ phase: 'login', connected: false, account: null, loginError: problem });
    } else scheduleRetry();
  }, delay);
}

function forget() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // A browser without storage: the token is in no place to remove.
  }
}

/** Called once when the page loads: signs in with the token kept in this tab, else shows the form. */
export async function start() {
  const secret = token();
  if (secret === null) return update({ phase: 'login' });
  const problem = await open(secret);
  if (problem === null) return;
  if (/refused/.test(problem)) forget();
  update({ phase: 'login', loginError: problem });
}

/** The sign-in form: resolves with null when signed in, else with what to show. */
export async function login(secret) {
  const problem = await open(secret);
  if (problem !== null) return problem;
  try {
    sessionStorage.setItem(TOKEN_KEY, secret);
  } catch {
    // No storage (a private window that refuses it): signed in for as long as the socket lasts.
  }
  return null;
}

export function logout() {
  forget();
  clearTimeout(retryTimer);
  retryTimer = null;
  const ws = socket;
  socket = null;
  if (ws) {
    ws.onclose = null;
    ws.close();
  }
  failWaiting('signed out');
  update({ phase: 'login', account: null, connected: false, everConnected: false, loginError: null, sites: null, sitesAt: null, sitesError: null });
}

/** Whether the signed-in account may change things (operator and admin; a viewer only reads). */
export function canWrite() {
  return hub.account?.role === 'admin' || hub.account?.role === 'operator';
}

/**
 * Whether it may make access links at a site, and revoke links and credentials there: links.create,
 * links.revoke and credentials.revoke need the controller's integrator role, which a hub admin's
 * calls have and an operator's do not (docs/hub-api.md, site.call).
 */
export function canIssue() {
  return hub.account?.role === 'admin';
}
