/** The page: the sign-in form, or the header, the banners and the current view. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { AlarmSignals, AlertControls, LockdownBanner } from './alarms.js';
import { login, logout } from './connection.js';
import { AlarmBanner, DoorDetail, DoorGrid } from './doors.js';
import { Feed } from './feed.js';
import { Icon } from './icons.js';
import { Scanners, SyncPanel } from './side.js';
import { can, useStore } from './store.js';
import { useRoute } from './ui.js';
import { WallHeader, WallView } from './wall.js';

function Login({ message }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    setBusy(true);
    setError(null);
    const problem = await login(f.elements.namedItem('name').value.trim(), f.elements.namedItem('password').value);
    setBusy(false);
    if (problem) {
      setError(problem);
      f.elements.namedItem('password').value = '';
      f.elements.namedItem('password').focus();
    }
  };
  return html`<main class="login">
    <form class="panel login-form" onSubmit=${submit} aria-labelledby="login-h">
      <h1 id="login-h"><${Icon} name="lock" /> Postern</h1>
      <p class="muted">Sign in to operate the doors of this site.</p>
      ${message && !error && html`<p class="notice" role="status">${message}</p>`}
      <label>Name <input name="name" autocomplete="username" required autofocus /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      ${error && html`<p class="error" role="alert" id="login-error">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}

/** The issuing pages load on first use, with the QR code library. */
let adminModule = null;
function Admin({ page }) {
  const [module, setModule] = useState(adminModule);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (module) return;
    import('./admin.js').then(
      (m) => {
        adminModule = m;
        setModule(m);
      },
      (e) => setError(e),
    );
  }, []);
  if (error) return html`<p class="error">Could not load this page: ${error.message}</p>`;
  if (!module) return html`<p class="muted">Loading…</p>`;
  const Page = { links: module.LinksPage, credentials: module.CredentialsPage, partners: module.PartnersPage, accounts: module.AccountsPage }[page];
  return html`<${Page} />`;
}

const TABS = [
  { route: '', label: 'Operator', method: null },
  { route: 'links', label: 'Access links', method: 'links.list' },
  { route: 'credentials', label: 'Credentials', method: 'credentials.list' },
  { route: 'partners', label: 'Partners', method: 'partners.list' },
  { route: 'accounts', label: 'Accounts', method: 'users.list' },
];

function Header({ s, route }) {
  const current = route.startsWith('door/') ? '' : route;
  return html`<header class="top">
    <div class="brand"><${Icon} name="lock" size="20" /> <strong>Postern</strong> <span class="site">${s.site?.name ?? ''}</span></div>
    <nav aria-label="Pages">
      ${TABS.filter((t) => t.method === null || can(t.method)).map(
        (t) => html`<a href=${`#/${t.route}`} class=${current === t.route ? 'current' : ''} aria-current=${current === t.route ? 'page' : undefined}>${t.label}</a>`,
      )}
    </nav>
    <a href="#/wall" class="wall-link" title="Every door as a large tile, for a monitor at the desk"><${Icon} name="door" size="16" /> Wall view</a>
    <div class="who">
      <${AlertControls} doors=${s.doors} />
      <span class="user" data-role=${s.user?.role}>${s.user?.name} <span class="muted">(${s.user?.role})</span></span>
      <button type="button" class="small" onClick=${() => logout()}>Sign out</button>
    </div>
  </header>`;
}

function ConnectionBanner({ s }) {
  if (s.connected) return null;
  return html`<div class="banner reconnecting" role="status" aria-live="polite" id="connection-banner">
    <span class="spinner" aria-hidden="true"></span>
    ${s.everConnected ? 'Connection to the controller lost: reconnecting…' : 'Connecting to the controller…'}
    ${s.everConnected && html`<span class="muted small">What is shown may be out of date.</span>`}
  </div>`;
}

function OperatorPage({ s }) {
  return html`<div class="operator">
    <${DoorGrid} doors=${s.doors} lastEvent=${s.lastEvent} />
    <div class="columns wide-left">
      <${Feed} doors=${s.doors} feed=${s.feed} filter=${s.feedFilter} />
      <div class="side">
        <${Scanners} scanners=${s.scanners} doors=${s.doors} />
        <${SyncPanel} />
      </div>
    </div>
  </div>`;
}

/** An unknown route (#/nope): say so, and the way home. */
function NotFound({ route }) {
  return html`<section class="panel not-found" aria-labelledby="page-h">
    <h1 id="page-h">Not found</h1>
    <p>There is no page <code>#/${route}</code>.</p>
    <p><a href="#/">Back to the doors</a></p>
  </section>`;
}

const ADMIN_TITLES = { links: 'Access links', credentials: 'Credentials', partners: 'Partners', accounts: 'Accounts' };

/**
 * Each page has one h1 naming it, for screen readers' heading navigation; the header's current
 * tab (or the door's own heading) already says it to the eye, so it is not shown twice.
 */
function PageTitle({ children }) {
  return html`<h1 class="visually-hidden" id="page-h">${children}</h1>`;
}

export function App() {
  const s = useStore();
  const route = useRoute();
  if (s.phase === 'loading') return html`<p class="boot">Loading Postern…</p>`;
  if (s.phase === 'login') return html`<${Login} message=${s.loginMessage} />`;
  const wall = route === 'wall';
  let view;
  if (wall) view = html`<${PageTitle}>Wall view<//><${WallView} doors=${s.doors} />`;
  else if (route.startsWith('door/')) {
    const id = route.slice(5);
    const door = s.doors.find((d) => d.id === id);
    view = html`<${PageTitle}>${door ? `Door ${door.name}` : 'Door'}<//><${DoorDetail} id=${id} />`;
  } else if (ADMIN_TITLES[route]) view = html`<${PageTitle}>${ADMIN_TITLES[route]}<//><${Admin} page=${route} key=${route} />`;
  else if (route === '') view = html`<${PageTitle}>Doors<//><${OperatorPage} s=${s} />`;
  else view = html`<${NotFound} route=${route} />`;
  // AlarmSignals keeps its place whatever the route: moving between pages neither restarts the
  // tone nor notifies an alarm twice. The wall's tiles show the alarms: no alarm banner there.
  return html`<div class=${`app${wall ? ' wall-app' : ''}${s.connected ? '' : ' offline'}`}>
    <${AlarmSignals} doors=${s.doors} siteName=${s.site?.name} />
    ${wall ? html`<${WallHeader} s=${s} />` : html`<${Header} s=${s} route=${route} />`}
    <${ConnectionBanner} s=${s} />
    <${LockdownBanner} doors=${s.doors} />
    ${wall ? null : html`<${AlarmBanner} doors=${s.doors} />`}
    <main class=${wall ? 'wall' : undefined}>${view}</main>
  </div>`;
}
