/**
 * Access-Requests answered by worker threads (`radius.workers`). The main thread keeps the
 * sockets, the NAS lookup, the RFC 5080 duplicate cache and accounting (one writer, in arrival
 * order); each Access-Request goes to a worker, which decodes, verifies, authenticates and
 * encodes the reply with its own store connection and subscriber cache, and hands the octets
 * back for the main thread to send. Packets travel in batches, one message per worker per turn
 * of the event loop, so the cost of crossing threads is shared by every packet of the turn.
 */
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import type { Logger } from '../logging.js';
import type { ServerCounters } from './counters.js';
import type { NasClient } from './ports.js';

export interface AuthWorkersOptions {
  /** How many threads. */
  count: number;
  /** The worker's script (see serve-worker.ts), or its code with `eval`, and its workerData. */
  script: URL | string;
  eval?: boolean;
  /** Given to each worker with `initialCounter` added (the change counter when it starts). */
  workerData: Record<string, unknown>;
  /**
   * The store's change counter, read on the main thread and sent with every batch: the
   * workers' caches follow it (their own connections would also see this process's
   * accounting commits as changes, and empty their caches for nothing).
   */
  changeCounter: () => number;
}

/** Main thread → worker. */
export type ToWorker =
  | { t: 'nas'; id: number; name: string; secret: Uint8Array; requireMessageAuthenticator: boolean }
  | { t: 'signs'; name: string }
  | {
      t: 'batch';
      counter: number;
      seqs: number[];
      nas: number[];
      srcs: string[];
      /** Absolute receipt times, ms (performance.timeOrigin + now). */
      started: number[];
      lengths: number[];
      data: Uint8Array;
    }
  | { t: 'stop' };

/** Worker → main thread. */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'failed'; message: string }
  | {
      t: 'done';
      seqs: number[];
      /** -1: dropped (no answer). */
      lengths: number[];
      data: Uint8Array;
      /** NASes seen signing their requests for the first time. */
      signs: string[];
      /** Counter increments since the last message. */
      counters: CounterDelta;
      /** Log lines (JSON, newline-terminated), written by the main thread's logger. */
      log: string;
    };

export interface CounterDelta {
  accepts: number;
  rejects: number;
  errors: number;
  statusServer: number;
  dropped: Record<string, number>;
}

interface Waiting {
  resolve: (response: Buffer | undefined) => void;
  worker: number;
}

interface Outgoing {
  seqs: number[];
  nas: number[];
  srcs: string[];
  started: number[];
  packets: Buffer[];
  bytes: number;
}

function emptyOutgoing(): Outgoing {
  return { seqs: [], nas: [], srcs: [], started: [], packets: [], bytes: 0 };
}

export class AuthWorkers {
  private readonly workers: Worker[] = [];
  private readonly outgoing: Outgoing[] = [];
  private readonly outstanding: number[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private readonly nasIds = new WeakMap<NasClient, number>();
  private readonly nasByContent = new Map<string, number>();
  /** Every NAS told to the workers so far, for a worker started later. */
  private readonly nasMessages: ToWorker[] = [];
  private readonly signing = new Set<string>();
  private seq = 0;
  private flushScheduled = false;
  private stopping = false;
  private readonly writeLog: (lines: string) => void;

  constructor(
    private readonly opts: AuthWorkersOptions,
    private readonly counters: ServerCounters,
    private readonly logger: Logger,
    /** Told when a worker reports that a NAS signs its requests. */
    private readonly onSigns: (name: string) => void,
  ) {
    this.writeLog = lineWriter(logger);
  }

  get size(): number {
    return this.workers.length;
  }

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.opts.count }, (_, i) => this.spawn(i)));
  }

  private spawn(i: number): Promise<void> {
    const worker = new Worker(this.opts.script, {
      workerData: { ...this.opts.workerData, initialCounter: this.opts.changeCounter() },
      eval: this.opts.eval ?? false,
    });
    this.workers[i] = worker;
    // Queued until the worker listens: it knows every NAS and signing NAS the others know.
    for (const m of this.nasMessages) worker.postMessage(m);
    for (const name of this.signing) worker.postMessage({ t: 'signs', name } satisfies ToWorker);
    this.outgoing[i] = emptyOutgoing();
    this.outstanding[i] = 0;
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromWorker) => {
        if (m.t === 'ready') {
          ready = true;
          resolve();
        } else if (m.t === 'failed') reject(new Error(`auth worker ${i}: ${m.message}`));
        else this.done(i, m);
      });
      worker.on('error', (err) => {
        if (!ready) reject(err);
        else this.logger.error({ err, worker: i }, 'auth worker failed');
      });
      worker.on('exit', (code) => {
        if (!ready) {
          reject(new Error(`auth worker ${i} exited with ${code} while starting`));
          return;
        }
        if (this.stopping) return;
        // Its requests are lost (the NASes retransmit them); a new worker takes its place.
        this.logger.error({ worker: i, code }, 'auth worker exited; starting another');
        for (const [seq, w] of this.waiting)
          if (w.worker === i) {
            this.waiting.delete(seq);
            w.resolve(undefined);
          }
        this.spawn(i).catch((err: unknown) =>
          this.logger.error({ err, worker: i }, 'could not start an auth worker'),
        );
      });
    });
  }

  /** The answer to an Access-Request from `nas`, or undefined when the worker dropped it. */
  process(msg: Buffer, nas: NasClient, src: string, started: number): Promise<Buffer | undefined> {
    // The least busy worker: a slow request (a cache miss) does not hold others back.
    let i = 0;
    for (let j = 1; j < this.workers.length; j++)
      if ((this.outstanding[j] as number) < (this.outstanding[i] as number)) i = j;
    const nasId = this.nasId(nas);
    const out = this.outgoing[i] as Outgoing;
    const seq = this.seq++;
    out.seqs.push(seq);
    out.nas.push(nasId);
    out.srcs.push(src);
    out.started.push(performance.timeOrigin + started);
    out.packets.push(msg);
    out.bytes += msg.length;
    this.outstanding[i] = (this.outstanding[i] as number) + 1;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return new Promise((resolve) => this.waiting.set(seq, { resolve, worker: i }));
  }

  private nasId(nas: NasClient): number {
    let id = this.nasIds.get(nas);
    if (id !== undefined) return id;
    // The directory builds new objects when it reloads: the same NAS keeps its number.
    const key = `${nas.name}\0${nas.secret.toString('hex')}\0${nas.requireMessageAuthenticator}`;
    id = this.nasByContent.get(key);
    if (id === undefined) {
      id = this.nasMessages.length;
      this.nasByContent.set(key, id);
      const m: ToWorker = {
        t: 'nas',
        id,
        name: nas.name,
        secret: new Uint8Array(nas.secret),
        requireMessageAuthenticator: nas.requireMessageAuthenticator,
      };
      this.nasMessages.push(m);
      for (const w of this.workers) w.postMessage(m);
    }
    this.nasIds.set(nas, id);
    return id;
  }

  /** Sends what the turn gathered: one message per worker. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const counter = this.opts.changeCounter();
    for (let i = 0; i < this.workers.length; i++) {
      const out = this.outgoing[i] as Outgoing;
      if (out.seqs.length === 0) continue;
      this.outgoing[i] = emptyOutgoing();
      const data = new Uint8Array(out.bytes);
      const lengths: number[] = [];
      let at = 0;
      for (const p of out.packets) {
        data.set(p, at);
        at += p.length;
        lengths.push(p.length);
      }
      const m: ToWorker = {
        t: 'batch',
        counter,
        seqs: out.seqs,
        nas: out.nas,
        srcs: out.srcs,
        started: out.started,
        lengths,
        data,
      };
      (this.workers[i] as Worker).postMessage(m, [data.buffer]);
    }
  };

  private done(i: number, m: Extract<FromWorker, { t: 'done' }>): void {
    addCounters(this.counters, m.counters);
    if (m.log) this.writeLog(m.log);
    for (const name of m.signs) this.signs(name);
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    let at = 0;
    for (let k = 0; k < m.seqs.length; k++) {
      const seq = m.seqs[k] as number;
      const len = m.lengths[k] as number;
      const w = this.waiting.get(seq);
      let response: Buffer | undefined;
      if (len >= 0) {
        response = data.subarray(at, at + len);
        at += len;
      }
      if (!w) continue;
      this.waiting.delete(seq);
      this.outstanding[i] = (this.outstanding[i] as number) - 1;
      w.resolve(response);
    }
  }

  /** A NAS signs its requests: every worker applies limit_proxy_state to it from now on. */
  signs(name: string): void {
    if (this.signing.has(name)) return;
    this.signing.add(name);
    this.onSigns(name);
    const m: ToWorker = { t: 'signs', name };
    for (const w of this.workers) w.postMessage(m);
  }

  /** Ends the workers (after the server stopped taking requests and waited for them). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.waiting.values()) w.resolve(undefined);
    this.waiting.clear();
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void w.terminate(), 5_000);
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            w.postMessage({ t: 'stop' } satisfies ToWorker);
          }),
      ),
    );
  }
}

function addCounters(c: ServerCounters, d: CounterDelta): void {
  c.accepts += d.accepts;
  c.rejects += d.rejects;
  c.errors += d.errors;
  c.statusServer += d.statusServer;
  for (const [k, v] of Object.entries(d.dropped))
    if (k in c.dropped) c.dropped[k as keyof ServerCounters['dropped']] += v;
}

/** Writes finished log lines to the logger's own destination (so they interleave whole). */
function lineWriter(logger: Logger): (lines: string) => void {
  const stream: unknown = Reflect.get(logger, pino.symbols.streamSym);
  if (
    typeof stream === 'object' &&
    stream !== null &&
    typeof (stream as { write?: unknown }).write === 'function'
  ) {
    const s = stream as { write(line: string): unknown };
    return (lines) => void s.write(lines);
  }
  return (lines) => void process.stdout.write(lines);
}
