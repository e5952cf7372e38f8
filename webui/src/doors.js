/** Doors: the live grid, the alarm banner, the door commands and a door's detail page. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { alarmClass, alarmWord, pendingAlarm } from './alarms.js';
import { applyDoor, rpc } from './connection.js';
import { ago, clock, dateTime, describeEvent } from './format.js';
import { doorState, Icon } from './icons.js';
import { can, state, useNow } from './store.js';
import { ActionButton, ConfirmButton, ErrorText, useAction } from './ui.js';

export { pendingAlarm };

/** Runs a door command and shows its answer at once (the event follows anyway). */
async function command(method, params) {
  const result = await rpc(method, params);
  if (Array.isArray(result)) result.forEach(applyDoor);
  else if (result?.id) applyDoor(result);
  return result;
}

export function AlarmBanner({ doors }) {
  const alarms = doors.filter(pendingAlarm);
  if (alarms.length === 0) return null;
  return html`<section class="banner alarm-banner" role="alert" aria-label="Alarms">
    <${Icon} name="alarm" label="Alarm" />
    <ul>
      ${alarms.map(
        (d) => html`<li key=${d.id} data-alarm=${d.id}>
          <strong>${alarmWord(d.alarm.kind)}</strong>: <a href=${`#/door/${encodeURIComponent(d.id)}`}>${d.name}</a>
          ${d.alarm.active ? ' (door still open)' : ' (door closed again)'}
          ${can('doors.acknowledge') && html`<${ActionButton} class="small" action=${() => command('doors.acknowledge', { door: d.id })}>Acknowledge<//>`}
        </li>`,
      )}
    </ul>
  </section>`;
}

function Since({ since }) {
  const now = useNow();
  return html`<span class="since" title=${dateTime(since)}>for ${ago(now - since)}</span>`;
}

function Ago({ at }) {
  const now = useNow();
  return html`<span class="ago" title=${dateTime(at)}>${ago(now - at)} ago</span>`;
}

export function DoorCard({ door, last }) {
  const s = doorState(door.state);
  const alarm = pendingAlarm(door);
  // A pending alarm keeps the card in the alarm's colour after the door closed again, until acknowledged.
  const cls = `card door s-${door.state}${alarmClass(alarm)}${door.alarm && !alarm ? ' acked' : ''}`;
  const label = alarm ? `${door.name}: ${s.label}, ${alarmWord(alarm.kind).toLowerCase()} alarm not acknowledged` : `${door.name}: ${s.label}`;
  return html`<article class=${cls} data-door=${door.id} data-state=${door.state} aria-label=${label}>
    <header>
      <span class="badge"><${Icon} name=${alarm ? 'alarm' : s.icon} label=${s.label} /></span>
      <h3><a href=${`#/door/${encodeURIComponent(door.id)}`}>${door.name}</a></h3>
    </header>
    <p class="state"><strong class="state-label">${s.label}</strong> <${Since} since=${door.since} /></p>
    <p class="flags">
      ${door.doorOpen ? 'door open' : 'door closed'} · relay ${door.relayUnlocked ? 'unlocked' : 'locked'}${door.mode !== 'normal' ? ` · ${door.mode}` : ''}
    </p>
    ${door.fault && html`<p class="fault">Fault: ${door.fault}</p>`}
    ${alarm &&
    html`<p class="alarm-line">
      <${Icon} name="alarm" size="16" /> ${alarmWord(alarm.kind)}${alarm.active ? '' : ' (door closed again)'}
      ${can('doors.acknowledge') && html`<${ActionButton} class="small" action=${() => command('doors.acknowledge', { door: door.id })}>Acknowledge<//>`}
    </p>`}
    ${door.alarm && !alarm && html`<p class="acked-line">${alarmWord(door.alarm.kind)}, acknowledged by ${door.alarm.acknowledgedBy ?? 'someone'}</p>`}
    <p class="last">${last ? html`<span class="last-text">${describeEvent(last)}</span> <${Ago} at=${last.at} />` : html`<span class="muted">no event yet</span>`}</p>
    ${can('doors.unlock') &&
    html`<footer>
      <${ActionButton}
        class="small"
        label=${`Unlock ${door.name} for 5 seconds`}
        disabled=${door.mode === 'lockdown'}
        title=${door.mode === 'lockdown' ? 'in lockdown: lift it first' : undefined}
        action=${() => command('doors.unlock', { door: door.id, seconds: 5 })}>
        <${Icon} name="unlock" size="14" /> Unlock 5 s
      <//>
    </footer>`}
  </article>`;
}

export function DoorGrid({ doors, lastEvent }) {
  const siteLockdown = doors.length > 0 && doors.every((d) => d.mode === 'lockdown');
  return html`<section class="panel doors-panel" aria-labelledby="doors-h">
    <div class="panel-head">
      <h2 id="doors-h">Doors</h2>
      ${can('doors.lockdown') &&
      html`<div class="site-actions">
        ${siteLockdown
          ? html`<${ConfirmButton} class="danger" question="Lift the lockdown of every door of the site?" confirmLabel="Lift lockdown" action=${() => command('doors.lockdown', { on: false })}>Lift site lockdown<//>`
          : html`<${ConfirmButton}
              class="danger"
              question="Lock down the whole site? Every door locks; no code and no unlock command opens any door until the lockdown is lifted (the exit buttons still let people out)."
              confirmLabel="Lock down every door"
              action=${() => command('doors.lockdown', { on: true })}
              >Site-wide lockdown<//
            >`}
      </div>`}
    </div>
    ${doors.length === 0 ? html`<p class="muted">Loading doors…</p>` : null}
    <div class="grid" id="door-grid">${doors.map((d) => html`<${DoorCard} key=${d.id} door=${d} last=${lastEvent[d.id]} />`)}</div>
  </section>`;
}

export function DoorControls({ door }) {
  const [seconds, setSeconds] = useState('5');
  const [run, busy, error] = useAction();
  const act = (method, params) => run(() => command(method, { door: door.id, ...params }));
  const lockdown = door.mode === 'lockdown';
  const passage = door.mode === 'passage';
  const any = ['doors.unlock', 'doors.lock', 'doors.lockdown', 'doors.passage', 'doors.acknowledge'].some(can);
  if (!any) return null;
  return html`<section class="panel controls" aria-label="Door commands">
    <h3>Commands</h3>
    <div class="control-row">
      ${can('doors.unlock') &&
      html`<form
        class="inline"
        onSubmit=${(e) => {
          e.preventDefault();
          act('doors.unlock', { seconds: Number(seconds) });
        }}
      >
        <label>Unlock for <input type="number" name="seconds" min="0.1" max="3600" step="any" required value=${seconds} onInput=${(e) => setSeconds(e.currentTarget.value)} /> s</label>
        <button type="submit" class="primary" disabled=${busy || lockdown}>Unlock</button>
      </form>`}
      ${can('doors.lock') && html`<button type="button" disabled=${busy} onClick=${() => act('doors.lock')}>Lock now</button>`}
    </div>
    <div class="control-row">
      ${can('doors.lockdown') &&
      (lockdown
        ? html`<button type="button" disabled=${busy} onClick=${() => act('doors.lockdown', { on: false })}>Lift lockdown</button>`
        : html`<button type="button" class="danger" disabled=${busy} onClick=${() => act('doors.lockdown', { on: true })}>Lock down this door</button>`)}
      ${can('doors.passage') &&
      (passage
        ? html`<button type="button" disabled=${busy} onClick=${() => act('doors.passage', { on: false })}>End passage</button>`
        : html`<button type="button" disabled=${busy || lockdown} onClick=${() => act('doors.passage', { on: true })}>Passage on (hold unlocked)</button>`)}
      ${can('doors.acknowledge') && door.alarm && html`<button type="button" disabled=${busy} onClick=${() => act('doors.acknowledge')}>Acknowledge alarm</button>`}
    </div>
    <${ErrorText} error=${error} />
  </section>`;
}

const DEMO_METHODS = ['demo.forceOpen', 'demo.holdOpen', 'demo.close'];

/**
 * The demo's door moved by hand, so that a new user sees the alarms without hardware. Shown only
 * where the controller offers the demo methods to this user: a site with simulated doors, and a
 * role that may call them (operator and above).
 */
export function DemoPanel({ door }) {
  const [run, busy, error] = useAction();
  if (!DEMO_METHODS.some(can)) return null;
  const act = (method) => run(() => command(method, { door: door.id }));
  // What the controller would refuse anyway, said before the click.
  const forceBlocked = door.doorOpen ? 'the door is open' : door.relayUnlocked ? 'the door is unlocked: a forced opening needs a locked door' : null;
  const holdBlocked = !door.doorOpen && door.mode !== 'normal' ? `the door is in ${door.mode}` : door.fault ? 'the door has an I/O fault' : null;
  return html`<section class="panel controls demo-panel" aria-label="Demo: simulated door">
    <h3>Demo <span class="muted small">(simulated door)</span></h3>
    <p class="muted small">Make the alarms happen: force the door open without a grant, or let someone in who keeps it open past its held-open time.</p>
    <div class="control-row">
      ${can('demo.forceOpen') && html`<button type="button" class="danger" disabled=${busy || forceBlocked !== null} title=${forceBlocked ?? undefined} onClick=${() => act('demo.forceOpen')}>Force open (demo)</button>`}
      ${can('demo.holdOpen') && html`<button type="button" disabled=${busy || holdBlocked !== null} title=${holdBlocked ?? undefined} onClick=${() => act('demo.holdOpen')}>Hold open (demo)</button>`}
      ${can('demo.close') && html`<button type="button" disabled=${busy || !door.doorOpen} title=${door.doorOpen ? undefined : 'the door is closed'} onClick=${() => act('demo.close')}>Close (demo)</button>`}
    </div>
    <${ErrorText} error=${error} />
  </section>`;
}

/** Grants and denies per bucket, as bars (no chart library). */
export function StatsChart({ stats }) {
  const series = stats.series;
  const width = 720;
  const height = 180;
  const top = 10;
  const bottom = 22;
  const left = 28;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...series.map((b) => Math.max(b.grants, b.denies)));
  const right = 16;
  const slot = (width - left - right) / Math.max(1, series.length);
  const bar = Math.max(1, slot / 2 - 1);
  const y = (v) => top + plotH - (v / max) * plotH;
  const every = Math.max(1, Math.ceil(series.length / 8));
  const label = (ms) => {
    const d = new Date(ms);
    return stats.bucketSeconds >= 86_400 ? `${d.getMonth() + 1}/${d.getDate()}` : `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  };
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${`Grants and denials per ${stats.bucketSeconds / 60} minutes: ${stats.grants} grants, ${stats.denies} denials`}>
      <line x1=${left} x2=${width - right} y1=${top + plotH} y2=${top + plotH} class="axis" />
      <text x=${left - 4} y=${top + 8} class="tick" text-anchor="end">${max}</text>
      <text x=${left - 4} y=${top + plotH} class="tick" text-anchor="end">0</text>
      ${series.map((b, i) => {
        const x = left + i * slot;
        const title = `${dateTime(b.start)}: ${b.grants} granted, ${b.denies} denied`;
        return html`<g key=${b.start}>
          <title>${title}</title>
          <rect class="bar-grant" x=${x + 1} y=${y(b.grants)} width=${bar} height=${top + plotH - y(b.grants)} />
          <rect class="bar-deny" x=${x + 1 + bar} y=${y(b.denies)} width=${bar} height=${top + plotH - y(b.denies)} />
          ${i % every === 0 && html`<text x=${x + slot / 2} y=${height - 6} class="tick" text-anchor="middle">${label(b.start)}</text>`}
        </g>`;
      })}
    </svg>
    <figcaption><span class="key key-grant"></span> ${stats.grants} granted <span class="key key-deny"></span> ${stats.denies} denied, last 24 hours</figcaption>
  </figure>`;
}

function Latency({ latency }) {
  if (!latency) return html`<p class="muted">No decision at this door since the controller started.</p>`;
  const f = (v) => (typeof v === 'number' ? `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms` : '-');
  return html`<table class="latency">
    <thead><tr><th>samples</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead>
    <tbody><tr><td>${latency.samples}</td><td>${f(latency.p50)}</td><td>${f(latency.p90)}</td><td>${f(latency.p99)}</td><td>${f(latency.max)}</td></tr></tbody>
  </table>`;
}

export function EventTable({ events, showDoor = true, caption }) {
  return html`<table class="events">
    ${caption && html`<caption>${caption}</caption>`}
    <thead><tr><th>time</th>${showDoor && html`<th>door</th>`}<th>type</th><th>event</th></tr></thead>
    <tbody>
      ${events.map(
        (e) => html`<tr key=${e.seq} data-seq=${e.seq} class=${`ev t-${e.type}${e.verdict ? ` v-${e.verdict}` : ''}`}>
          <td class="time" title=${dateTime(e.at)}>${clock(e.at)}</td>
          ${showDoor && html`<td>${e.door ?? '—'}</td>`}
          <td>${e.verdict ? html`<span class=${`pill ${e.verdict}`}>${e.verdict}</span>` : e.type}</td>
          <td>${describeEvent(e)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

export function DoorDetail({ id }) {
  const door = state.doors.find((d) => d.id === id);
  const [stats, setStats] = useState(null);
  const [events, setEvents] = useState([]);
  const [error, setError] = useState(null);
  const [statsDue, setStatsDue] = useState(0);

  useEffect(() => {
    if (!state.connected) return;
    let live = true;
    Promise.all([rpc('door.stats', { door: id, bucketSeconds: 3600 }), rpc('audit.query', { door: id, order: 'desc', limit: 50 })])
      .then(([s, page]) => {
        if (!live) return;
        setStats(s);
        setEvents(page.events);
        setError(null);
      })
      .catch((e) => live && setError(e));
    return () => void (live = false);
  }, [id, state.refreshCount, state.connected]);

  // Live: this door's audit events join the list; decisions re-read the stats (at most once a second).
  useEffect(() => {
    // Keyed by chain and seq: the command line's events have a chain (and seqs) of their own.
    const key = (e) => `${e.controllerId}#${e.seq}`;
    const known = new Set(events.map(key));
    const fresh = state.recentAudit.filter((e) => e.door === id && !known.has(key(e)));
    if (fresh.length === 0) return;
    setEvents([...fresh, ...events].sort((a, b) => b.at - a.at || b.seq - a.seq).slice(0, 100));
    if (fresh.some((e) => e.type === 'decision')) setStatsDue((n) => n + 1);
  }, [state.recentAudit]);
  useEffect(() => {
    if (statsDue === 0) return;
    const timer = setTimeout(() => {
      rpc('door.stats', { door: id, bucketSeconds: 3600 }).then(setStats, () => undefined);
    }, 1000);
    return () => clearTimeout(timer);
  }, [statsDue]);

  if (!door) return html`<section class="panel"><p><a href="#/">← All doors</a></p><p>${state.doors.length ? `No door "${id}".` : 'Loading…'}</p></section>`;
  const s = doorState(door.state);
  return html`<div class="detail" data-detail=${door.id}>
    <p class="back"><a href="#/">← All doors</a></p>
    <div class="detail-top">
      <${DoorCard} door=${door} last=${events[0] ?? state.lastEvent[door.id]} />
      <section class="panel facts" aria-label="Door status">
        <h2>${door.name} <span class="muted">(${door.id})</span></h2>
        <dl>
          <dt>State</dt><dd class=${`state-text s-${door.state}`}>${s.label}, since ${dateTime(door.since)}</dd>
          <dt>Mode</dt><dd>${door.mode}</dd>
          <dt>Door sensor</dt><dd>${door.doorOpen ? 'open' : 'closed'}</dd>
          <dt>Lock relay</dt><dd>${door.relayUnlocked ? 'unlocked' : 'locked'}</dd>
          <dt>Without power</dt><dd>fail-${door.failMode} (${door.failMode === 'secure' ? 'stays locked' : 'unlocks'})</dd>
          <dt>Fault</dt><dd>${door.fault ?? 'none'}</dd>
          <dt>Alarm</dt><dd>${door.alarm ? `${alarmWord(door.alarm.kind)}${door.alarm.active ? ', active' : ''}${door.alarm.acknowledged ? `, acknowledged by ${door.alarm.acknowledgedBy}` : ', not acknowledged'}` : 'none'}</dd>
        </dl>
      </section>
    </div>
    <${DoorControls} door=${door} />
    <${DemoPanel} door=${door} />
    <${ErrorText} error=${error} />
    <div class="columns">
      <section class="panel" aria-labelledby="stats-h">
        <h3 id="stats-h">Grants and denials, last 24 hours</h3>
        ${stats ? html`<${StatsChart} stats=${stats} />` : html`<p class="muted">Loading…</p>`}
        <h3>Scan-to-relay latency</h3>
        ${stats && html`<${Latency} latency=${stats.latencyMs} />`}
        <p class="muted small">From a scan reaching the decision to the relay command, over the last 1024 decisions at this door since the controller started.</p>
      </section>
      <section class="panel" aria-labelledby="recent-h">
        <h3 id="recent-h">Recent events</h3>
        <${EventTable} events=${events} showDoor=${false} />
        ${events.length === 0 && html`<p class="muted">No event at this door yet.</p>`}
      </section>
    </div>
  </div>`;
}
