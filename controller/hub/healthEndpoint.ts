/**
 * `GET /health`: whether this hub can serve, for a load balancer's health check. It can when its
 * database answers (within 2 s) and its change feed listens: a hub without either would take links
 * it cannot keep current, so it answers 503 and the balancer sends controllers to another. No
 * authentication, and nothing in the answer but the two states.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { sql } from 'kysely';

import { settleWithin } from '../settleWithin.ts';
import type { HubDb } from './hubDatabase.ts';
import { sendError, sendJson } from './enrolEndpoint.ts';

const DATABASE_CHECK_MS = 2000;

export interface HubHealth {
  status: 'ok' | 'unavailable';
  database: 'ok' | 'unreachable';
  changeFeed: 'listening' | 'reconnecting';
}

export async function checkHealth(db: HubDb, feedListening: () => boolean): Promise<HubHealth> {
  const answered = sql`select 1`.execute(db).then(
    () => 'ok' as const,
    () => 'unreachable' as const,
  );
  const database = await settleWithin(answered, DATABASE_CHECK_MS, 'unreachable' as const);
  const changeFeed = feedListening() ? 'listening' : 'reconnecting';
  return { status: database === 'ok' && changeFeed === 'listening' ? 'ok' : 'unavailable', database, changeFeed };
}

export async function handleHealth(req: IncomingMessage, res: ServerResponse, db: HubDb, feedListening: () => boolean): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'hub.method', 'GET only', { Allow: 'GET, HEAD' });
  const health = await checkHealth(db, feedListening);
  sendJson(res, health.status === 'ok' ? 200 : 503, health, { 'Cache-Control': 'no-store' });
}
