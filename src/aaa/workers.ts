/**
 * Access-Requests answered by worker threads (`radius.workers`). The main thread keeps the
 * sockets, the NAS lookup, the RFC 5080 duplicate cache and accounting (one writer, in arrival
 * order); each Access-Request goes to a worker, which decodes, verifies, authenticates and
 * encodes the reply with its own store connection and subscriber cache, and hands the octets
 * back for the main thread to send. Packets travel in batches (one message per worker per turn
 * of the event loop, or per EAGER_BATCH packets, whichever comes first), packed in one
 * transferred buffer, so the cost of crossing threads is shared by the packets of a batch.
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
  /**
   * How long `start` waits for the workers to fill their caches (ms; default 30 s, 0: do not
   * wait). Beyond it they take requests while the filling goes on.
   */
  warmTimeoutMs?: number;
}

/** Main thread → worker. */
export type ToWorker =
  | { t: 'nas'; id: number; name: string; secret: Uint8Array; requireMessageAuthenticator: boolean }
  | { t: 'signs'; name: string }
  | {
      t: 'batch';
      counter: number;
      /** The source addresses of this batch; each packet gives an index into it. */
      srcs: string[];
      /** Packed packets: see BATCH_HEADER. */
      data: Uint8Array;
      /** A buffer of an earlier `done`, sent back for the worker to pack replies in again. */
      spare?: ArrayBuffer;
    }
  | { t: 'stop' };

/**
 * A packet in a batch to a worker: sequence number (u32), NAS number (u32), index of its source
 * address in `srcs` (u32), length (u32), receipt time in absolute ms (f64,
 * performance.timeOrigin + now), then its octets. Little-endian.
 */
export const BATCH_HEADER = 24;
/** A reply in a batch from a worker: sequence number (u32), length (i32, -1: dropped), octets. */
export const DONE_HEADER = 8;

/** Worker → main thread. */
export type FromWorker =
  | { t: 'ready' }
  /** The worker's caches are filled (`members` read in `ms`). */
  | { t: 'warmed'; members: number; ms: number }
  | { t: 'failed'; message: string }
  | {
      t: 'done';
      /** Packed replies: see DONE_HEADER. */
      data: Uint8Array;
      /** NASes seen signing their requests for the first time. */
      signs?: string[];
      /** Counter increments since the last message (see COUNTER_FIELDS), when any moved. */
      counters?: number[];
      /** Log lines (JSON, newline-terminated), written by the main thread's logger. */
      log?: string;
    };

/** The order of the counters in a `done` message. */
export const COUNTER_FIELDS = ['accepts', 'rejects', 'errors', 'statusServer'] as const;
export const DROP_FIELDS = [
  'unknownClient',
  'wrongCode',
  'malformed',
  'badAuthenticator',
  'badMessageAuthenticator',
  'missingMessageAuthenticator',
] as const satisfies readonly (keyof ServerCounters['dropped'])[];

/** Told the answer to a request handed to the workers (undefined: dropped, or lost). */
export interface AuthAnswer {
  /**
   * `response` is a view of a buffer that is used again once this returns (see SPARE_BYTES):
   * copy what must outlive the call.
   */
  answered(response: Buffer | undefined): void;
}

/**
 * Packets or replies are sent as soon as this many wait (and at the end of the turn of the
 * event loop otherwise): the other thread starts on the first ones while this one reads or
 * computes the rest, instead of the two taking turns on whole windows.
 */
export const EAGER_BATCH = 16;

/**
 * Reply buffers go back and forth instead of being allocated for each batch: a new one costs
 * a zero-filled malloc on the worker and a free by the GC on the main thread (~2 % of the
 * process in a PAP profile, with the allocator's consolidation of small free chunks). At most
 * MAX_SPARES wait on each side; a worker makes them at least SPARE_BYTES long.
 */
export const SPARE_BYTES = 16 * 1024;
export const MAX_SPARES = 4;

class Outgoing {
  readonly srcs: string[] = [];
  readonly srcIndex = new Map<string, number>();
  readonly packets: Buffer[] = [];
  readonly header: number[] = [];
  bytes = 0;
}

export class AuthWorkers {
  private readonly workers: Worker[] = [];
  private readonly outgoing: Outgoing[] = [];
  private readonly outstanding: number[] = [];
  /** Reply buffers read, to send back to each worker with its next batch. */
  private readonly spares: ArrayBuffer[][] = [];
  /** Requests at the workers, by sequence number: who to tell, and which worker has it. */
  private readonly waiting = new Map<number, AuthAnswer>();
  private readonly waitingWorker = new Map<number, number>();
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

  /**
   * Starts the workers and waits until each has filled its caches (at most `warmTimeoutMs`,
   * after which the rest of the filling goes on in the background): a server that takes
   * requests answers them at full speed from the first one.
   */
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
    this.outgoing[i] = new Outgoing();
    this.outstanding[i] = 0;
    this.spares[i] = [];
    const warmTimeoutMs = this.opts.warmTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      let ready = false;
      let timer: NodeJS.Timeout | undefined;
      const started = (): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        resolve();
      };
      worker.on('message', (m: FromWorker) => {
        if (m.t === 'done') this.done(i, m);
        else if (m.t === 'ready') {
          ready = true;
          if (warmTimeoutMs <= 0) started();
          else
            timer = setTimeout(() => {
              this.logger.warn(
                { worker: i, after_ms: warmTimeoutMs },
                'auth worker still filling its caches: taking requests meanwhile',
              );
              started();
            }, warmTimeoutMs);
        } else if (m.t === 'warmed') {
          this.logger.info(
            { worker: i, members: m.members, ms: m.ms },
            'auth worker caches filled',
          );
          started();
        } else reject(new Error(`auth worker ${i}: ${m.message}`));
      });
      worker.on('error', (err) => {
        if (!ready) reject(err);
        else this.logger.error({ err, worker: i }, 'auth worker failed');
      });
      worker.on('exit', (code) => {
        if (timer) clearTimeout(timer);
        if (!ready) {
          reject(new Error(`auth worker ${i} exited with ${code} while starting`));
          return;
        }
        started();
        if (this.stopping) return;
        // Its requests are lost (the NASes retransmit them); a new worker takes its place.
        this.logger.error({ worker: i, code }, 'auth worker exited; starting another');
        const lost: AuthAnswer[] = [];
        for (const [seq, a] of this.waiting)
          if ((this.waitingWorker.get(seq) ?? 0) === i) {
            this.waiting.delete(seq);
            this.waitingWorker.delete(seq);
            lost.push(a);
          }
        for (const a of lost) a.answered(undefined);
        this.outstanding[i] = 0;
        this.spawn(i).catch((err: unknown) =>
          this.logger.error({ err, worker: i }, 'could not start an auth worker'),
        );
      });
    });
  }

  /** Hands an Access-Request from `nas` to a worker; `to` is told the answer. */
  process(msg: Buffer, nas: NasClient, src: string, started: number, to: AuthAnswer): void {
    // The least busy worker: a slow request (a cache miss) does not hold others back.
    let i = 0;
    for (let j = 1; j < this.workers.length; j++)
      if ((this.outstanding[j] as number) < (this.outstanding[i] as number)) i = j;
    const nasId = this.nasId(nas);
    const out = this.outgoing[i] as Outgoing;
    const seq = this.seq;
    this.seq = (this.seq + 1) >>> 0;
    let srcIndex = out.srcIndex.get(src);
    if (srcIndex === undefined) {
      srcIndex = out.srcs.length;
      out.srcs.push(src);
      out.srcIndex.set(src, srcIndex);
    }
    out.header.push(seq, nasId, srcIndex, performance.timeOrigin + started);
    out.packets.push(msg);
    out.bytes += BATCH_HEADER + msg.length;
    this.outstanding[i] = (this.outstanding[i] as number) + 1;
    this.waiting.set(seq, to);
    if (this.workers.length > 1) this.waitingWorker.set(seq, i);
    if (out.packets.length >= EAGER_BATCH) this.send(i);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
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
    for (let i = 0; i < this.workers.length; i++)
      if ((this.outgoing[i] as Outgoing).packets.length > 0) this.send(i);
  };

  /** Sends worker `i` the packets gathered for it, in one message and one transferred buffer. */
  private send(i: number): void {
    const out = this.outgoing[i] as Outgoing;
    this.outgoing[i] = new Outgoing();
    const data = new Uint8Array(out.bytes);
    const view = new DataView(data.buffer);
    let at = 0;
    for (let k = 0; k < out.packets.length; k++) {
      const p = out.packets[k] as Buffer;
      const h = k * 4;
      view.setUint32(at, out.header[h] as number, true);
      view.setUint32(at + 4, out.header[h + 1] as number, true);
      view.setUint32(at + 8, out.header[h + 2] as number, true);
      view.setUint32(at + 12, p.length, true);
      view.setFloat64(at + 16, out.header[h + 3] as number, true);
      data.set(p, at + BATCH_HEADER);
      at += BATCH_HEADER + p.length;
    }
    const m: ToWorker = { t: 'batch', counter: this.opts.changeCounter(), srcs: out.srcs, data };
    const spare = this.spares[i]?.pop();
    if (spare) {
      m.spare = spare;
      (this.workers[i] as Worker).postMessage(m, [data.buffer, spare]);
    } else (this.workers[i] as Worker).postMessage(m, [data.buffer]);
  }

  private done(i: number, m: Extract<FromWorker, { t: 'done' }>): void {
    if (m.counters) addCounters(this.counters, m.counters);
    if (m.log) this.writeLog(m.log);
    if (m.signs) for (const name of m.signs) this.signs(name);
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    let at = 0;
    while (at + DONE_HEADER <= data.length) {
      const seq = data.readUInt32LE(at);
      const len = data.readInt32LE(at + 4);
      at += DONE_HEADER;
      let response: Buffer | undefined;
      if (len >= 0) {
        response = data.subarray(at, at + len);
        at += len;
      }
      const w = this.waiting.get(seq);
      if (!w) continue;
      this.waiting.delete(seq);
      this.waitingWorker.delete(seq);
      this.outstanding[i] = (this.outstanding[i] as number) - 1;
      w.answered(response);
    }
    // Every reply has been copied out (AuthAnswer): the buffer can carry the worker's next ones.
    const spares = this.spares[i];
    const buffer = m.data.buffer;
    if (spares && spares.length < MAX_SPARES && buffer.byteLength >= SPARE_BYTES)
      spares.push(buffer as ArrayBuffer);
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
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    this.waitingWorker.clear();
    for (const w of waiting) w.answered(undefined);
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

function addCounters(c: ServerCounters, d: readonly number[]): void {
  c.accepts += d[0] ?? 0;
  c.rejects += d[1] ?? 0;
  c.errors += d[2] ?? 0;
  c.statusServer += d[3] ?? 0;
  DROP_FIELDS.forEach((k, j) => (c.dropped[k] += d[COUNTER_FIELDS.length + j] ?? 0));
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
