/** Admin pages: access links (with their QR), rotating credentials, partners, and accounts. */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { rpc } from './connection.js';
import { QrImage } from './qrImage.js';
import { dateTime, download, linkStatus, linkTime, statusWord } from './format.js';
import { can, state } from './store.js';
import { ConfirmButton, ErrorText, useAction } from './ui.js';

/** The Accounts page (users, API tokens) loads with the other admin pages. */
export { AccountsPage } from './accounts.js';

const PAGE = 200;
/** Scopes from here up are door sets made for one link (docs/api.md, Link). */
const FIRST_DOOR_SET_SCOPE = 1073741824;

/** Typing pauses this long before a list is searched: not one query per key. */
const TYPING_MS = 300;

/**
 * A list method's pages, reloaded when the connection comes back, `changes` moves or the search
 * changes. An answer to an older search or filter is dropped: answers can arrive out of order.
 */
function usePagedList(method, includeRevoked, changes, search = '') {
  const [items, setItems] = useState([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);
  const latest = useRef(0);
  const paged = method !== 'partners.list';
  const load = async (offset) => {
    const params = paged ? { includeRevoked, limit: PAGE, offset } : {};
    if (paged && search) params.search = search;
    const asked = ++latest.current;
    try {
      const page = await rpc(method, params);
      if (asked !== latest.current) return;
      setItems((old) => (offset === 0 ? page : [...old, ...page]));
      setMore(paged && page.length === PAGE);
      setError(null);
    } catch (e) {
      if (asked === latest.current) setError(e);
    }
  };
  useEffect(() => {
    if (state.connected) void load(0);
  }, [includeRevoked, changes, search, state.refreshCount, state.connected]);
  return { items, more, error, reload: () => load(0), loadMore: () => load(items.length) };
}

/** The text of a search box, settled: what it holds once typing paused. */
function useSettled(text) {
  const [settled, setSettled] = useState(text);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(text), TYPING_MS);
    return () => clearTimeout(timer);
  }, [text]);
  return settled;
}

/** A list's search box: name, id (and for links, email); what it searches is the settled text. */
function SearchBox({ value, onInput, placeholder, label }) {
  return html`<label class="search">${label}
    <input type="search" name="search" maxlength="200" autocomplete="off" placeholder=${placeholder} value=${value} onInput=${(e) => onInput(e.currentTarget.value)} />
  </label>`;
}

/** Trimmed, and within the list methods' 200 characters. */
function searchTerm(text) {
  return text.trim().slice(0, 200);
}

/** The site file's scopes (scopes.list), the ones a link, credential or partner is given by id. */
function siteScopes() {
  return state.scopes.filter((s) => s.source === 'site');
}

function doorNames(ids) {
  return ids.map((id) => state.doors.find((d) => d.id === id)?.name ?? id).join(', ');
}

function scopeName(id) {
  return state.scopes.find((s) => s.id === id)?.name ?? `scope ${id}`;
}

/** A scope to pick by name, with the doors it opens; a number field when the names are not known. */
function ScopeSelect() {
  const scopes = siteScopes();
  if (scopes.length === 0) return html`<label>Scope id <input name="scope" type="number" min="1" step="1" required /></label>`;
  return html`<label>Scope
    <select name="scope" required>
      <option value="">choose a scope</option>
      ${scopes.map((s) => html`<option key=${s.id} value=${String(s.id)}>${s.name} (${doorNames(s.doors) || 'no door'})</option>`)}
    </select>
  </label>`;
}

/** Status words, each in a colour of its own (and the word, for who does not see the colour). */
function Status({ status }) {
  return html`<span class=${`status st-${status}`}>${statusWord(status)}</span>`;
}

function toSeconds(local) {
  return local ? Math.floor(new Date(local).getTime() / 1000) : undefined;
}

/** What a link or credential opens: its scope's name, door sets included. */
function opensText(item) {
  if (item.scopeName) return item.scopeName;
  const known = state.scopes.find((s) => s.id === item.scope);
  if (known) return known.name;
  return item.scope >= FIRST_DOOR_SET_SCOPE ? 'its own doors' : `scope ${item.scope}`;
}

function QrCode({ text }) {
  const canvas = useRef(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    import('qrcode')
      .then((QRCode) => QRCode.toCanvas(canvas.current, text, { errorCorrectionLevel: 'M', margin: 2, width: 240 }))
      .catch((e) => live && setError(e));
    return () => void (live = false);
  }, [text]);
  return html`<div class="qr">
    <canvas ref=${canvas} role="img" aria-label="QR code of the access link" data-code=${text}></canvas>
    <${ErrorText} error=${error} />
  </div>`;
}

function base64ToBlob(base64, type) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type });
}

/** The link just made: its code and QR, once, with the email buttons when the role has them. */
function CreatedLink({ created, onClose }) {
  const { link, code } = created;
  const [to, setTo] = useState(link.email ?? '');
  const [sent, setSent] = useState(null);
  const [run, busy, error] = useAction();
  const recipient = () => (to.trim() && to.trim() !== link.email ? { to: to.trim() } : {});
  const send = () =>
    run(async () => {
      setSent(null);
      const result = await rpc('links.send', { id: link.id, ...recipient() });
      setSent(`Sent to ${result?.to ?? to}.`);
    });
  const eml = () =>
    run(async () => {
      const result = await rpc('links.eml', { id: link.id, ...recipient() });
      if (typeof result?.eml !== 'string') throw new Error('the controller answered no message');
      download(base64ToBlob(result.eml, 'message/rfc822'), `access-${link.id}.eml`);
    });
  // SMTP is the site file's (email:); without it the controller refuses links.send, so the
  // button is not offered. The hello's site.email says whether it is there.
  const canSend = can('links.send') && state.site?.email === true;
  const mail = canSend || can('links.eml');
  return html`<section class="panel created" aria-labelledby="created-h" data-link=${link.id}>
    <div class="panel-head">
      <h2 id="created-h">Access link for ${link.name}</h2>
      <button type="button" onClick=${onClose}>Done</button>
    </div>
    <p class="muted">The code is shown this once: send it now, or save the QR code.</p>
    <div class="created-body">
      <${QrCode} text=${code} />
      <div>
        <p><code class="code" data-testid="link-code">${code}</code></p>
        <p data-testid="link-summary">Opens ${opensText(link)}, valid ${linkTime(link.notBefore)} to ${linkTime(link.notAfter)}${link.onlineOnly ? ', online only' : ''}.</p>
        ${mail && html`<label>Email to <input type="email" name="to" value=${to} placeholder="visitor@example.org" onInput=${(e) => setTo(e.currentTarget.value)} /></label>`}
        <div class="buttons">
          ${canSend && html`<button type="button" class="primary" disabled=${busy || !to.trim()} onClick=${send}>Send by email</button>`}
          ${can('links.eml') && html`<button type="button" disabled=${busy} onClick=${eml}>Download .eml</button>`}
        </div>
        ${sent && html`<p class="ok" role="status">${sent}</p>`}
        <${ErrorText} error=${error} />
      </div>
    </div>
  </section>`;
}

function LinkForm({ onCreated }) {
  const [target, setTarget] = useState('doors');
  const [doors, setDoors] = useState([]);
  const [online, setOnline] = useState(false);
  const [noEnd, setNoEnd] = useState(false);
  const [run, busy, error, setError] = useAction();
  const submit = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const v = (name) => f.elements.namedItem(name)?.value?.trim() ?? '';
    const params = { name: v('name') };
    if (v('email')) params.email = v('email');
    if (target === 'doors') {
      if (doors.length === 0) return setError(new Error('Choose at least one door.'));
      params.doors = doors;
    } else params.scope = Number(v('scope'));
    const notBefore = toSeconds(v('from'));
    if (notBefore !== undefined) params.notBefore = notBefore;
    if (noEnd) params.notAfter = null;
    else if (v('until')) params.notAfter = toSeconds(v('until'));
    if (online) {
      params.onlineOnly = true;
      if (v('maxUses')) params.maxUses = Number(v('maxUses'));
    }
    run(async () => {
      const created = await rpc('links.create', params);
      f.reset();
      setDoors([]);
      setOnline(false);
      setNoEnd(false);
      onCreated(created);
    });
  };
  const toggleDoor = (id, on) => setDoors((list) => (on ? [...list, id] : list.filter((d) => d !== id)));
  return html`<form class="panel form" onSubmit=${submit} aria-labelledby="newlink-h">
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
              ${state.doors.map(
                (d) => html`<label class="check" key=${d.id}><input type="checkbox" name="door" value=${d.id} checked=${doors.includes(d.id)} onChange=${(e) => toggleDoor(d.id, e.currentTarget.checked)} /> ${d.name}</label>`,
              )}
            </div>`
          : html`<${ScopeSelect} />`}
      </fieldset>
      <label>Valid from <input name="from" type="datetime-local" /> <span class="muted small">empty: now</span></label>
      <label>Valid until <input name="until" type="datetime-local" disabled=${noEnd} /> <span class="muted small">empty: 24 hours later</span></label>
      <label class="check"><input type="checkbox" checked=${noEnd} onChange=${(e) => setNoEnd(e.currentTarget.checked)} /> no end</label>
      <label class="check"><input type="checkbox" name="onlineOnly" checked=${online} onChange=${(e) => setOnline(e.currentTarget.checked)} /> online only (confirmed live at each use)</label>
      ${online && html`<label>Most uses <input name="maxUses" type="number" min="1" step="1" placeholder="unlimited" /></label>`}
    </div>
    <${ErrorText} error=${error} />
    <div class="buttons"><button type="submit" class="primary" disabled=${busy}>Create link</button></div>
  </form>`;
}

export function LinksPage() {
  const [created, setCreated] = useState(null);
  const [includeRevoked, setIncludeRevoked] = useState(false);
  const [search, setSearch] = useState('');
  const term = searchTerm(useSettled(search));
  const list = usePagedList('links.list', includeRevoked, state.linkChanges, term);
  return html`<div class="admin">
    ${can('links.create') && (created ? html`<${CreatedLink} created=${created} onClose=${() => setCreated(null)} />` : html`<${LinkForm} onCreated=${setCreated} />`)}
    <section class="panel" aria-labelledby="links-h">
      <div class="panel-head">
        <h2 id="links-h">Access links</h2>
        <div class="list-tools">
          <${SearchBox} label="Search" placeholder="name, id or email" value=${search} onInput=${setSearch} />
          <label class="check"><input type="checkbox" checked=${includeRevoked} onChange=${(e) => setIncludeRevoked(e.currentTarget.checked)} /> show revoked</label>
        </div>
      </div>
      <${ErrorText} error=${list.error} />
      <table class="list">
        <thead><tr><th>name</th><th>email</th><th>opens</th><th>status</th><th>from</th><th>until</th><th>uses</th><th>created</th><th></th></tr></thead>
        <tbody>
          ${list.items.map(
            (l) => html`<tr key=${l.id} data-link=${l.id} data-status=${linkStatus(l)} class=${l.revokedAt ? 'revoked' : ''}>
              <td data-label="name">${l.name}<br /><span class="muted small">${l.id}</span></td>
              <td data-label="email">${l.email ?? '—'}</td>
              <td data-label="opens">${opensText(l)}${l.onlineOnly ? ', online only' : ''}</td>
              <td data-label="status" class="status-cell"><${Status} status=${linkStatus(l)} /></td>
              <td data-label="from">${linkTime(l.notBefore)}</td>
              <td data-label="until">${linkTime(l.notAfter)}</td>
              <td data-label="uses">${l.onlineOnly ? `${l.uses}${l.maxUses ? ` of ${l.maxUses}` : ''}` : '—'}</td>
              <td data-label="created">${dateTime(l.createdAt)}<br /><span class="muted small">${l.createdBy}</span></td>
              <td>
                ${l.revokedAt
                  ? html`<span class="muted">revoked ${dateTime(l.revokedAt)}</span>`
                  : can('links.revoke') &&
                    html`<${ConfirmButton} class="small danger" question=${`Revoke the link of ${l.name}? Its code stops opening doors at once.`} confirmLabel="Revoke" action=${() => rpc('links.revoke', { id: l.id }).then(list.reload)}>Revoke<//>`}
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${list.items.length === 0 && html`<p class="muted">${term ? `No link matches “${term}”.` : 'No link.'}</p>`}
      ${list.more && html`<button type="button" onClick=${list.loadMore}>More</button>`}
    </section>
  </div>`;
}

/** CSS pixels of the enrolment QR on the operator's screen: a phone camera reads it from a desk's distance. */
const ENROL_QR_SIDE = 240;

/** The enrolment link as a QR, for the member to scan with their phone's camera. */
function EnrolmentQr({ url }) {
  return html`<${QrImage} text=${url} side=${ENROL_QR_SIDE} label="QR code of the enrolment link: scan it with the member's phone camera" />`;
}

/**
 * The credential just made: its one-time enrolment link, as a QR and as text (the badge page on
 * the member's phone takes the secret from it), and the secret itself, shown this once, for a
 * badge of another kind. A controller without credentials.enrol shows the secret only.
 */
function CreatedCredential({ created, onClose }) {
  const { credential, secret } = created;
  const canEnrol = can('credentials.enrol');
  const [enrolment, setEnrolment] = useState(null);
  const [copied, setCopied] = useState(false);
  const [run, busy, error] = useAction();
  const enrol = () =>
    run(async () => {
      setEnrolment(await rpc('credentials.enrol', { id: credential.id }));
      setCopied(false);
    });
  useEffect(() => {
    if (canEnrol) void enrol();
  }, [credential.id]);
  // The clipboard is there in secure contexts only (HTTPS, localhost): elsewhere the link is selected by hand.
  const copy = () => navigator.clipboard.writeText(enrolment.url).then(() => setCopied(true), () => setCopied(false));
  return html`<section class="panel created" aria-labelledby="createdcred-h" data-credential=${credential.id}>
    <div class="panel-head">
      <h2 id="createdcred-h">Badge for ${credential.name}</h2>
      <button type="button" onClick=${onClose}>Done</button>
    </div>
    ${canEnrol &&
    html`${enrolment
        ? html`<p class="muted">
              Let ${credential.name} scan this QR code with their phone's camera, or send them the link: it puts the badge on the first phone that opens it,
              once, until ${dateTime(enrolment.expiresAt)}. Do not open it here.
            </p>
            <div class="created-body">
              <${EnrolmentQr} url=${enrolment.url} />
              <div>
                <p><code class="code" data-testid="enrol-link">${enrolment.url}</code></p>
                <div class="buttons">
                  ${navigator.clipboard && html`<button type="button" onClick=${copy}>Copy link</button>`}
                  <button type="button" disabled=${busy} onClick=${enrol}>New link</button>
                </div>
                ${copied && html`<p class="ok" role="status">Copied.</p>`}
              </div>
            </div>`
        : busy && html`<p class="muted" role="status">Making the enrolment link…</p>`}
      <${ErrorText} error=${error} />
      ${error && !enrolment && html`<div class="buttons"><button type="button" disabled=${busy} onClick=${enrol}>Try again</button></div>`}`}
    <details class="secret" open=${!canEnrol}>
      <summary>Secret, shown this once</summary>
      <p>For a badge other than this site's badge page: ${canEnrol ? 'the enrolment link gives the badge page the same secret.' : "put it into the member's badge now."}</p>
      <p><code class="code" data-testid="credential-secret">${secret}</code></p>
    </details>
  </section>`;
}

export function CredentialsPage() {
  const [includeRevoked, setIncludeRevoked] = useState(false);
  const [changes, setChanges] = useState(0);
  const [created, setCreated] = useState(null);
  const [search, setSearch] = useState('');
  const term = searchTerm(useSettled(search));
  const [run, busy, error] = useAction();
  const list = usePagedList('credentials.list', includeRevoked, changes, term);
  const create = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const name = f.elements.namedItem('name').value.trim();
    const scope = Number(f.elements.namedItem('scope').value);
    run(async () => {
      const result = await rpc('credentials.create', { name, scope });
      f.reset();
      setCreated(result);
      setChanges((n) => n + 1);
    });
  };
  return html`<div class="admin">
    ${can('credentials.create') &&
    (created
      ? html`<${CreatedCredential} created=${created} onClose=${() => setCreated(null)} />`
      : html`<form class="panel form" onSubmit=${create} aria-labelledby="newcred-h">
          <h2 id="newcred-h">New rotating credential</h2>
          <div class="form-grid">
            <label>Name <input name="name" required maxlength="200" autocomplete="off" /></label>
            <${ScopeSelect} />
          </div>
          <${ErrorText} error=${error} />
          <div class="buttons"><button type="submit" class="primary" disabled=${busy}>Create credential</button></div>
        </form>`)}
    <section class="panel" aria-labelledby="creds-h">
      <div class="panel-head">
        <h2 id="creds-h">Rotating credentials</h2>
        <div class="list-tools">
          <${SearchBox} label="Search" placeholder="name or id" value=${search} onInput=${setSearch} />
          <label class="check"><input type="checkbox" checked=${includeRevoked} onChange=${(e) => setIncludeRevoked(e.currentTarget.checked)} /> show revoked</label>
        </div>
      </div>
      <${ErrorText} error=${list.error} />
      <table class="list">
        <thead><tr><th>name</th><th>id</th><th>opens</th><th>status</th><th>created</th><th></th></tr></thead>
        <tbody>
          ${list.items.map((c) => {
            const status = c.status ?? (c.revokedAt ? 'revoked' : 'active');
            return html`<tr key=${c.id} data-credential=${c.id} data-status=${status} class=${c.revokedAt ? 'revoked' : ''}>
              <td data-label="name">${c.name}</td>
              <td data-label="id">${c.id}</td>
              <td data-label="opens">${opensText(c)}</td>
              <td data-label="status" class="status-cell"><${Status} status=${status} /></td>
              <td data-label="created">${dateTime(c.createdAt)}<br /><span class="muted small">${c.createdBy}</span></td>
              <td>
                ${c.revokedAt
                  ? html`<span class="muted">revoked ${dateTime(c.revokedAt)}</span>`
                  : can('credentials.revoke') &&
                    html`<${ConfirmButton} class="small danger" question=${`Revoke the credential of ${c.name}? Its codes stop opening doors at once.`} confirmLabel="Revoke" action=${() => rpc('credentials.revoke', { id: c.id }).then(list.reload)}>Revoke<//>`}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${list.items.length === 0 && html`<p class="muted">${term ? `No credential matches “${term}”.` : 'No credential.'}</p>`}
      ${list.more && html`<button type="button" onClick=${list.loadMore}>More</button>`}
    </section>
  </div>`;
}

function numbers(text) {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
}

/**
 * The scopes a partner's codes may open, ticked by name, and its default scope among them; the
 * ids as text when the names are not known (a controller without scopes.list).
 */
function PartnerScopes({ allowed, setAllowed, defaultScope, setDefaultScope }) {
  const scopes = siteScopes();
  if (scopes.length === 0) {
    return html`<label>Allowed scopes <input name="scopes" required pattern="[0-9, ]+" placeholder="1, 2" /></label>
      <label>Default scope <input name="defaultScope" type="number" min="1" step="1" placeholder="none" /></label>`;
  }
  const toggle = (id, on) => {
    setAllowed((list) => (on ? [...list, id] : list.filter((x) => x !== id)));
    if (!on && defaultScope === String(id)) setDefaultScope('');
  };
  return html`<fieldset class="scope-checks">
      <legend>Allowed scopes</legend>
      ${scopes.map(
        (sc) => html`<label class="check" key=${sc.id}>
          <input type="checkbox" name="scopes" value=${String(sc.id)} checked=${allowed.includes(sc.id)} onChange=${(e) => toggle(sc.id, e.currentTarget.checked)} />
          ${sc.name} <span class="muted small">(${doorNames(sc.doors) || 'no door'})</span>
        </label>`,
      )}
    </fieldset>
    <label>Default scope
      <select name="defaultScope" value=${defaultScope} onChange=${(e) => setDefaultScope(e.currentTarget.value)}>
        <option value="">none</option>
        ${scopes.filter((sc) => allowed.includes(sc.id)).map((sc) => html`<option key=${sc.id} value=${String(sc.id)}>${sc.name}</option>`)}
      </select>
    </label>`;
}

export function PartnersPage() {
  const [changes, setChanges] = useState(0);
  const [secret, setSecret] = useState(null);
  const [allowed, setAllowed] = useState([]);
  const [defaultScope, setDefaultScope] = useState('');
  const [run, busy, error, setError] = useAction();
  const list = usePagedList('partners.list', false, changes);
  const add = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const v = (name) => (f.elements.namedItem(name)?.value ?? '').trim();
    const byName = siteScopes().length > 0;
    const allowedScopes = byName ? siteScopes().map((sc) => sc.id).filter((id) => allowed.includes(id)) : numbers(v('scopes'));
    if (allowedScopes.length === 0) return setError(new Error('Choose at least one scope.'));
    const params = { id: Number(v('id')), name: v('name'), allowedScopes };
    const chosenDefault = byName ? defaultScope : v('defaultScope');
    if (chosenDefault) params.defaultScope = Number(chosenDefault);
    if (v('secret')) params.secret = v('secret');
    run(async () => {
      const result = await rpc('partners.add', params);
      f.reset();
      setAllowed([]);
      setDefaultScope('');
      setSecret(result.secret ? result : null);
      setChanges((n) => n + 1);
    });
  };
  return html`<div class="admin">
    ${can('partners.add') &&
    html`<form class="panel form" onSubmit=${add} aria-labelledby="newpartner-h">
      <h2 id="newpartner-h">Add a partner</h2>
      <div class="form-grid">
        <label>Issuer id <input name="id" type="number" min="1" max="65535" step="1" required /></label>
        <label>Name <input name="name" required maxlength="200" autocomplete="off" /></label>
        <${PartnerScopes} allowed=${allowed} setAllowed=${setAllowed} defaultScope=${defaultScope} setDefaultScope=${setDefaultScope} />
        <label>Shared secret <input name="secret" pattern="([0-9a-fA-F]{2}){32,128}" placeholder="empty: generate one" autocomplete="off" /></label>
      </div>
      <${ErrorText} error=${error} />
      <div class="buttons"><button type="submit" class="primary" disabled=${busy}>Add partner</button></div>
      ${secret &&
      html`<div class="secret" role="status">
        <p>Shared secret of <strong>${secret.partner.name}</strong>, shown this once: give it to the partner now.</p>
        <p><code class="code">${secret.secret}</code></p>
        <button type="button" onClick=${() => setSecret(null)}>Done</button>
      </div>`}
    </form>`}
    <section class="panel" aria-labelledby="partners-h">
      <h2 id="partners-h">Partners</h2>
      <${ErrorText} error=${list.error} />
      <table class="list">
        <thead><tr><th>id</th><th>name</th><th>allowed scopes</th><th>default scope</th><th>added</th><th></th></tr></thead>
        <tbody>
          ${list.items.map(
            (p) => html`<tr key=${p.id} data-partner=${p.id}>
              <td data-label="id">${p.id}</td>
              <td data-label="name">${p.name}${p.enabled ? '' : ' (disabled)'}</td>
              <td data-label="allowed scopes">${p.allowedScopes.map(scopeName).join(', ')}</td>
              <td data-label="default scope">${p.defaultScope === null || p.defaultScope === undefined ? '—' : scopeName(p.defaultScope)}</td>
              <td data-label="added">${dateTime(p.createdAt)}</td>
              <td>
                ${can('partners.remove') &&
                html`<${ConfirmButton} class="small danger" question=${`Remove partner ${p.name}? Its codes stop opening doors at once.`} confirmLabel="Remove" action=${() => rpc('partners.remove', { id: p.id }).then(list.reload)}>Remove<//>`}
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${list.items.length === 0 && html`<p class="muted">No partner.</p>`}
    </section>
  </div>`;
}
