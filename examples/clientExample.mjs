#!/usr/bin/env node
/**
 * Watching a site with the client that ships with Postern (`postern/client`): every door change
 * and every audit event, printed as they come, for as long as it runs. It rides out network drops
 * and restarts of the controller: it reconnects by itself and goes on from the last audit event it
 * printed, so none is lost or printed twice.
 *
 * The client is compiled into dist/ (`npm install` or `npm run build` in a clone does it; an
 * installed package has it). Run it against `npm start`:
 *
 *   npm run postern -- token create --name watcher --role operator     # prints a token, once
 *   POSTERN_TOKEN=pst_... node examples/clientExample.mjs front
 *
 * With a door as argument it first unlocks that door for 3 seconds (operator token or above);
 * without, it only watches (a viewer token will do). Stop it with Ctrl-C.
 *
 * Environment:
 *   POSTERN_URL    the controller's API (default ws://127.0.0.1:8080/api; wss://... with api.tls)
 *   POSTERN_TOKEN  an API token (required)
 *
 * Exit status: 0 after Ctrl-C; 1 when the token is refused or a call fails; 2 when POSTERN_TOKEN
 * is missing.
 */
import { connect, PosternRpcError } from 'postern/client';

const url = process.env.POSTERN_URL || 'ws://127.0.0.1:8080/api';
const token = process.env.POSTERN_TOKEN;
const door = process.argv[2];

if (!token) {
  console.error('POSTERN_TOKEN is not set. Create a token and pass it in the environment:');
  console.error('  npm run postern -- token create --name watcher --role operator');
  console.error('  POSTERN_TOKEN=pst_... node examples/clientExample.mjs [door]');
  process.exit(2);
}

let client;
try {
  // Resolves once connected; rejects at once for a refused token (PosternConnectionError,
  // code POSTERN_CLIENT_REFUSED), or after 30 s without a controller.
  client = await connect(url, { token });
} catch (error) {
  console.error(`cannot connect to ${url}: ${error.message}`);
  process.exit(1);
}

client.on('disconnected', ({ code }) => console.log(`(connection lost: ${code}; reconnecting)`));
client.on('connected', () => console.log('(connected again)'));
// The token was revoked, or close() was called: the client stops for good.
client.on('closed', (error) => {
  if (error.code !== 'POSTERN_CLIENT_CLOSED') {
    console.error(`stopped: ${error.message}`);
    process.exitCode = 1;
  }
});

try {
  const info = await client.call('system.info');
  console.log(`connected to ${info.site.name} (postern ${info.version}) as ${info.you.name}, role ${info.you.role}`);

  // One subscription for the whole run: the client makes it again after each reconnection, the
  // audit topic from the last event delivered.
  await client.subscribe({ topics: ['door', 'audit'] }, ({ topic, data }) => {
    if (topic === 'door') console.log(`door ${data.id}: ${data.state}${data.alarm ? ` (alarm: ${data.alarm.kind})` : ''}`);
    else console.log(`audit #${data.seq} ${data.type} ${data.reason ?? data.verdict ?? ''}${data.door ? ` at ${data.door}` : ''}${data.actor ? ` by ${data.actor}` : ''}`);
  });

  if (door) await client.call('doors.unlock', { door, seconds: 3 });
} catch (error) {
  // Errors of the controller carry its codes: -32002 and POSTERN_ERR_NOT_FOUND for an unknown door.
  if (error instanceof PosternRpcError) console.error(`${error.message} (${error.code}, ${error.posternCode ?? 'no code'})`);
  else console.error(error.message);
  process.exitCode = 1;
  await client.close();
}

process.on('SIGINT', () => void client.close());
