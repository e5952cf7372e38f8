/** Scanner states, and the hub sync link. */
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
 * The hub sync link (docs/sync.md), live: state.sync is sync.status's answer, then each change the
 * `sync` topic brings (connection.js). A standalone controller says so in one line. Linked, the
 * state is a word as well as a colour; then what an operator asks of a link: which hub, how far
 * behind (changes not applied yet, audit events not yet at the hub), why it is not live, and the
 * clock, whose alarm (more than 5 s off the hub's, decided by the controller) is announced.
 */
const SYNC_STATES = {
  live: { label: 'Live', note: 'up to date with the hub' },
  syncing: { label: 'Syncing', note: 'catching up with the hub' },
  connecting: { label: 'Connecting', note: 'reaching the hub' },
  backoff: { label: 'Backoff', note: 'link lost: trying again shortly' },
  offline: { label: 'Offline', note: 'link stopped' },
};

const count = (n, one, many) => `${n ?? 0} ${n === 1 ? one : many}`;

/** The hub's clock minus this one's, in words: which way this controller's clock is off. */
function clockWords(offsetMs) {
  if (typeof offsetMs !== 'number') return 'not measured yet';
  const seconds = (Math.abs(offsetMs) / 1000).toFixed(1);
  if (seconds === '0.0') return 'in step with the hub';
  return `${seconds} s ${offsetMs > 0 ? 'behind' : 'ahead of'} the hub`;
}

export function SyncPanel() {
  const sync = state.sync;
  if (!sync) return null;
  const heading = html`<h2 id="sync-h"><${Icon} name="link" size="18" /> Sync link</h2>`;
  if (sync.state === 'standalone') {
    return html`<section class="panel sync" aria-labelledby="sync-h" data-sync="standalone">
      ${heading}
      <p class="sync-state"><strong>standalone: no hub link</strong> <span class="muted small">This controller decides every scan from its own store.</span></p>
    </section>`;
  }
  const word = SYNC_STATES[sync.state] ?? { label: sync.state, note: '' };
  const note = sync.state === 'backoff' && sync.attempts > 1 ? `${word.note} (attempt ${sync.attempts})` : word.note;
  return html`<section class=${`panel sync sy-${sync.state}`} aria-labelledby="sync-h" data-sync=${sync.state}>
    ${heading}
    <p class="sync-state">
      <span class="dot" aria-hidden="true"></span>
      <strong class="sync-word">${word.label}</strong> <span class="muted small">${note}</span>
    </p>
    ${sync.clockAlarm &&
    html`<p class="sync-alarm sync-clock-alarm" role="alert">
      <${Icon} name="alarm" size="18" />
      <span><strong>Clock alarm:</strong> this controller's clock is ${clockWords(sync.clockOffsetMs)}'s. Audit times are this clock's: check its time source (NTP).</span>
    </p>`}
    ${sync.auditProblem &&
    html`<p class="sync-alarm sync-audit-problem" role="alert">
      <${Icon} name="alarm" size="18" />
      <span><strong>Audit upload stopped:</strong> the hub refused this controller's audit chain (${sync.auditProblem}). The site keeps its trail; see <code>postern hub status</code>.</span>
    </p>`}
    <dl class="sync-facts">
      <dt>Hub</dt>
      <dd><code class="sync-hub">${sync.hub}</code></dd>
      <dt>Lag</dt>
      <dd class="sync-lag">${count(sync.lag, 'change', 'changes')} behind</dd>
      <dt>Outbox</dt>
      <dd class="sync-outbox">${count(sync.outboxDepth, 'audit event', 'audit events')} not yet at the hub</dd>
      <dt>Clock</dt>
      <dd class="sync-clock">${clockWords(sync.clockOffsetMs)}</dd>
      ${sync.state !== 'live' && sync.lastError && html`<dt>Last error</dt><dd class="sync-error">${sync.lastError}</dd>`}
      ${sync.siteId && html`<dt>At the hub</dt><dd class="muted">site <code>${sync.siteId}</code>, controller <code>${sync.controllerId ?? '—'}</code></dd>`}
    </dl>
  </section>`;
}
