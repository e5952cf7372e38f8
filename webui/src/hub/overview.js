/**
 * The all-sites overview (sites.overview), read every few seconds and at every (re)connection, and
 * what makes a site alarming: a controller offline, a clock more than 5 s off the hub's, or an
 * audit chain the hub flagged. The same reading feeds the site picker and the site page's
 * controllers, so one poll serves every view.
 */
import { html } from 'htm/preact';
import { useEffect } from 'preact/hooks';
import { ago, dateTime } from '../format.js';
import { Icon } from '../icons.js';
import { useNow } from '../store.js';
import { hub, rpc, update } from './hubConnection.js';

export const POLL_MS = 5000;
/** The controller's clock alarm raises at the same offset (docs/sync.md). */
export const CLOCK_LIMIT_MS = 5000;

let polling = null;

/** Reads sites.overview now; answers that arrive out of order cannot undo a newer one. */
let asked = 0;
export async function loadOverview() {
  const mine = ++asked;
  try {
    const result = await rpc('sites.overview');
    if (mine !== asked) return;
    update({ sites: Array.isArray(result) ? result : (result?.sites ?? []), sitesAt: Date.now(), sitesError: null });
  } catch (error) {
    if (mine === asked) update({ sitesError: error });
  }
}

/** Keeps `hub.sites` fresh while connected: at once on every sign-in, then every POLL_MS. */
export function useOverviewPoll(connected, connections) {
  useEffect(() => {
    if (!connected) return undefined;
    void loadOverview();
    polling = setInterval(() => void loadOverview(), POLL_MS);
    return () => {
      clearInterval(polling);
      polling = null;
    };
  }, [connected, connections]);
}

export function controllersOf(site) {
  return Array.isArray(site?.controllers) ? site.controllers : [];
}

/** The controller's audit chain problem as the hub flagged it, or null. */
export function chainProblem(c) {
  const p = c.chainProblem ?? c.problem ?? null;
  if (p === null || p === undefined || p === false) return null;
  if (typeof p === 'string') return p;
  return p.problem ?? p.kind ?? 'flagged';
}

export function clockOff(c) {
  return typeof c.clockOffsetMs === 'number' && Math.abs(c.clockOffsetMs) > CLOCK_LIMIT_MS;
}

/** Controllers online and in all, and every reason for an alarm, in words. */
export function siteHealth(site) {
  const controllers = controllersOf(site);
  const total = site.total ?? controllers.length;
  const online = site.online ?? controllers.filter((c) => c.online).length;
  const alarms = [];
  const offline = controllers.filter((c) => !c.online);
  if (offline.length > 0) alarms.push(`${offline.length === 1 ? `${offline[0].name ?? offline[0].id} is` : `${offline.length} controllers are`} offline`);
  else if (online < total) alarms.push(`${total - online} of ${total} controllers offline`);
  for (const c of controllers.filter(clockOff)) alarms.push(`${c.name ?? c.id}: clock ${offsetText(c.clockOffsetMs)} off`);
  for (const c of controllers) {
    const problem = chainProblem(c);
    if (problem) alarms.push(`${c.name ?? c.id}: audit chain ${problem}`);
  }
  return { online, total, alarms };
}

export function offsetText(ms) {
  if (typeof ms !== 'number') return '—';
  const s = Math.abs(ms) / 1000;
  const text = s < 10 ? `${s.toFixed(1)} s` : ago(Math.abs(ms));
  return `${ms >= 0 ? '+' : '−'}${text}`;
}

/** A time in the past as "12 s ago", with the date as its title; a dash when never. */
export function Ago({ at, never = '—' }) {
  const now = useNow();
  if (at === null || at === undefined) return html`<span class="muted">${never}</span>`;
  const ms = typeof at === 'string' ? Date.parse(at) : at;
  return html`<time datetime=${new Date(ms).toISOString()} title=${dateTime(ms)}>${ago(now - ms)} ago</time>`;
}

function SiteCard({ site }) {
  const { online, total, alarms } = siteHealth(site);
  const alarm = alarms.length > 0;
  const denied = site.deniedLastHour ?? 0;
  return html`<li>
    <article class=${`site-card${alarm ? ' alarm' : ''}`} data-site=${site.id} data-alarm=${alarm ? 'yes' : 'no'} aria-labelledby=${`site-h-${site.id}`}>
      <header>
        <span class="badge" aria-hidden="true"><${Icon} name=${alarm ? 'alarm' : 'lock'} /></span>
        <h2 id=${`site-h-${site.id}`}><a href=${`#/site/${encodeURIComponent(site.id)}`}>${site.name ?? site.id}</a></h2>
      </header>
      <p class="site-online" data-online=${online} data-total=${total}>
        <strong>${total === 0 ? 'No controller' : `${online} of ${total} controller${total === 1 ? '' : 's'} online`}</strong>
      </p>
      ${alarm &&
      html`<ul class="site-alarms" aria-label="Problems">
        ${alarms.map((a) => html`<li key=${a}><${Icon} name="alarm" size="16" /> ${a}</li>`)}
      </ul>`}
      <dl class="site-facts">
        <dt>Last event</dt>
        <dd><${Ago} at=${site.lastEventAt} never="none yet" /></dd>
        <dt>Denied, last hour</dt>
        <dd class=${denied > 0 ? 'denied' : ''} data-denied=${denied}>${denied}</dd>
      </dl>
    </article>
  </li>`;
}

export function Overview() {
  const sites = hub.sites;
  const alarming = (sites ?? []).filter((s) => siteHealth(s).alarms.length > 0).length;
  return html`<section aria-labelledby="page-h" class="overview">
    <div class="page-head">
      <h1 id="page-h">All sites</h1>
      ${sites &&
      html`<p class=${`summary${alarming ? ' has-alarm' : ''}`} role="status">
        ${sites.length} site${sites.length === 1 ? '' : 's'}${alarming ? `, ${alarming} with a problem` : ', all well'}
        ${hub.sitesAt && html`<span class="muted small"> · read <${Ago} at=${hub.sitesAt} /></span>`}
      </p>`}
    </div>
    ${hub.sitesError && html`<p class="error" role="alert">Could not read the sites: ${hub.sitesError.message}</p>`}
    ${sites === null && !hub.sitesError && html`<p class="muted">Loading the sites…</p>`}
    ${sites && sites.length === 0 && html`<p class="muted">No site yet: add one with <code>postern hub site add</code>.</p>`}
    ${sites && sites.length > 0 && html`<ul class="site-grid">${sites.map((s) => html`<${SiteCard} key=${s.id} site=${s} />`)}</ul>`}
  </section>`;
}
