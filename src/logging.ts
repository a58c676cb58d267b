import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import { pino } from 'pino';
import { LogStream } from './log-stream.js';

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
  // Batched writes: one line per RADIUS decision must not cost a write(2) each; a line waits at
  // most 50 ms, and what waits is written when the process exits (see LogStream).
  const stream = destination ?? new LogStream();
  const logger = pino(options, stream);
  plain.set(logger, (line) => void stream.write(line));
  return logger;
}

/** Loggers made by createLogger: their lines have a known shape (see infoLineWriter). */
const plain = new WeakMap<Logger, (line: string) => void>();

/**
 * For a hot path that logs one line per event: writes an info line built by the caller, the
 * same JSON pino would write (`{"level":30,"time":"…",<fields>,"msg":"…"}`), without pino's
 * generic serialisation and redaction. `fields` is a JSON fragment that starts with a comma and
 * holds no secret. Undefined for a logger createLogger did not make (a child, a test's own):
 * log through it as usual then. The caller checks that info is enabled.
 */
export function infoLineWriter(
  logger: Logger,
): ((fields: string, msg: string) => void) | undefined {
  const write = plain.get(logger);
  if (!write) return undefined;
  let lastMs = -1;
  let head = '';
  return (fields, msg) => {
    const ms = Date.now();
    if (ms !== lastMs) {
      lastMs = ms;
      head = `{"level":30,"time":"${new Date(ms).toISOString()}"`;
    }
    write(`${head}${fields},"msg":${JSON.stringify(msg)}}\n`);
  };
}

/**
 * A log call made at most once a minute per key: an outage or a flood of bad packets must not
 * flood the log. The keys kept are bounded (all forgotten past 10,000).
 */
export function onceAMinute(now: () => number = Date.now): (key: string, log: () => void) => void {
  const last = new Map<string, number>();
  return (key, log) => {
    const t = now();
    const before = last.get(key);
    if (before !== undefined && t - before < 60_000) return;
    if (last.size > 10_000) last.clear();
    last.set(key, t);
    log();
  };
}
