import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import { pino } from 'pino';

export type { Logger } from 'pino';

/**
 * One JSON line per event on stdout. Secrets never reach the logger: callers log names, not
 * values, and these keys are redacted anyway should one slip in.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', 'secret', '*.password', '*.secret'], censor: '[redacted]' },
  };
  // Buffered, asynchronous writes: one line per RADIUS decision must not cost a write(2) each.
  // (The buffer is flushed when the process ends normally.)
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096 }));
}
