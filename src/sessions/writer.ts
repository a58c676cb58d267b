import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { PostgresAdapter } from 'kysely';
import type { Database } from '../store/schema.js';
import { isConnectionError } from '../store/store.js';
import type { AccountingEvent } from './event.js';
import { isNasReset } from './event.js';
import type { ApplyOptions } from './recorder.js';
import { applyBatch, applyEvent } from './recorder.js';
import { PgRecorder } from './pg-recorder.js';
import { SqliteRecorder } from './sqlite-recorder.js';

/**
 * What became of a record: committed; not stored because the database is away or too slow
 * (the spool may take it); or refused by the database itself (the record, not the database,
 * is the problem: spooling it would not help).
 */
export type WriteResult = 'committed' | 'unavailable' | 'refused';

export interface WriterOptions {
  /** Commit at least this often while records wait (ms). */
  maxDelayMs?: number;
  /** Commit as soon as this many records wait. */
  maxBatch?: number;
  /** Called when a batch could not be committed (the NAS will retransmit). */
  onError?: (err: unknown, batchSize: number) => void;
  /** Passed to the recorder (several instances on one PostgreSQL: serialize). */
  apply?: ApplyOptions;
  /**
   * The store's own SQLite connection (Store.sqlite): batches are then applied synchronously
   * with prepared statements (sqlite-recorder.ts) instead of through the query builder.
   */
  sqlite?: BetterSqlite3.Database;
  /** With `sqlite`: how many open sessions the recorder keeps between batches (0: none). */
  sqliteSessionCache?: number;
  /**
   * PostgreSQL: batches in one or two round trips (pg-recorder.ts; the default) rather than through
   * the query builder's transaction (false: for comparisons).
   */
  pgDirect?: boolean;
  now?: () => number;
}

/**
 * What the accounting pipeline needs from a writer: the group-commit writer on this thread
 * (AccountingWriter) or the same in a worker thread (writer-thread.ts).
 */
export interface RecordWriter {
  /** Resolves once the record is committed, or says why it is not. */
  write(ev: AccountingEvent): Promise<WriteResult>;
  /** How long the oldest record has been waiting, ms (0: none). */
  oldestWaitMs(): number;
  /** Takes back the records not answered yet (the spool takes them). */
  withdraw(): Waiting[];
  /** Resolves when what waits is committed (or failed). */
  flush(): Promise<void>;
  /** Records waiting. */
  readonly depth: number;
  /** Records committed since start. */
  readonly committed: number;
  /** Lets go of what the writer holds (a thread). */
  close(): Promise<void>;
}

/** A record waiting for its transaction. */
export interface Waiting {
  readonly ev: AccountingEvent;
  readonly since: number;
  resolve(result: WriteResult): void;
}

/**
 * Group commit: accounting records are applied in arrival order, many per transaction, and
 * each caller learns that its record is durable only when its transaction has committed.
 * A failed transaction reports false to every record in it: nothing is acknowledged that is
 * not stored, and the NAS's retransmission is applied again (idempotently).
 */
export class AccountingWriter implements RecordWriter {
  private queue: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private running: Promise<void> | undefined;
  /** The batches in a transaction now, by when their oldest record arrived. */
  private readonly inFlight = new Set<{ since: number }>();
  /** PostgreSQL: a batch is starting (the next one waits for that; see pgKick). */
  private pgStarting = false;
  /** Told when a batch ends (flush waits for the last one). */
  private settled: (() => void)[] = [];
  private readonly now: () => number;
  private readonly maxDelayMs: number;
  private readonly maxBatch: number;
  private readonly sqlite: SqliteRecorder | undefined;
  private readonly pg: PgRecorder | undefined;
  committed = 0;
  failed = 0;
  /** Transactions attempted (batches), for the bench's records per batch. */
  batches = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: WriterOptions = {},
  ) {
    // 0: commit at the end of this turn of the event loop. The group forms by itself: what
    // arrives while a transaction commits waits for the next one, so a busy server commits
    // large groups and an idle one answers at once (a fixed delay only added latency).
    this.maxDelayMs = opts.maxDelayMs ?? 0;
    this.maxBatch = opts.maxBatch ?? 256;
    this.now = opts.now ?? Date.now;
    this.sqlite = opts.sqlite
      ? new SqliteRecorder(opts.sqlite, opts.sqliteSessionCache)
      : undefined;
    this.pg =
      opts.pgDirect !== false && db.getExecutor().adapter instanceof PostgresAdapter
        ? new PgRecorder(db, opts.apply)
        : undefined;
  }

  /** Resolves true once the record is committed, false when it could not be. */
  submit(ev: AccountingEvent): Promise<boolean> {
    return this.write(ev).then((r) => r === 'committed');
  }

  /** Resolves once the record is committed, or says why it is not. */
  write(ev: AccountingEvent): Promise<WriteResult> {
    return new Promise((resolve) => {
      this.queue.push({ ev, resolve, since: this.now() });
      if (this.queue.length >= this.maxBatch) this.kick();
      else if (this.busy())
        return; // taken when a batch in progress ends (or, PostgreSQL, has started)
      else if (this.maxDelayMs === 0) this.immediate ??= setImmediate(() => this.kick());
      else this.timer ??= setTimeout(() => this.kick(), this.maxDelayMs);
    });
  }

  /** No batch can start now; one will when a batch in progress ends or has started. */
  private busy(): boolean {
    if (!this.pg) return this.running !== undefined;
    return this.pgStarting || this.inFlight.size >= PG_IN_FLIGHT;
  }

  get depth(): number {
    return this.queue.length;
  }

  /**
   * How long the oldest record has been waiting (in the queue or in the transaction in
   * progress), in ms; 0 when nothing waits. The spool's watchdog reads it.
   */
  oldestWaitMs(): number {
    let oldest = this.queue[0]?.since ?? Number.POSITIVE_INFINITY;
    for (const b of this.inFlight) oldest = Math.min(oldest, b.since);
    return oldest === Number.POSITIVE_INFINITY ? 0 : this.now() - oldest;
  }

  /**
   * Takes back the records not yet in a transaction (the database is too slow: the spool
   * takes them). The transaction in progress, if any, finishes on its own.
   */
  withdraw(): Waiting[] {
    return this.queue.splice(0);
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
    if (this.pg) {
      this.pgKick();
      return;
    }
    // One transaction at a time keeps records in arrival order.
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.run(this.queue.splice(0, this.maxBatch));
  }

  /**
   * PostgreSQL: up to two transactions at once, so that this thread prepares one batch while
   * the server works on the other. Records stay in arrival order per session: batches start in
   * arrival order, and one that shares a session with a batch in progress waits for that one's
   * end before it builds on the session (pg-recorder.ts). An Accounting-On/Off closes a NAS's
   * sessions without their locks: it runs alone.
   */
  private pgKick(): void {
    while (this.queue.length > 0 && this.inFlight.size < PG_IN_FLIGHT && !this.pgStarting) {
      let n = Math.min(this.queue.length, this.maxBatch);
      if (this.inFlight.size > 0) {
        const reset = this.queue.findIndex((w, i) => i < n && isNasReset(w.ev));
        if (reset === 0) return; // after the batch in flight
        if (reset > 0) n = reset;
      }
      // Told once: when the batch has started, or when it ends (the general path).
      let starting = true;
      const started = (): void => {
        if (!starting) return;
        starting = false;
        this.pgStarting = false;
        this.pgKick();
      };
      this.pgStarting = true;
      void this.run(this.queue.splice(0, n), started).finally(() => {
        started();
        this.pgKick(); // its place is free
      });
    }
  }

  /** One batch in one transaction (one record at a time if it fails). */
  private async run(batch: Waiting[], onStarted?: () => void): Promise<void> {
    this.batches++;
    let since = batch[0]?.since ?? this.now();
    for (const w of batch) since = Math.min(since, w.since);
    const entry = { since };
    this.inFlight.add(entry);
    try {
      const events = batch.map((w) => w.ev);
      // The synchronous path unless a query-builder transaction is open on the connection
      // (another service's, between two of its awaits): then wait for it like any query.
      if (this.sqlite && !this.sqlite.db.inTransaction) this.sqlite.applyBatch(events);
      else if (this.pg) await this.pg.applyBatch(events, onStarted);
      else
        await this.db.transaction().execute(async (trx) => {
          await applyBatch(trx, events, this.opts.apply);
        });
      this.settle(batch, 'committed');
    } catch (err) {
      if (batch.length === 1) {
        this.opts.onError?.(err, 1);
        this.settle(batch, isRefusal(err) ? 'refused' : 'unavailable');
      } else await this.oneByOne(batch, err);
    } finally {
      this.inFlight.delete(entry);
      const waiting = this.settled;
      this.settled = [];
      for (const tell of waiting) tell();
    }
  }

  private settle(batch: readonly Waiting[], result: WriteResult): void {
    if (result === 'committed') this.committed += batch.length;
    else this.failed += batch.length;
    for (const w of batch) w.resolve(result);
  }

  /**
   * The batch failed: again, each record in a savepoint. One record the database refuses must
   * not hold back the others (their NASes would retransmit them with it, and fail again,
   * forever); when the database itself is away, this fails at once like the batch did.
   */
  private async oneByOne(batch: readonly Waiting[], batchErr: unknown): Promise<void> {
    const ok: Waiting[] = [];
    const refused: Waiting[] = [];
    const sqlite = this.sqlite;
    if (sqlite && !sqlite.db.inTransaction) {
      try {
        // Each record in a savepoint of its own (a nested better-sqlite3 transaction).
        sqlite.db.transaction(() => {
          for (const w of batch) {
            try {
              sqlite.applyBatch([w.ev]);
              ok.push(w);
            } catch (err) {
              // The database's trouble, not the record's: none of the batch is stored.
              if (!isRefusal(err)) throw err;
              this.opts.onError?.(err, 1);
              refused.push(w);
            }
          }
        })();
      } catch {
        sqlite.forget(); // the records applied in savepoints were rolled back with the rest
        this.opts.onError?.(batchErr, batch.length);
        this.settle(batch, 'unavailable');
        return;
      }
      this.settle(ok, 'committed');
      this.settle(refused, 'refused');
      return;
    }
    try {
      const trx = await this.db.startTransaction().execute();
      try {
        for (const w of batch) {
          const sp = await trx.savepoint('record').execute();
          try {
            await applyEvent(sp, w.ev, this.opts.apply);
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
      this.settle(batch, 'unavailable');
      return;
    }
    this.settle(ok, 'committed');
    this.settle(refused, 'refused');
  }

  close(): Promise<void> {
    return this.flush();
  }

  /** Commits what waits (on shutdown). */
  async flush(): Promise<void> {
    this.kick();
    while (this.running) await this.running;
    while (this.inFlight.size > 0 || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.settled.push(resolve));
      if (this.inFlight.size === 0) this.kick();
    }
  }
}

/** PostgreSQL: transactions in flight at once (see AccountingWriter.pgKick). */
const PG_IN_FLIGHT = 2;

/**
 * A single record's failure: refused by the database when it answered with an error of its own
 * (a constraint, a bad value), as opposed to not answering (connection lost, timeout).
 */
function isRefusal(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (isConnectionError(err)) return false;
  const code = (err as { code?: unknown }).code;
  // SQLite: busy/locked/IO/full are the database's trouble, not the record's.
  if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/.test(code))
    return false;
  // PostgreSQL SQLSTATE classes 22 (data), 23 (integrity), P0 (raised by a trigger): the record.
  return typeof code === 'string' ? /^(22|23|P0)/.test(code) || code.startsWith('SQLITE_') : false;
}
