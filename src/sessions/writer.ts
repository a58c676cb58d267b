import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AccountingEvent } from './event.js';
import { applyBatch, applyEvent } from './recorder.js';

export interface WriterOptions {
  /** Commit at least this often while records wait (ms). */
  maxDelayMs?: number;
  /** Commit as soon as this many records wait. */
  maxBatch?: number;
  /** Called when a batch could not be committed (the NAS will retransmit). */
  onError?: (err: unknown, batchSize: number) => void;
}

interface Waiting {
  ev: AccountingEvent;
  resolve: (durable: boolean) => void;
}

/**
 * Group commit: accounting records are applied in arrival order, many per transaction, and
 * each caller learns that its record is durable only when its transaction has committed.
 * A failed transaction reports false to every record in it: nothing is acknowledged that is
 * not stored, and the NAS's retransmission is applied again (idempotently).
 */
export class AccountingWriter {
  private queue: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private running: Promise<void> | undefined;
  private readonly maxDelayMs: number;
  private readonly maxBatch: number;
  committed = 0;
  failed = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: WriterOptions = {},
  ) {
    // 0: commit at the end of this turn of the event loop. The group forms by itself: what
    // arrives while a transaction commits waits for the next one, so a busy server commits
    // large groups and an idle one answers at once (a fixed delay only added latency).
    this.maxDelayMs = opts.maxDelayMs ?? 0;
    this.maxBatch = opts.maxBatch ?? 256;
  }

  /** Resolves true once the record is committed, false when it could not be. */
  submit(ev: AccountingEvent): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ ev, resolve });
      if (this.queue.length >= this.maxBatch) this.kick();
      else if (this.running)
        return; // the drain loop takes it after the batch in progress
      else if (this.maxDelayMs === 0) this.immediate ??= setImmediate(() => this.kick());
      else this.timer ??= setTimeout(() => this.kick(), this.maxDelayMs);
    });
  }

  get depth(): number {
    return this.queue.length;
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    // One transaction at a time keeps records in arrival order.
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        await this.db.transaction().execute(async (trx) => {
          await applyBatch(
            trx,
            batch.map((w) => w.ev),
          );
        });
        this.settle(batch, true);
      } catch (err) {
        if (batch.length === 1) {
          this.opts.onError?.(err, 1);
          this.settle(batch, false);
        } else await this.oneByOne(batch, err);
      }
    }
  }

  private settle(batch: readonly Waiting[], durable: boolean): void {
    if (durable) this.committed += batch.length;
    else this.failed += batch.length;
    for (const w of batch) w.resolve(durable);
  }

  /**
   * The batch failed: again, each record in a savepoint. One record the database refuses must
   * not hold back the others (their NASes would retransmit them with it, and fail again,
   * forever); when the database itself is away, this fails at once like the batch did.
   */
  private async oneByOne(batch: readonly Waiting[], batchErr: unknown): Promise<void> {
    const ok: Waiting[] = [];
    const refused: Waiting[] = [];
    try {
      const trx = await this.db.startTransaction().execute();
      try {
        for (const w of batch) {
          const sp = await trx.savepoint('record').execute();
          try {
            await applyEvent(sp, w.ev);
            await sp.releaseSavepoint('record').execute();
            ok.push(w);
          } catch (err) {
            await sp.rollbackToSavepoint('record').execute();
            this.opts.onError?.(err, 1);
            refused.push(w);
          }
        }
        await trx.commit().execute();
      } catch (err) {
        await trx
          .rollback()
          .execute()
          .catch(() => undefined);
        throw err;
      }
    } catch {
      this.opts.onError?.(batchErr, batch.length);
      this.settle(batch, false);
      return;
    }
    this.settle(ok, true);
    this.settle(refused, false);
  }

  /** Commits what waits (on shutdown). */
  async flush(): Promise<void> {
    this.kick();
    while (this.running) await this.running;
  }
}
