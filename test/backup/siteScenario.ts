/**
 * A site with something of everything a decision reads, made through a real Controller: links
 * (valid, door set, expired, revoked, online-only with one use), rotating credentials (one revoked,
 * one used once already), a partner with a revoked subject, a door in lockdown. Then a list of codes
 * whose verdicts cover every one of them, and a way to scan the list through a controller, so that
 * a test can compare the verdicts of a store and of its backup, restored.
 *
 * The controllers share a slow clock (a second of real time is a millisecond of theirs), so that a
 * rotating code is decided in the same 15-second step however long the backup and restore take.
 */
import { PassThrough } from 'node:stream';

import { Controller } from '../../controller/controller.ts';
import { encodeCredential, timeStep } from '../../controller/credentials/credentialCodec.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { testSite } from '../support/testSite.ts';

const START = Date.now();
/** Unix ms, advancing a thousand times slower than real time. */
export const slowClock = (): number => START + Math.floor((Date.now() - START) / 1000);

const ACTOR = 'test';
const PARTNER_SECRET = Buffer.alloc(32, 0x5a);

export interface ScenarioData {
  linkCodes: Record<'ada' | 'labOnly' | 'storeOnly' | 'expired' | 'revoked' | 'online', string>;
  credentials: Record<'grace' | 'oldBadge', { id: string; secret: Buffer }>;
  /** The step of Grace's code that was granted before the backup. */
  usedStep: number;
  partnerId: number;
}

export interface Scan {
  label: string;
  scanner: 'front-in' | 'lab-in' | 'store-in';
  text: string;
}

export interface Verdict {
  label: string;
  verdict: string;
  reason: string | null;
}

/** A controller of the test site on `dataDir` (or on PostgreSQL), with the slow clock and no throttle to speak of. */
export function scenarioController(dataDir: string, databaseUrl?: string): { controller: Controller; terminal: PassThrough } {
  const terminal = new PassThrough();
  const config = testSite(dataDir, (input) => {
    input.throttle = { maxFailures: 1000, windowSeconds: 10, lockoutSeconds: 1, maxLockoutSeconds: 1 };
  });
  return { controller: new Controller({ config, databaseUrl, terminal, clock: slowClock }), terminal };
}

function rotatingCode(id: string, secret: Buffer, step: number): string {
  return encodeCredential({ kind: 'rotating', issuer: 0, subject: BigInt(id), a: step, b: 0, scope: 0 }, secret);
}

function partnerCode(partnerId: number, subject: bigint, scope: number, secret: Buffer): string {
  const now = Math.floor(slowClock() / 1000);
  return encodeCredential({ kind: 'link', issuer: partnerId, subject, a: now - 60, b: now + 3600, scope }, secret);
}

/** Makes the site's data through the running controller, and scans two codes (a replay mark, an online use). */
export async function populate(controller: Controller, terminal: PassThrough): Promise<ScenarioData> {
  const issuing = controller.issuing;
  const now = Math.floor(slowClock() / 1000);
  const link = async (request: Parameters<typeof issuing.createLink>[0]) => (await issuing.createLink(request, ACTOR)).code;
  const ada = await link({ name: 'Ada', scope: 7, notAfter: null });
  const labOnly = await link({ name: 'Lab only', doors: ['lab'] });
  const storeOnly = await link({ name: 'Store only', doors: ['store'] });
  const expired = await link({ name: 'Expired', scope: 7, notBefore: now - 7200, notAfter: now - 3600 });
  const revokedLink = await issuing.createLink({ name: 'Revoked', scope: 7 }, ACTOR);
  await issuing.revokeLink(revokedLink.link.id, ACTOR, 'lost phone');
  const online = await link({ name: 'Online', scope: 7, onlineOnly: true, maxUses: 2 });

  const grace = await issuing.createCredential({ name: 'Grace', scope: 7 }, ACTOR);
  const oldBadge = await issuing.createCredential({ name: 'Old badge', scope: 3 }, ACTOR);
  await issuing.revokeCredential(oldBadge.credential.id, ACTOR, 'badge lost');

  const partnerId = 12;
  await issuing.addPartner({ id: partnerId, name: 'Tickets', allowedScopes: [3, 7], defaultScope: 3, secret: PARTNER_SECRET }, ACTOR);
  await issuing.revokePartnerSubject(partnerId, '9', ACTOR, 'refunded');
  await controller.doors.lockdown('store', true, ACTOR);

  const data: ScenarioData = {
    linkCodes: { ada, labOnly, storeOnly, expired, revoked: revokedLink.code, online },
    credentials: { grace: { id: grace.credential.id, secret: grace.secret }, oldBadge: { id: oldBadge.credential.id, secret: oldBadge.secret } },
    usedStep: timeStep(slowClock() / 1000),
    partnerId,
  };
  // Before the backup: Grace's code of this step is used (a replay mark), the online link once (1 of 2).
  const before = await scanAll(controller, terminal, [
    { label: 'grace now', scanner: 'lab-in', text: rotatingCode(grace.credential.id, grace.secret, data.usedStep) },
    { label: 'online first use', scanner: 'lab-in', text: online },
  ]);
  if (before.some((v) => v.verdict !== 'grant')) throw new Error(`the scans before the backup were not granted: ${JSON.stringify(before)}`);
  return data;
}

/** The codes every restored store must decide as the original did: grants and every kind of denial. */
export function scenarioScans(data: ScenarioData): Scan[] {
  const { linkCodes: l, credentials: c } = data;
  const step = timeStep(slowClock() / 1000);
  return [
    { label: 'ada at front', scanner: 'front-in', text: l.ada },
    { label: 'ada at lab', scanner: 'lab-in', text: l.ada },
    { label: 'lab-only link at lab', scanner: 'lab-in', text: l.labOnly },
    { label: 'lab-only link at front', scanner: 'front-in', text: l.labOnly },
    { label: 'store-only link at the store, in lockdown', scanner: 'store-in', text: l.storeOnly },
    { label: 'expired link', scanner: 'lab-in', text: l.expired },
    { label: 'revoked link', scanner: 'lab-in', text: l.revoked },
    { label: 'online link, second use', scanner: 'lab-in', text: l.online },
    { label: 'online link, third use', scanner: 'lab-in', text: l.online },
    { label: 'grace, the step used before the backup', scanner: 'lab-in', text: rotatingCode(c.grace.id, c.grace.secret, data.usedStep) },
    { label: 'grace, the next step', scanner: 'lab-in', text: rotatingCode(c.grace.id, c.grace.secret, step + 1) },
    { label: 'grace, wrong secret', scanner: 'lab-in', text: rotatingCode(c.grace.id, c.oldBadge.secret, step) },
    { label: 'revoked badge', scanner: 'front-in', text: rotatingCode(c.oldBadge.id, c.oldBadge.secret, step) },
    { label: 'partner code', scanner: 'front-in', text: partnerCode(data.partnerId, 5n, 3, PARTNER_SECRET) },
    { label: 'partner code, scope 7 at lab', scanner: 'lab-in', text: partnerCode(data.partnerId, 6n, 7, PARTNER_SECRET) },
    { label: 'partner code, revoked subject', scanner: 'front-in', text: partnerCode(data.partnerId, 9n, 3, PARTNER_SECRET) },
    { label: 'partner code, scope 3 at lab', scanner: 'lab-in', text: partnerCode(data.partnerId, 7n, 3, PARTNER_SECRET) },
    { label: 'unknown partner', scanner: 'front-in', text: partnerCode(14, 5n, 3, PARTNER_SECRET) },
    { label: 'garbage', scanner: 'front-in', text: 'HELLO-TICKET-42' },
  ];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Scans one code and waits for its decision, then for its door to be at rest again. */
export async function scanOne(controller: Controller, terminal: PassThrough, scan: Scan): Promise<Verdict> {
  const decided = new Promise<Decision>((resolve) => {
    const off = controller.onDecision((d) => {
      if (d.scanner !== scan.scanner) return;
      off();
      resolve(d);
    });
  });
  if (scan.scanner === 'front-in') terminal.write(scan.text + '\n');
  else (controller.scannerDriver(scan.scanner) as SimulatedScanner).read(scan.text);
  const decision = await decided;
  // A grant unlocks the door for 0.2 s: the next code meets the door at rest, as it did the first time.
  const busy = () => {
    const door = controller.doorStatus(decision.door);
    return door !== undefined && (door.relayUnlocked || door.doorOpen);
  };
  for (let i = 0; i < 100 && busy(); i++) await sleep(20);
  return { label: scan.label, verdict: decision.verdict, reason: decision.reason };
}

export async function scanAll(controller: Controller, terminal: PassThrough, scans: Scan[]): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  for (const scan of scans) verdicts.push(await scanOne(controller, terminal, scan));
  return verdicts;
}
