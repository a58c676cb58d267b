import { writeSync as fsWriteSync } from 'node:fs';

/**
 * Where a LogStream's bytes go: fd 1 by default. Injectable so tests can play a slow, full or
 * broken reader. Returns the bytes written (a pipe or socket may take fewer than offered);
 * throws the system's error (EAGAIN: a non-blocking pipe that is full).
 */
export interface LogSink {
  writeSync(buf: Buffer): number;
}

function fdSink(fd: number): LogSink {
  return { writeSync: (buf) => fsWriteSync(fd, buf, 0, buf.length, null) };
}

export interface LogStreamOptions {
  /** Lines are written at most this long after they are logged (default 50 ms). */
  flushMs?: number;
  /** ...or as soon as this many characters wait (default 64 KiB). */
  batchChars?: number;
  /**
   * When the reader does not keep up, at most this many characters wait (default 16 Mi); the
   * lines beyond are dropped and counted, and a line says how many once the reader caught up.
   */
  maxPendingChars?: number;
  /** For tests. */
  now?: () => number;
}

/**
 * The log's destination: lines gathered in memory and written in batches, one write(2) for
 * everything that waits, when `batchChars` wait or `flushMs` after the first line waiting. A
 * busy server logs one line per RADIUS decision; a write each would cost more than the decision
 * (a batch of 64 KiB to a file costs tens of µs, every 15–20 ms at 18,000 lines/s).
 *
 * Written by the event loop's thread, not the thread pool: pino.destination's asynchronous mode
 * (sonic-boom) writes from the thread pool at most 16 KB per round trip (a backlog without bound
 * once a round trip takes longer than 16 KB of lines), holds lines until 4 KB are gathered (a
 * quiet server's decisions unseen for minutes), and at exit writes what waits while a write may
 * still be in flight in the pool — lines out of order, or interleaved mid-line in a pipe. Here
 * one thread writes, in order, and what waits at exit (also after an uncaught exception) is
 * written before the process ends. The price: a reader that stops reading a blocking pipe
 * stops the writer, as with any synchronous logger. A non-blocking pipe that is full (EAGAIN)
 * does not: what was not taken is kept and retried after `flushMs`, and beyond
 * `maxPendingChars` new lines are dropped, counted, and reported by a line once there is room.
 */
export class LogStream {
  private pending: string[] = [];
  private pendingChars = 0;
  /** Bytes the sink did not take (EAGAIN), written first next time. */
  private carry: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private readonly flushMs: number;
  private readonly batchChars: number;
  private readonly maxPendingChars: number;
  private readonly now: () => number;
  /** Lines that could not be written (the sink's error other than EAGAIN), counted. */
  lost = 0;

  constructor(
    private readonly sink: LogSink = fdSink(1),
    opts: LogStreamOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? 50;
    this.batchChars = opts.batchChars ?? 64 * 1024;
    this.maxPendingChars = opts.maxPendingChars ?? 16 * 1024 * 1024;
    this.now = opts.now ?? Date.now;
    streams.add(this);
    installExitFlush();
  }

  /** Characters logged and bytes not yet taken by the sink (for tests and metrics). */
  get waitingChars(): number {
    return this.pendingChars + (this.carry?.length ?? 0);
  }

  /** Lines dropped, because too much waited, since the last line that said so. */
  get droppedLines(): number {
    return this.dropped;
  }

  write(chunk: string): boolean {
    if (this.waitingChars + chunk.length > this.maxPendingChars) {
      this.dropped += countLines(chunk);
      return false;
    }
    this.pending.push(chunk);
    this.pendingChars += chunk.length;
    if (this.pendingChars >= this.batchChars && !this.carry) this.flushSync();
    else this.timer ??= setTimeout(this.onTimer, this.flushMs).unref();
    return true;
  }

  /** Writes what waits, then calls back (pino's `logger.flush`). */
  flush(cb?: (err?: Error) => void): void {
    this.flushSync();
    if (cb) queueMicrotask(() => cb());
  }

  /**
   * Writes what waits, now. With `patient` (at exit), a full non-blocking pipe is waited for,
   * up to about a second; otherwise what it does not take is kept for the next attempt.
   */
  flushSync(patient = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.noteDropped();
    const buf = this.take();
    if (!buf) return;
    let off = 0;
    let waits = 0;
    while (off < buf.length) {
      try {
        off += this.sink.writeSync(off === 0 ? buf : buf.subarray(off));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
          this.lost += countLines(buf.subarray(off).toString());
          return;
        }
        if (patient && waits++ < 100) {
          Atomics.wait(sleeper, 0, 0, 10);
          continue;
        }
        this.carry = buf.subarray(off);
        this.timer = setTimeout(this.onTimer, this.flushMs).unref();
        return;
      }
    }
  }

  /** Writes what waits and forgets the stream. */
  end(): void {
    this.flushSync(true);
    streams.delete(this);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flushSync();
  };

  /** Everything that waits, as one buffer (the carry first), or undefined when nothing does. */
  private take(): Buffer | undefined {
    const text = this.pendingChars > 0 ? this.pending.join('') : '';
    this.pending = [];
    this.pendingChars = 0;
    const carry = this.carry;
    this.carry = undefined;
    if (!carry) return text ? Buffer.from(text) : undefined;
    return text ? Buffer.concat([carry, Buffer.from(text)]) : carry;
  }

  /** After lines were dropped, and once there is room again: one line that says how many. */
  private noteDropped(): void {
    if (this.dropped === 0) return;
    const line = `{"level":40,"time":"${new Date(this.now()).toISOString()}","dropped":${this.dropped},"msg":"log lines dropped: the log's reader did not keep up"}\n`;
    this.dropped = 0;
    this.pending.push(line);
    this.pendingChars += line.length;
  }
}

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n || 1;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const streams = new Set<LogStream>();
let exitFlushInstalled = false;

function installExitFlush(): void {
  if (exitFlushInstalled) return;
  exitFlushInstalled = true;
  process.on('exit', () => {
    for (const s of streams) s.flushSync(true);
  });
}
