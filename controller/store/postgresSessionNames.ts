/**
 * How Postern's PostgreSQL sessions name themselves (application_name), so that a server's
 * session list says which process each belongs to, and a controller that claims a site can end the
 * sessions of the process that held it before (postgresClaim.ts). Kept apart from the claim so that
 * naming the pool does not load the claim's driver.
 */
import { hostname } from 'node:os';

/** This process, as its sessions name it: `pid@host`. */
export function processTag(): string {
  return `${process.pid}@${hostname()}`;
}

/** application_name of a store pool session of the process `tag`. */
export function poolApplicationName(tag: string = processTag()): string {
  return `postern ${tag}`.slice(0, 63);
}
