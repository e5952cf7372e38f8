/**
 * Keyboard layouts: what a usage of the HID Keyboard/Keypad page (0x07, USB HID Usage Tables
 * chapter 10) types for a keyboard-country setting of the scanner. A scanner in keyboard mode
 * sends the usage of the key that types each character *on the layout it is set to*, so the
 * controller must decode with the same layout.
 *
 * Each entry is [plain, shift, altGr]; a missing or empty level types nothing. Dead keys (de ´ ` ^,
 * fr ^ ¨) are left out: a scanner cannot rely on them and they type nothing alone.
 */
export type KeyboardLayoutName = 'us' | 'uk' | 'de' | 'fr';
export type KeyLevels = readonly [plain: string, shift?: string, altGr?: string];
export type KeyboardLayout = ReadonlyMap<number, KeyLevels>;

/** Usages with no character: the suffixes a scanner ends a read with. */
export const USAGE_ENTER = 0x28;
export const USAGE_KEYPAD_ENTER = 0x58;
export const USAGE_TAB = 0x2b;

function letters(order: string): Array<[number, KeyLevels]> {
  // Usages 0x04..0x1D in the order the layout puts letters on them.
  return [...order].map((c, i) => [0x04 + i, [c, c.toUpperCase()]]);
}

/** The keypad (with Num Lock on) is the same on every layout except its decimal key. */
function keypad(decimal: string): Array<[number, KeyLevels]> {
  return [
    [0x54, ['/']], [0x55, ['*']], [0x56, ['-']], [0x57, ['+']],
    [0x59, ['1']], [0x5a, ['2']], [0x5b, ['3']], [0x5c, ['4']], [0x5d, ['5']],
    [0x5e, ['6']], [0x5f, ['7']], [0x60, ['8']], [0x61, ['9']], [0x62, ['0']], [0x63, [decimal]],
  ];
}

const space: [number, KeyLevels] = [0x2c, [' ', ' ']];

const us = new Map<number, KeyLevels>([
  ...letters('abcdefghijklmnopqrstuvwxyz'),
  [0x1e, ['1', '!']], [0x1f, ['2', '@']], [0x20, ['3', '#']], [0x21, ['4', '$']], [0x22, ['5', '%']],
  [0x23, ['6', '^']], [0x24, ['7', '&']], [0x25, ['8', '*']], [0x26, ['9', '(']], [0x27, ['0', ')']],
  space,
  [0x2d, ['-', '_']], [0x2e, ['=', '+']], [0x2f, ['[', '{']], [0x30, [']', '}']], [0x31, ['\\', '|']],
  [0x32, ['\\', '|']], [0x33, [';', ':']], [0x34, ["'", '"']], [0x35, ['`', '~']], [0x36, [',', '<']],
  [0x37, ['.', '>']], [0x38, ['/', '?']], [0x64, ['\\', '|']],
  ...keypad('.'),
]);

const uk = new Map<number, KeyLevels>([
  ...us,
  [0x1f, ['2', '"']], [0x20, ['3', '£']], [0x21, ['4', '$', '€']],
  [0x31, ['#', '~']], [0x32, ['#', '~']], [0x34, ["'", '@']], [0x35, ['`', '¬', '¦']], [0x64, ['\\', '|']],
]);

const de = new Map<number, KeyLevels>([
  ...letters('abcdefghijklmnopqrstuvwxzy'),
  [0x14, ['q', 'Q', '@']], [0x08, ['e', 'E', '€']], [0x10, ['m', 'M', 'µ']],
  [0x1e, ['1', '!']], [0x1f, ['2', '"', '²']], [0x20, ['3', '§', '³']], [0x21, ['4', '$']], [0x22, ['5', '%']],
  [0x23, ['6', '&']], [0x24, ['7', '/', '{']], [0x25, ['8', '(', '[']], [0x26, ['9', ')', ']']], [0x27, ['0', '=', '}']],
  space,
  [0x2d, ['ß', '?', '\\']], [0x2f, ['ü', 'Ü']], [0x30, ['+', '*', '~']], [0x31, ['#', "'"]], [0x32, ['#', "'"]],
  [0x33, ['ö', 'Ö']], [0x34, ['ä', 'Ä']], [0x35, ['', '°']], [0x36, [',', ';']], [0x37, ['.', ':']],
  [0x38, ['-', '_']], [0x64, ['<', '>', '|']],
  ...keypad(','),
]);

const fr = new Map<number, KeyLevels>([
  // AZERTY: a/q and z/w swap, m moves to 0x33 and 0x10 types , and ?.
  ...letters('qbcdefghijkl,noparstuvzxyw'),
  [0x10, [',', '?']], [0x08, ['e', 'E', '€']],
  // The digit row types symbols unshifted and digits with Shift.
  [0x1e, ['&', '1']], [0x1f, ['é', '2']], [0x20, ['"', '3', '#']], [0x21, ["'", '4', '{']], [0x22, ['(', '5', '[']],
  [0x23, ['-', '6', '|']], [0x24, ['è', '7']], [0x25, ['_', '8', '\\']], [0x26, ['ç', '9', '^']], [0x27, ['à', '0', '@']],
  space,
  [0x2d, [')', '°', ']']], [0x2e, ['=', '+', '}']], [0x30, ['$', '£', '¤']], [0x31, ['*', 'µ']], [0x32, ['*', 'µ']],
  [0x33, ['m', 'M']], [0x34, ['ù', '%']], [0x35, ['²']], [0x36, [';', '.']], [0x37, [':', '/']],
  [0x38, ['!', '§']], [0x64, ['<', '>']],
  ...keypad('.'),
]);

export const KEYBOARD_LAYOUTS: Readonly<Record<KeyboardLayoutName, KeyboardLayout>> = { us, uk, de, fr };
