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

/**
 * A button that runs an action, disabled while it runs, with the action's error below it. `label`
 * says more than the visible text (which door): it is added for screen readers after that text,
 * not in its place, so that the name still holds what is on the button (what a voice-control
 * user says to press it; axe's label-content-name-mismatch).
 */
export function ActionButton({ action, children, class: cls = '', title, label, disabled = false }) {
  const [run, busy, error] = useAction();
  return html`<span class="action">
    <button type="button" class=${cls} title=${title} disabled=${busy || disabled} onClick=${() => run(action)}>${children}${label && html`<span class="visually-hidden">: ${label}</span>`}</button>
    ${error ? html`<span class="error" role="alert">${errorText(error)}</span>` : null}
  </span>`;
}

/**
 * A button that asks first, in a modal dialog. `label`, `title` and `disabled` as ActionButton's:
 * where one page has the same command for many things (a door's Unlock), the label says which.
 */
export function ConfirmButton({ children, class: cls = '', question, confirmLabel = 'Confirm', action, danger = true, label, title, disabled = false }) {
  const [open, setOpen] = useState(false);
  const [run, busy, error] = useAction();
  const openerRef = useRef(null);
  const dialogRef = useRef(null);
  const confirmRef = useRef(null);
  // The question's id is per dialog: two on one page must not label each other.
  const questionId = useRef(`confirm-q-${++dialogCount}`).current;
  useEffect(() => {
    if (open) confirmRef.current?.focus();
  }, [open]);
  const close = () => {
    setOpen(false);
    // Focus goes back where it was, so a keyboard user carries on from the button they pressed.
    openerRef.current?.focus();
  };
  const confirm = async () => {
    const ok = await run(async () => {
      await action();
      return true;
    });
    if (ok) close();
  };
  const onKeyDown = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      if (!busy) close();
      return;
    }
    // A modal keeps the keyboard inside it: Tab past the last button comes back to the first.
    if (e.key !== 'Tab') return;
    const focusable = [...(dialogRef.current?.querySelectorAll('button:not(:disabled), a[href], input:not(:disabled), select:not(:disabled), [tabindex]:not([tabindex="-1"])') ?? [])];
    if (focusable.length === 0) return e.preventDefault();
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const inside = focusable.includes(document.activeElement);
    if (e.shiftKey && (document.activeElement === first || !inside)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !inside)) {
      e.preventDefault();
      first.focus();
    }
  };
  return html`<span class="action">
    <button type="button" class=${cls} ref=${openerRef} title=${title} disabled=${disabled} onClick=${() => setOpen(true)}>${children}${label && html`<span class="visually-hidden">: ${label}</span>`}</button>
    ${open &&
    html`<div class="modal-backdrop" onClick=${(e) => e.target === e.currentTarget && !busy && close()}>
      <div class="modal" role="alertdialog" aria-modal="true" aria-labelledby=${questionId} ref=${dialogRef} onKeyDown=${onKeyDown}>
        <p id=${questionId}>${question}</p>
        <${ErrorText} error=${error} />
        <div class="buttons">
          <button type="button" onClick=${close} disabled=${busy}>Cancel</button>
          <button type="button" ref=${confirmRef} class=${danger ? 'danger' : 'primary'} onClick=${confirm} disabled=${busy}>${confirmLabel}</button>
        </div>
      </div>
    </div>`}
  </span>`;
}

let dialogCount = 0;

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
