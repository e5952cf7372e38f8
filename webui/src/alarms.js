/**
 * What makes an alarm hard to miss, on every page: the page title and the favicon while one waits
 * for acknowledgement, a repeating tone (mutable for the session), a desktop notification when the
 * operator allowed them, and the lockdown banner. The door cards and the wall view colour their
 * doors from pendingAlarm() too.
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { alertStatus, onAlertStatus, setAlertSound } from './alertSound.js';
import { Icon } from './icons.js';

/** An alarm that still needs someone: not acknowledged yet, whether or not its door closed again. */
export function pendingAlarm(door) {
  if (door.alarm && !door.alarm.acknowledged) return door.alarm;
  return null;
}

export function alarmWord(kind) {
  return kind === 'forced-open' ? 'Forced open' : kind === 'held-open' ? 'Held open' : kind;
}

/** The class that gives a door with a pending alarm the alarm's colour, whatever its state. */
export function alarmClass(alarm) {
  return alarm ? ` alarmed alarm-${alarm.kind}` : '';
}

const BASE_TITLE = document.title || 'Postern';
const iconLink = document.querySelector('link[rel~="icon"]');
const NORMAL_ICON = iconLink?.getAttribute('href') ?? null;
/** The alarm favicon: a white exclamation mark on the alarm red, readable at 16 px in a tab. */
const ALARM_ICON = `data:image/svg+xml,${encodeURIComponent(
  "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'><circle cx='12' cy='12' r='12' fill='#b42318'/><path d='M12 5v8.5' stroke='#fff' stroke-width='3.4' stroke-linecap='round'/><circle cx='12' cy='18.5' r='2' fill='#fff'/></svg>",
)}`;

export function alarmTitle(count) {
  return count === 0 ? BASE_TITLE : `(!) ${count} alarm${count === 1 ? '' : 's'} · ${BASE_TITLE}`;
}

function showCount(count) {
  document.title = alarmTitle(count);
  if (iconLink && NORMAL_ICON !== null) iconLink.setAttribute('href', count === 0 ? NORMAL_ICON : ALARM_ICON);
}

/* Muting lasts for the browser tab's session: a reload keeps it, a new tab sounds again. */
const MUTE_KEY = 'postern.alarmSoundMuted';
const muteListeners = new Set();
let mutedNow = readMuted();
function readMuted() {
  try {
    return sessionStorage.getItem(MUTE_KEY) === '1';
  } catch {
    return false;
  }
}
export function setMuted(muted) {
  try {
    if (muted) sessionStorage.setItem(MUTE_KEY, '1');
    else sessionStorage.removeItem(MUTE_KEY);
  } catch {
    // Storage refused (private mode): the mute still holds until the page reloads.
  }
  mutedNow = muted;
  for (const listener of [...muteListeners]) listener(muted);
}

function useMuted() {
  const [muted, set] = useState(mutedNow);
  useEffect(() => {
    muteListeners.add(set);
    set(mutedNow);
    return () => muteListeners.delete(set);
  }, []);
  return muted;
}

function useAlertStatus() {
  const [status, set] = useState(alertStatus);
  useEffect(() => onAlertStatus(set), []);
  return status;
}

/* Desktop notifications: asked for only from the operator's click, never on load. */
const hasNotifications = typeof window.Notification === 'function';
const permissionListeners = new Set();
function permissionNow() {
  return hasNotifications ? Notification.permission : 'unsupported';
}
function permissionChanged() {
  for (const listener of [...permissionListeners]) listener(permissionNow());
}
if (hasNotifications) {
  // A grant made from the browser's site settings reaches the page without a reload.
  navigator.permissions
    ?.query({ name: 'notifications' })
    .then((status) => status.addEventListener('change', permissionChanged))
    .catch(() => undefined);
}
function useNotificationPermission() {
  const [permission, set] = useState(permissionNow);
  useEffect(() => {
    permissionListeners.add(set);
    set(permissionNow());
    return () => permissionListeners.delete(set);
  }, []);
  return permission;
}
async function askNotifications() {
  try {
    await Notification.requestPermission();
  } finally {
    permissionChanged();
  }
}

/** One notification per alarm (door and kind), closed once the alarm is acknowledged. */
const shown = new Map();
function notify(alarmed, siteName) {
  const keys = new Set(alarmed.map((d) => `${d.id}:${d.alarm.kind}`));
  for (const [key, n] of shown) {
    if (keys.has(key)) continue;
    n?.close();
    shown.delete(key);
  }
  if (permissionNow() !== 'granted') return;
  for (const d of alarmed) {
    const key = `${d.id}:${d.alarm.kind}`;
    if (shown.has(key)) continue;
    try {
      const n = new Notification(`${alarmWord(d.alarm.kind)}: ${d.name}`, {
        body: `${siteName ? `${siteName}: ` : ''}${d.alarm.active ? 'the door is still open' : 'the door closed again'}. Acknowledge it in Postern.`,
        tag: `postern-alarm-${key}`,
        requireInteraction: true,
      });
      n.onclick = () => {
        focus();
        location.hash = `#/door/${encodeURIComponent(d.id)}`;
        n.close();
      };
      shown.set(key, n);
    } catch {
      // Some browsers (Chrome on Android) only notify through a service worker: the page still alerts.
      shown.set(key, null);
    }
  }
}

/**
 * Renders nothing: keeps the title, the favicon, the tone and the notifications in step with the
 * doors' alarms, and puts them back when the operator signs out. <html data-alert> says what the
 * tone does ('sounding', 'blocked' by the browser, 'muted'), absent without an alarm.
 */
export function AlarmSignals({ doors, siteName }) {
  const alarmed = doors.filter(pendingAlarm);
  const count = alarmed.length;
  const muted = useMuted();
  const status = useAlertStatus();
  const permission = useNotificationPermission();

  useEffect(() => showCount(count), [count]);
  useEffect(() => setAlertSound(count > 0 && !muted), [count, muted]);
  useEffect(() => {
    const root = document.documentElement;
    if (count === 0) delete root.dataset.alert;
    else root.dataset.alert = muted ? 'muted' : status;
  }, [count, muted, status]);
  useEffect(() => notify(alarmed, siteName), [doors, permission]);
  useEffect(
    () => () => {
      showCount(0);
      setAlertSound(false);
      delete document.documentElement.dataset.alert;
      notify([], siteName);
    },
    [],
  );
  return null;
}

/** The header's alert buttons: mute the tone, let the browser play it, allow notifications. */
export function AlertControls({ doors }) {
  const count = doors.filter(pendingAlarm).length;
  const muted = useMuted();
  const status = useAlertStatus();
  const permission = useNotificationPermission();
  return html`<span class="alert-controls">
    ${count > 0 &&
    !muted &&
    status === 'blocked' &&
    // The click itself is the gesture the browser waits for (alertSound.js listens for it).
    html`<button type="button" class="small sound-blocked" title="The browser plays sound only after a click on the page">
      <${Icon} name="alarm" size="14" /> Turn on alarm sound
    </button>`}
    ${(count > 0 || muted) &&
    html`<button type="button" class=${`small mute${muted ? ' is-muted' : ''}`} data-muted=${muted ? 'true' : 'false'} onClick=${() => setMuted(!muted)}>
      ${muted ? 'Unmute alarm sound' : 'Mute alarm sound'}
    </button>`}
    ${permission === 'default' &&
    html`<button type="button" class="small" title="A desktop notification for every new alarm, even when this tab is hidden" onClick=${askNotifications}>
      Allow desktop notifications
    </button>`}
  </span>`;
}

/** Doors in lockdown mode: no code and no unlock command opens them until it is lifted. */
export function LockdownBanner({ doors }) {
  const locked = doors.filter((d) => d.mode === 'lockdown');
  if (locked.length === 0) return null;
  const all = locked.length === doors.length;
  return html`<div class="banner lockdown-banner" role="alert" aria-label="Lockdown" id="lockdown-banner" data-lockdown=${all ? 'site' : 'doors'}>
    <${Icon} name="ban" />
    <span>
      <strong>${all ? 'Site lockdown' : 'Lockdown'}</strong>:
      ${all ? ' every door is locked down' : ` ${locked.map((d) => d.name).join(', ')} locked down (${locked.length} of ${doors.length} doors)`}. No code and no unlock
      command opens ${all || locked.length > 1 ? 'them' : 'it'} until the lockdown is lifted; exit buttons still let people out.
    </span>
  </div>`;
}
