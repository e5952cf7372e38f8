/**
 * The client side of the API benchmarks, in its own process so that clients never share the
 * controller's event loop: opens connections, subscribes, and reports arrival times or request
 * latencies to the parent over IPC.
 */
import WebSocket from 'ws';

type Command =
  | { type: 'subscribers'; url: string; token: string; count: number }
  | { type: 'expect'; change: number }
  | { type: 'requests'; url: string; tokens: string[]; method: string; params: unknown[]; seconds: number }
  | { type: 'close' };

const now = () => performance.timeOrigin + performance.now();
const send = (message: unknown) => process.send!(message);
const sockets: WebSocket[] = [];

/** Arrival times of door notifications, per connection, in order. */
let arrivals: number[][] = [];

function open(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    sockets.push(socket);
  });
}

function rpc(socket: WebSocket, id: number, method: string, params: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as { id?: number };
      if (message.id !== id) return;
      socket.off('message', onMessage);
      resolve(message);
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
}

async function subscribers(url: string, token: string, count: number): Promise<void> {
  arrivals = Array.from({ length: count }, () => []);
  // Connect in batches: a thousand handshakes at once would only measure the accept queue.
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => open(url, token)));
    await Promise.all(
      batch.map(async (socket, j) => {
        await rpc(socket, 1, 'subscribe', { topics: ['door'] });
        const index = i + j;
        socket.on('message', (data) => {
          const at = now();
          if (String(data).includes('"method":"event"')) arrivals[index]!.push(at);
        });
      }),
    );
  }
  send({ type: 'ready', connections: sockets.length });
}

/** Waits until every connection has seen `change` notifications, then reports the last arrivals. */
async function expectChange(change: number): Promise<void> {
  const deadline = now() + 10_000;
  while (arrivals.some((a) => a.length < change) && now() < deadline) await new Promise((r) => setTimeout(r, 1));
  send({ type: 'arrived', change, times: arrivals.map((a) => a[change - 1] ?? null) });
}

async function requests(url: string, tokens: string[], method: string, params: unknown[], seconds: number): Promise<void> {
  const connections = await Promise.all(tokens.map((t) => open(url, t)));
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const end = now() + seconds * 1000;
  let id = 10;
  // Closed loop: each connection sends its next request when the last is answered.
  await Promise.all(
    connections.map(async (socket, i) => {
      while (now() < end) {
        const started = now();
        const answer = (await rpc(socket, ++id, method, params[i % params.length])) as { error?: { message: string } };
        latencies.push(now() - started);
        if (answer.error) errors[answer.error.message] = (errors[answer.error.message] ?? 0) + 1;
      }
    }),
  );
  for (const socket of connections) socket.close();
  send({ type: 'requests', latencies, errors, seconds });
}

process.on('message', (command: Command) => {
  switch (command.type) {
    case 'subscribers':
      void subscribers(command.url, command.token, command.count);
      break;
    case 'expect':
      void expectChange(command.change);
      break;
    case 'requests':
      void requests(command.url, command.tokens, command.method, command.params, command.seconds);
      break;
    case 'close':
      for (const socket of sockets) socket.terminate();
      process.exit(0);
  }
});
send({ type: 'started' });
