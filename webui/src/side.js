/** Scanner states, and the hub sync link (a later feature: shown as it is, standalone). */
import { html } from 'htm/preact';
import { ago, dateTime } from './format.js';
import { Icon } from './icons.js';
import { state, useNow } from './store.js';

const SCANNER_LABELS = { ready: 'Ready', connecting: 'Connecting', disconnected: 'Disconnected', stopped: 'Stopped' };

export function Scanners({ scanners, doors }) {
  const now = useNow();
  const doorName = (id) => doors.find((d) => d.id === id)?.name ?? id;
  return html`<section class="panel scanners" aria-labelledby="scanners-h">
    <h2 id="scanners-h">Scanners</h2>
    ${scanners.length === 0 && html`<p class="muted">No scanner.</p>`}
    <ul class="scanner-list">
      ${scanners.map(
        (s) => html`<li key=${s.id} class=${`scanner sc-${s.state}`} data-scanner=${s.id} data-state=${s.state}>
          <span class="dot" role="img" aria-label=${SCANNER_LABELS[s.state] ?? s.state}></span>
          <span class="sc-main">
            <strong>${s.id}</strong> <span class="muted">${s.driver} at ${doorName(s.door)}</span><br />
            <span class="sc-state">${SCANNER_LABELS[s.state] ?? s.state}</span>
            <span class="muted" title=${dateTime(s.since)}> for ${ago(now - s.since)} · ${s.reads} reads${s.dropped ? `, ${s.dropped} dropped` : ''}</span>
            ${s.health && html`<br /><${Health} health=${s.health} />`}
            ${s.lastError && html`<br /><span class="muted small">last error: ${s.lastError}</span>`}
          </span>
        </li>`,
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

export function SyncPanel() {
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
