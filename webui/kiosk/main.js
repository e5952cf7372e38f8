// The kiosk page: a tablet at the door shows its camera to visitors and sends what it sees to the
// controller, one frame at a time, over the API's WebSocket with the kiosk's scanner token. The
// controller decodes the frames (the same decoder as its webcams) and answers with the door's
// verdict, which the page shows. It sends the next frame only when the answer is in, so it always
// sends the camera's newest picture and never queues stale ones.
import './kiosk.css';
import { pickLanguage, say } from './messages.js';

const STORAGE_KEY = 'postern.kiosk.token';
/** Frames are cropped to the middle square of the camera and scaled to this side. */
const FRAME_SIDE = 480;
/** The API's default message limit is 64 KiB; the JPEG is made smaller until it fits well under. */
const MAX_FRAME_CHARS = 56 * 1024;
/** No more frames than this per second: enough to catch a phone, easy on a tablet's battery. */
const MAX_FPS = 8;
/** How long a verdict stays on screen. */
const VERDICT_MS = 3000;

const video = document.getElementById('video');
const verdict = document.getElementById('verdict');
const sentence = document.getElementById('message');
const detail = document.getElementById('detail');
const link = document.getElementById('link');
const forget = document.getElementById('forget');

// The visitor's language, from the browser's; every text on the page is said in it, and said
// again when the browser's languages change.
let language = pickLanguage(navigator.languages?.length ? navigator.languages : [navigator.language ?? '']);
/** What the verdict and the link status say, as message keys, to say again in another language. */
let shown = { key: 'starting', kind: '', detailKey: null, vars: {} };
let linkShown = { key: 'notConnected', vars: {} };

function localise() {
  document.documentElement.lang = language;
  document.title = say(language, 'title');
  video.setAttribute('aria-label', say(language, 'camera'));
  forget.textContent = say(language, 'forget');
  render();
  renderLink();
}

function render() {
  const { key, kind, detailKey, vars } = shown;
  sentence.textContent = say(language, key, vars);
  detail.textContent = detailKey ? say(language, detailKey, vars) : '';
  detail.hidden = !detailKey;
  verdict.className = `verdict ${kind}`.trim();
  // Which message this is, for tests and for whoever inspects the page; never shown.
  verdict.dataset.message = key;
}

function renderLink() {
  link.textContent = say(language, linkShown.key, linkShown.vars);
}

function setLink(key, vars = {}) {
  linkShown = { key, vars };
  renderLink();
}

window.addEventListener('languagechange', () => {
  language = pickLanguage(navigator.languages);
  localise();
});

function takeToken() {
  // The link carries the token in its fragment (never sent to a server); keep it, then hide it.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fresh = fragment.get('token');
  if (fresh) {
    localStorage.setItem(STORAGE_KEY, fresh);
    history.replaceState(null, '', location.pathname);
  }
  return localStorage.getItem(STORAGE_KEY);
}

/** Shows message `key` (a denial's is "reasons.<code>"), with a smaller detail line for staff. */
function show(key, kind = '', detailKey = null, vars = {}) {
  shown = { key, kind, detailKey, vars };
  render();
}

let verdictUntil = 0;
function idle() {
  if (Date.now() >= verdictUntil) show('idle');
}

/** A JSON-RPC 2.0 connection to /api that reconnects by itself. */
function connect(token, onOpen) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  let socket;
  let nextId = 1;
  let retryMs = 1000;
  const pending = new Map();
  const open = () => {
    // Browsers cannot set Authorization on a WebSocket: the token rides in the subprotocol list.
    socket = new WebSocket(`${scheme}://${location.host}/api`, ['postern.v1', `bearer.${token}`]);
    socket.onopen = () => {
      retryMs = 1000;
      setLink('connected');
      onOpen();
    };
    socket.onmessage = (message) => {
      const answer = JSON.parse(message.data);
      const waiting = pending.get(answer.id);
      if (!waiting) return;
      pending.delete(answer.id);
      if (answer.error) waiting.reject(Object.assign(new Error(answer.error.message), { rpc: answer.error }));
      else waiting.resolve(answer.result);
    };
    socket.onclose = (event) => {
      for (const waiting of pending.values()) waiting.reject(new Error('connection closed'));
      pending.clear();
      if (event.code === 1008) setLink('tokenRevoked');
      else setLink('retrying', { seconds: new Intl.NumberFormat(language).format(retryMs / 1000) });
      setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
    };
  };
  open();
  return {
    call(method, params) {
      if (socket.readyState !== WebSocket.OPEN) return Promise.reject(new Error('not connected'));
      const id = nextId++;
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
  };
}

const canvas = document.createElement('canvas');
canvas.width = FRAME_SIDE;
canvas.height = FRAME_SIDE;
const context = canvas.getContext('2d', { willReadFrequently: false });
let quality = 0.8;

/** The middle square of the camera as a grey JPEG, base64, small enough for one API message. */
function grabFrame() {
  const side = Math.min(video.videoWidth, video.videoHeight);
  if (side === 0) return null;
  context.filter = 'grayscale(1)';
  context.drawImage(video, (video.videoWidth - side) / 2, (video.videoHeight - side) / 2, side, side, 0, 0, FRAME_SIDE, FRAME_SIDE);
  for (;;) {
    const base64 = canvas.toDataURL('image/jpeg', quality).slice('data:image/jpeg;base64,'.length);
    if (base64.length <= MAX_FRAME_CHARS || quality <= 0.3) return base64;
    quality -= 0.1;
  }
}

function showAnswer(answer) {
  if (!answer.code || !answer.read) return idle();
  const { outcome } = answer;
  if (!outcome.decided) return idle();
  verdictUntil = Date.now() + VERDICT_MS;
  if (outcome.verdict === 'grant') show('grant', 'grant');
  // The reason in the visitor's words ("Not allowed" for one the page does not know), never the code.
  else show(`reasons.${outcome.reason}`, 'deny');
}

/** While the camera is missing or busy, the page asks for it again this often: a kiosk has no one to reload it. */
const CAMERA_RETRY_MS = 5000;

/**
 * The message key for why the browser gave no camera: each says what to do about it (the detail
 * line, for whoever sets the kiosk up). Names as the Media Capture spec has them, and Chrome's
 * older ones.
 */
function cameraProblem(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
      return 'cameraDenied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'cameraMissing';
    case 'NotReadableError':
    case 'TrackStartError':
      return 'cameraBusy';
    default:
      return 'noCamera';
  }
}

/**
 * The camera, once the browser gives it. A missing or busy camera is asked for again every
 * CAMERA_RETRY_MS; a refused one when the camera's permission changes (the page reloads); null
 * for anything else, which the page shows and leaves.
 */
async function openCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    // A secure page in a browser (or an app's web view) that offers web pages no camera at all.
    show('noCamera', 'problem', 'noCameraDetail', { error: 'this browser offers no camera to web pages' });
    return null;
  }
  for (;;) {
    try {
      return await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      const key = cameraProblem(error);
      show(key, 'problem', `${key}Detail`, { error: error?.message || error?.name || String(error) });
      if (key === 'cameraDenied') reloadWhenAllowed();
      if (key !== 'cameraMissing' && key !== 'cameraBusy') return null;
      await new Promise((resolve) => setTimeout(resolve, CAMERA_RETRY_MS));
    }
  }
}

/** Once someone allows the camera in the site settings, the page starts again by itself. */
function reloadWhenAllowed() {
  navigator.permissions?.query({ name: 'camera' }).then(
    (status) => {
      status.onchange = () => {
        if (status.state !== 'denied') location.reload();
      };
    },
    // A browser that cannot be asked about the camera's permission: the detail says to reload.
    () => undefined,
  );
}

async function main() {
  localise();
  // Browsers give the camera only to a secure context: HTTPS, or localhost. Opened over http://
  // from another machine, the page says so before anything else, and keeps no token in this
  // origin's storage (the https:// page has storage of its own and needs the link again).
  // (A browser too old to say whether it is one counts as secure on https: only.)
  if (window.isSecureContext === false || (window.isSecureContext === undefined && location.protocol !== 'https:')) {
    if (location.hash) history.replaceState(null, '', location.pathname);
    show('insecure', 'problem', 'insecureDetail', { url: `https://${location.host}${location.pathname}#token=…` });
    return;
  }
  const token = takeToken();
  if (!token) {
    show('notSetUp', 'problem', 'notSetUpDetail');
    return;
  }
  forget.hidden = false;
  forget.addEventListener('click', () => {
    localStorage.removeItem(STORAGE_KEY);
    location.reload();
  });
  const camera = await openCamera();
  if (camera === null) return;
  video.srcObject = camera;
  show('starting');
  let running = false;
  const api = connect(token, () => {
    idle();
    if (!running) void loop();
  });
  async function loop() {
    running = true;
    for (;;) {
      const started = performance.now();
      const image = grabFrame();
      if (image !== null) {
        try {
          showAnswer(await api.call('scanner.frame', { image }));
        } catch (error) {
          if (error.message === 'not connected' || error.message === 'connection closed') break;
          // The controller's words are English and for staff: the detail line, under a sentence
          // the visitor can read.
          show('unavailable', 'problem', 'unavailableDetail', { error: error.message });
        }
      }
      const wait = 1000 / MAX_FPS - (performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    }
    running = false;
  }
}

void main();
