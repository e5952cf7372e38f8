/**
 * A TCP proxy between a controller and a hub for the sync link's fault tests: it can cut every
 * connection (sockets closed, new ones refused), blackhole them (nothing forwarded either way, the
 * sockets kept open, as a dead route does: bytes wait and flow again once restored, like TCP
 * retransmits), and switch its backend to another hub. It also reads the first WebSocket frame each
 * controller sends (its `hello`: the cursor and the chain it asks from), so tests see what the link
 * asked for without a hub of their own.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'up' | 'cut' | 'blackhole';

export interface HubProxy {
  readonly port: number;
  /** http://127.0.0.1:port, for the site file's hub.url. */
  readonly url: string;
  readonly mode: ProxyMode;
  /** The first frame (JSON) of every connection that got that far, in order. */
  readonly hellos: Array<Record<string, unknown>>;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Closes every connection and refuses new ones. */
  cut(): void;
  /** Forwards nothing more, either way, on any connection, new ones included; closes none. */
  blackhole(): void;
  /** Forwards again: held bytes flow, held connections reach the backend. */
  restore(): void;
  /**
   * The backend's end of every connection goes away and the client is never told, as when a
   * server restarts or a NAT forgets the connection during a partition: a client that only listens
   * hears nothing ever again; one that writes is reset.
   */
  orphan(): void;
  /** A new backend for new connections; the open ones are closed (the controller reconnects there). */
  switchTo(port: number, host?: string): void;
  close(): Promise<void>;
}

interface Connection {
  client: Socket;
  upstream: Socket | undefined;
  /** Its far end is gone while nothing got through (see orphan()): never forwarded again. */
  orphaned?: boolean;
}

export async function startHubProxy(targetPort: number, targetHost = '127.0.0.1', listenHost = '127.0.0.1'): Promise<HubProxy> {
  const connections = new Set<Connection>();
  const hellos: Array<Record<string, unknown>> = [];
  let target = { host: targetHost, port: targetPort };
  let mode: ProxyMode = 'up';
  let accepted = 0;

  const drop = (conn: Connection) => {
    connections.delete(conn);
    conn.client.destroy();
    conn.upstream?.destroy();
  };

  const forward = (conn: Connection) => {
    if (conn.orphaned === true) return;
    if (conn.upstream === undefined) {
      const upstream = connect(target.port, target.host);
      conn.upstream = upstream;
      upstream.on('error', () => undefined);
      upstream.on('close', () => drop(conn));
    }
    conn.client.pipe(conn.upstream);
    conn.upstream.pipe(conn.client);
  };

  const hold = (conn: Connection) => {
    conn.client.unpipe();
    conn.client.pause();
    conn.upstream?.unpipe();
    conn.upstream?.pause();
  };

  const server: Server = createServer((client) => {
    accepted += 1;
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    const conn: Connection = { client, upstream: undefined };
    connections.add(conn);
    client.on('error', () => undefined);
    client.on('close', () => drop(conn));
    sniffHello(client, (hello) => hellos.push(hello));
    if (mode === 'up') forward(conn);
    else client.pause();
  });
  server.listen(0, listenHost);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;

  return {
    port,
    url: `http://${listenHost}:${port}`,
    get mode() {
      return mode;
    },
    hellos,
    get accepted() {
      return accepted;
    },
    cut() {
      mode = 'cut';
      for (const conn of [...connections]) drop(conn);
    },
    blackhole() {
      mode = 'blackhole';
      for (const conn of connections) hold(conn);
    },
    restore() {
      const was = mode;
      mode = 'up';
      if (was === 'blackhole') for (const conn of connections) forward(conn);
    },
    orphan() {
      for (const conn of connections) {
        conn.orphaned = true;
        const upstream = conn.upstream;
        conn.upstream = undefined;
        if (upstream !== undefined) {
          upstream.removeAllListeners('close');
          upstream.unpipe();
          upstream.destroy();
        }
        conn.client.unpipe();
        conn.client.on('data', () => drop(conn));
        conn.client.resume();
      }
    },
    switchTo(newPort, newHost = '127.0.0.1') {
      target = { host: newHost, port: newPort };
      for (const conn of [...connections]) drop(conn);
    },
    async close() {
      mode = 'cut';
      for (const conn of [...connections]) drop(conn);
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Bytes read at most for the upgrade request and the first frame. */
const SNIFF_LIMIT = 64 * 1024;

/**
 * Reads the HTTP upgrade request and then the client's first WebSocket frame (masked text, no
 * extension: the hub does not offer permessage-deflate), and hands its JSON over once.
 */
function sniffHello(client: Socket, found: (hello: Record<string, unknown>) => void): void {
  let buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    // Not a WebSocket upgrade (a proxied PostgreSQL connection, say): stop looking.
    if (buffer.length > SNIFF_LIMIT) return client.off('data', onData);
    const headerEnd = buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const frame = buffer.subarray(headerEnd + 4);
    if (frame.length < 2) return;
    let length = frame[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (frame.length < 4) return;
      length = frame.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (frame.length < 10) return;
      length = Number(frame.readBigUInt64BE(2));
      offset = 10;
    }
    const masked = (frame[1]! & 0x80) !== 0;
    const mask = masked ? frame.subarray(offset, offset + 4) : undefined;
    if (masked) offset += 4;
    if (frame.length < offset + length) return;
    client.off('data', onData);
    const payload = Buffer.from(frame.subarray(offset, offset + length));
    if (mask !== undefined) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    try {
      found(JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
    } catch {
      // Not a JSON text frame: nothing to record.
    }
  };
  client.on('data', onData);
}
