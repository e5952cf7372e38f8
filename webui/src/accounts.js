/**
 * The Accounts page, for admins: web UI users and API tokens, through users.* and tokens.* (the
 * CLI's `postern user` and `postern token`, with the same rules, which the controller enforces).
 * Passwords are typed by the admin, twice, as the CLI asks on a terminal; a new token is shown
 * once, since the controller keeps only its hash.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import './accounts.css';
import { rpc } from './connection.js';
import { dateTime } from './format.js';
import { can, state } from './store.js';
import { ActionButton, ConfirmButton, ErrorText, useAction } from './ui.js';

const USER_ROLES = ['viewer', 'operator', 'integrator', 'admin'];
const TOKEN_ROLES = [...USER_ROLES, 'scanner'];
/** As Accounts counts (controller/accounts/accounts.ts): checked there too, this only saves a round trip. */
const PASSWORD_MIN_LENGTH = 12;

/** A list method's answer, reloaded when the connection comes back or `changes` moves. */
function useList(method, changes) {
  const [items, setItems] = useState([]);
  const [error, setError] = useState(null);
  const load = async () => {
    try {
      setItems(await rpc(method, {}));
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (state.connected) void load();
  }, [changes, state.refreshCount, state.connected]);
  return { items, error, reload: load };
}

function when(ms) {
  return ms === null || ms === undefined ? '—' : dateTime(ms);
}

/** The password and its repetition, or an Error to show when they differ or are too short. */
function passwordOf(form) {
  const password = form.elements.namedItem('password').value;
  const again = form.elements.namedItem('again').value;
  if ([...password.normalize('NFKC')].length < PASSWORD_MIN_LENGTH) return new Error(`The password must be at least ${PASSWORD_MIN_LENGTH} characters.`);
  if (password !== again) return new Error('The two passwords differ.');
  return password;
}

/** Two password fields; autocomplete "new-password", so that the browser offers no saved one. */
function PasswordFields({ label = 'Password' }) {
  return html`<label>${label} <input name="password" type="password" required minlength=${PASSWORD_MIN_LENGTH} maxlength="1024" autocomplete="new-password" /></label>
    <label>Again <input name="again" type="password" required autocomplete="new-password" /></label>`;
}

function RoleOptions({ roles }) {
  return roles.map((r) => html`<option value=${r} key=${r}>${r}</option>`);
}

function AddUserForm({ onAdded }) {
  const [run, busy, error, setError] = useAction();
  const submit = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const password = passwordOf(f);
    if (password instanceof Error) return setError(password);
    const params = { name: f.elements.namedItem('name').value.trim(), role: f.elements.namedItem('role').value, password };
    run(async () => {
      await rpc('users.add', params);
      f.reset();
      onAdded();
    });
  };
  return html`<form class="panel form" onSubmit=${submit} aria-labelledby="newuser-h" id="add-user">
    <h2 id="newuser-h">Add a user</h2>
    <div class="form-grid">
      <label>Name <input name="name" required maxlength="64" pattern="[a-zA-Z0-9._@\\-]{1,64}" title="letters, digits and . _ @ -" autocomplete="off" /></label>
      <label>Role <select name="role"><${RoleOptions} roles=${USER_ROLES} /></select></label>
      <${PasswordFields} />
    </div>
    <${ErrorText} error=${error} />
    <div class="buttons"><button type="submit" class="primary" disabled=${busy}>Add user</button></div>
  </form>`;
}

/** A role picker that applies at once; on a refusal (the last admin) it shows the role kept. */
function RoleSelect({ user, onChanged }) {
  const [run, busy, error] = useAction();
  const change = (e) => {
    const role = e.currentTarget.value;
    run(async () => {
      try {
        await rpc('users.setRole', { name: user.name, role });
      } finally {
        onChanged();
      }
    });
  };
  return html`<span class="action">
    <select aria-label=${`Role of ${user.name}`} name="role" value=${user.role} disabled=${busy} onChange=${change}><${RoleOptions} roles=${USER_ROLES} /></select>
    <${ErrorText} error=${error} />
  </span>`;
}

function ResetPassword({ user, onDone }) {
  const [open, setOpen] = useState(false);
  const [done, setDone] = useState(false);
  const [run, busy, error, setError] = useAction();
  const first = useRef(null);
  useEffect(() => {
    if (open) first.current?.querySelector('input')?.focus();
  }, [open]);
  if (!open) {
    return html`<span class="action">
      <button type="button" class="small" onClick=${() => {
        setOpen(true);
        setDone(false);
      }}>Reset password</button>
      ${done && html`<span class="ok" role="status">Password changed.</span>`}
    </span>`;
  }
  const submit = (e) => {
    e.preventDefault();
    const password = passwordOf(e.currentTarget);
    if (password instanceof Error) return setError(password);
    run(async () => {
      await rpc('users.resetPassword', { name: user.name, password });
      setOpen(false);
      setDone(true);
      onDone();
    });
  };
  return html`<form class="reset-password" ref=${first} onSubmit=${submit} aria-label=${`Reset the password of ${user.name}`}>
    <${PasswordFields} label=${`New password for ${user.name}`} />
    <${ErrorText} error=${error} />
    <div class="buttons">
      <button type="button" class="small" onClick=${() => setOpen(false)} disabled=${busy}>Cancel</button>
      <button type="submit" class="small primary" disabled=${busy}>Set password</button>
    </div>
  </form>`;
}

function UsersPanel() {
  const [changes, setChanges] = useState(0);
  const list = useList('users.list', changes);
  const changed = () => setChanges((n) => n + 1);
  const me = state.user?.name;
  return html`${can('users.add') && html`<${AddUserForm} onAdded=${changed} />`}
    <section class="panel" aria-labelledby="users-h">
      <h2 id="users-h">Users</h2>
      <${ErrorText} error=${list.error} />
      <table class="list accounts">
        <thead><tr><th>name</th><th>role</th><th>state</th><th>last sign-in</th><th>created</th><th></th></tr></thead>
        <tbody>
          ${list.items.map(
            (u) => html`<tr key=${u.id} data-user=${u.name} data-role=${u.role} data-disabled=${String(u.disabled)} class=${u.disabled ? 'revoked' : ''}>
              <td data-label="name">${u.name}${u.name === me ? html` <span class="muted small">(you)</span>` : ''}</td>
              <td data-label="role">${can('users.setRole') ? html`<${RoleSelect} user=${u} onChanged=${changed} />` : u.role}</td>
              <td data-label="state" class="state">${u.disabled ? 'disabled' : 'enabled'}</td>
              <td data-label="last sign-in">${when(u.lastLoginAt)}</td>
              <td data-label="created">${dateTime(u.createdAt)}<br /><span class="muted small">${u.createdBy ?? ''}</span></td>
              <td>
                <div class="row-actions">
                  ${u.disabled
                    ? can('users.enable') && html`<${ActionButton} class="small" action=${() => rpc('users.enable', { name: u.name }).then(changed)}>Enable<//>`
                    : can('users.disable') &&
                      html`<${ConfirmButton} class="small danger" question=${`Disable ${u.name}? ${u.name === me ? 'You' : 'They'} can no longer sign in, and an open session ends within about a minute.`} confirmLabel="Disable" action=${() => rpc('users.disable', { name: u.name }).then(changed)}>Disable<//>`}
                  ${can('users.resetPassword') && html`<${ResetPassword} user=${u} onDone=${changed} />`}
                </div>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${list.items.length === 0 && !list.error && html`<p class="muted">No user.</p>`}
    </section>`;
}

/** Copies with the clipboard API where the page may (a secure context), else through a selection. */
async function copyText(text, fallbackNode) {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Permission refused: the selection below still works.
    }
  }
  const range = document.createRange();
  range.selectNodeContents(fallbackNode);
  const selection = getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  if (!document.execCommand('copy')) throw new Error('Copying is not allowed here: the token is selected, press Ctrl+C.');
}

/** The token just made, this once: it cannot be read back from the controller. */
function CreatedToken({ created, onClose }) {
  const [copied, setCopied] = useState(false);
  const [run, busy, error] = useAction();
  const code = useRef(null);
  const copy = () =>
    run(async () => {
      await copyText(created.token, code.current);
      setCopied(true);
    });
  return html`<div class="secret created-token" role="status" data-token=${created.record.id}>
    <p>Token <strong>${created.record.name}</strong> (${created.record.role}${created.record.scanner ? `, scanner ${created.record.scanner}` : ''}${created.record.doors ? `, doors ${created.record.doors.join(', ')}` : ''}):</p>
    <p><code class="code" ref=${code} data-testid="token-text">${created.token}</code></p>
    <p><strong>You will not see it again.</strong> Copy it now and store it somewhere safe: the controller keeps only a hash of it.</p>
    <div class="buttons">
      <button type="button" class="primary" disabled=${busy} onClick=${copy}>${copied ? 'Copied' : 'Copy token'}</button>
      <button type="button" onClick=${onClose}>Done</button>
    </div>
    <${ErrorText} error=${error} />
  </div>`;
}

function TokenForm({ onCreated }) {
  const [role, setRole] = useState('integrator');
  const [allDoors, setAllDoors] = useState(true);
  const [created, setCreated] = useState(null);
  // A token may be limited to some doors, except an admin's (it manages the whole site) and a
  // scanner device's (it reads for its own scanner, at that scanner's door).
  const limitable = role !== 'admin' && role !== 'scanner';
  const [run, busy, error] = useAction();
  // Only network and kiosk scanners read over the API (the controller checks it too).
  const scanners = state.scanners.filter((s) => s.driver === 'network' || s.driver === 'kiosk').map((s) => s.id);
  const submit = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const params = { name: f.elements.namedItem('name').value.trim(), role };
    if (role === 'scanner') params.scanner = f.elements.namedItem('scanner').value.trim();
    if (limitable && !allDoors) params.doors = [...f.querySelectorAll('input[name="tokenDoor"]:checked')].map((box) => box.value);
    run(async () => {
      if (params.doors?.length === 0) throw new Error('pick at least one door, or every door');
      const result = await rpc('tokens.create', params);
      f.reset();
      setRole('integrator');
      setAllDoors(true);
      setCreated(result);
      onCreated();
    });
  };
  return html`<form class="panel form" onSubmit=${submit} aria-labelledby="newtoken-h" id="make-token">
    <h2 id="newtoken-h">Make an API token</h2>
    <div class="form-grid">
      <label>Name <input name="name" required maxlength="64" pattern="[a-zA-Z0-9._@\\-]{1,64}" title="letters, digits and . _ @ -" autocomplete="off" /></label>
      <label>Role <select name="role" value=${role} onChange=${(e) => setRole(e.currentTarget.value)}><${RoleOptions} roles=${TOKEN_ROLES} /></select></label>
      ${role === 'scanner' &&
      html`<label>Scanner <input name="scanner" required list="token-scanners" autocomplete="off" placeholder="a network or kiosk scanner" />
        <datalist id="token-scanners">${scanners.map((id) => html`<option value=${id} key=${id} />`)}</datalist></label>`}
      ${limitable &&
      html`<fieldset>
        <legend>Doors</legend>
        <label class="check"><input type="radio" name="tokenDoors" checked=${allDoors} onChange=${() => setAllDoors(true)} /> every door</label>
        <label class="check"><input type="radio" name="tokenDoors" checked=${!allDoors} onChange=${() => setAllDoors(false)} /> only these doors</label>
        ${!allDoors &&
        html`<div class="door-checks">
          ${state.doors.map((d) => html`<label class="check" key=${d.id}><input type="checkbox" name="tokenDoor" value=${d.id} /> ${d.name}</label>`)}
        </div>`}
      </fieldset>`}
    </div>
    <${ErrorText} error=${error} />
    <div class="buttons"><button type="submit" class="primary" disabled=${busy}>Make token</button></div>
    ${created && html`<${CreatedToken} created=${created} onClose=${() => setCreated(null)} />`}
  </form>`;
}

function TokensPanel() {
  const [changes, setChanges] = useState(0);
  const [showRevoked, setShowRevoked] = useState(false);
  const list = useList('tokens.list', changes);
  const changed = () => setChanges((n) => n + 1);
  const shown = list.items.filter((t) => showRevoked || t.revokedAt === null);
  return html`${can('tokens.create') && html`<${TokenForm} onCreated=${changed} />`}
    <section class="panel" aria-labelledby="tokens-h">
      <div class="panel-head">
        <h2 id="tokens-h">API tokens</h2>
        <label class="check"><input type="checkbox" checked=${showRevoked} onChange=${(e) => setShowRevoked(e.currentTarget.checked)} /> show revoked</label>
      </div>
      <${ErrorText} error=${list.error} />
      <table class="list accounts">
        <thead><tr><th>name</th><th>role</th><th>prefix</th><th>created</th><th>last used</th><th></th></tr></thead>
        <tbody>
          ${shown.map(
            (t) => html`<tr key=${t.id} data-token=${t.id} data-name=${t.name} class=${t.revokedAt ? 'revoked' : ''}>
              <td data-label="name">${t.name}<br /><span class="muted small">${t.id}</span></td>
              <td data-label="role">${t.role}${t.scanner ? html`<br /><span class="muted small">scanner ${t.scanner}</span>` : ''}${t.doors ? html`<br /><span class="muted small">doors ${t.doors.join(', ')}</span>` : ''}</td>
              <td data-label="prefix"><code>${t.prefix}…</code></td>
              <td data-label="created">${dateTime(t.createdAt)}<br /><span class="muted small">${t.createdBy ?? ''}</span></td>
              <td data-label="last used">${when(t.lastUsedAt)}</td>
              <td>
                ${t.revokedAt
                  ? html`<span class="muted">revoked ${dateTime(t.revokedAt)}</span>`
                  : can('tokens.revoke') &&
                    html`<${ConfirmButton} class="small danger" question=${`Revoke token ${t.name} (${t.prefix}…)? It is refused from its next connection on, and its open connections close at the next heartbeat.`} confirmLabel="Revoke" action=${() => rpc('tokens.revoke', { id: t.id }).then(changed)}>Revoke<//>`}
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${shown.length === 0 && !list.error && html`<p class="muted">No token.</p>`}
    </section>`;
}

export function AccountsPage() {
  return html`<div class="admin accounts-page">
    <${UsersPanel} />
    <${TokensPanel} />
  </div>`;
}
