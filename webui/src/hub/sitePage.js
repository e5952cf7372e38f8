/**
 * One site's page (#/site/<id>): its controllers as the hub sees them, and what a live controller
 * of the site answers through the hub (`site.call`): its doors, access links, rotating credentials
 * and partners. Viewers only read. Operators and admins also unlock and lock doors, and revoke a
 * subject for the site's controllers (`revocations.create`); admins (the controller's integrator
 * role, see canIssue) make access links and revoke links and credentials.
 *
 * With no controller of the site connected, the controller's own lists cannot be read: the page
 * says so in place of them (and the hub's `site-offline` answer says the same), rather than failing.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { QrImage } from '../qrImage.js';
import { clock, dateTime, describeEvent, errorText, linkStatus, linkTime, statusWord, stateWord } from '../format.js';
import { doorState, Icon } from '../icons.js';
import { ConfirmButton, ErrorText, useAction } from '../ui.js';
import { canIssue, canWrite, hub, rpc } from './hubConnection.js';
import { Ago, chainProblem, clockOff, controllersOf, offsetText, POLL_MS, siteHealth } from './overview.js';

export const OFFLINE_TEXT = "This site's controllers are offline: doors, links and credentials can be managed when one reconnects.";

/** Rows asked of a list (links, credentials): the site's own web UI pages through the rest. */
const LIST_SHOWN = 100;
/** A momentary unlock, as long as the operator UI's door card gives. */
const UNLOCK_SECONDS = 5;

function siteCall(site, method, params = {}) {
  return rpc('site.call', { site, method, params });
}

/** The hub's answer when no controller of the site is linked to it (POSTERN_ERR_SITE_OFFLINE). */
function isOffline(error) {
  return /site[-_]offline/i.test(error?.reason ?? '');
}

/**
 * A failed site.call in words: the hub's and the controller's messages name codes and roles, which
 * a guard at the desk should not have to decode.
 */
function siteErrorText(error) {
  const reason = error?.reason ?? '';
  if (isOffline(error)) return "The site is offline: no controller of it is connected, so nothing was done.";
  if (/site[-_]timeout/i.test(reason)) return 'The site did not answer within 10 s: it may still have done it. What is shown is read again.';
  if (/forbidden/i.test(reason) || error?.code === -32001) return `Not allowed: ${error.message}`;
  if (/rate[-_]limited/i.test(reason)) return 'Too many commands at once: wait a few seconds and try again.';
  return errorText(error);
}

/**
 * The result of `site.call method` for the site: read when the page opens, on every reconnection,
 * when `again` changes and every `everyMs` (0: never by itself). Not read while the site has no
 * controller online.
 */
function useSiteCall(siteId, live, method, params, { everyMs = 0, again = 0 } = {}) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [mine, setMine] = useState(0);
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
        if (asked !== latest.current) return;
        setError(e);
        // The site went offline before the overview says so: what was read is no longer current.
        if (isOffline(e)) setResult(null);
      }
    };
    void load();
    const timer = everyMs > 0 ? setInterval(load, everyMs) : null;
    return () => clearInterval(timer);
  }, [siteId, live, method, key, hub.connected, hub.connections, again, mine]);
  // After a command of this page: read again at once, not at the next poll.
  return { result, error, reload: () => setMine((n) => n + 1) };
}

function OfflineNotice() {
  return html`<p class="notice offline-notice" role="status" data-testid="site-offline"><${Icon} name="alarm" size="18" /> ${OFFLINE_TEXT}</p>`;
}

/** A read error: the offline notice for `site-offline`, the error's words otherwise. */
function CallError({ error }) {
  if (!error) return null;
  return isOffline(error) ? html`<${OfflineNotice} />` : html`<p class="error" role="alert">${siteErrorText(error)}</p>`;
}

/**
 * A panel of what a live controller of the site lists (`call`, from useSiteCall): while none is
 * live, a line saying so and none of what was read before (a stale list would look current); else
 * the read's error, "asking", `render(items)`, or `empty`.
 */
function SiteList({ id, title, live, call, render, empty, shown = 0 }) {
  const items = live && Array.isArray(call.result) ? call.result : [];
  return html`<section class="panel" aria-labelledby=${id}>
    <h2 id=${id}>${title}</h2>
    ${!live ? html`<p class="muted">Read from the site's controller when one is online.</p>` : html`<${CallError} error=${call.error} />`}
    ${live && call.result === null && !call.error && html`<p class="muted">Asking the site…</p>`}
    ${items.length > 0 && render(items)}
    ${live && Array.isArray(call.result) && items.length === 0 && html`<p class="muted">${empty}</p>`}
    ${shown > 0 && items.length >= shown && html`<p class="muted small">The newest ${shown} are shown; the site's own web UI lists them all.</p>`}
  </section>`;
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

/**
 * Unlock and Lock now for one door, each asked first. The dialog closes whether the command went
 * through or not: a refusal (site offline, forbidden, throttled) is said beside the door it is
 * about, next to its state, which is read again either way.
 */
function DoorCommands({ siteId, door, onDone }) {
  const [error, setError] = useState(null);
  const send = (method, params) => async () => {
    setError(null);
    try {
      await siteCall(siteId, method, { door: door.id, ...params });
    } catch (e) {
      setError(e);
    } finally {
      onDone();
    }
  };
  const lockdown = door.mode === 'lockdown';
  return html`<div class="door-actions">
    <${ConfirmButton}
      class="small"
      label=${door.name}
      disabled=${lockdown}
      title=${lockdown ? 'in lockdown: lift it first at the site' : undefined}
      question=${`Unlock ${door.name} for ${UNLOCK_SECONDS} seconds? Whoever is at the door can open it.`}
      confirmLabel="Unlock"
      action=${send('doors.unlock', { seconds: UNLOCK_SECONDS })}
      ><${Icon} name="unlock" size="14" /> Unlock<//
    >
    <${ConfirmButton} class="small" label=${door.name} danger=${false} question=${`Lock ${door.name} now? A grant or unlock in progress ends.`} confirmLabel="Lock now" action=${send('doors.lock')}>Lock now<//>
    ${error && html`<p class="error" role="alert">${siteErrorText(error)}</p>`}
  </div>`;
}

function Doors({ siteId, live }) {
  const call = useSiteCall(siteId, live, 'doors.list', {}, { everyMs: POLL_MS });
  const write = canWrite();
  const render = (doors) => html`<ul class="hub-doors">
    ${doors.map((d) => {
      const s = doorState(d.state);
      return html`<li key=${d.id} class=${`s-${d.state}`} data-door=${d.id} data-state=${d.state}>
        <span class="badge" aria-hidden="true"><${Icon} name=${s.icon} /></span>
        <span class="door-name">${d.name}</span>
        <span class="state-text">${stateWord(d.state)}</span>
        <span class="muted small">since <${Ago} at=${d.since} /></span>
        ${write && html`<${DoorCommands} siteId=${siteId} door=${d} onDone=${call.reload} />`}
      </li>`;
    })}
  </ul>`;
  return html`<${SiteList} id="doors-h" title="Doors" live=${live} call=${call} render=${render} empty="No door." />`;
}

function Status({ status }) {
  return html`<span class=${`status st-${status}`}>${statusWord(status)}</span>`;
}

function Links({ siteId, live, again }) {
  const call = useSiteCall(siteId, live, 'links.list', { limit: LIST_SHOWN }, { again });
  const revoke = canIssue();
  const render = (links) => html`<table class="list links">
    <thead><tr><th>name</th><th>opens</th><th>status</th><th>until</th>${revoke && html`<th><span class="visually-hidden">actions</span></th>`}</tr></thead>
    <tbody>
      ${links.map(
        (l) => html`<tr key=${l.id} data-link=${l.id} data-status=${linkStatus(l)}>
          <td data-label="name">${l.name}<br /><span class="muted small">${l.id}</span></td>
          <td data-label="opens">${l.scopeName ?? `scope ${l.scope}`}${l.onlineOnly ? ', online only' : ''}</td>
          <td data-label="status"><${Status} status=${linkStatus(l)} /></td>
          <td data-label="until">${linkTime(l.notAfter)}</td>
          ${revoke && html`<td>${linkStatus(l) !== 'revoked' && html`<${RevokeButton} siteId=${siteId} method="links.revoke" item=${l} what="link" onDone=${call.reload} />`}</td>`}
        </tr>`,
      )}
    </tbody>
  </table>`;
  return html`<${SiteList} id="links-h" title="Access links" live=${live} call=${call} render=${render} empty="No link." shown=${LIST_SHOWN} />`;
}

/**
 * Revokes a link or credential at the site (links.revoke, credentials.revoke: the controller's
 * integrator role), asked first; the controller makes it the site's revocation, which every
 * controller of the site applies. A refusal stays in the dialog, as the operator UI's does.
 */
function RevokeButton({ siteId, method, item, what, onDone }) {
  return html`<${ConfirmButton}
    class="small danger"
    label=${item.name}
    question=${`Revoke the ${what} of ${item.name}? Its codes stop opening this site's doors at once.`}
    confirmLabel="Revoke"
    action=${() => siteCall(siteId, method, { id: item.id }).then(onDone)}
    >Revoke<//
  >`;
}

/** The site's rotating credentials (credentials.list): who holds them and what they open. */
function Credentials({ siteId, live }) {
  const call = useSiteCall(siteId, live, 'credentials.list', { limit: LIST_SHOWN });
  const revoke = canIssue();
  const render = (credentials) => html`<table class="list credentials">
    <thead><tr><th>holder</th><th>opens</th><th>created</th><th>status</th>${revoke && html`<th><span class="visually-hidden">actions</span></th>`}</tr></thead>
    <tbody>
      ${credentials.map((c) => {
        const status = c.status ?? (c.revokedAt ? 'revoked' : 'active');
        return html`<tr key=${c.id} data-credential=${c.id} data-status=${status}>
          <td data-label="holder">${c.name}<br /><span class="muted small">${c.id}</span></td>
          <td data-label="opens">${c.scopeName ?? `scope ${c.scope}`}</td>
          <td data-label="created">${dateTime(c.createdAt)}${c.createdBy && html`<br /><span class="muted small">${c.createdBy}</span>`}</td>
          <td data-label="status"><${Status} status=${status} /></td>
          ${revoke && html`<td>${status !== 'revoked' && html`<${RevokeButton} siteId=${siteId} method="credentials.revoke" item=${c} what="credential" onDone=${call.reload} />`}</td>`}
        </tr>`;
      })}
    </tbody>
  </table>`;
  return html`<${SiteList} id="credentials-h" title="Rotating credentials" live=${live} call=${call} render=${render} empty="No credential." shown=${LIST_SHOWN} />`;
}

/** The partners whose codes the site accepts (partners.list), read-only: they are managed at the site. */
function Partners({ siteId, live }) {
  const call = useSiteCall(siteId, live, 'partners.list', {});
  const scopes = useSiteCall(siteId, live, 'scopes.list', {});
  const names = new Map((Array.isArray(scopes.result) ? scopes.result : []).map((s) => [s.id, s.name]));
  const render = (partners) => html`<table class="list partners">
    <thead><tr><th>id</th><th>name</th><th>scopes allowed</th></tr></thead>
    <tbody>
      ${partners.map(
        (p) => html`<tr key=${p.id} data-partner=${p.id}>
          <td data-label="id">${p.id}</td>
          <td data-label="name">${p.name}${p.enabled === false ? ' (disabled)' : ''}</td>
          <td data-label="scopes allowed">${(p.allowedScopes ?? []).map((id) => names.get(id) ?? `scope ${id}`).join(', ')}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
  return html`<${SiteList} id="partners-h" title="Partners" live=${live} call=${call} render=${render} empty="No partner." />`;
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

/** The link's code as a QR, to show a visitor or photograph. */
function QrCode({ text }) {
  return html`<${QrImage} text=${text} side=${QR_SIDE} label="QR code of the access link" />`;
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
    ${canIssue() && live && (created ? html`<${CreatedLink} created=${created} onClose=${() => setCreated(null)} />` : html`<${LinkForm} siteId=${site.id} live=${live} onCreated=${(c) => (setCreated(c), setLinksAgain((n) => n + 1))} />`)}
    <${Links} siteId=${site.id} live=${live} again=${linksAgain} />
    <${Credentials} siteId=${site.id} live=${live} />
    <${Partners} siteId=${site.id} live=${live} />
    ${write && html`<${RevokeForm} siteId=${site.id} />`}
  </div>`;
}
