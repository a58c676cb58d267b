/**
 * The inside of an auth worker thread (see workers.ts): takes batches of Access-Requests from
 * the main thread, answers them with a PacketProcessor, and sends back the replies, the counter
 * increments and the log lines of the turn, in one message.
 */
import type { MessagePort } from 'node:worker_threads';
import type { DestinationStream } from 'pino';
import type { Logger } from '../logging.js';
import type { ServerCounters } from './counters.js';
import type { NasClient } from './ports.js';
import type { PacketProcessor } from './processor.js';
import type { FromWorker, ToWorker } from './workers.js';
import {
  BATCH_HEADER,
  COUNTER_FIELDS,
  DONE_HEADER,
  DROP_FIELDS,
  EAGER_BATCH,
  MAX_SPARES,
  SPARE_BYTES,
} from './workers.js';

/** Collects log lines between two messages to the main thread. */
export class LogCollector implements DestinationStream {
  lines = '';
  write(line: string): void {
    this.lines += line;
  }
}

export interface AuthWorkerParts {
  processor: PacketProcessor;
  counters: ServerCounters;
  log: LogCollector;
  /** Writes to `log`. */
  logger: Logger;
  /**
   * Fills the worker's caches (every member read once); resolves with how many were read. The
   * main thread waits for it (bounded) before it takes requests.
   */
  warm?: () => Promise<number>;
  /** Frees what the worker opened (the store). */
  close(): Promise<void>;
}

/** Replies gathered for the main thread: packed as they are answered (see DONE_HEADER). */
class Replies {
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  length = 0;
  count = 0;
  /** Buffers the main thread sent back, to pack the next replies in (see SPARE_BYTES). */
  private readonly spares: ArrayBuffer[] = [];

  add(seq: number, response: Buffer | undefined): void {
    const len = response ? response.length : 0;
    this.reserve(DONE_HEADER + len);
    this.view.setUint32(this.length, seq, true);
    this.view.setInt32(this.length + 4, response ? len : -1, true);
    if (response) this.buf.set(response, this.length + DONE_HEADER);
    this.length += DONE_HEADER + len;
    this.count++;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  /** Keeps a buffer the main thread sent back (a few at most). */
  spare(buffer: ArrayBuffer): void {
    if (this.spares.length < MAX_SPARES) this.spares.push(buffer);
  }

  /**
   * The packed replies, in a buffer of their own (to transfer: a spare if one is large
   * enough, else a new one with room for the next batches), and a fresh start.
   */
  take(): Uint8Array<ArrayBuffer> {
    const n = this.length;
    let buffer = this.spares.pop();
    if (buffer === undefined || buffer.byteLength < n)
      buffer = new ArrayBuffer(Math.max(n, SPARE_BYTES));
    const out = new Uint8Array(buffer, 0, n);
    out.set(this.buf.subarray(0, n));
    this.length = 0;
    this.count = 0;
    return out;
  }
}

/**
 * Serves the main thread on `port`. `build` makes the processor, given the change counter the
 * main thread relays (read it through the function: it moves with every batch) and what to call
 * when the processor first sees a NAS sign its requests (ProcessorOptions.onSigns).
 */
export async function runAuthWorker(
  port: MessagePort,
  initialCounter: number,
  build: (changeCounter: () => number, onSigns: (name: string) => void) => Promise<AuthWorkerParts>,
): Promise<void> {
  // The main thread's value when it started this worker: what the cache warms up under.
  let counter = initialCounter;
  // NASes seen signing for the first time, for the next message to the main thread.
  let signs: string[] | undefined;
  let parts: AuthWorkerParts;
  try {
    parts = await build(
      () => counter,
      (name) => (signs ??= []).push(name),
    );
  } catch (e) {
    port.postMessage({ t: 'failed', message: (e as Error).message } satisfies FromWorker);
    port.close();
    return;
  }
  const { processor, counters, log } = parts;
  const nases = new Map<number, NasClient>();
  const replies = new Replies();
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (replies.count === 0 && log.lines === '') return;
    const data = replies.take();
    const m: FromWorker = { t: 'done', data };
    const c = takeCounters(counters);
    if (c) m.counters = c;
    if (log.lines !== '') {
      m.log = log.lines;
      log.lines = '';
    }
    if (signs) {
      m.signs = signs;
      signs = undefined;
    }
    port.postMessage(m, [data.buffer]);
  };
  const answer = (seq: number, response: Buffer | undefined): void => {
    replies.add(seq, response);
    // The first replies go back while the rest of the batch is computed.
    if (replies.count >= EAGER_BATCH) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const failed = (seq: number, err: unknown): void => {
    counters.errors++;
    parts.logger.error({ err }, 'RADIUS request failed');
    answer(seq, undefined);
  };
  /** One request of a batch (its octets are a view of the batch's buffer). */
  const one = (seq: number, nas: NasClient, msg: Buffer, src: string, started: number): void => {
    try {
      const r = processor.process(msg, nas, 'auth', src, started);
      if (r instanceof Promise)
        r.then(
          (response) => answer(seq, response),
          (err: unknown) => failed(seq, err),
        );
      else answer(seq, r);
    } catch (err) {
      failed(seq, err);
    }
  };

  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'nas':
        nases.set(m.id, {
          name: m.name,
          secret: Buffer.from(m.secret),
          requireMessageAuthenticator: m.requireMessageAuthenticator,
        });
        return;
      case 'signs':
        processor.nasSigns(m.name);
        return;
      case 'stop':
        port.close();
        parts.close().catch(() => undefined);
        return;
      case 'batch': {
        counter = m.counter;
        if (m.spare) replies.spare(m.spare);
        const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
        const origin = performance.timeOrigin;
        let at = 0;
        while (at + BATCH_HEADER <= data.length) {
          const seq = data.readUInt32LE(at);
          const nasId = data.readUInt32LE(at + 4);
          const src = m.srcs[data.readUInt32LE(at + 8)] ?? '';
          const len = data.readUInt32LE(at + 12);
          const started = data.readDoubleLE(at + 16) - origin;
          const msg = data.subarray(at + BATCH_HEADER, at + BATCH_HEADER + len);
          at += BATCH_HEADER + len;
          const nas = nases.get(nasId);
          if (!nas) failed(seq, new Error('unknown NAS number from the main thread'));
          else one(seq, nas, msg, src, started);
        }
        return;
      }
    }
  });
  port.postMessage({ t: 'ready' } satisfies FromWorker);
  if (!parts.warm) {
    port.postMessage({ t: 'warmed', members: 0, ms: 0 } satisfies FromWorker);
    return;
  }
  const t0 = performance.now();
  parts
    .warm()
    .then(
      (members) => members,
      (err: unknown) => {
        parts.logger.warn({ err }, 'could not warm the caches');
        return 0;
      },
    )
    .then((members) => {
      const ms = Math.round(performance.now() - t0);
      port.postMessage({ t: 'warmed', members, ms } satisfies FromWorker);
    })
    .catch(() => undefined);
}

/** The counters' increments since the last call (undefined: none), and zeroes them. */
function takeCounters(c: ServerCounters): number[] | undefined {
  let any = false;
  const d: number[] = [];
  for (const k of COUNTER_FIELDS) {
    d.push(c[k]);
    if (c[k] !== 0) any = true;
    c[k] = 0;
  }
  for (const k of DROP_FIELDS) {
    d.push(c.dropped[k]);
    if (c.dropped[k] !== 0) any = true;
    c.dropped[k] = 0;
  }
  return any ? d : undefined;
}
