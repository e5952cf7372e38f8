// The logger every layer takes: pino's. Only the type lives here; controller/logger.ts makes one.
export type { Logger } from 'pino';
