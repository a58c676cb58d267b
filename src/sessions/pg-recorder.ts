/**
 * The recorder's batches on PostgreSQL in one round trip, or two, instead of six. One: `begin`,
 * the sessions' locks, both upserts and `commit` in one simple query, for sessions this
 * recorder remembers as it wrote them; the upserts check, in the same statement, that each row
 * is still at the version it wrote (xmin), and write nothing if one is not. Two (a session it
 * does not know, or one changed by someone else): `begin`, the locks and the read of the
 * sessions, then the write and `commit`. The read is a statement of its own after the locks:
 * in READ COMMITTED each statement of a simple query takes its own snapshot, which then
 * includes what another instance committed before releasing them. The same model
 * (recorder.ts: planSegment) as the query-builder path, the statements prepared once per
 * connection; the values go as array literals in the text (the simple protocol takes several
 * statements but no parameters), which also skips node-postgres's generic array serialization.
 */
import type { Kysely } from 'kysely';
import { CompiledQuery, sql } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AccountingEvent } from './event.js';
import { isNasReset } from './event.js';
import type { Applied, ApplyOptions, SegmentPlan } from './recorder.js';
import { applyBatch, planSegment } from './recorder.js';
import type { SessionState } from './session-rows.js';
import {
  ALL_SESSION_COLUMNS,
  PG_SQL,
  PG_TYPE,
  USAGE_PG_TYPES,
  sessionArrays,
  usageArrays,
} from './session-rows.js';

/**
 * A string constant for the text of a query: dollar-quoted with a tag that the text does not
 * close early (independent of standard_conforming_strings; nothing in it is an escape).
 */
export function sqlString(s: string): string {
  let tag = '$i$';
  for (let n = 0; (s + tag).indexOf(tag) !== s.length; n++) tag = `$i${n}$`;
  return tag + s + tag;
}

const NEEDS_ESCAPE = /["\\]/;

/** A PostgreSQL array literal of text values (each double-quoted; NULL for null). */
export function textArray(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else out += `"${NEEDS_ESCAPE.test(v) ? v.replace(/["\\]/g, '\\$&') : v}"`;
  }
  return `${out}}`;
}

/** A PostgreSQL array literal of integers (as node-postgres would write each: String(n)). */
function numberArray(values: readonly (number | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    out += v === null || v === undefined ? 'NULL' : String(v);
  }
  return `${out}}`;
}

/** One column's values as a literal of a PostgreSQL array (its type is the statement's). */
function arrayLiteral(type: string, values: readonly (string | number | null)[]): string {
  return sqlString(
    type === 'text'
      ? textArray(values as readonly (string | null)[])
      : numberArray(values as readonly (number | null)[]),
  );
}

/**
 * The statements of a batch, prepared once per server connection (SQL PREPARE, usable in a
 * simple query of several statements) and run with EXECUTE: the server parses and plans the
 * long upserts once, not for every batch. The text is session-rows.ts's. A batch that finds
 * them missing (a new connection, or PgBouncer in transaction mode handing it another server
 * connection; the locks, executed first, tell) rolls back and prepares them again inside its
 * next transaction, which stays on one server connection even through PgBouncer. Not the read
 * of the sessions: prepared, PostgreSQL settles on a generic plan while the table is small, a
 * sequential scan, and keeps it as the table grows (measured: the bench's throughput fell by
 * half from one round to the next).
 */
const SESSION_TYPES = ALL_SESSION_COLUMNS.map((c) => PG_TYPE[c]);
/** writeIfUnchanged's arrays: the keys, their xmins, the sessions' columns, the usage's. */
const WRITE_TYPES = ['text', 'text', ...SESSION_TYPES, ...USAGE_PG_TYPES];
/** writeIfUnchanged with `param(i)` for the i-th array of WRITE_TYPES. */
function writeStatement(param: (i: number) => string): string {
  const p = WRITE_TYPES.map((_, i) => param(i));
  const n = 2 + SESSION_TYPES.length;
  return PG_SQL.writeIfUnchanged(p[0] as string, p[1] as string, p.slice(2, n), p.slice(n));
}
const STATEMENTS: readonly (readonly [name: string, types: readonly string[], text: string])[] = [
  ['ispkit_acct_lock', ['text'], PG_SQL.lock('$1')],
  ['ispkit_acct_write', WRITE_TYPES, writeStatement((i) => `$${i + 1}`)],
];

/**
 * The statements, for a store's new connections too (StoreOptions.pgSessionSetup): a batch then
 * finds them there, and PostgreSQL logs no "does not exist" error for the first batch on each.
 */
export const PREPARE_STATEMENTS = STATEMENTS.map(
  ([name, types, text]) => `prepare ${name} (${types.map((t) => `${t}[]`).join(', ')}) as ${text}`,
).join(';\n');

/**
 * What PostgreSQL says when a statement is not prepared on this connection (a change to the
 * tables does not make them stale: they return no rows, and the server plans them again).
 */
const NOT_PREPARED = '26000';

/**
 * For the rest of the transaction: no sequential scans where an index can do (the lookups by
 * unique_id). PostgreSQL plans a prepared statement once for all executions after the first
 * five (a generic plan) and keeps that plan until the table's statistics change; planned while
 * the sessions table was small (a fresh install, the bench's new schema), the write's check
 * became a hash join over a sequential scan of the whole table, and stayed one as the table
 * grew (measured: the bench's PostgreSQL accounting fell to half, at twice the CPU per record,
 * with autovacuum off). Set in every transaction, the setting is in force whenever a plan is
 * made; it ends with the transaction (PgBouncer-safe).
 */
const NO_SEQUENTIAL_SCANS = 'set local enable_seqscan = off';

/**
 * What this recorder remembers of a session it wrote, and the row's version then. Kept for
 * open sessions only, at most CACHE_MAX of them (the one written the longest ago goes first).
 */
interface Known {
  state: SessionState;
  xmin: string;
}
const CACHE_MAX = 65_536;

/**
 * `begin`, and the statements that prepare this file's statements on the server connection
 * the transaction is on (dropping those already there first: PREPARE refuses a name in use).
 */
async function beginAndPrepare(conn: Kysely<Database>): Promise<string> {
  const there = await sql
    .raw<{
      name: string;
    }>(
      `begin; select name from pg_prepared_statements where name = any(${arrayLiteral(
        'text',
        STATEMENTS.map(([name]) => name),
      )}::text[])`,
    )
    .execute(conn);
  return [...there.rows.map((r) => `deallocate ${r.name}`), PREPARE_STATEMENTS].join(';\n');
}

/**
 * Applies batches of accounting records on PostgreSQL, each in a transaction of its own on one
 * pooled connection. Errors surface as the query builder's do (a lost connection is a
 * connection error; a refused value keeps its SQLSTATE), after a rollback.
 *
 * A batch whose sessions this recorder knows (it wrote them last, or they are new: a Start it
 * has not seen) takes one round trip: `begin`, the locks, the write and `commit`, the write
 * checking in the same statement that no one changed those rows since (their xmin); if someone
 * did, it wrote nothing and the batch runs again in two round trips, reading the sessions after
 * taking their locks. Batches may run two at a time: one sharing a session with a batch still
 * in progress waits for that one's end before it builds on the session.
 */
export class PgRecorder {
  private readonly known = new Map<string, Known>();
  /** The batch in progress that holds each session (its end is the promise). */
  private readonly busy = new Map<string, Promise<void>>();
  /** Round trips to the server for batches (tests, the bench): one per batch at best. */
  roundTrips = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: ApplyOptions = {},
    private readonly cacheMax = CACHE_MAX,
  ) {}

  /**
   * `onStarted` is told once a later batch may start (one sharing a session with this one
   * then waits for this one's end); not for an Accounting-On/Off or a NUL (the general path:
   * the caller learns when it ends).
   */
  async applyBatch(events: readonly AccountingEvent[], onStarted?: () => void): Promise<Applied[]> {
    const ids = [...new Set(events.map((e) => e.uniqueId))];
    const earlier = new Set<Promise<void>>();
    for (const id of ids) {
      const p = this.busy.get(id);
      if (p) earlier.add(p);
    }
    let end = (): void => undefined;
    const mine = new Promise<void>((resolve) => {
      end = resolve;
    });
    for (const id of ids) this.busy.set(id, mine);
    try {
      const keys = arrayLiteral('text', ids);
      // Accounting-On/Off splits a batch (rare), and a NUL cannot be in the text of a query (the
      // query builder's parameters have PostgreSQL refuse the value instead): the general path.
      const reset = events.some(isNasReset);
      if (ids.length === 0 || keys.includes('\u0000') || reset) {
        await Promise.all(earlier);
        try {
          return await this.db.transaction().execute((trx) => applyBatch(trx, events, this.opts));
        } finally {
          if (reset) this.known.clear();
          else for (const id of ids) this.known.delete(id);
        }
      }
      onStarted?.();
      await Promise.all(earlier);
      try {
        return await this.direct(events, ids, keys);
      } catch (err) {
        for (const id of ids) this.known.delete(id);
        throw err;
      }
    } finally {
      for (const id of ids) if (this.busy.get(id) === mine) this.busy.delete(id);
      end();
    }
  }

  /** The batch on one connection: in one round trip when it can, else in two. */
  private direct(
    events: readonly AccountingEvent[],
    ids: readonly string[],
    keys: string,
  ): Promise<Applied[]> {
    const lock = this.opts.serialize === true ? `execute ispkit_acct_lock(${keys});\n` : '';
    // Known: remembered, or new to this recorder and begun by a Start (absent, presumably).
    const firstStatus = new Map<string, AccountingEvent['status']>();
    for (const e of events) if (!firstStatus.has(e.uniqueId)) firstStatus.set(e.uniqueId, e.status);
    const stored = new Map<string, SessionState>();
    const xmins: (string | null)[] = [];
    let allKnown = true;
    for (const id of ids) {
      const k = this.known.get(id);
      if (k) {
        stored.set(id, k.state);
        xmins.push(k.xmin);
      } else {
        xmins.push(null);
        if (firstStatus.get(id) !== 'start') allKnown = false;
      }
    }
    return this.db.connection().execute(async (conn) => {
      // Whether to prepare the statements in the next transaction (once: they were missing).
      let prepare = false;
      let preparedAgain = false;
      let reads = 0;
      for (;;) {
        try {
          const begin = prepare ? await beginAndPrepare(conn) : 'begin';
          prepare = false;
          const start = `${begin};\n${NO_SEQUENTIAL_SCANS};\n${lock}`;
          if (allKnown) {
            const plan = planSegment(stored, events);
            if (await this.write(conn, start, ids, keys, xmins, plan)) return plan.applied;
            allKnown = false; // someone else wrote one of them: read them
            continue;
          }
          this.roundTrips++;
          const read = await sql
            .raw<SessionState & { row_xmin: string }>(
              `${start}${PG_SQL.readVersioned(`${keys}::text[]`)}`,
            )
            .execute(conn);
          const fresh = new Map<string, SessionState>();
          const seen = new Map<string, string>();
          for (const { row_xmin, ...state } of read.rows) {
            fresh.set(state.unique_id, state);
            seen.set(state.unique_id, row_xmin);
          }
          const plan = planSegment(fresh, events);
          const versions = ids.map((id) => seen.get(id) ?? null);
          if (await this.write(conn, '', ids, keys, versions, plan)) return plan.applied;
          // Changed between the read and the write by a writer that takes no lock (rare): again.
          if (++reads >= 3) throw new Error('accounting batch: sessions kept changing under it');
        } catch (err) {
          await sql
            .raw('rollback')
            .execute(conn)
            .catch(() => undefined);
          const code = (err as { code?: unknown }).code;
          if (preparedAgain || code !== NOT_PREPARED) throw err;
          prepare = preparedAgain = true;
        }
      }
    });
  }

  /**
   * `prefix`, the write if the rows are still at `xmins`, and `commit`, in one simple query;
   * false when they were not (nothing written: the transaction commits nothing). Remembers the
   * open sessions written, at their new version.
   */
  private async write(
    conn: Kysely<Database>,
    prefix: string,
    ids: readonly string[],
    keys: string,
    xmins: readonly (string | null)[],
    plan: SegmentPlan,
  ): Promise<boolean> {
    const arrays = [...sessionArrays(plan.sessions), ...usageArrays(plan.usage)];
    const literals = arrays.map((a, i) => arrayLiteral(WRITE_TYPES[i + 2] as string, a));
    const args = [keys, arrayLiteral('text', xmins), ...literals].join(', ');
    const text = `${prefix}execute ispkit_acct_write(${args});\ncommit`;
    let result: WriteRow | undefined;
    this.roundTrips++;
    if (!text.includes('\u0000')) {
      result = (await sql.raw<WriteRow>(text).execute(conn)).rows[0];
    } else {
      // A NUL: the same statement with parameters, for PostgreSQL to refuse the value.
      if (prefix) await sql.raw(prefix).execute(conn);
      const statement = writeStatement((i) => `$${i + 1}::${WRITE_TYPES[i] as string}[]`);
      const r = await conn.executeQuery<WriteRow>(
        CompiledQuery.raw(statement, [ids, xmins, ...arrays]),
      );
      result = r.rows[0];
      await sql.raw('commit').execute(conn);
    }
    if (!result?.ok) return false;
    const xmin = result.xmin;
    for (const state of plan.sessions) {
      // Deleted and set again: the Map's order is then the order of the last writes, and the
      // first entry, the session silent the longest, makes room when the cache is full.
      this.known.delete(state.unique_id);
      if (xmin === null || state.state !== 'open') continue;
      if (this.known.size >= this.cacheMax) {
        const oldest = this.known.keys().next();
        if (!oldest.done) this.known.delete(oldest.value);
      }
      this.known.set(state.unique_id, { state, xmin });
    }
    return true;
  }
}

/** What writeIfUnchanged answers. */
interface WriteRow {
  ok: boolean;
  xmin: string | null;
}
