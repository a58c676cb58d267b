/**
 * The recorder's batches on PostgreSQL in three round trips instead of six: `begin` and the
 * sessions' locks in one simple query, the read of the sessions (a statement of its own, after
 * the locks: in READ COMMITTED its snapshot then includes what another instance committed
 * before releasing them), then both upserts and the `commit` in one simple query. The same
 * model (recorder.ts: planSegment) and the same statements as the query-builder path; the
 * values go as array literals in the text (the simple protocol takes several statements but no
 * parameters), which also skips node-postgres's generic array serialization.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AccountingEvent } from './event.js';
import type { Applied, ApplyOptions } from './recorder.js';
import { applyBatch, planSegment } from './recorder.js';
import type { SessionState, UsageAdd } from './session-rows.js';
import {
  ALL_SESSION_COLUMNS,
  LOCK_SEED,
  PG_TYPE,
  SESSIONS_ON_CONFLICT,
  USAGE_COLUMNS,
  USAGE_ON_CONFLICT,
  readSessions,
  writeSessions,
  writeUsage,
} from './session-rows.js';

type Column = (typeof ALL_SESSION_COLUMNS)[number];

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

/** An array of one column's values, typed, for unnest. */
function columnArray(type: string, values: readonly (string | number | null)[]): string {
  const literal =
    type === 'text'
      ? textArray(values as readonly (string | null)[])
      : numberArray(values as readonly (number | null)[]);
  return `${sqlString(literal)}::${type}[]`;
}

const SESSIONS_UPSERT_HEAD = `insert into sessions (${ALL_SESSION_COLUMNS.join(', ')}) select * from unnest(`;
const SESSIONS_UPSERT_TAIL = `) ${SESSIONS_ON_CONFLICT}`;

/** The upsert of sessions, values inline (same statement as session-rows.ts writeSessions). */
function sessionsUpsert(rows: readonly SessionState[]): string {
  const arrays = ALL_SESSION_COLUMNS.map((c: Column) =>
    columnArray(
      PG_TYPE[c],
      rows.map((r) => r[c]),
    ),
  );
  return SESSIONS_UPSERT_HEAD + arrays.join(', ') + SESSIONS_UPSERT_TAIL;
}

/** The addition to daily usage, values inline (same statement as writeUsage). */
function usageUpsert(adds: readonly UsageAdd[]): string {
  const col = <T extends string | number>(f: (u: UsageAdd) => T, type: string): string =>
    columnArray(type, adds.map(f));
  return `insert into usage_daily (${USAGE_COLUMNS})
    select * from unnest(${col((u) => u.key, 'text')}, ${col((u) => u.day, 'text')},
      ${col((u) => u.username, 'text')}, ${col((u) => u.bytesIn, 'bigint')},
      ${col((u) => u.bytesOut, 'bigint')}, ${col((u) => u.seconds, 'bigint')},
      ${col((u) => u.sessions, 'integer')})
    ${USAGE_ON_CONFLICT}`;
}

/** `begin`, then the sessions' locks in one order for everyone (see session-rows.ts). */
function beginAndLock(ids: readonly string[], serialize: boolean): string {
  if (!serialize || ids.length === 0) return 'begin';
  return `begin; select pg_advisory_xact_lock(h) from (select distinct hashtextextended(id, ${LOCK_SEED}) as h from unnest(${columnArray('text', ids)}) as id) as k order by h`;
}

/**
 * Applies batches of accounting records on PostgreSQL, each in a transaction of its own on one
 * pooled connection. Errors surface as the query builder's do (a lost connection is a
 * connection error; a refused value keeps its SQLSTATE), after a rollback.
 */
export class PgRecorder {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: ApplyOptions = {},
  ) {}

  async applyBatch(events: readonly AccountingEvent[]): Promise<Applied[]> {
    const ids = [...new Set(events.map((e) => e.uniqueId))];
    const begin = beginAndLock(ids, this.opts.serialize === true);
    // Accounting-On/Off splits a batch (rare), and a NUL cannot be in the text of a query (the
    // query builder's parameters have PostgreSQL refuse the value instead): the general path.
    if (
      begin.includes('\u0000') ||
      events.some((e) => e.status === 'accounting-on' || e.status === 'accounting-off')
    ) {
      return this.db.transaction().execute((trx) => applyBatch(trx, events, this.opts));
    }
    return this.db.connection().execute(async (conn) => {
      try {
        await sql.raw(begin).execute(conn);
        const stored = new Map<string, SessionState>();
        for (const r of await readSessions(conn, ids)) stored.set(r.unique_id, r);
        const plan = planSegment(stored, events);
        const writes: string[] = [];
        if (plan.sessions.length > 0) writes.push(sessionsUpsert(plan.sessions));
        if (plan.usage.length > 0) writes.push(usageUpsert(plan.usage));
        writes.push('commit');
        const text = writes.join(';\n');
        if (text.includes('\u0000')) {
          await writeSessions(conn, plan.sessions);
          await writeUsage(conn, plan.usage);
          await sql.raw('commit').execute(conn);
        } else await sql.raw(text).execute(conn);
        return plan.applied;
      } catch (err) {
        await sql
          .raw('rollback')
          .execute(conn)
          .catch(() => undefined);
        throw err;
      }
    });
  }
}
