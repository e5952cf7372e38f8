/**
 * The page's state, one plain object, and a hook that re-renders a component when it changes.
 * Changes are batched: listeners are told once per microtask, whatever the number of updates.
 */
import { useEffect, useState } from 'preact/hooks';
import { observable } from './observable.js';

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

const observed = observable(state);

/** Changes the state; the components that use it render again (batched per microtask). */
export const update = observed.update;

/** Re-renders the calling component on every change of the state (observable.js). */
export function useStore() {
  return observed.useObserved();
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
