/**
 * The recorder on SQLite's own connection (better-sqlite3), synchronously and with prepared
 * statements: the same model (recorder.ts: transition, planSegment) as the query-builder path,
 * at less than half its cost (npm run bench:writer). Building and compiling a 64-row upsert
 * through the query builder cost more than SQLite's own work; a prepared statement run per row
 * does not, and an update that leaves a session's state as it was rewrites no index entry.
 * Values are bound by position and rows read as arrays: binding by name and building row
 * objects inside the driver showed above SQLite itself in `perf record`.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { AccountingEvent } from './event.js';
import { isNasReset } from './event.js';
import type { Applied } from './recorder.js';
import { planSegment } from './recorder.js';
import type { SessionState } from './session-rows.js';
import {
  ALL_SESSION_COLUMNS,
  OPEN_OR_LOST_SQL,
  UPDATED_COLUMNS,
  USAGE_COLUMNS,
  USAGE_ON_CONFLICT,
} from './session-rows.js';

/** The updated columns but `state` (indexed three times): for updates that keep the state. */
const SAME_STATE_COLUMNS = UPDATED_COLUMNS.filter((c) => c !== 'state');

type Column = (typeof ALL_SESSION_COLUMNS)[number];

/** A session's values in the order of `columns`, then `last` (the key of an update). */
function valuesOf(s: SessionState, columns: readonly Column[], last?: Column): unknown[] {
  const out = new Array<unknown>(columns.length + (last ? 1 : 0));
  for (let i = 0; i < columns.length; i++) out[i] = s[columns[i] as Column];
  if (last) out[columns.length] = s[last];
  return out;
}

type Row = unknown[];

/**
 * A row read with ALL_SESSION_COLUMNS, in that order, as one object literal (one shape for
 * every session; the property test in sqlite-recorder.test.ts catches an order gone wrong).
 */
function fromRow(r: Row): SessionState {
  return {
    unique_id: r[0] as string,
    nas: r[1] as string,
    acct_session_id: r[2] as string,
    username: r[3] as string,
    username_key: r[4] as string,
    state: r[5] as string,
    inferred: r[6] as number,
    started_at: r[7] as number,
    updated_at: r[8] as number,
    stopped_at: r[9] as number | null,
    last_event_at: r[10] as number,
    terminate_cause: r[11] as string | null,
    bytes_in: r[12] as number,
    bytes_out: r[13] as number,
    packets_in: r[14] as number,
    packets_out: r[15] as number,
    session_time: r[16] as number,
    interim_interval: r[17] as number | null,
    nas_identifier: r[18] as string | null,
    nas_ip: r[19] as string | null,
    nas_port_id: r[20] as string | null,
    called_station_id: r[21] as string | null,
    calling_station_id: r[22] as string | null,
    circuit_id: r[23] as string | null,
    framed_ip: r[24] as string | null,
    framed_ipv6_prefix: r[25] as string | null,
    delegated_prefix: r[26] as string | null,
  };
}

/** Sessions kept between batches, at most, by default (a miss costs one select). */
const CACHE_MAX = 65_536;

/**
 * Applies accounting batches on a SQLite connection. It keeps the open sessions it wrote (so
 * that the next record of a session needs no select), and trusts them only while nobody else
 * changed the database: PRAGMA data_version moves when another connection commits, and
 * total_changes() when this connection changed rows outside of these batches (the reaper, on
 * a writer sharing the server's connection); either empties the cache.
 */
export class SqliteRecorder {
  private readonly cache = new Map<string, SessionState>();
  /** data_version and total_changes() after this recorder's last commit. */
  private seenVersion = -1;
  private seenChanges = -1;
  private endVersion = -1;
  private endChanges = -1;
  private readonly dataVersion: BetterSqlite3.Statement<[], number>;
  private readonly totalChanges: BetterSqlite3.Statement<[], number>;
  private readonly select: BetterSqlite3.Statement<[string], Row>;
  private readonly insert: BetterSqlite3.Statement<unknown[]>;
  private readonly update: BetterSqlite3.Statement<unknown[]>;
  private readonly updateSameState: BetterSqlite3.Statement<unknown[]>;
  private readonly addUsage: BetterSqlite3.Statement<unknown[]>;
  private readonly closeNas: BetterSqlite3.Statement<[{ nas: string; at: number }]>;
  private readonly batch: (events: readonly AccountingEvent[]) => Applied[];

  constructor(
    readonly db: BetterSqlite3.Database,
    private readonly cacheMax = CACHE_MAX,
  ) {
    const set = (list: readonly string[]): string => list.map((c) => `${c} = ?`).join(', ');
    this.select = db
      .prepare<[string], Row>(
        `select ${ALL_SESSION_COLUMNS.join(', ')} from sessions where unique_id = ?`,
      )
      .raw(true);
    this.insert = db.prepare(
      `insert into sessions (${ALL_SESSION_COLUMNS.join(', ')})
       values (${ALL_SESSION_COLUMNS.map(() => '?').join(', ')})`,
    );
    this.update = db.prepare(`update sessions set ${set(UPDATED_COLUMNS)} where unique_id = ?`);
    this.updateSameState = db.prepare(
      `update sessions set ${set(SAME_STATE_COLUMNS)} where unique_id = ?`,
    );
    this.addUsage = db.prepare(
      `insert into usage_daily (${USAGE_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?) ${USAGE_ON_CONFLICT}`,
    );
    this.closeNas = db.prepare(
      `update sessions set state = 'stopped', stopped_at = @at, terminate_cause = 'NAS-Reboot'
       where nas = @nas and ${OPEN_OR_LOST_SQL} and started_at <= @at`,
    );
    this.dataVersion = db.prepare<[], number>('pragma data_version').pluck();
    this.totalChanges = db.prepare<[], number>('select total_changes()').pluck();
    // BEGIN IMMEDIATE: the write lock from the start, so that no other connection commits
    // between the cache's check and this batch's reads.
    const tx = db.transaction((events: readonly AccountingEvent[]) => {
      if (
        this.dataVersion.get() !== this.seenVersion ||
        this.totalChanges.get() !== this.seenChanges
      )
        this.forget();
      const applied = this.applyAll(events);
      // Read inside the transaction: a commit by another connection after this one's moves
      // data_version past what is kept here (this connection's own commits never move it).
      this.endVersion = this.dataVersion.get() ?? -1;
      this.endChanges = this.totalChanges.get() ?? -1;
      return applied;
    });
    this.batch = (events) => tx.immediate(events);
  }

  /**
   * Applies many records in arrival order in one transaction (a savepoint when one is open
   * already); throws, and leaves nothing of them, when any fails.
   */
  applyBatch(events: readonly AccountingEvent[]): Applied[] {
    const pending = new Map<string, SessionState>();
    this.pending = pending;
    try {
      const applied = this.batch(events);
      // Committed (or, nested, part of a transaction that may still roll back: whoever runs
      // that one calls forget() when it fails).
      for (const [id, s] of pending) {
        this.cache.delete(id);
        // Only open sessions: a stopped one rarely hears from its NAS again.
        if (s.state === 'open' && this.cache.size < this.cacheMax) this.cache.set(id, s);
      }
      this.seenVersion = this.endVersion;
      this.seenChanges = this.endChanges;
      return applied;
    } catch (e) {
      this.forget();
      throw e;
    } finally {
      this.pending = undefined;
    }
  }

  /** Drops what the recorder remembers (a transaction around its batch rolled back). */
  forget(): void {
    this.cache.clear();
    this.seenVersion = -1;
    this.seenChanges = -1;
  }

  /** The sessions written by the batch in progress. */
  private pending: Map<string, SessionState> | undefined;

  private applyAll(events: readonly AccountingEvent[]): Applied[] {
    const out: Applied[] = [];
    let from = 0;
    for (let i = 0; i <= events.length; i++) {
      const ev = events[i];
      if (ev && !isNasReset(ev)) continue;
      if (i > from) out.push(...this.applySegment(events.slice(from, i)));
      if (ev) {
        this.closeNas.run({ nas: ev.nas, at: ev.at });
        // Sessions it closed may be in the cache (or written earlier in this batch).
        this.cache.clear();
        this.pending?.clear();
        out.push('nas-reset');
      }
      from = i + 1;
    }
    return out;
  }

  private applySegment(events: readonly AccountingEvent[]): Applied[] {
    const stored = new Map<string, SessionState>();
    for (const ev of events) {
      if (stored.has(ev.uniqueId)) continue;
      const known = this.pending?.get(ev.uniqueId) ?? this.cache.get(ev.uniqueId);
      if (known) stored.set(ev.uniqueId, known);
      else {
        const row = this.select.get(ev.uniqueId);
        if (row) stored.set(ev.uniqueId, fromRow(row));
      }
    }
    const plan = planSegment(stored, events);
    for (const s of plan.sessions) {
      const before = stored.get(s.unique_id);
      if (!before) this.insert.run(valuesOf(s, ALL_SESSION_COLUMNS));
      else if (before.state === s.state)
        this.updateSameState.run(valuesOf(s, SAME_STATE_COLUMNS, 'unique_id'));
      else this.update.run(valuesOf(s, UPDATED_COLUMNS, 'unique_id'));
      this.pending?.set(s.unique_id, s);
    }
    for (const u of plan.usage)
      this.addUsage.run([u.key, u.day, u.username, u.bytesIn, u.bytesOut, u.seconds, u.sessions]);
    return plan.applied;
  }
}
