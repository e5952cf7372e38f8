/**
 * The alarm's audible alert: a short two-tone beep, repeated, made with Web Audio (no sound file
 * to download or cache). Browsers start an AudioContext only after the page had a user gesture:
 * the sign-in click counts, and a page opened on a live session starts sounding at its first click
 * or key press (until then the status is 'blocked' and the page says so).
 */

const PERIOD_S = 1.6;
/*
 * Beeps are scheduled on the audio clock this far ahead: a tab in the background has its timers
 * run as rarely as once a minute, and the tone must not stop because the operator is on another tab.
 */
const AHEAD_S = 75;
let ctx = null;
let bus = null;
let nextAt = 0;
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
  // Running again (a gesture, or a resume after a mute): the schedule starts from now.
  ctx.onstatechange = () => {
    ring();
    changed();
  };
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
  osc.connect(gain).connect(bus);
  osc.start(at);
  osc.stop(at + 0.2);
}

/** Tops the schedule up to AHEAD_S from now; beeps already scheduled stay as they are. */
function ring() {
  if (!ctx || !bus || ctx.state !== 'running') return;
  const now = ctx.currentTime;
  if (nextAt < now) nextAt = now + 0.05;
  while (nextAt < now + AHEAD_S) {
    beep(nextAt, 880);
    beep(nextAt + 0.25, 660);
    nextAt += PERIOD_S;
  }
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
      // Every beep goes through this node: cutting it silences those scheduled ahead at once.
      bus = c.createGain();
      bus.connect(c.destination);
      nextAt = 0;
      // Without a gesture yet, resume() stays pending: the status says 'blocked' meanwhile.
      c.resume().then(changed, () => undefined);
      ring();
      timer = setInterval(ring, 5000);
    }
  } else {
    clearInterval(timer);
    timer = null;
    bus?.disconnect();
    bus = null;
    // A suspended context costs nothing; after the first gesture it resumes without another.
    ctx?.suspend().then(changed, () => undefined);
  }
  changed();
}

// Any click or key press may be the gesture the browser waits for.
for (const type of ['pointerdown', 'keydown']) addEventListener(type, unlockAudio, { capture: true, passive: true });
