import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './projectRoot.ts';

/** The version in package.json, reported by system.info. */
export const VERSION: string = (JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
