import { fileURLToPath } from 'node:url';

/** The demo site that `npm start` runs, shipped beside this file. */
export const DEMO_CONFIG = fileURLToPath(new URL('./demo-site.yaml', import.meta.url));
