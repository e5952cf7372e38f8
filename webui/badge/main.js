/**
 * The badge page: enrols once with the token in the URL fragment, then shows the rotating code as a
 * QR, computed here from the stored secret every 15 seconds, with no request at all. The service
 * worker (public/badge-sw.js) keeps the page itself available offline.
 */
import QRCode from 'qrcode';
import './badge.css';
import { forgetBadge, loadBadge, saveBadge } from './badgeStore.js';
import { importSecret, PERIOD_SECONDS, rotatingCode, secondsLeft, timeStep } from './rotatingCode.js';

const $ = (id) => document.getElementById(id);
const view = {
  message: $('message'),
  badge: $('badge'),
  empty: $('empty'),
  site: $('site'),
  holder: $('holder'),
  qr: $('qr'),
  bar: $('bar'),
  countdown: $('countdown'),
  forget: $('forget'),
  retry: $('retry'),
};

let ticker;
let wakeLock;

function say(text, isError = false) {
  view.message.textContent = text;
  view.message.classList.toggle('error', isError);
  view.message.hidden = !text;
}

/** The enrolment token of the URL fragment (#enrol=...), which is then removed from the address bar. */
function takeEnrolToken() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = params.get('enrol');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return token;
}

async function enrol(token) {
  let response;
  try {
    response = await fetch('/badge/enrol', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
      credentials: 'same-origin',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    say('Could not reach the door controller. Connect to the network and try again.', true);
    return 'retry';
  }
  const answer = await response.json().catch(() => ({}));
  if (response.ok) {
    saveBadge({
      credentialId: answer.credentialId,
      secret: answer.secret,
      name: answer.name,
      site: answer.siteName,
      scope: answer.scope,
      periodSeconds: answer.periodSeconds,
      enrolledAt: Date.now(),
    });
    navigator.storage?.persist?.().catch(() => undefined);
    say('');
    return 'ok';
  }
  if (response.status === 410) say('This enrolment link was used already or has expired. Ask for a new one.', true);
  else if (response.status === 404) say('This enrolment link is not known. Check that you opened the whole link.', true);
  else if (response.status === 429) {
    say('Too many attempts. Wait a minute and try again.', true);
    return 'retry';
  } else say(answer.error ? `Enrolment failed: ${answer.error}` : `Enrolment failed (${response.status}).`, true);
  return 'failed';
}

function showEmpty(retry) {
  clearInterval(ticker);
  view.badge.hidden = true;
  view.empty.hidden = false;
  view.retry.hidden = retry === undefined;
  view.retry.onclick = retry ?? null;
}

async function showBadge(badge) {
  let key;
  try {
    key = await importSecret(badge.secret);
  } catch (error) {
    say(`This browser cannot make the codes: ${error.message}`, true);
    return showEmpty();
  }
  view.empty.hidden = true;
  view.badge.hidden = false;
  view.site.textContent = badge.site ?? '';
  view.holder.textContent = badge.name ?? 'Badge';
  document.title = `${badge.name} · Postern badge`;
  let shownStep = -1;
  let drawing = false;
  const tick = async () => {
    const now = Date.now() / 1000;
    const left = secondsLeft(now);
    view.countdown.textContent = `New code in ${left} s`;
    view.bar.style.width = `${(left / PERIOD_SECONDS) * 100}%`;
    const step = timeStep(now);
    if (step === shownStep || drawing) return;
    drawing = true;
    try {
      const code = await rotatingCode(badge.credentialId, key, now);
      const width = Math.min(400, Math.max(200, window.innerWidth - 64)) * Math.min(2, window.devicePixelRatio || 1);
      await QRCode.toCanvas(view.qr, code, { errorCorrectionLevel: 'M', margin: 4, width, color: { dark: '#000000ff', light: '#ffffffff' } });
      shownStep = step;
      view.qr.dataset.step = String(step);
    } catch (error) {
      say(`Could not draw the code: ${error.message}`, true);
    } finally {
      drawing = false;
    }
  };
  clearInterval(ticker);
  ticker = setInterval(() => void tick(), 250);
  await tick();
  keepAwake();
}

/** Keeps the screen on while the code shows, where the browser allows it. */
async function keepAwake() {
  if (document.visibilityState !== 'visible' || wakeLock || !navigator.wakeLock) return;
  try {
    wakeLock = await navigator.wakeLock.request('screen');
    wakeLock.addEventListener('release', () => (wakeLock = undefined));
  } catch {
    wakeLock = undefined;
  }
}

view.forget.addEventListener('click', () => {
  if (!confirm('Forget this badge? The codes stop on this device, and you need a new enrolment link to get it back.')) return;
  forgetBadge();
  say('The badge is forgotten on this device.');
  showEmpty();
});

document.addEventListener('visibilitychange', () => void keepAwake());

async function start() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/badge-sw.js', { scope: '/badge' }).catch(() => undefined);
  }
  const token = takeEnrolToken();
  if (token) {
    const attempt = async () => {
      const result = await enrol(token);
      const badge = loadBadge();
      if (result === 'ok' && badge) return showBadge(badge);
      if (badge) return showBadge(badge);
      showEmpty(result === 'retry' ? () => void attempt() : undefined);
    };
    return attempt();
  }
  const badge = loadBadge();
  if (badge) return showBadge(badge);
  showEmpty();
}

void start();
