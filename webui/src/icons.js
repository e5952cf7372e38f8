/** Door states: a label, a colour class and an inline SVG icon each (24×24, stroked). */
import { h } from 'preact';

const SHAPES = {
  lock: [['rect', { x: 5, y: 11, width: 14, height: 10, rx: 2 }], ['path', { d: 'M8 11V7a4 4 0 0 1 8 0v4' }]],
  unlock: [['rect', { x: 5, y: 11, width: 14, height: 10, rx: 2 }], ['path', { d: 'M8 11V7a4 4 0 0 1 7.7-1.5' }]],
  door: [['path', { d: 'M3 21h18M6 21V3h12v18' }], ['path', { d: 'M6 3l7 3v15' }], ['path', { d: 'M11 12v1' }]],
  alarm: [['path', { d: 'M12 3 2 20h20L12 3z' }], ['path', { d: 'M12 10v4M12 17v.5' }]],
  ban: [['circle', { cx: 12, cy: 12, r: 9 }], ['path', { d: 'M5.6 5.6l12.8 12.8' }]],
  passage: [['path', { d: 'M3 12h18M7 8l-4 4 4 4M17 8l4 4-4 4' }]],
  bolt: [['path', { d: 'M13 2 4 14h7l-1 8 9-12h-7l1-8z' }]],
  stop: [['rect', { x: 6, y: 6, width: 12, height: 12, rx: 1 }]],
  unknown: [['circle', { cx: 12, cy: 12, r: 9 }], ['path', { d: 'M9.5 9a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6v.6M12 17v.5' }]],
  scanner: [['path', { d: 'M4 8V5a1 1 0 0 1 1-1h3M16 4h3a1 1 0 0 1 1 1v3M20 16v3a1 1 0 0 1-1 1h-3M8 20H5a1 1 0 0 1-1-1v-3M7 12h10' }]],
  link: [['path', { d: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1' }]],
};

export const DOOR_STATES = {
  secured: { label: 'Secured', icon: 'lock' },
  unlocked: { label: 'Unlocked', icon: 'unlock' },
  open: { label: 'Open', icon: 'door' },
  heldOpen: { label: 'Held open', icon: 'alarm', alarm: true },
  forcedOpen: { label: 'Forced open', icon: 'alarm', alarm: true },
  lockdown: { label: 'Lockdown', icon: 'ban' },
  passage: { label: 'Passage', icon: 'passage' },
  fault: { label: 'I/O fault', icon: 'bolt' },
  stopped: { label: 'Stopped', icon: 'stop' },
};

export function doorState(state) {
  return DOOR_STATES[state] ?? { label: state, icon: 'unknown' };
}

/** An icon with an accessible name (label), or decorative (no label). */
export function Icon({ name, label, size = 24 }) {
  const shapes = SHAPES[name] ?? SHAPES.unknown;
  const a11y = label ? { role: 'img', 'aria-label': label } : { 'aria-hidden': 'true' };
  return h(
    'svg',
    { class: 'icon', width: size, height: size, viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round', ...a11y },
    label ? h('title', null, label) : null,
    ...shapes.map(([tag, attrs]) => h(tag, attrs)),
  );
}
