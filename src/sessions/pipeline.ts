import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../store/schema.js';
import { isConnectionError } from '../store/store.js';
import type { AccountingEvent } from './event.js';
import type { ApplyOptions } from './recorder.js';
import { applyBatch, applyEvent } from './recorder.js';
import type { AccountingSpool, Segment, SpoolStats, SpooledRecord } from './spool.js';
import { replayProgress } from './spool-status.js';
import type { RecordWriter } from './writer.js';

export interface PipelineOptions {
  /**
   * A record not committed within this many ms goes to the spool (the database is too slow),
   * and so does every record after it until the spool is replayed.
   */
  spoolAfterMs: number;
  /** Records per replay transaction. */
  replayBatch?: number;
  apply?: ApplyOptions;
  /** How long to wait before trying the database again when a replay fails, at most. */
  maxRetryMs?: number;
  log?: {
    spooling(reason: string): void;
    replayed(records: number, ms: number): void;
    rejected(rec: SpooledRecord, reason: string): void;
    replayFailed(err: unknown, retryInMs: number): void;
  };
  now?: () => number;
}

export interface PipelineStats extends SpoolStats {
  mode: 'direct' | 'spooling';
  /** Records acknowledged from the spool (this run). */
  spooled: number;
  /** Records replayed from the spool into the database (this run). */
  replayedRecords: number;
}

/**
 * Where the RADIUS server's accounting goes: straight to the database (group commit) while it
 * answers in time; to the spool while it does not — and then every record after, until the
 * spool has been replayed, so records are applied in the order they came. Either way the NAS
 * gets its Accounting-Response only once the record is durable somewhere.
 *
 * Replay applies a batch of spooled records and the segment's new offset in one transaction:
 * killed at any point, the next run starts after the last batch committed. A record whose
 * commit was uncertain (the connection died during COMMIT) may be both in the database and in
 * the spool; applying it again changes nothing (the recorder counts cumulative counters once).
 */
export class AccountingPipeline {
  mode: 'direct' | 'spooling' = 'direct';
  spooled = 0;
  replayedRecords = 0;
  private replaying: Promise<void> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private retryMs = 0;
  private readonly now: () => number;
  /** Replay offsets read from the database, per segment id. */
  private readonly offsets = new Map<string, { offset: number; records: number }>();

  constructor(
    private readonly writer: RecordWriter,
    private readonly spool: AccountingSpool,
    private readonly db: Kysely<Database>,
    private readonly opts: PipelineOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Replays what an earlier run left, and starts watching the writer's delay. */
  start(): void {
    if (this.spool.list().length > 0) this.enterSpooling('records left in the spool');
    this.watchdog = setInterval(
      () => {
        if (this.mode === 'direct' && this.writer.oldestWaitMs() > this.opts.spoolAfterMs) {
          this.enterSpooling(`the database took over ${this.opts.spoolAfterMs} ms to commit`);
          // Those still queued go to the spool now (in the order they came); the
          // transaction in progress finishes on its own.
          for (const w of this.writer.withdraw()) w.resolve('unavailable');
        }
      },
      Math.max(10, Math.min(250, this.opts.spoolAfterMs / 4)),
    );
    this.watchdog.unref();
  }

  /** The AccountingSink: resolves true once the record is durable (database or spool). */
  submit(ev: AccountingEvent): Promise<boolean> {
    if (this.mode === 'spooling') return this.toSpool(ev);
    return this.writer.write(ev).then((r) => {
      if (r === 'committed') return true;
      if (r === 'refused') return this.setAside(ev);
      this.enterSpooling('the database is unavailable');
      return this.toSpool(ev);
    });
  }

  stats(): PipelineStats {
    return {
      ...this.spool.stats(),
      mode: this.mode,
      spooled: this.spooled,
      replayedRecords: this.replayedRecords,
    };
  }

  /** Stops replaying (what is left stays on disk for the next run) and closes the spool. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.wake?.();
    await this.replaying;
    await this.writer.flush();
    await this.spool.close();
  }

  /** Resolves when the spool is empty and records go straight to the database again. */
  async drained(timeoutMs: number): Promise<boolean> {
    const until = this.now() + timeoutMs;
    while (this.mode !== 'direct' && this.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.mode === 'direct';
  }

  /**
   * The database refuses this record (and would refuse its retransmissions forever): keep it
   * in rejected.jsonl for an operator, and acknowledge it so that the NAS moves on.
   */
  private setAside(ev: AccountingEvent): Promise<boolean> {
    const rec = { t: this.now(), ev };
    return this.spool.reject(rec, 'refused by the database (see the log)').then(
      () => {
        this.opts.log?.rejected(rec, 'refused by the database');
        return true;
      },
      () => false,
    );
  }

  private toSpool(ev: AccountingEvent): Promise<boolean> {
    return this.spool.append(ev, this.now()).then(
      () => {
        this.spooled++;
        this.kickReplay();
        return true;
      },
      () => false, // could not write to disk either: no answer, the NAS retransmits
    );
  }

  private enterSpooling(reason: string): void {
    if (this.mode !== 'spooling') {
      this.mode = 'spooling';
      this.opts.log?.spooling(reason);
    }
    this.kickReplay();
  }

  private kickReplay(): void {
    if (this.stopped) return;
    if (this.replaying) {
      this.wake?.();
      return;
    }
    this.replaying = this.replayLoop().finally(() => {
      this.replaying = undefined;
    });
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private async replayLoop(): Promise<void> {
    const batchSize = this.opts.replayBatch ?? 500;
    const started = this.now();
    let applied = 0;
    while (!this.stopped) {
      const seg = this.spool.list()[0];
      if (!seg) {
        if (!this.spool.appending) {
          this.mode = 'direct';
          break;
        }
        await this.spool.settled();
        continue;
      }
      try {
        const done = await this.offset(seg);
        const { records, ends } = await this.spool.read(seg, done.offset, batchSize);
        if (records.length === 0) {
          if (seg.active) {
            // Caught up with the segment being written: switch back when nothing is in flight.
            if (!this.spool.appending) {
              await this.spool.remove(seg);
              this.offsets.delete(seg.id);
              await this.forget(seg);
              if (this.spool.list().length === 0 && !this.spool.appending) {
                this.mode = 'direct';
                break;
              }
            } else await this.spool.settled();
          } else {
            await this.spool.remove(seg);
            this.offsets.delete(seg.id);
            await this.forget(seg);
          }
          continue;
        }
        const next = {
          offset: ends[ends.length - 1] as number,
          records: done.records + records.length,
        };
        await this.applyReplay(seg, records, next);
        this.offsets.set(seg.id, next);
        this.spool.markReplayed(seg, next.records, undefined);
        this.replayedRecords += records.length;
        applied += records.length;
        this.retryMs = 0;
      } catch (err) {
        this.retryMs = Math.min(
          this.opts.maxRetryMs ?? 5000,
          this.retryMs === 0 ? 250 : this.retryMs * 2,
        );
        this.opts.log?.replayFailed(err, this.retryMs);
        await this.sleep(this.retryMs * (0.8 + Math.random() * 0.4));
      }
    }
    if (applied > 0) this.opts.log?.replayed(applied, this.now() - started);
  }

  /** Where replay stands in a segment: from the database the first time, then from memory. */
  private async offset(seg: Segment): Promise<{ offset: number; records: number }> {
    const known = this.offsets.get(seg.id);
    if (known) return known;
    const at = (await replayProgress(this.db, [seg.id])).get(seg.id) ?? { offset: 0, records: 0 };
    this.offsets.set(seg.id, at);
    this.spool.markReplayed(seg, at.records, undefined);
    return at;
  }

  /** One transaction: the records, and how far the segment is replayed. */
  private async applyReplay(
    seg: Segment,
    records: readonly SpooledRecord[],
    next: { offset: number; records: number },
  ): Promise<void> {
    const saveProgress = async (trx: Kysely<Database>): Promise<void> => {
      await trx
        .insertInto('accounting_spool_progress')
        .values({
          spool_id: seg.id,
          byte_offset: next.offset,
          records: next.records,
          updated_at: this.now(),
        })
        .onConflict((oc) =>
          oc.column('spool_id').doUpdateSet({
            byte_offset: next.offset,
            records: next.records,
            updated_at: this.now(),
          }),
        )
        .execute();
    };
    try {
      await this.db.transaction().execute(async (trx) => {
        await applyBatch(
          trx,
          records.map((r) => r.ev),
          this.opts.apply,
        );
        await saveProgress(trx);
      });
      return;
    } catch (err) {
      if (isConnectionError(err)) throw err;
    }
    // The database refused something in the batch: each record in a savepoint; those it
    // refuses are set aside (rejected.jsonl), never replayed again, and the rest committed.
    const refused: { rec: SpooledRecord; reason: string }[] = [];
    const trx = await this.db.startTransaction().execute();
    try {
      for (const rec of records) {
        const sp = await trx.savepoint('record').execute();
        try {
          await applyEvent(sp, rec.ev, this.opts.apply);
          await sp.releaseSavepoint('record').execute();
        } catch (e) {
          if (isConnectionError(e)) throw e;
          await sp.rollbackToSavepoint('record').execute();
          refused.push({ rec, reason: (e as Error).message });
        }
      }
      // Set aside before the offset moves past them (a crash between the two may keep one
      // twice in rejected.jsonl, never lose it).
      for (const r of refused) await this.spool.reject(r.rec, r.reason);
      await saveProgress(trx);
      await trx.commit().execute();
    } catch (e) {
      await trx
        .rollback()
        .execute()
        .catch(() => undefined);
      throw e;
    }
    for (const r of refused) this.opts.log?.rejected(r.rec, r.reason);
  }

  /** The segment is gone from disk: its progress row is no longer needed. */
  private async forget(seg: Segment): Promise<void> {
    await sql`delete from accounting_spool_progress where spool_id = ${seg.id}`
      .execute(this.db)
      .catch(() => undefined);
  }
}
