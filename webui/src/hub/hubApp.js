/**
 * The hub's operator page: the sign-in form (a hub account's token), then a header with the site
 * picker and either the all-sites overview (#/) or one site's page (#/site/<id>).
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Icon } from '../icons.js';
import { useRoute } from '../ui.js';
import { login, logout, useHub } from './hubConnection.js';
import { Overview, siteHealth, useOverviewPoll } from './overview.js';
import { SitePage } from './sitePage.js';

function Login({ problem }) {
  const [error, setError] = useState(problem);
  const [busy, setBusy] = useState(false);
  const input = useRef(null);
  useEffect(() => setError(problem), [problem]);
  const submit = async (e) => {
    e.preventDefault();
    const value = input.current.value.trim();
    if (!value) return;
    setBusy(true);
    setError(null);
    const refused = await login(value);
    setBusy(false);
    if (refused) {
      setError(refused);
      input.current.value = '';
      input.current.focus();
    }
  };
  return html`<main class="login">
    <form class="panel login-form" onSubmit=${submit} aria-labelledby="login-h">
      <h1 id="login-h"><${Icon} name="lock" /> Postern hub</h1>
      <p class="muted">Paste your hub account's token (<code>ph_…</code>, from <code>postern hub account add</code>). It is kept in this tab only, until it closes.</p>
      <label>Token <input ref=${input} name="token" type="password" autocomplete="off" spellcheck="false" required autofocus aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? 'login-error' : undefined} /></label>
      ${error && html`<p class="error" role="alert" id="login-error">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}

/** The site picker: a select that moves the hash, so that a site's page can be linked to. */
function SitePicker({ sites, current }) {
  const onChange = (e) => {
    const id = e.currentTarget.value;
    location.hash = id ? `#/site/${encodeURIComponent(id)}` : '#/';
  };
  return html`<label class="site-picker">
    <span>Site</span>
    <select name="site" value=${current ?? ''} onChange=${onChange}>
      <option value="">All sites</option>
      ${(sites ?? []).map((s) => html`<option key=${s.id} value=${s.id}>${s.name ?? s.id}${siteHealth(s).alarms.length ? ' (problem)' : ''}</option>`)}
      ${current && !(sites ?? []).some((s) => s.id === current) && html`<option value=${current}>${current}</option>`}
    </select>
  </label>`;
}

function Header({ h, current }) {
  return html`<header class="top hub-top">
    <div class="brand"><${Icon} name="lock" size="20" /> <a href="#/"><strong>Postern hub</strong></a></div>
    <${SitePicker} sites=${h.sites} current=${current} />
    <div class="who">
      <span class="user" data-role=${h.account?.role}>${h.account?.name} <span class="muted">(${h.account?.role})</span></span>
      <button type="button" class="small" onClick=${() => logout()}>Sign out</button>
    </div>
  </header>`;
}

function ConnectionBanner({ h }) {
  if (h.connected) return null;
  return html`<div class="banner reconnecting" role="status" aria-live="polite" id="connection-banner">
    <span class="spinner" aria-hidden="true"></span>
    Connection to the hub lost: reconnecting… <span class="muted small">What is shown may be out of date.</span>
  </div>`;
}

function NotFound({ route }) {
  return html`<section class="panel not-found" aria-labelledby="page-h">
    <h1 id="page-h">Not found</h1>
    <p>There is no page <code>#/${route}</code>.</p>
    <p><a href="#/">All sites</a></p>
  </section>`;
}

export function HubApp() {
  const h = useHub();
  const route = useRoute();
  useOverviewPoll(h.phase === 'app' && h.connected, h.connections);
  if (h.phase === 'loading') return html`<p class="boot">Loading Postern hub…</p>`;
  if (h.phase === 'login') return html`<${Login} problem=${h.loginError} />`;
  const siteId = route.startsWith('site/') ? route.slice(5) : null;
  let view;
  if (siteId) view = html`<${SitePage} siteId=${siteId} key=${siteId} />`;
  else if (route === '') view = html`<${Overview} />`;
  else view = html`<${NotFound} route=${route} />`;
  return html`<div class=${`app hub-app${h.connected ? '' : ' offline'}`}>
    <${Header} h=${h} current=${siteId} />
    <${ConnectionBanner} h=${h} />
    <main>${view}</main>
  </div>`;
}
