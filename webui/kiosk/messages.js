// What the kiosk page says, in the visitor's language. Visitors read it at arm's length in a few
// seconds, so every sentence is short and plain; the controller's reason codes
// (docs/architecture.md, "Reasons a scan is denied") are never shown, only these sentences.
// A language is added by adding a dictionary with the same keys as `en` (the kiosk layout test
// checks that every language has every key and every reason).

/** @typedef {Record<string, string> & { reasons: Record<string, string> }} Dictionary */

/** @type {Record<string, Dictionary>} */
export const MESSAGES = {
  en: {
    title: 'Door kiosk',
    camera: 'Camera picture',
    starting: 'Starting…',
    idle: 'Show your code to the camera',
    grant: 'Welcome: the door is open',
    deny: 'Not allowed',
    reasons: {
      'unknown-format': 'This is not a door code',
      'delegate-denied': 'This code is not allowed here',
      'delegate-timeout': 'This code could not be checked: try again',
      'delegate-error': 'This code could not be checked: please ask for help',
      'bad-mac': 'This code is not valid',
      'unknown-issuer': 'This code is not valid here',
      'not-yet-valid': 'This code is not valid yet',
      expired: 'This code has expired',
      revoked: 'This code was withdrawn',
      'out-of-scope': 'This code does not open this door',
      replayed: 'This code was used already',
      offline: 'This code cannot be checked right now: try again',
      'used-up': 'This code has been used up',
      throttled: 'Too many tries: wait a moment',
      'store-unavailable': 'Codes cannot be checked right now: try again',
      lockdown: 'The building is locked down',
      'door-fault': 'The door is out of order',
      passage: 'The door is already open',
      'forced-open': 'The door is standing open',
      stopped: 'The door is restarting: try again in a moment',
      'decision-failed': 'Something went wrong: please ask for help',
    },
    notSetUp: 'This kiosk is not set up',
    notSetUpDetail: 'Open the link that “postern token create --role scanner --scanner <kiosk id>” prints.',
    noCamera: 'The camera is not available',
    noCameraDetail: 'This page needs HTTPS and permission to use the camera ({error}).',
    unavailable: 'Codes cannot be checked right now',
    unavailableDetail: 'The controller answered: {error}',
    connected: 'connected',
    notConnected: 'not connected',
    retrying: 'not connected (trying again in {seconds} s)',
    tokenRevoked: 'the kiosk token was revoked',
    forget: 'Forget this kiosk',
  },
  de: {
    title: 'Türkiosk',
    camera: 'Kamerabild',
    starting: 'Wird gestartet…',
    idle: 'Halten Sie Ihren Code vor die Kamera',
    grant: 'Willkommen: die Tür ist offen',
    deny: 'Kein Zutritt',
    reasons: {
      'unknown-format': 'Das ist kein Türcode',
      'delegate-denied': 'Dieser Code ist hier nicht zugelassen',
      'delegate-timeout': 'Der Code konnte nicht geprüft werden: bitte noch einmal versuchen',
      'delegate-error': 'Der Code konnte nicht geprüft werden: bitte fragen Sie nach Hilfe',
      'bad-mac': 'Dieser Code ist ungültig',
      'unknown-issuer': 'Dieser Code gilt hier nicht',
      'not-yet-valid': 'Dieser Code gilt noch nicht',
      expired: 'Dieser Code ist abgelaufen',
      revoked: 'Dieser Code wurde zurückgezogen',
      'out-of-scope': 'Dieser Code öffnet diese Tür nicht',
      replayed: 'Dieser Code wurde schon benutzt',
      offline: 'Der Code kann gerade nicht geprüft werden: bitte noch einmal versuchen',
      'used-up': 'Dieser Code ist aufgebraucht',
      throttled: 'Zu viele Versuche: bitte kurz warten',
      'store-unavailable': 'Codes können gerade nicht geprüft werden: bitte noch einmal versuchen',
      lockdown: 'Das Gebäude ist gesperrt',
      'door-fault': 'Die Tür ist außer Betrieb',
      passage: 'Die Tür ist schon offen',
      'forced-open': 'Die Tür steht offen',
      stopped: 'Die Tür startet neu: bitte gleich noch einmal versuchen',
      'decision-failed': 'Etwas ist schiefgegangen: bitte fragen Sie nach Hilfe',
    },
    notSetUp: 'Dieser Kiosk ist nicht eingerichtet',
    notSetUpDetail: 'Öffnen Sie den Link, den „postern token create --role scanner --scanner <Kiosk-ID>“ ausgibt.',
    noCamera: 'Die Kamera ist nicht verfügbar',
    noCameraDetail: 'Diese Seite braucht HTTPS und die Erlaubnis, die Kamera zu benutzen ({error}).',
    unavailable: 'Codes können gerade nicht geprüft werden',
    unavailableDetail: 'Antwort des Controllers: {error}',
    connected: 'verbunden',
    notConnected: 'nicht verbunden',
    retrying: 'nicht verbunden (neuer Versuch in {seconds} s)',
    tokenRevoked: 'der Token dieses Kiosks wurde widerrufen',
    forget: 'Diesen Kiosk vergessen',
  },
};

export const DEFAULT_LANGUAGE = 'en';

/**
 * The first of the browser's languages (navigator.languages, most preferred first) that the kiosk
 * speaks, by primary subtag ("de-AT" is German); English when it speaks none of them.
 * @param {readonly string[]} preferred
 * @returns {string}
 */
export function pickLanguage(preferred) {
  for (const tag of preferred) {
    const primary = String(tag).toLowerCase().split('-')[0];
    if (Object.hasOwn(MESSAGES, primary)) return primary;
  }
  return DEFAULT_LANGUAGE;
}

/**
 * The sentence for `key` in `language` (a denial reason with key "reasons.<code>"), with {name}
 * replaced by vars[name]. An unknown reason is "Not allowed": a new code never reaches the screen.
 * @param {string} language
 * @param {string} key
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function say(language, key, vars = {}) {
  const dictionary = MESSAGES[language] ?? MESSAGES[DEFAULT_LANGUAGE];
  const template = key.startsWith('reasons.') ? (dictionary.reasons[key.slice('reasons.'.length)] ?? dictionary.deny) : dictionary[key];
  if (typeof template !== 'string') throw new Error(`kiosk: no message ${key}`);
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
