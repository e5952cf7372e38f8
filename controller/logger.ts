import { pino, type LevelWithSilent } from 'pino';
import type { Logger } from '../machines/shared/logger.ts';

export type { Logger };

/** JSON, one object a line (for machines: journald, a log shipper), or one readable line a record. */
export type LogFormat = 'json' | 'pretty';

/**
 * The process logger. Structured JSON to standard error, so standard output stays free for the
 * CLI's answers and the terminal scanner; one child per component. Nothing logged may hold a
 * secret or a full code: see redactScan().
 */
export function createLogger(level: LevelWithSilent, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: undefined, redact: { paths: ['secret', '*.secret', 'code', '*.code', 'text'], censor: '[redacted]' } }, destination);
}

/**
 * The logger of a command: as createLogger, or with format 'pretty' each record as one line for a
 * person at a terminal: `[12:00:01.234] WARN: files: <message> {"key":"value"}` (pino-pretty, in
 * this thread, loaded only then). Without a format: pretty on a terminal, JSON anywhere else (a
 * pipe, a file, journald). Colours only on a terminal.
 */
export async function createCliLogger(level: LevelWithSilent, format: LogFormat | undefined, destination: NodeJS.WritableStream = process.stderr): Promise<Logger> {
  if ((format ?? (isTerminal(destination) ? 'pretty' : 'json')) === 'json') return createLogger(level, destination);
  const { default: pretty } = await import('pino-pretty');
  const lines = pretty({
    destination,
    sync: true,
    colorize: isTerminal(destination),
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'component',
    messageFormat: '{if component}{component}: {end}{msg}',
  });
  return createLogger(level, lines);
}

function isTerminal(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true;
}
