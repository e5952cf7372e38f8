/**
 * The page's state, one plain object, and a hook that re-renders a component when it changes.
 * Changes are batched: listeners are told once per microtask, whatever the number of updates.
 */
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';

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
  /** scopes.list: the site file's scopes and the door sets made for links, with their names */
  scopes: [],
  /** newest audit event per door id */
  lastEvent: {},
  /** the live feed, newest first, filtered by feedFilter */
  feed: [],
  /** subject: an id (digits); holder: part of a link's or credential's name */
  feedFilter: { door: '', verdict: '', subject: '', holder: '' },
  /** bumped on every full refresh: views that hold their own data reload it */
  refreshCount: 0,
  /** links changed live (link topic): views that list links reload */
  linkChanges: 0,
  /**
   * The newest audit events as they arrive (newest first, at most RECENT_AUDIT), for views that
   * follow one door. A list, not the last event alone: events that arrive together (an operator's
   * command and the door's change it caused) are rendered in one batch, and a view that looked at
   * the last one only missed the others.
   */
  recentAudit: [],
};

export const RECENT_AUDIT = 200;

const listeners = new Set();
let pending = false;
/** Counts updates, so that a component can tell it rendered an older state. */
let version = 0;

export function update(patch) {
  Object.assign(state, patch);
  version++;
  if (pending) return;
  pending = true;
  queueMicrotask(() => {
    pending = false;
    for (const listener of [...listeners]) listener();
  });
}

/**
 * Re-renders the calling component on every change of the state. It subscribes in a layout
 * effect, right after its first render rather than after the browser paints (which a page in the
 * background may never do), and catches up on a change made before it subscribed: the first
 * answer of the controller could otherwise be lost, leaving the page on "Loading Postern…".
 */
export function useStore() {
  const [, setSeen] = useState(version);
  useLayoutEffect(() => {
    const listener = () => setSeen(version);
    listeners.add(listener);
    listener();
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
