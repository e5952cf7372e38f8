/**
 * The client side of the viewer-flood benchmark, in its own process so that the clients never
 * share the controller's event loop: `subscribers` connections subscribed to every topic, and
 * `flooders` connections of one viewer token flooding audit.query { limit: 1000 } (flooder below),
 * until told to stop.
 */
import WebSocket from 'ws';

type Command = { type: 'start'; url: string; token: string; subscribers: number; flooders: number; batch: number; polite: boolean } | { type: 'stop' };

const send = (message: unknown) => process.send!(message);
const sockets: WebSocket[] = [];
let flooding = true;
const counts = { batches: 0, answered: 0, refused: 0, events: 0, notifications: 0, dropped: 0 };

function open(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.on('close', () => counts.dropped++);
    sockets.push(socket);
  });
}

async function subscriber(url: string, token: string): Promise<void> {
  const socket = await open(url, token);
  await new Promise<void>((resolve) => {
    socket.on('message', (data) => {
      const text = String(data);
      if (text.includes('"method":"event"')) counts.notifications++;
      else resolve();
    });
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topics: ['door', 'scanner', 'audit'] } }));
  });
}

/**
 * One flooding connection: a batch of `batch` full-size queries first (the outside test's
 * message), then one query after another, each sent the moment the previous is answered. A
 * polite flooder waits the retryAfterMs of a refusal: the most work the limits let a client do.
 * A hostile one sends again at once, refused or not, and connects again whenever it is dropped.
 */
async function flooder(url: string, token: string, batch: number, polite: boolean): Promise<void> {
  while (flooding) {
    const socket = await open(url, token).catch(() => undefined);
    if (socket === undefined) {
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    await new Promise<void>((done) => {
      let id = 0;
      const query = () => JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'audit.query', params: { limit: 1000 } });
      const next = () => {
        if (!flooding || socket.readyState !== WebSocket.OPEN) return;
        socket.send(query());
      };
      socket.on('message', (data) => {
        const answers = JSON.parse(String(data)) as Array<{ result?: { events: unknown[] }; error?: unknown }> | { result?: { events: unknown[] }; error?: unknown };
        let wait = 0;
        for (const a of Array.isArray(answers) ? answers : [answers]) {
          if (a.error !== undefined) {
            counts.refused++;
            wait = Math.max(wait, (a.error as { data?: { retryAfterMs?: number } }).data?.retryAfterMs ?? 0);
          } else {
            counts.answered++;
            counts.events += a.result?.events.length ?? 0;
          }
        }
        if (polite && wait > 0) setTimeout(next, wait);
        else next();
      });
      socket.on('close', () => done());
      socket.on('error', () => done());
      counts.batches++;
      socket.send(JSON.stringify(Array.from({ length: batch }, () => JSON.parse(query()))));
    });
  }
}

process.on('message', (command: Command) => {
  void (async () => {
    if (command.type === 'start') {
      for (let i = 0; i < command.subscribers; i += 25) await Promise.all(Array.from({ length: Math.min(25, command.subscribers - i) }, () => subscriber(command.url, command.token)));
      for (let i = 0; i < command.flooders; i++) void flooder(command.url, command.token, command.batch, command.polite);
      send({ type: 'started' });
    } else {
      flooding = false;
      send({ type: 'stopped', counts });
      for (const s of sockets) s.terminate();
      setTimeout(() => process.exit(0), 50);
    }
  })();
});
send({ type: 'ready' });
