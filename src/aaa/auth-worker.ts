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
import type { CounterDelta, FromWorker, ToWorker } from './workers.js';

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
  /** Run once the worker is ready, in the background (filling its caches). */
  warm?: () => Promise<void>;
  /** Frees what the worker opened (the store). */
  close(): Promise<void>;
}

/**
 * Serves the main thread on `port`. `build` makes the processor, given the change counter the
 * main thread relays (read it through the function: it moves with every batch).
 */
export async function runAuthWorker(
  port: MessagePort,
  initialCounter: number,
  build: (changeCounter: () => number) => Promise<AuthWorkerParts>,
): Promise<void> {
  // The main thread's value when it started this worker: what the cache warms up under.
  let counter = initialCounter;
  let parts: AuthWorkerParts;
  try {
    parts = await build(() => counter);
  } catch (e) {
    port.postMessage({ t: 'failed', message: (e as Error).message } satisfies FromWorker);
    port.close();
    return;
  }
  const { processor, counters, log } = parts;
  const nases = new Map<number, NasClient>();
  let seqs: number[] = [];
  let lengths: number[] = [];
  let replies: Buffer[] = [];
  let bytes = 0;
  let signs: string[] = [];
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (seqs.length === 0 && log.lines === '') return;
    const data = new Uint8Array(bytes);
    let at = 0;
    for (const r of replies) {
      data.set(r, at);
      at += r.length;
    }
    const m: FromWorker = {
      t: 'done',
      seqs,
      lengths,
      data,
      signs,
      counters: takeCounters(counters),
      log: log.lines,
    };
    log.lines = '';
    seqs = [];
    lengths = [];
    replies = [];
    bytes = 0;
    signs = [];
    port.postMessage(m, [data.buffer]);
  };
  const answer = (seq: number, response: Buffer | undefined): void => {
    seqs.push(seq);
    if (response) {
      lengths.push(response.length);
      replies.push(response);
      bytes += response.length;
    } else lengths.push(-1);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const failed = (seq: number, err: unknown): void => {
    counters.errors++;
    parts.logger.error({ err }, 'RADIUS request failed');
    answer(seq, undefined);
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
        const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
        let at = 0;
        for (let k = 0; k < m.seqs.length; k++) {
          const seq = m.seqs[k] as number;
          const len = m.lengths[k] as number;
          const msg = data.subarray(at, at + len);
          at += len;
          const nas = nases.get(m.nas[k] as number);
          if (!nas) {
            failed(seq, new Error('unknown NAS number from the main thread'));
            continue;
          }
          const src = m.srcs[k] as string;
          const started = (m.started[k] as number) - performance.timeOrigin;
          const signed = processor.knownToSign(nas.name);
          try {
            const r = processor.process(msg, nas, 'auth', src, started);
            if (!signed && processor.knownToSign(nas.name)) signs.push(nas.name);
            if (r instanceof Promise)
              r.then(
                (response) => answer(seq, response),
                (err: unknown) => failed(seq, err),
              );
            else answer(seq, r);
          } catch (err) {
            failed(seq, err);
          }
        }
        return;
      }
    }
  });
  port.postMessage({ t: 'ready' } satisfies FromWorker);
  parts.warm?.().catch((err: unknown) => parts.logger.warn({ err }, 'could not warm the caches'));
}

function takeCounters(c: ServerCounters): CounterDelta {
  const d: CounterDelta = {
    accepts: c.accepts,
    rejects: c.rejects,
    errors: c.errors,
    statusServer: c.statusServer,
    dropped: { ...c.dropped },
  };
  c.accepts = 0;
  c.rejects = 0;
  c.errors = 0;
  c.statusServer = 0;
  for (const k of Object.keys(c.dropped)) c.dropped[k as keyof ServerCounters['dropped']] = 0;
  return d;
}
