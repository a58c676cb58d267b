/**
 * The recorder's batches on PostgreSQL in two round trips instead of six: `begin`, the sessions'
 * locks and the read of the sessions in one simple query, then both upserts and the `commit` in
 * another. The read is a statement of its own after the locks: in READ COMMITTED each statement
 * of a simple query takes its own snapshot, which then includes what another instance committed
 * before releasing them. The same model (recorder.ts: planSegment) and the same statements as
 * the query-builder path, prepared once per connection; the values go as array literals in the
 * text (the simple protocol takes several statements but no parameters), which also skips
 * node-postgres's generic array serialization.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AccountingEvent } from './event.js';
import { isNasReset } from './event.js';
import type { Applied, ApplyOptions } from './recorder.js';
import { applyBatch, planSegment } from './recorder.js';
import type { SessionState } from './session-rows.js';
import {
  ALL_SESSION_COLUMNS,
  PG_SQL,
  PG_TYPE,
  USAGE_PG_TYPES,
  sessionArrays,
  usageArrays,
  writeSessions,
  writeUsage,
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
const params = (n: number): string[] => Array.from({ length: n }, (_, i) => `$${i + 1}`);
const STATEMENTS: readonly (readonly [name: string, types: readonly string[], text: string])[] = [
  ['ispkit_acct_lock', ['text'], PG_SQL.lock('$1')],
  ['ispkit_acct_sessions', SESSION_TYPES, PG_SQL.upsertSessions(params(SESSION_TYPES.length))],
  ['ispkit_acct_usage', USAGE_PG_TYPES, PG_SQL.addUsage(params(USAGE_PG_TYPES.length))],
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

/** EXECUTE of a prepared statement, each array a literal of the statement's type. */
function execute(
  name: string,
  types: readonly string[],
  arrays: readonly (readonly (string | number | null)[])[],
): string {
  return `execute ${name}(${arrays.map((a, i) => arrayLiteral(types[i] as string, a)).join(', ')})`;
}

/**
 * The sessions' locks in one order for everyone (see session-rows.ts), then the read of the
 * sessions (same rows as session-rows.ts readSessions): statements for one simple query.
 */
function lockAndRead(ids: readonly string[], serialize: boolean): string {
  const keys = arrayLiteral('text', ids);
  const read = PG_SQL.read(`${keys}::text[]`);
  return serialize ? `execute ispkit_acct_lock(${keys}); ${read}` : read;
}

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
 */
export class PgRecorder {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: ApplyOptions = {},
  ) {}

  /**
   * `onLocked` is told once the batch holds its sessions' locks and has read them (not on the
   * general path, for an Accounting-On/Off or a NUL: the caller learns when it ends).
   */
  async applyBatch(events: readonly AccountingEvent[], onLocked?: () => void): Promise<Applied[]> {
    const ids = [...new Set(events.map((e) => e.uniqueId))];
    const read = lockAndRead(ids, this.opts.serialize === true);
    // Accounting-On/Off splits a batch (rare), and a NUL cannot be in the text of a query (the
    // query builder's parameters have PostgreSQL refuse the value instead): the general path.
    if (ids.length === 0 || read.includes('\u0000') || events.some(isNasReset)) {
      return this.db.transaction().execute((trx) => applyBatch(trx, events, this.opts));
    }
    return this.db.connection().execute(async (conn) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const begin = attempt === 0 ? 'begin' : await beginAndPrepare(conn);
          return await this.inTransaction(conn, `${begin};\n${read}`, events, onLocked);
        } catch (err) {
          await sql
            .raw('rollback')
            .execute(conn)
            .catch(() => undefined);
          const code = (err as { code?: unknown }).code;
          if (attempt > 0 || code !== NOT_PREPARED) throw err;
        }
      }
    });
  }

  private async inTransaction(
    conn: Kysely<Database>,
    beginLockAndRead: string,
    events: readonly AccountingEvent[],
    onLocked: (() => void) | undefined,
  ): Promise<Applied[]> {
    const read = await sql.raw<SessionState>(beginLockAndRead).execute(conn);
    const stored = new Map<string, SessionState>();
    for (const r of read.rows) stored.set(r.unique_id, r);
    onLocked?.();
    const plan = planSegment(stored, events);
    const writes: string[] = [];
    if (plan.sessions.length > 0)
      writes.push(execute('ispkit_acct_sessions', SESSION_TYPES, sessionArrays(plan.sessions)));
    if (plan.usage.length > 0)
      writes.push(execute('ispkit_acct_usage', USAGE_PG_TYPES, usageArrays(plan.usage)));
    writes.push('commit');
    const text = writes.join(';\n');
    if (text.includes('\u0000')) {
      await writeSessions(conn, plan.sessions);
      await writeUsage(conn, plan.usage);
      await sql.raw('commit').execute(conn);
    } else await sql.raw(text).execute(conn);
    return plan.applied;
  }
}
