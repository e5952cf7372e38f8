/** Small shared pieces: buttons that run an RPC and show its error, a confirmation dialog, routing. */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './format.js';

/** [run, busy, error]: run(fn) awaits fn, keeps its error to show, resolves with its result. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      if (mounted.current) setError(e);
      return undefined;
    } finally {
      if (mounted.current) setBusy(false);
    }
  };
  return [run, busy, error, setError];
}

export function ErrorText({ error }) {
  return error ? html`<p class="error" role="alert">${errorText(error)}</p>` : null;
}

/** A button that runs an action, disabled while it runs, with the action's error below it. */
export function ActionButton({ action, children, class: cls = '', title, label, disabled = false }) {
  const [run, busy, error] = useAction();
  return html`<span class="action">
    <button type="button" class=${cls} title=${title} aria-label=${label} disabled=${busy || disabled} onClick=${() => run(action)}>${children}</button>
    ${error ? html`<span class="error" role="alert">${errorText(error)}</span>` : null}
  </span>`;
}

/** A button that asks first, in a modal dialog. */
export function ConfirmButton({ children, class: cls = '', question, confirmLabel = 'Confirm', action, danger = true }) {
  const [open, setOpen] = useState(false);
  const [run, busy, error] = useAction();
  const confirmRef = useRef(null);
  useEffect(() => {
    if (open) confirmRef.current?.focus();
  }, [open]);
  const confirm = async () => {
    const ok = await run(async () => {
      await action();
      return true;
    });
    if (ok) setOpen(false);
  };
  return html`<span class="action">
    <button type="button" class=${cls} onClick=${() => setOpen(true)}>${children}</button>
    ${open &&
    html`<div class="modal-backdrop" onClick=${(e) => e.target === e.currentTarget && !busy && setOpen(false)}>
      <div class="modal" role="alertdialog" aria-modal="true" aria-labelledby="confirm-q" onKeyDown=${(e) => e.key === 'Escape' && !busy && setOpen(false)}>
        <p id="confirm-q">${question}</p>
        <${ErrorText} error=${error} />
        <div class="buttons">
          <button type="button" onClick=${() => setOpen(false)} disabled=${busy}>Cancel</button>
          <button type="button" ref=${confirmRef} class=${danger ? 'danger' : 'primary'} onClick=${confirm} disabled=${busy}>${confirmLabel}</button>
        </div>
      </div>
    </div>`}
  </span>`;
}

/** The hash route: '' (operator page), 'door/<id>', 'links', 'credentials', 'partners'. */
export function useRoute() {
  const read = () => decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const listener = () => setRoute(read());
    addEventListener('hashchange', listener);
    return () => removeEventListener('hashchange', listener);
  }, []);
  return route;
}
