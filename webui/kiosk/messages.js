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
    noCameraDetail: 'The browser gave no camera to this page: {error}. Reload the page to try again.',
    // The page was opened over http:// from another machine: browsers give the camera only over HTTPS.
    insecure: 'The camera needs a secure connection',
    insecureDetail: 'This page was opened without HTTPS. Set up HTTPS on the controller (postern tls create, see docs/drivers.md), then open the kiosk link again as {url}',
    cameraDenied: 'The camera is blocked for this page',
    cameraDeniedDetail: 'Allow the camera for this site in the browser: tap the icon beside the address (Safari: aA, Website Settings), Camera, Allow. Then reload the page.',
    cameraMissing: 'No camera found',
    cameraMissingDetail: 'This tablet has no camera the browser can use ({error}). Connect or turn on a camera: the page tries again by itself.',
    cameraBusy: 'The camera is in use by another app',
    cameraBusyDetail: 'Close the other app or browser tab that uses the camera: the page tries again by itself ({error}).',
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
    noCameraDetail: 'Der Browser gibt dieser Seite keine Kamera: {error}. Laden Sie die Seite neu, um es noch einmal zu versuchen.',
    insecure: 'Die Kamera braucht eine sichere Verbindung',
    insecureDetail: 'Diese Seite wurde ohne HTTPS geöffnet. Richten Sie HTTPS am Controller ein (postern tls create, siehe docs/drivers.md) und öffnen Sie den Kiosk-Link dann als {url}',
    cameraDenied: 'Die Kamera ist für diese Seite gesperrt',
    cameraDeniedDetail: 'Erlauben Sie die Kamera für diese Website im Browser: das Symbol neben der Adresse antippen (Safari: aA, Website-Einstellungen), Kamera, Erlauben. Dann die Seite neu laden.',
    cameraMissing: 'Keine Kamera gefunden',
    cameraMissingDetail: 'Dieses Tablet hat keine Kamera, die der Browser benutzen kann ({error}). Schließen Sie eine Kamera an oder schalten Sie sie ein: die Seite versucht es von selbst wieder.',
    cameraBusy: 'Die Kamera wird von einer anderen App benutzt',
    cameraBusyDetail: 'Schließen Sie die andere App oder den Browser-Tab, der die Kamera benutzt: die Seite versucht es von selbst wieder ({error}).',
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
