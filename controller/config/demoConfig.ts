import path from 'node:path';
import { projectRoot } from '../projectRoot.ts';

/** The demo site that `npm start` runs; it ships with the sources, not in the build. */
export const DEMO_CONFIG = path.join(projectRoot(), 'controller', 'config', 'demo-site.yaml');
