import { pino, type LevelWithSilent } from 'pino';
import type { Logger } from '../machines/shared/logger.ts';

export type { Logger };

/**
 * The process logger. Structured JSON to standard error, so standard output stays free for the
 * CLI's answers and the terminal scanner; one child per component. Nothing logged may hold a
 * secret or a full code: see redactScan().
 */
export function createLogger(level: LevelWithSilent, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: undefined, redact: { paths: ['secret', '*.secret', 'code', '*.code', 'text'], censor: '[redacted]' } }, destination);
}
