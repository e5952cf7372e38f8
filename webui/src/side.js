/** Scanner states, and the hub sync link (a later feature: nothing to show on a standalone site). */
import { html } from 'htm/preact';
import { useEffect } from 'preact/hooks';
import { rpc } from './connection.js';
import { ago, dateTime } from './format.js';
import { Icon } from './icons.js';
import { state, update, useNow } from './store.js';

const SCANNER_LABELS = { ready: 'Ready', connecting: 'Connecting', disconnected: 'Disconnected', stopped: 'Stopped' };

/**
 * What a scanner's state means to a person. A kiosk is `connecting` until a tablet opens its
 * page: that is the normal state of a door whose tablet is not set up yet, not a link trying.
 */
function scannerWord(s) {
  if (s.driver === 'kiosk' && s.state === 'connecting') return { key: 'waiting', label: 'Waiting for a tablet' };
  return { key: s.state, label: SCANNER_LABELS[s.state] ?? s.state };
}

/**
 * The controller's scanner events carry a change of state, not every read (a read is no change
 * worth a message), so the counts are read again after a decision: at most once a second, the
 * last decision of a burst included.
 */
const RECOUNT_MS = 1000;
let recountAt = 0;
let recountTimer = null;
function recountSoon() {
  if (recountTimer !== null) return;
  const wait = Math.max(0, recountAt + RECOUNT_MS - Date.now());
  recountTimer = setTimeout(async () => {
    recountTimer = null;
    recountAt = Date.now();
    try {
      const scanners = await rpc('scanners.list');
      if (Array.isArray(scanners)) update({ scanners });
    } catch {
      // Disconnected: the full refresh on reconnection reads them again.
    }
  }, wait);
}

export function Scanners({ scanners, doors }) {
  const now = useNow();
  const newest = state.recentAudit[0];
  useEffect(() => {
    if (newest?.verdict) recountSoon();
  }, [newest]);
  const doorName = (id) => doors.find((d) => d.id === id)?.name ?? id;
  return html`<section class="panel scanners" aria-labelledby="scanners-h">
    <h2 id="scanners-h">Scanners</h2>
    ${scanners.length === 0 && html`<p class="muted">No scanner.</p>`}
    <ul class="scanner-list">
      ${scanners.map(
        (s) => {
          const word = scannerWord(s);
          return html`<li key=${s.id} class=${`scanner sc-${word.key}`} data-scanner=${s.id} data-state=${s.state}>
          <span class="dot" role="img" aria-label=${word.label}></span>
          <span class="sc-main">
            <strong>${s.id}</strong> <span class="muted">${s.driver} at ${doorName(s.door)}</span><br />
            <span class="sc-state">${word.label}</span>
            <span class="muted" title=${dateTime(s.since)}> for ${ago(now - s.since)} · <span class="sc-reads">${s.reads} reads</span>${s.dropped ? `, ${s.dropped} dropped` : ''}</span>
            ${s.health && html`<br /><${Health} health=${s.health} />`}
            ${s.lastError && html`<br /><span class="muted small">last error: ${s.lastError}</span>`}
          </span>
        </li>`;
        },
      )}
    </ul>
  </section>`;
}

/** What a camera or kiosk says of itself: frame rate, decode time, frames dropped or bad. */
function Health({ health: h }) {
  const parts = [];
  if (h.framesPerSecond !== undefined) parts.push(`${h.framesPerSecond} fps`);
  if (h.decodeMs !== undefined) parts.push(`decode ${h.decodeMs} ms`);
  if (h.droppedFrames) parts.push(`${h.droppedFrames} frames skipped`);
  if (h.badFrames) parts.push(`${h.badFrames} bad frames`);
  return html`<span class="muted small sc-health" data-health>${parts.join(' · ')}</span>${h.warning && html`<br /><span class="muted small">warning: ${h.warning}</span>`}`;
}

/**
 * The hub sync link. Linking controllers to a hub is a later feature: every site is standalone
 * today, and a panel saying there is nothing to sync is noise, so it shows only once the
 * controller tells of a link (state.sync, which no controller sends yet).
 */
export function SyncPanel() {
  if (!state.sync) return null;
  return html`<section class="panel sync" aria-labelledby="sync-h">
    <h2 id="sync-h"><${Icon} name="link" size="18" /> Sync link</h2>
    <p class="sync-state" data-sync="standalone"><strong>standalone: no hub link</strong></p>
    <p class="muted small">
      This controller decides every scan from its own store. Linking controllers to a hub is a later
      feature; there is nothing to sync with yet.
    </p>
    <p class="muted small">Controller <code>${state.controllerId ?? '—'}</code>${state.version ? `, version ${state.version}` : ''}</p>
  </section>`;
}
