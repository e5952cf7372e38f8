/**
 * The alarm's audible alert: a short two-tone beep, repeated, made with Web Audio (no sound file
 * to download or cache). Browsers start an AudioContext only after the page had a user gesture:
 * the sign-in click counts, and a page opened on a live session starts sounding at its first click
 * or key press (until then the status is 'blocked' and the page says so).
 */

const PERIOD_MS = 1600;
let ctx = null;
let timer = null;
let wanted = false;
const listeners = new Set();

/** 'off' (no tone wanted), 'sounding', or 'blocked' (wanted, but the browser holds the audio). */
export function alertStatus() {
  if (!wanted) return 'off';
  return ctx?.state === 'running' ? 'sounding' : 'blocked';
}

export function onAlertStatus(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function changed() {
  for (const listener of [...listeners]) listener(alertStatus());
}

function context() {
  if (ctx) return ctx;
  const AudioContextClass = window.AudioContext ?? window.webkitAudioContext;
  if (!AudioContextClass) return null;
  ctx = new AudioContextClass();
  ctx.onstatechange = changed;
  return ctx;
}

function beep(at, frequency) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = 'square';
  osc.frequency.value = frequency;
  // A short ramp in and out: a hard edge clicks.
  gain.gain.setValueAtTime(0, at);
  gain.gain.linearRampToValueAtTime(0.12, at + 0.01);
  gain.gain.setValueAtTime(0.12, at + 0.16);
  gain.gain.linearRampToValueAtTime(0, at + 0.18);
  osc.connect(gain).connect(ctx.destination);
  osc.start(at);
  osc.stop(at + 0.2);
}

function ring() {
  if (!ctx || ctx.state !== 'running') return;
  const t = ctx.currentTime + 0.02;
  beep(t, 880);
  beep(t + 0.25, 660);
}

/** Called from the user's gestures: lets a context the browser held back start. */
export function unlockAudio() {
  if (!wanted) return;
  const c = context();
  if (c && c.state !== 'running') c.resume().then(changed, () => undefined);
}

/** Starts (true) or stops (false) the repeating tone; repeated calls with the same value do nothing. */
export function setAlertSound(on) {
  if (on === wanted) return;
  wanted = on;
  if (on) {
    const c = context();
    if (c) {
      // Without a gesture yet, resume() stays pending: the status says 'blocked' meanwhile.
      c.resume().then(changed, () => undefined);
      ring();
      timer = setInterval(ring, PERIOD_MS);
    }
  } else {
    clearInterval(timer);
    timer = null;
    // A suspended context costs nothing; after the first gesture it resumes without another.
    ctx?.suspend().then(changed, () => undefined);
  }
  changed();
}

// Any click or key press may be the gesture the browser waits for.
for (const type of ['pointerdown', 'keydown']) addEventListener(type, unlockAudio, { capture: true, passive: true });
