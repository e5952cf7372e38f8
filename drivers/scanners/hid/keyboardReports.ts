/**
 * Decodes boot-protocol keyboard input reports (HID 1.11, appendix B.1) into key presses.
 *
 * A report is 8 bytes: [modifiers, reserved, k1..k6], the usages of the keys held down now
 * (0x00 = no key). Modifier bits: 0x01 LCtrl, 0x02 LShift, 0x04 LAlt, 0x08 LGui, 0x10 RCtrl,
 * 0x20 RShift, 0x40 RAlt (AltGr), 0x80 RGui. A key is pressed when its usage appears in a report
 * and was not in the previous one: a usage that stays in consecutive reports is one press however
 * long it is held (rollover), and an all-zero report releases everything. A report whose slots
 * are all 0x01 (ErrorRollOver: too many keys) says nothing about which keys are down and is
 * skipped. A 9-byte report is taken as a report id followed by the 8 bytes (composite devices).
 */
import { KEYBOARD_LAYOUTS, type KeyboardLayoutName, USAGE_ENTER, USAGE_KEYPAD_ENTER, USAGE_TAB } from './keyboardLayouts.ts';

export type KeyPress = { kind: 'char'; char: string } | { kind: 'enter' } | { kind: 'tab' } | { kind: 'none' };

const SHIFT = 0x02 | 0x20;
const CTRL = 0x01 | 0x10;
const LEFT_ALT = 0x04;
const ALT_GR = 0x40;
const ERROR_ROLLOVER = 0x01;

export class KeyboardReportDecoder {
  private held = new Set<number>();
  private readonly layout;

  constructor(layout: KeyboardLayoutName) {
    this.layout = KEYBOARD_LAYOUTS[layout];
  }

  /** The presses a report makes, in slot order. Unknown usages give `none` (they still count as a key). */
  decode(report: Uint8Array): KeyPress[] {
    const bytes = report.length === 9 ? report.subarray(1) : report;
    if (bytes.length < 3) return [];
    const keys = bytes.subarray(2, 8);
    if (keys.length > 0 && keys.every((k) => k === ERROR_ROLLOVER)) return [];
    const modifiers = bytes[0]!;
    const now = new Set<number>();
    const presses: KeyPress[] = [];
    for (const usage of keys) {
      if (usage === 0 || now.has(usage)) continue;
      now.add(usage);
      if (!this.held.has(usage)) presses.push(this.press(usage, modifiers));
    }
    this.held = now;
    return presses;
  }

  reset(): void {
    this.held = new Set();
  }

  private press(usage: number, modifiers: number): KeyPress {
    if (usage === USAGE_ENTER || usage === USAGE_KEYPAD_ENTER) return { kind: 'enter' };
    if (usage === USAGE_TAB) return { kind: 'tab' };
    // Ctrl and (left) Alt chords are commands, not text.
    if (modifiers & (CTRL | LEFT_ALT)) return { kind: 'none' };
    const levels = this.layout.get(usage);
    if (levels === undefined) return { kind: 'none' };
    const char = modifiers & ALT_GR ? levels[2] : modifiers & SHIFT ? levels[1] : levels[0];
    return char ? { kind: 'char', char } : { kind: 'none' };
  }
}
