import { write as fsWrite, writeSync as fsWriteSync } from 'node:fs';

/**
 * Where a LogStream's bytes go: fd 1 by default. Injectable so tests can play a slow or broken
 * reader. `write` reports the bytes written (a pipe or socket may take fewer than offered).
 */
export interface LogSink {
  write(buf: Buffer, done: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  writeSync(buf: Buffer): number;
}

export function fdSink(fd: number): LogSink {
  return {
    write: (buf, done) => fsWrite(fd, buf, 0, buf.length, null, done),
    writeSync: (buf) => fsWriteSync(fd, buf, 0, buf.length, null),
  };
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
 * The log's destination: lines gathered in memory and written in batches, one write(2) in
 * flight at a time, off the event loop (libuv's thread pool), each write taking everything that
 * waits. A busy server logs one line per RADIUS decision; a write each would cost more than the
 * decision. Unlike pino.destination's asynchronous mode (sonic-boom), which writes at most 16 KB
 * per round trip (a backlog that grows without bound once a round trip takes longer than 16 KB
 * of lines, then long garbage collections) and holds lines until 4 KB are gathered (a quiet
 * server's decisions unseen for minutes), a line here waits at most `flushMs`, a backlog is
 * written whole, and memory is bounded (lines dropped and counted). Lines still waiting when
 * the process exits are written synchronously.
 */
export class LogStream {
  private pending: string[] = [];
  private pendingChars = 0;
  /** Bytes of a write the sink took only part of (or refused with EAGAIN), written first. */
  private carry: Buffer | undefined;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private readonly flushMs: number;
  private readonly batchChars: number;
  private readonly maxPendingChars: number;
  private readonly now: () => number;
  private flushWaiters: (() => void)[] = [];
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

  /** Lines logged and not yet handed to the sink (for tests and metrics). */
  get waitingChars(): number {
    return this.pendingChars + (this.carry?.length ?? 0);
  }

  /** Lines dropped since the last note about it because too much waited. */
  get droppedLines(): number {
    return this.dropped;
  }

  write(chunk: string): boolean {
    if (this.pendingChars + chunk.length > this.maxPendingChars) {
      this.dropped += countLines(chunk);
      return false;
    }
    this.pending.push(chunk);
    this.pendingChars += chunk.length;
    if (this.writing) return true;
    if (this.pendingChars >= this.batchChars) this.writeNow();
    else this.timer ??= setTimeout(this.onTimer, this.flushMs).unref();
    return true;
  }

  /** Calls back once what waits now has been handed to the sink (or could not be). */
  flush(cb?: (err?: Error) => void): void {
    if (!this.writing && this.waitingChars === 0) {
      if (cb) queueMicrotask(() => cb());
      return;
    }
    if (cb) this.flushWaiters.push(() => cb());
    if (!this.writing) this.writeNow();
  }

  /**
   * Writes what waits, synchronously (at exit, or before a fatal error is reported). A write
   * already in flight is left to the thread pool.
   */
  flushSync(): void {
    this.noteDropped();
    const buf = this.take();
    if (!buf) return;
    let off = 0;
    let again = 0;
    while (off < buf.length) {
      try {
        off += this.sink.writeSync(off === 0 ? buf : buf.subarray(off));
      } catch (e) {
        // A non-blocking pipe that is full: wait a little for the reader, a bounded number of times.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN' && again++ < 100) {
          Atomics.wait(sleeper, 0, 0, 10);
          continue;
        }
        this.lost += countLines(buf.subarray(off).toString());
        return;
      }
    }
  }

  /** Stops the stream's timer and forgets it (what waits is written synchronously first). */
  end(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushSync();
    streams.delete(this);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (!this.writing) this.writeNow();
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

  private writeNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.noteDropped();
    const buf = this.take();
    if (!buf) {
      this.wakeFlushWaiters();
      return;
    }
    this.writing = true;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    this.sink.write(buf, (err, written) => {
      this.writing = false;
      const again = err?.code === 'EAGAIN';
      if (again) this.carry = buf;
      else if (err) this.lost += countLines(buf.toString());
      else if (written < buf.length) this.carry = buf.subarray(written);
      if (again || this.carry) this.flushWaiters.unshift(...waiters);
      else for (const w of waiters) w();
      // A full pipe (EAGAIN) is retried after flushMs; what else waits goes now if it is a batch.
      const waited = this.waitingChars >= this.batchChars || this.flushWaiters.length > 0;
      if (!again && (waited || this.carry)) this.writeNow();
      else if (this.waitingChars > 0) this.timer ??= setTimeout(this.onTimer, this.flushMs).unref();
    });
  }

  private wakeFlushWaiters(): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
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
    for (const s of streams) s.flushSync();
  });
}
