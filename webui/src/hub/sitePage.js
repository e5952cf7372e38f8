/**
 * One site's page (#/site/<id>): its controllers as the hub sees them, and what a live controller
 * of the site answers through the hub (`site.call`): its doors and its access links. Operators and
 * admins also get a form to make an access link (its code shown once, as text and QR) and one to
 * revoke a subject for the site's controllers (`revocations.create`); viewers only read.
 *
 * With no controller of the site connected, the controller's own lists cannot be read: the page
 * says so in place of them (and the hub's `site-offline` answer says the same), rather than failing.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { drawQr, qrLayout, qrModules } from '../../badge/qrCanvas.js';
import { clock, dateTime, describeEvent, linkStatus, linkTime, statusWord, stateWord } from '../format.js';
import { doorState, Icon } from '../icons.js';
import { ErrorText, useAction } from '../ui.js';
import { canWrite, hub, rpc } from './hubConnection.js';
import { Ago, chainProblem, clockOff, controllersOf, offsetText, POLL_MS, siteHealth } from './overview.js';

export const OFFLINE_TEXT = "This site's controllers are offline: doors, links and credentials can be managed when one reconnects.";

const LINKS_SHOWN = 100;

function siteCall(site, method, params = {}) {
  return rpc('site.call', { site, method, params });
}

/** The hub's answer when no controller of the site is linked to it (POSTERN_ERR_SITE_OFFLINE). */
function isOffline(error) {
  return /site[-_]offline/i.test(error?.reason ?? '');
}

/**
 * The result of `site.call method` for the site: read when the page opens, on every reconnection,
 * when `again` changes and every `everyMs` (0: never by itself). Not read while the site has no
 * controller online.
 */
function useSiteCall(siteId, live, method, params, { everyMs = 0, again = 0 } = {}) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const latest = useRef(0);
  const key = JSON.stringify(params);
  useEffect(() => {
    setResult(null);
    setError(null);
  }, [siteId]);
  useEffect(() => {
    if (!hub.connected || !live) return undefined;
    const load = async () => {
      const asked = ++latest.current;
      try {
        const answer = await siteCall(siteId, method, params);
        if (asked !== latest.current) return;
        setResult(answer);
        setError(null);
      } catch (e) {
        if (asked === latest.current) setError(e);
      }
    };
    void load();
    const timer = everyMs > 0 ? setInterval(load, everyMs) : null;
    return () => clearInterval(timer);
  }, [siteId, live, method, key, hub.connected, hub.connections, again]);
  return { result, error };
}

function OfflineNotice() {
  return html`<p class="notice offline-notice" role="status" data-testid="site-offline"><${Icon} name="alarm" size="18" /> ${OFFLINE_TEXT}</p>`;
}

/** A read error: the offline notice for `site-offline`, the error's words otherwise. */
function CallError({ error }) {
  if (!error) return null;
  return isOffline(error) ? html`<${OfflineNotice} />` : html`<${ErrorText} error=${error} />`;
}

function problemSeq(c) {
  return c.chainProblem?.seq ?? c.problemSeq ?? null;
}

function Controllers({ site }) {
  const controllers = controllersOf(site);
  return html`<section class="panel" aria-labelledby="controllers-h">
    <h2 id="controllers-h">Controllers</h2>
    ${controllers.length === 0
      ? html`<p class="muted">No controller yet: add one with <code>postern hub controller add ${site.id}</code>.</p>`
      : html`<table class="list controllers">
          <thead><tr><th>controller</th><th>link</th><th>last seen</th><th>clock</th><th>audit chain</th></tr></thead>
          <tbody>
            ${controllers.map((c) => {
              const problem = chainProblem(c);
              return html`<tr key=${c.id} data-controller=${c.id} data-online=${c.online ? 'yes' : 'no'} class=${c.online && !problem && !clockOff(c) ? '' : 'problem'}>
                <td data-label="controller">${c.name ?? c.id}<br /><span class="muted small">${c.id}</span></td>
                <td data-label="link"><span class=${`conn ${c.online ? 'on' : 'off'}`}><span class="dot" aria-hidden="true"></span>${c.online ? 'online' : 'offline'}</span></td>
                <td data-label="last seen">${c.online ? 'now' : html`<${Ago} at=${c.lastSeen ?? c.lastSeenAt} never="never" />`}</td>
                <td data-label="clock" class=${clockOff(c) ? 'bad' : ''}>${offsetText(c.clockOffsetMs)}${clockOff(c) ? ' (over 5 s)' : ''}</td>
                <td data-label="audit chain" class=${problem ? 'bad' : ''}>${problem ? `${problem}${problemSeq(c) ? ` at seq ${problemSeq(c)}` : ''}` : `ok, ${c.auditSeq ?? 0} events held`}</td>
              </tr>`;
            })}
          </tbody>
        </table>`}
  </section>`;
}

function Doors({ siteId, live }) {
  const { result, error } = useSiteCall(siteId, live, 'doors.list', {}, { everyMs: POLL_MS });
  // Not what was read while the site was online: a stale list would look current.
  const doors = live && Array.isArray(result) ? result : [];
  return html`<section class="panel" aria-labelledby="doors-h">
    <h2 id="doors-h">Doors</h2>
    ${!live ? html`<p class="muted">Read from the site's controller when one is online.</p>` : html`<${CallError} error=${error} />`}
    ${live && result === null && !error && html`<p class="muted">Asking the site…</p>`}
    ${doors.length > 0 &&
    html`<ul class="hub-doors">
      ${doors.map((d) => {
        const s = doorState(d.state);
        return html`<li key=${d.id} class=${`s-${d.state}`} data-door=${d.id} data-state=${d.state}>
          <span class="badge" aria-hidden="true"><${Icon} name=${s.icon} /></span>
          <span class="door-name">${d.name}</span>
          <span class="state-text">${stateWord(d.state)}</span>
          <span class="muted small">since <${Ago} at=${d.since} /></span>
        </li>`;
      })}
    </ul>`}
  </section>`;
}

function Status({ status }) {
  return html`<span class=${`status st-${status}`}>${statusWord(status)}</span>`;
}

function Links({ siteId, live, again }) {
  const { result, error } = useSiteCall(siteId, live, 'links.list', { limit: LINKS_SHOWN }, { again });
  const links = live && Array.isArray(result) ? result : [];
  return html`<section class="panel" aria-labelledby="links-h">
    <h2 id="links-h">Access links</h2>
    ${!live ? html`<p class="muted">Read from the site's controller when one is online.</p>` : html`<${CallError} error=${error} />`}
    ${live && result === null && !error && html`<p class="muted">Asking the site…</p>`}
    ${links.length > 0 &&
    html`<table class="list links">
      <thead><tr><th>name</th><th>opens</th><th>status</th><th>until</th></tr></thead>
      <tbody>
        ${links.map(
          (l) => html`<tr key=${l.id} data-link=${l.id} data-status=${linkStatus(l)}>
            <td data-label="name">${l.name}<br /><span class="muted small">${l.id}</span></td>
            <td data-label="opens">${l.scopeName ?? `scope ${l.scope}`}${l.onlineOnly ? ', online only' : ''}</td>
            <td data-label="status"><${Status} status=${linkStatus(l)} /></td>
            <td data-label="until">${linkTime(l.notAfter)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
    ${live && Array.isArray(result) && links.length === 0 && html`<p class="muted">No link.</p>`}
    ${links.length >= LINKS_SHOWN && html`<p class="muted small">The newest ${LINKS_SHOWN} are shown; the site's own web UI lists them all.</p>`}
  </section>`;
}

const EVENTS_SHOWN = 20;

/**
 * The site's newest events as the hub holds them (audit.query): read from the hub's database, so
 * shown for an offline site too, up to what its controllers uploaded before they went.
 */
function RecentEvents({ site }) {
  const [events, setEvents] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!hub.connected) return undefined;
    let current = true;
    const load = () =>
      rpc('audit.query', { site: site.id, limit: EVENTS_SHOWN }).then(
        (result) => current && (setEvents([...(result?.events ?? [])].reverse()), setError(null)),
        (e) => current && setError(e),
      );
    void load();
    const timer = setInterval(load, POLL_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [site.id, hub.connected, hub.connections]);
  const names = new Map(controllersOf(site).map((c) => [c.id, c.name]));
  return html`<section class="panel" aria-labelledby="events-h">
    <h2 id="events-h">Recent events</h2>
    <${ErrorText} error=${error} />
    ${events && events.length === 0 && html`<p class="muted">No event uploaded yet.</p>`}
    ${events &&
    events.length > 0 &&
    html`<table class="list events">
      <thead><tr><th>time</th><th>door</th><th>what</th><th>controller</th></tr></thead>
      <tbody>
        ${events.map(
          (e) => html`<tr key=${`${e.hubControllerId ?? e.controllerId}-${e.seq}`} class=${e.verdict === 'deny' ? 'v-deny' : ''}>
            <td class="time" title=${dateTime(e.at)}>${clock(e.at)}</td>
            <td data-label="door">${e.door ?? '—'}</td>
            <td data-label="what">${describeEvent(e)}</td>
            <td data-label="controller" class="muted">${names.get(e.hubControllerId) ?? e.hubControllerId ?? e.controllerId}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
  </section>`;
}

/** CSS pixels of the QR: a phone's camera reads it from a screen at arm's length. */
const QR_SIDE = 220;

/** The code as a QR, drawn as the badge page draws its codes (whole device pixels per module). */
function QrCode({ text }) {
  const canvas = useRef(null);
  useEffect(() => {
    const matrix = qrModules(text);
    const dpr = window.devicePixelRatio || 1;
    const { scale, backing } = qrLayout(matrix.size, QR_SIDE, dpr);
    drawQr(canvas.current, matrix, { scale, width: backing, height: backing, dpr });
  }, [text]);
  return html`<div class="qr"><canvas ref=${canvas} role="img" aria-label="QR code of the access link" data-code=${text}></canvas></div>`;
}

function CreatedLink({ created, onClose }) {
  const { link, code } = created;
  const doneRef = useRef(null);
  useEffect(() => doneRef.current?.focus(), []);
  return html`<section class="panel created" aria-labelledby="created-h" data-link=${link?.id}>
    <div class="panel-head">
      <h2 id="created-h">Access link for ${link?.name}</h2>
      <button type="button" ref=${doneRef} onClick=${onClose}>Done</button>
    </div>
    <p class="muted">The code is shown this once: give it to the visitor now, or save the QR code.</p>
    <div class="created-body">
      <${QrCode} text=${code} />
      <div class="created-text">
        <p><code class="code" data-testid="link-code">${code}</code></p>
        ${link && html`<p>Opens ${link.scopeName ?? `scope ${link.scope}`}, valid ${linkTime(link.notBefore)} to ${linkTime(link.notAfter)}${link.onlineOnly ? ', online only' : ''}.</p>`}
      </div>
    </div>
  </section>`;
}

function toSeconds(local) {
  return local ? Math.floor(new Date(local).getTime() / 1000) : undefined;
}

/** A new access link at the site: doors to tick, or one of the site file's scopes. */
function LinkForm({ siteId, live, onCreated }) {
  const doorList = useSiteCall(siteId, live, 'doors.list', {});
  const scopeList = useSiteCall(siteId, live, 'scopes.list', {});
  const doors = Array.isArray(doorList.result) ? doorList.result : [];
  const scopes = (Array.isArray(scopeList.result) ? scopeList.result : []).filter((s) => s.source === undefined || s.source === 'site');
  const [target, setTarget] = useState('doors');
  const [picked, setPicked] = useState([]);
  const [run, busy, error, setError] = useAction();
  const submit = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const v = (name) => f.elements.namedItem(name)?.value?.trim() ?? '';
    const params = { name: v('name') };
    if (v('email')) params.email = v('email');
    if (target === 'doors') {
      if (picked.length === 0) return setError(new Error('Choose at least one door.'));
      params.doors = picked;
    } else {
      if (!v('scope')) return setError(new Error('Choose a scope.'));
      params.scope = Number(v('scope'));
    }
    const notAfter = toSeconds(v('until'));
    if (notAfter !== undefined) params.notAfter = notAfter;
    void run(async () => {
      const created = await siteCall(siteId, 'links.create', params);
      f.reset();
      setPicked([]);
      onCreated(created);
    });
  };
  const toggle = (id, on) => setPicked((list) => (on ? [...list, id] : list.filter((d) => d !== id)));
  return html`<form class="panel form" onSubmit=${submit} aria-labelledby="newlink-h" data-testid="link-form">
    <h2 id="newlink-h">New access link</h2>
    <div class="form-grid">
      <label>Name <input name="name" required maxlength="200" autocomplete="off" /></label>
      <label>Email <input name="email" type="email" maxlength="320" autocomplete="off" placeholder="optional" /></label>
      <fieldset>
        <legend>Opens</legend>
        <label class="check"><input type="radio" name="target" checked=${target === 'doors'} onChange=${() => setTarget('doors')} /> these doors</label>
        <label class="check"><input type="radio" name="target" checked=${target === 'scope'} onChange=${() => setTarget('scope')} /> a scope of the site file</label>
        ${target === 'doors'
          ? html`<div class="door-checks">
              ${doors.length === 0 && html`<span class="muted small">Reading the doors…</span>`}
              ${doors.map((d) => html`<label class="check" key=${d.id}><input type="checkbox" name="door" value=${d.id} checked=${picked.includes(d.id)} onChange=${(e) => toggle(d.id, e.currentTarget.checked)} /> ${d.name}</label>`)}
            </div>`
          : scopes.length === 0
            ? html`<label>Scope id <input name="scope" type="number" min="1" step="1" required /></label>`
            : html`<label>Scope
                <select name="scope" required>
                  <option value="">choose a scope</option>
                  ${scopes.map((s) => html`<option key=${s.id} value=${String(s.id)}>${s.name}</option>`)}
                </select>
              </label>`}
      </fieldset>
      <label>Valid until <input name="until" type="datetime-local" /> <span class="muted small">empty: 24 hours from now</span></label>
    </div>
    <${CallError} error=${error} />
    <div class="buttons"><button type="submit" class="primary" disabled=${busy}>${busy ? 'Creating…' : 'Create link'}</button></div>
  </form>`;
}

/**
 * Revokes a subject (a link's or credential's id, or a partner's subject) for every controller of
 * the site: written at the hub, so it reaches controllers offline now when they reconnect.
 */
function RevokeForm({ siteId }) {
  const [run, busy, error] = useAction();
  const [done, setDone] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const v = (name) => f.elements.namedItem(name)?.value?.trim() ?? '';
    setDone(null);
    const params = { site: siteId, issuer: Number(v('issuer') || 0), subject: v('subject') };
    if (v('reason')) params.reason = v('reason');
    void run(async () => {
      await rpc('revocations.create', params);
      f.reset();
      setDone(`Subject ${params.subject}${params.issuer ? ` of partner ${params.issuer}` : ''} is revoked for this site's controllers.`);
    });
  };
  return html`<form class="panel form" onSubmit=${submit} aria-labelledby="revoke-h" data-testid="revoke-form">
    <h2 id="revoke-h">Revoke a subject</h2>
    <p class="muted small">A link's or credential's id (issuer 0, this site's own), or a partner's subject with the partner's number. Controllers offline now apply it when they reconnect.</p>
    <div class="form-grid">
      <label>Subject id <input name="subject" required inputmode="numeric" pattern="[0-9]{1,20}" maxlength="20" autocomplete="off" /></label>
      <label>Issuer <input name="issuer" type="number" min="0" max="65535" step="1" value="0" /></label>
      <label>Reason <input name="reason" maxlength="500" autocomplete="off" placeholder="optional" /></label>
    </div>
    <${ErrorText} error=${error} />
    ${done && html`<p class="ok" role="status">${done}</p>`}
    <div class="buttons"><button type="submit" class="danger" disabled=${busy}>Revoke</button></div>
  </form>`;
}

export function SitePage({ siteId }) {
  const site = (hub.sites ?? []).find((s) => s.id === siteId);
  const [created, setCreated] = useState(null);
  const [linksAgain, setLinksAgain] = useState(0);
  useEffect(() => setCreated(null), [siteId]);
  if (hub.sites === null) return html`<h1 id="page-h" class="visually-hidden">Site</h1><p class="muted">Loading the sites…</p>`;
  if (!site) {
    return html`<section class="panel not-found" aria-labelledby="page-h">
      <h1 id="page-h">No such site</h1>
      <p>The hub has no site <code>${siteId}</code>.</p>
      <p><a href="#/">All sites</a></p>
    </section>`;
  }
  const { online, total, alarms } = siteHealth(site);
  const live = online > 0;
  const write = canWrite();
  return html`<div class="site-page" data-site=${site.id}>
    <div class="page-head">
      <h1 id="page-h">${site.name ?? site.id}</h1>
      <p class=${`summary${alarms.length ? ' has-alarm' : ''}`}>
        ${total === 0 ? 'No controller' : `${online} of ${total} controller${total === 1 ? '' : 's'} online`}${alarms.length ? `: ${alarms.join('; ')}` : ''}
      </p>
    </div>
    ${!live && html`<${OfflineNotice} />`}
    <${Controllers} site=${site} />
    <div class="columns">
      <${Doors} siteId=${site.id} live=${live} />
      <${RecentEvents} site=${site} />
    </div>
    ${write && live && (created ? html`<${CreatedLink} created=${created} onClose=${() => setCreated(null)} />` : html`<${LinkForm} siteId=${site.id} live=${live} onCreated=${(c) => (setCreated(c), setLinksAgain((n) => n + 1))} />`)}
    <${Links} siteId=${site.id} live=${live} again=${linksAgain} />
    ${write && html`<${RevokeForm} siteId=${site.id} />`}
  </div>`;
}
