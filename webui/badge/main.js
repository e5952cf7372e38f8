/**
 * The badge page: enrols once with the token in the URL fragment, then shows the rotating code as a
 * QR, computed here from the stored secret every 15 seconds, with no request at all. The service
 * worker (public/badge-sw.js) keeps the page itself available offline.
 */
import './badge.css';
import { forgetBadge, loadBadge, saveBadge } from './badgeStore.js';
import { drawQr, qrLayout, qrModules } from './qrCanvas.js';
import { importSecret, PERIOD_SECONDS, rotatingCode, secondsLeft, timeStep } from './rotatingCode.js';

const $ = (id) => document.getElementById(id);
const view = {
  message: $('message'),
  badge: $('badge'),
  empty: $('empty'),
  site: $('site'),
  holder: $('holder'),
  qr: $('qr'),
  frame: $('qr-frame'),
  bar: $('bar'),
  countdown: $('countdown'),
  forget: $('forget'),
  retry: $('retry'),
};

let ticker;
let wakeLock;
/** The code on screen and its modules, drawn again whenever its space or the pixel ratio changes. */
let shown;
/** What the code was last drawn for, so that a resize that changes nothing draws nothing. */
let drawnFor = '';
/** The layout of the last drawing: { scale, width, height, dpr }. */
let drawn;
/** The device pixels the browser paints the canvas on, for a CSS size: { css, width, height }. */
let painted;

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
  let computing = false;
  const tick = async () => {
    const now = Date.now() / 1000;
    const left = secondsLeft(now);
    view.countdown.textContent = `New code in ${left} s`;
    view.bar.style.width = `${(left / PERIOD_SECONDS) * 100}%`;
    const step = timeStep(now);
    if (step === shownStep || computing) return alignToDevicePixels();
    computing = true;
    try {
      const code = await rotatingCode(badge.credentialId, key, now);
      shown = { code, matrix: qrModules(code) };
      drawnFor = '';
      if (redraw()) {
        shownStep = step;
        view.qr.dataset.step = String(step);
      }
    } catch (error) {
      say(`Could not draw the code: ${error.message}`, true);
    } finally {
      computing = false;
    }
  };
  clearInterval(ticker);
  ticker = setInterval(() => void tick(), 250);
  await tick();
  keepAwake();
}

/**
 * The square the QR may fill, in CSS pixels: the frame's size, which the style sheet sets from the
 * card's width in portrait and from the screen's height in landscape, never from the canvas.
 */
function availableSide() {
  // Not clientWidth: it rounds, and half a CSS pixel too many may be one device pixel too many.
  const box = view.frame.getBoundingClientRect();
  return Math.min(box.width, box.height);
}

/**
 * Draws the shown code for the current space and device pixel ratio, unless it is drawn for them
 * already. False while the frame has no size yet (the badge hidden): the next tick tries again.
 */
function redraw() {
  if (shown === undefined || view.badge.hidden) return false;
  const cssSide = availableSide();
  if (!(cssSide > 0)) return false;
  const dpr = window.devicePixelRatio || 1;
  const key = `${shown.code} ${cssSide} ${dpr}`;
  if (key === drawnFor) return true;
  const { scale, backing } = qrLayout(shown.matrix.size, cssSide, dpr);
  drawn = { scale, width: backing, height: backing, dpr };
  const css = `${backing / dpr}px`;
  if (painted?.css === css && painted.dpr === dpr && Math.min(painted.width, painted.height) >= scale * shown.matrix.size) {
    // The same CSS size as before: the browser paints it on the device pixels it reported then.
    drawn = { ...drawn, width: painted.width, height: painted.height };
    drawQr(view.qr, shown.matrix, { ...drawn, keepCssSize: true });
  } else drawQr(view.qr, shown.matrix, drawn);
  drawnFor = key;
  alignToDevicePixels();
  return true;
}

/**
 * Moves the canvas by less than a device pixel onto a whole device pixel. Centred in its frame it
 * may start half a device pixel in (x.5 CSS px at ratio 1, x.25 at ratio 2), and Chromium then
 * samples its pixels on their edges: a column of modules one pixel thinner, one thicker. Checked
 * again at each tick, for what moves the frame without resizing it (a message above the card).
 */
function alignToDevicePixels() {
  if (view.badge.hidden) return;
  const dpr = window.devicePixelRatio || 1;
  const style = view.qr.style;
  const now = { left: parseFloat(style.left) || 0, top: parseFloat(style.top) || 0 };
  const box = view.qr.getBoundingClientRect();
  // Layout holds positions in 1/64 CSS px: the nudge is rounded to that, a small part of a device pixel.
  const nudge = (at) => Math.round(((Math.round(at * dpr) - at * dpr) / dpr) * 64) / 64;
  const left = nudge(box.left - now.left);
  const top = nudge(box.top - now.top);
  if (left !== now.left) style.left = `${left}px`;
  if (top !== now.top) style.top = `${top}px`;
}

/**
 * Where the browser paints the canvas on more or fewer device pixels than its backing size (a
 * ratio such as 1.1, whose exact CSS sizes are too far apart), the code is drawn again on as many
 * backing pixels as it has device pixels, at the same scale, so none is stretched. Browsers that
 * do not report device pixels (Safari) get exact CSS sizes from qrLayout only.
 */
function onCanvasPainted(entries) {
  const size = entries[entries.length - 1]?.devicePixelContentBoxSize?.[0];
  if (size === undefined || drawn === undefined || shown === undefined) return;
  const dpr = window.devicePixelRatio || 1;
  painted = { css: view.qr.style.width, dpr, width: size.inlineSize, height: size.blockSize };
  if (painted.width === view.qr.width && painted.height === view.qr.height) return;
  // One device pixel fewer than the backing size may cut into the quiet zone, never into the code.
  if (Math.min(painted.width, painted.height) < drawn.scale * shown.matrix.size) return;
  drawn = { ...drawn, width: painted.width, height: painted.height };
  drawQr(view.qr, shown.matrix, { ...drawn, keepCssSize: true });
  alignToDevicePixels();
}

/**
 * A change of device pixel ratio (zoom, another screen) may leave every CSS size as it was, so
 * no resize tells of it: a media query on the current ratio does, and is set again for the new one.
 */
function watchPixelRatio() {
  const query = matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
  query.addEventListener(
    'change',
    () => {
      redraw();
      watchPixelRatio();
    },
    { once: true },
  );
}

/** Keeps the screen on while the code shows, where the browser allows it. */
async function keepAwake() {
  // Only while a code shows: the empty page has nothing to keep on screen.
  if (document.visibilityState !== 'visible' || view.badge.hidden || wakeLock || !navigator.wakeLock) return;
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
  void wakeLock?.release().catch(() => undefined);
  say('The badge is forgotten on this device.');
  showEmpty();
});

document.addEventListener('visibilitychange', () => void keepAwake());
// Turning the phone, resizing the window and the browser's bars coming and going change the frame.
new ResizeObserver(() => redraw()).observe(view.frame);
try {
  new ResizeObserver(onCanvasPainted).observe(view.qr, { box: 'device-pixel-content-box' });
} catch {
  // A browser without device-pixel-content-box: the exact CSS sizes of qrLayout do alone.
}
window.addEventListener('resize', () => redraw());
watchPixelRatio();

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
