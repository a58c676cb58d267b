/**
 * The sessions and usage_daily tables as the recorder reads and writes them: one statement per
 * batch whatever its size (arrays on PostgreSQL), rows in key order (no deadlock between two
 * writers), and the per-session locks of several instances. The accounting model itself (what a
 * record does to its session) is recorder.ts.
 */
import type { Kysely, QueryResult, Transaction } from 'kysely';
import { CompiledQuery, PostgresAdapter, sql } from 'kysely';
import type { Database, SessionTable } from '../store/schema.js';

export type Db = Kysely<Database> | Transaction<Database>;
type SessionRow = Omit<SessionTable, 'id'> & { id: number };

/**
 * Sessions not over yet, as the partial indexes of migration 0009 say it: written with literals,
 * not parameters, so that SQLite's and PostgreSQL's planners can prove that a query may use those
 * indexes (a query for `OPEN` sessions implies `OPEN_OR_LOST`; session-indexes.test.ts checks
 * the plans). A 'lost' session (no update for too long) is not over until a NAS reboot says so.
 */
export const OPEN = sql<boolean>`state = 'open'`;
/** As SQL text, for the statements prepared on SQLite's own connection (sqlite-recorder.ts). */
export const OPEN_OR_LOST_SQL = "(state = 'open' or state = 'lost')";
export const OPEN_OR_LOST = sql.raw<boolean>(OPEN_OR_LOST_SQL);

/** A session as stored, without its database id. */
export type SessionState = Omit<SessionRow, 'id'>;

/** An addition to one subscriber's usage on one day. */
export interface UsageAdd {
  key: string;
  username: string;
  day: string;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
  sessions: number;
}

/** The seed of the hash that makes a session's key an advisory lock's (every instance: one). */
export const LOCK_SEED = 7431093;

/**
 * Locks the sessions' keys for the rest of the transaction, in one order for everyone (no
 * deadlock between two batches). Advisory locks, not row locks: a session not yet in the
 * table has no row to lock.
 */
export async function lockSessions(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.executeQuery(CompiledQuery.raw(PG_SQL.lock('$1::text[]'), [ids]));
}

function withoutId(r: SessionRow): SessionState {
  const { id: _id, ...rest } = r;
  return rest;
}

/** Every column an update may change (all but the identity and unique_id). */
const SESSION_COLUMNS = [
  'state',
  'inferred',
  'started_at',
  'updated_at',
  'stopped_at',
  'last_event_at',
  'terminate_cause',
  'bytes_in',
  'bytes_out',
  'packets_in',
  'packets_out',
  'session_time',
  'interim_interval',
  'nas_identifier',
  'nas_ip',
  'nas_port_id',
  'called_station_id',
  'calling_station_id',
  'circuit_id',
  'framed_ip',
  'framed_ipv6_prefix',
  'delegated_prefix',
] as const satisfies readonly (keyof SessionState)[];

/**
 * What an update of an existing session writes: never started_at (transition keeps it), so
 * that the index on it is not touched by every Interim-Update.
 */
export const UPDATED_COLUMNS = SESSION_COLUMNS.filter((c) => c !== 'started_at');

/**
 * The sessions with these keys. One statement whose text does not depend on how many keys
 * there are (an array on PostgreSQL, a JSON array on SQLite): the database parses and plans
 * it once, and SQLite's statement cache keeps it.
 */
export async function readSessions(db: Db, ids: readonly string[]): Promise<SessionState[]> {
  if (ids.length === 0) return [];
  if (dialectOf(db) === 'postgres') {
    const r = (await db.executeQuery(
      CompiledQuery.raw(PG_SQL.read('$1::text[]'), [ids]),
    )) as QueryResult<SessionState>;
    return r.rows;
  }
  const r =
    await sql<SessionRow>`select * from sessions where unique_id in (select value from json_each(${JSON.stringify(ids)}))`.execute(
      db,
    );
  return r.rows.map(withoutId);
}

/** Which database a Kysely instance (or transaction) talks to. */
function dialectOf(db: Db): 'postgres' | 'sqlite' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** Every session column but the identity, in one order for the statements below. */
export const ALL_SESSION_COLUMNS = [
  'unique_id',
  'nas',
  'acct_session_id',
  'username',
  'username_key',
  ...SESSION_COLUMNS,
] as const satisfies readonly (keyof SessionState)[];

/**
 * The text the upserts share, whichever path writes them (this file's query-builder statements,
 * sqlite-recorder.ts's prepared ones, pg-recorder.ts's inline values): a session is replaced
 * but for started_at; a subscriber's day adds up.
 */
export const SESSIONS_ON_CONFLICT = `on conflict (unique_id) do update set ${UPDATED_COLUMNS.map(
  (c) => `${c} = excluded.${c}`,
).join(', ')}`;
export const USAGE_COLUMNS = 'username_key, day, username, bytes_in, bytes_out, seconds, sessions';
export const USAGE_ON_CONFLICT = `on conflict (username_key, day) do update set
  bytes_in = usage_daily.bytes_in + excluded.bytes_in,
  bytes_out = usage_daily.bytes_out + excluded.bytes_out,
  seconds = usage_daily.seconds + excluded.seconds,
  sessions = usage_daily.sessions + excluded.sessions`;

/** PostgreSQL array types of usage_daily's columns, in USAGE_COLUMNS's order. */
export const USAGE_PG_TYPES = ['text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'integer'];

/** Every session column of the rows with these keys (what follows `select`). */
const sessionsByKeys = (keys: string): string =>
  `${ALL_SESSION_COLUMNS.join(', ')} from sessions where unique_id = any(${keys})`;

/**
 * PostgreSQL's statements over arrays, whoever runs them: the query builder's path with
 * parameters (below), pg-recorder.ts prepared. Each takes the SQL of its arrays (`$1::text[]`,
 * `$1`, a literal), in the order of ALL_SESSION_COLUMNS or USAGE_COLUMNS.
 */
export const PG_SQL = {
  /** The sessions' locks, in one order for everyone (see lockSessions). */
  lock: (keys: string): string =>
    `select pg_advisory_xact_lock(h) from (select distinct hashtextextended(id, ${LOCK_SEED}) as h from unnest(${keys}) as id) as k order by h`,
  /** The sessions with these keys. */
  read: (keys: string): string => `select ${sessionsByKeys(keys)}`,
  /** The same, each row with its version (`xmin` as text, `row_xmin`): see writeIfUnchanged. */
  readVersioned: (keys: string): string => `select xmin::text as row_xmin, ${sessionsByKeys(keys)}`,
  upsertSessions: (arrays: readonly string[]): string =>
    `insert into sessions (${ALL_SESSION_COLUMNS.join(', ')}) select * from unnest(${arrays.join(', ')}) ${SESSIONS_ON_CONFLICT}`,
  addUsage: (arrays: readonly string[]): string =>
    `insert into usage_daily (${USAGE_COLUMNS}) select * from unnest(${arrays.join(', ')}) ${USAGE_ON_CONFLICT}`,
  /**
   * Both upserts in one statement, only if each session with these keys is at the row version
   * the caller built on (its xmin as text; NULL: not in the table): pg-recorder.ts writes from
   * what it remembers of a session without reading it first, and this says whether that was
   * still true. Returns one row: ok, and the xmin of the rows written (this transaction's).
   */
  writeIfUnchanged: (
    keys: string,
    xmins: string,
    sessions: readonly string[],
    usage: readonly string[],
  ): string =>
    `with guard as (select count(*) = 0 as ok from unnest(${keys}, ${xmins}) as k(id, x) left join sessions s on s.unique_id = k.id where s.xmin::text is distinct from k.x),
  written as (insert into sessions (${ALL_SESSION_COLUMNS.join(', ')}) select * from unnest(${sessions.join(', ')}) where (select ok from guard) ${SESSIONS_ON_CONFLICT} returning xmin::text as x),
  added as (insert into usage_daily (${USAGE_COLUMNS}) select * from unnest(${usage.join(', ')}) where (select ok from guard) ${USAGE_ON_CONFLICT})
select (select ok from guard) as ok, (select x from written limit 1) as xmin`,
};

/** The values of each session column, in ALL_SESSION_COLUMNS's order (for unnest). */
export function sessionArrays(rows: readonly SessionState[]): (string | number | null)[][] {
  return ALL_SESSION_COLUMNS.map((c) => rows.map((r) => r[c]));
}

/** The values of each usage column, in USAGE_COLUMNS's order (for unnest). */
export function usageArrays(adds: readonly UsageAdd[]): (string | number)[][] {
  return [
    adds.map((u) => u.key),
    adds.map((u) => u.day),
    adds.map((u) => u.username),
    adds.map((u) => u.bytesIn),
    adds.map((u) => u.bytesOut),
    adds.map((u) => u.seconds),
    adds.map((u) => u.sessions),
  ];
}

/** `$1::type[], $2::type[], …` for these array types. */
const typedParams = (types: readonly string[]): string[] =>
  types.map((t, i) => `$${i + 1}::${t}[]`);

/** PostgreSQL array types for unnest, per column. */
export const PG_TYPE: Record<(typeof ALL_SESSION_COLUMNS)[number], string> = {
  unique_id: 'text',
  nas: 'text',
  acct_session_id: 'text',
  username: 'text',
  username_key: 'text',
  state: 'text',
  inferred: 'integer',
  started_at: 'bigint',
  updated_at: 'bigint',
  stopped_at: 'bigint',
  last_event_at: 'bigint',
  terminate_cause: 'text',
  bytes_in: 'bigint',
  bytes_out: 'bigint',
  packets_in: 'bigint',
  packets_out: 'bigint',
  session_time: 'bigint',
  interim_interval: 'integer',
  nas_identifier: 'text',
  nas_ip: 'text',
  nas_port_id: 'text',
  called_station_id: 'text',
  calling_station_id: 'text',
  circuit_id: 'text',
  framed_ip: 'text',
  framed_ipv6_prefix: 'text',
  delegated_prefix: 'text',
};

/**
 * Inserts or replaces sessions by unique_id. PostgreSQL: one statement over arrays (unnest),
 * whose text is the same for any number of rows — a multi-row VALUES list is parsed and planned
 * afresh each time, which cost more than the writing. SQLite: multi-row VALUES (cheaper there
 * than a statement per row through the query builder, measured).
 */
export async function writeSessions(db: Db, rows: readonly SessionState[]): Promise<void> {
  if (rows.length === 0) return;
  if (dialectOf(db) === 'postgres') {
    const types = ALL_SESSION_COLUMNS.map((c) => PG_TYPE[c]);
    await db.executeQuery(
      CompiledQuery.raw(PG_SQL.upsertSessions(typedParams(types)), sessionArrays(rows)),
    );
    return;
  }
  // SQLite: multi-row statements (one prepare per batch size, kept by the statement cache).
  for (let i = 0; i < rows.length; i += 400) {
    await db
      .insertInto('sessions')
      .values(rows.slice(i, i + 400))
      .onConflict((oc) =>
        oc.column('unique_id').doUpdateSet((eb) => {
          const set: Record<string, unknown> = {};
          for (const c of UPDATED_COLUMNS) set[c] = eb.ref(`excluded.${c}`);
          return set as never;
        }),
      )
      .execute();
  }
}

/** Adds to daily usage (one statement over arrays on PostgreSQL, multi-row VALUES on SQLite). */
export async function writeUsage(db: Db, adds: readonly UsageAdd[]): Promise<void> {
  if (adds.length === 0) return;
  if (dialectOf(db) === 'postgres') {
    await db.executeQuery(
      CompiledQuery.raw(PG_SQL.addUsage(typedParams(USAGE_PG_TYPES)), usageArrays(adds)),
    );
    return;
  }
  for (let i = 0; i < adds.length; i += 1000) {
    await db
      .insertInto('usage_daily')
      .values(
        adds.slice(i, i + 1000).map((u) => ({
          username_key: u.key,
          day: u.day,
          username: u.username,
          bytes_in: u.bytesIn,
          bytes_out: u.bytesOut,
          seconds: u.seconds,
          sessions: u.sessions,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['username_key', 'day']).doUpdateSet((eb) => ({
          bytes_in: eb('usage_daily.bytes_in', '+', eb.ref('excluded.bytes_in')),
          bytes_out: eb('usage_daily.bytes_out', '+', eb.ref('excluded.bytes_out')),
          seconds: eb('usage_daily.seconds', '+', eb.ref('excluded.seconds')),
          sessions: eb('usage_daily.sessions', '+', eb.ref('excluded.sessions')),
        })),
      )
      .execute();
  }
}

/** Accounting-On/Off: the NAS restarted, every session it had open before then is over. */
export async function closeNasSessions(db: Db, nas: string, at: number): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ state: 'stopped', stopped_at: at, terminate_cause: 'NAS-Reboot' })
    .where('nas', '=', nas)
    .where(OPEN_OR_LOST)
    .where('started_at', '<=', at)
    .execute();
}
