/**
 * The page's state, one plain object, and a hook that re-renders a component when it changes.
 * Changes are batched: listeners are told once per microtask, whatever the number of updates.
 */
import { useEffect, useState } from 'preact/hooks';

export const FEED_LIMIT = 300;

export const state = {
  /** 'loading' (checking the session), 'login', or 'app' */
  phase: 'loading',
  loginMessage: null,
  user: null,
  /** the methods this user's role may call */
  allowed: new Set(),
  site: null,
  controllerId: null,
  version: null,
  /** true while the socket is connected and the hello was received */
  connected: false,
  /** whether it was connected once: then a lost connection shows "reconnecting…" */
  everConnected: false,
  /** doors in the order of the site file */
  doors: [],
  scanners: [],
  /** newest audit event per door id */
  lastEvent: {},
  /** the live feed, newest first, filtered by feedFilter */
  feed: [],
  feedFilter: { door: '', verdict: '', subject: '' },
  /** bumped on every full refresh: views that hold their own data reload it */
  refreshCount: 0,
  /** links changed live (link topic): views that list links reload */
  linkChanges: 0,
  /** audit events as they arrive, for views that follow one door */
  lastAudit: null,
};

const listeners = new Set();
let pending = false;

export function update(patch) {
  Object.assign(state, patch);
  if (pending) return;
  pending = true;
  queueMicrotask(() => {
    pending = false;
    for (const listener of [...listeners]) listener();
  });
}

/** Re-renders the calling component on every change of the state. */
export function useStore() {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return state;
}

export function can(method) {
  return state.allowed.has(method);
}

/** The current time, re-rendering the caller every second (for "12 s ago"). */
const tickers = new Set();
let tickTimer = null;
export function useNow() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const ticker = () => setTick((t) => t + 1);
    tickers.add(ticker);
    if (tickTimer === null) {
      tickTimer = setInterval(() => {
        for (const t of tickers) t();
      }, 1000);
    }
    return () => {
      tickers.delete(ticker);
      if (tickers.size === 0) {
        clearInterval(tickTimer);
        tickTimer = null;
      }
    };
  }, []);
  return Date.now();
}
