/**
 * The wall view (#/wall): for a monitor at the desk, read from a couple of metres. Dark, every door
 * a large tile whose word (its state, or its alarm until acknowledged) is at least 48 px, and the
 * tiles fill the screen whatever the number of doors. Live from the same store as the other pages.
 */
import { html } from 'htm/preact';
import { rpc, applyDoor } from './connection.js';
import { AlertControls, alarmClass, alarmWord, pendingAlarm } from './alarms.js';
import { ago, clock } from './format.js';
import { doorState, Icon } from './icons.js';
import { can, useNow } from './store.js';
import { ActionButton } from './ui.js';

function WallTile({ door, now }) {
  const s = doorState(door.state);
  const alarm = pendingAlarm(door);
  // An alarm outranks the state: a forced door that closed again still reads "Forced open".
  const word = alarm ? alarmWord(alarm.kind) : s.label;
  const detail = alarm
    ? `${alarm.active ? 'door still open' : `door closed again · ${s.label.toLowerCase()}`} · not acknowledged`
    : `${door.mode !== 'normal' && door.mode !== door.state ? `${door.mode} · ` : ''}for ${ago(now - door.since)}`;
  return html`<article class=${`tile s-${door.state}${alarmClass(alarm)}`} data-door=${door.id} data-state=${door.state} aria-label=${`${door.name}: ${word}`}>
    <h2 class="tile-name">${door.name}</h2>
    <p class="tile-state"><${Icon} name=${alarm ? 'alarm' : s.icon} size="0.85em" /> <strong class="tile-word">${word}</strong></p>
    <p class="tile-detail">${detail}</p>
    ${door.fault && html`<p class="tile-detail">Fault: ${door.fault}</p>`}
    ${alarm &&
    can('doors.acknowledge') &&
    html`<${ActionButton} class="ack" action=${() => rpc('doors.acknowledge', { door: door.id }).then((d) => d?.id && applyDoor(d))}>Acknowledge<//>`}
  </article>`;
}

export function WallHeader({ s }) {
  const now = useNow();
  const alarms = s.doors.filter(pendingAlarm).length;
  return html`<header class="wall-top">
    <a href="#/" class="wall-back">← Operator view</a>
    <span class="brand"><${Icon} name="lock" size="22" /> <strong>Postern</strong> <span class="site">${s.site?.name ?? ''}</span></span>
    <span class=${`wall-summary${alarms ? ' has-alarm' : ''}`} role="status">
      ${alarms ? `${alarms} alarm${alarms === 1 ? '' : 's'} to acknowledge` : `${s.doors.length} doors, no alarm`}
    </span>
    <${AlertControls} doors=${s.doors} />
    <time class="wall-clock" datetime=${new Date(now).toISOString()}>${clock(now)}</time>
  </header>`;
}

export function WallView({ doors }) {
  const now = useNow();
  if (doors.length === 0) return html`<p class="wall-empty">Loading doors…</p>`;
  return html`<div class="wall-grid" id="wall-grid">${doors.map((d) => html`<${WallTile} key=${d.id} door=${d} now=${now} />`)}</div>`;
}
