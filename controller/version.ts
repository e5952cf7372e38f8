import { createRequire } from 'node:module';

/** The version in package.json, reported by system.info and the CLI. */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
