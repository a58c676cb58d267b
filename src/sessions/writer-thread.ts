/**
 * The accounting writer in a worker thread. better-sqlite3 commits synchronously: on the main
 * thread, every commit (its fsync included) stops the RADIUS sockets. Here the main thread only
 * posts records and receives their results, a batch per event-loop turn each way, while the
 * worker runs the same AccountingWriter (group commit, recorder) on its own connection.
 *
 * If the worker dies, every record it had is answered `unavailable` (the pipeline spools it; one
 * it had committed is applied again, which changes nothing), and so is every later one.
 */
import { Worker } from 'node:worker_threads';
import type { AccountingEvent, EventSlot } from './event.js';
import { packEvent } from './event.js';
import type { RecordWriter, Waiting, WriteResult } from './writer.js';

/** Main thread → writer thread. */
export type ToWriter =
  | {
      t: 'write';
      /** The records' numbers, and their events packed in the same order (event.ts). */
      ids: number[];
      slots: EventSlot[];
    }
  | { t: 'flush'; seq: number }
  | { t: 'stop' };

/** Writer thread → main thread. */
export type FromWriter =
  | { t: 'ready' }
  | { t: 'failed'; message: string }
  /** The records' numbers and their results, in the same order. */
  | { t: 'done'; ids: number[]; results: WriteResult[] }
  | { t: 'error'; message: string; records: number }
  | { t: 'flushed'; seq: number }
  | { t: 'stopped' };

export interface WriterThreadOptions {
  script: URL | string;
  eval?: boolean;
  workerData: unknown;
  /** A batch failed in the worker (for the log). */
  onError?: (message: string, records: number) => void;
  /** The worker died. */
  onExit?: (why: string) => void;
}

export class WriterThread implements RecordWriter {
  private readonly pending = new Map<number, Waiting>();
  private nextId = 1;
  private outIds: number[] = [];
  private outSlots: EventSlot[] = [];
  private scheduled = false;
  private dead = false;
  private flushSeq = 0;
  private readonly flushes = new Map<number, () => void>();
  private stopped: (() => void) | undefined;
  committed = 0;
  failed = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly opts: WriterThreadOptions,
  ) {
    worker.on('message', (m: FromWriter) => this.receive(m));
    worker.on('error', (e) => this.die(e.message));
    worker.on('exit', (code) => this.die(`exited with code ${code}`));
  }

  /** Starts the thread; resolves once it has opened its store. */
  static async start(opts: WriterThreadOptions): Promise<WriterThread> {
    const worker = new Worker(opts.script, {
      eval: opts.eval ?? false,
      workerData: opts.workerData,
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromWriter): void => {
        if (m.t === 'ready') done(undefined);
        else if (m.t === 'failed') done(new Error(`accounting writer thread: ${m.message}`));
      };
      const onError = (e: Error): void => done(e);
      const onExit = (code: number): void =>
        done(new Error(`accounting writer thread exited with code ${code}`));
      function done(e: Error | undefined): void {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (e) {
          void worker.terminate();
          reject(e);
        } else resolve();
      }
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    return new WriterThread(worker, opts);
  }

  write(ev: AccountingEvent): Promise<WriteResult> {
    if (this.dead) return Promise.resolve('unavailable');
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.pending.set(id, { ev, since: Date.now(), resolve });
      this.outIds.push(id);
      packEvent(this.outSlots, ev);
      if (this.outIds.length >= 256) this.send();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.send());
      }
    });
  }

  get depth(): number {
    return this.pending.size;
  }

  oldestWaitMs(): number {
    const first = this.pending.values().next();
    return first.done ? 0 : Date.now() - first.value.since;
  }

  /** The records not answered yet; the worker may still commit them (harmless, see above). */
  withdraw(): Waiting[] {
    const all = [...this.pending.values()];
    this.pending.clear();
    return all;
  }

  async flush(): Promise<void> {
    if (this.dead) return;
    this.send();
    const seq = ++this.flushSeq;
    await new Promise<void>((resolve) => {
      this.flushes.set(seq, resolve);
      this.post({ t: 'flush', seq });
    });
  }

  async close(): Promise<void> {
    if (!this.dead) {
      this.send();
      await Promise.race([
        new Promise<void>((resolve) => {
          this.stopped = resolve;
          this.post({ t: 'stop' });
        }),
        new Promise((r) => setTimeout(r, 10_000).unref()),
      ]);
    }
    this.dead = true;
    await this.worker.terminate();
  }

  private post(m: ToWriter): void {
    this.worker.postMessage(m);
  }

  private send(): void {
    this.scheduled = false;
    if (this.outIds.length === 0 || this.dead) return;
    const ids = this.outIds;
    const slots = this.outSlots;
    this.outIds = [];
    this.outSlots = [];
    this.post({ t: 'write', ids, slots });
  }

  private receive(m: FromWriter): void {
    switch (m.t) {
      case 'done':
        for (let k = 0; k < m.ids.length; k++) {
          const id = m.ids[k] as number;
          const r = m.results[k] as WriteResult;
          const w = this.pending.get(id);
          if (!w) continue; // withdrawn meanwhile
          this.pending.delete(id);
          if (r === 'committed') this.committed++;
          else this.failed++;
          w.resolve(r);
        }
        return;
      case 'error':
        this.opts.onError?.(m.message, m.records);
        return;
      case 'flushed':
        this.flushes.get(m.seq)?.();
        this.flushes.delete(m.seq);
        return;
      case 'stopped':
        this.stopped?.();
        return;
      default:
        return;
    }
  }

  private die(why: string): void {
    if (this.dead) return;
    this.dead = true;
    if (!this.stopped) this.opts.onExit?.(why);
    for (const w of this.withdraw()) w.resolve('unavailable');
    for (const f of this.flushes.values()) f();
    this.flushes.clear();
    this.stopped?.();
  }
}
