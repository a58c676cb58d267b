import { isAbsolute, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Migration } from 'kysely';
import type { Transaction } from 'kysely';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import type { Dialect } from './migrations.js';
import { migrations } from './migrations.js';
import type { StoreHealth } from './pg-pool.js';
import { FailoverPool } from './pg-pool.js';
import type { PgTarget } from './pg-url.js';
import { parsePostgresUrl, redactUrl } from './pg-url.js';
import { PostgresChanges } from './pg-changes.js';

export type { Dialect } from './migrations.js';
export type { StoreHealth } from './pg-pool.js';
export { StoreUnavailableError, isConnectionError } from './pg-pool.js';

/** How to reach PostgreSQL (ignored by SQLite); see docs/operations.md. */
export interface StoreOptions {
  /** A read-only DSN (a replica) for reports and heavy reads; the primary when absent. */
  replicaUrl?: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  /** A query unanswered for this long fails and its connection is closed. */
  queryTimeoutMs?: number;
  /** Upper bound of the reconnection backoff. */
  maxBackoffMs?: number;
  /** How changes by other processes are seen: LISTEN/NOTIFY, or polling (PgBouncer). */
  changes?: 'listen' | 'poll';
  /** A direct DSN for LISTEN when `database` goes through PgBouncer. */
  listenUrl?: string;
  /** PostgreSQL: SQL run on each new connection of the primary (see PoolOptions). */
  pgSessionSetup?: string;
  /**
   * SQLite: this connection's page cache in KiB (64 MiB when absent). The accounting writer's
   * connection takes a small one: see SQLITE_WRITER_CACHE_KIB in sessions/writer-worker.ts.
   */
  sqliteCacheKiB?: number;
  pollIntervalMs?: number;
  /** The connection went down or came back (for the log). */
  onStateChange?: (health: StoreHealth) => void;
}

/** What `exclusive` returns: whether this instance ran the job, and its result. */
export type Exclusive<T> = { ran: true; value: T } | { ran: false };

/** The store could not be opened or migrated; the message says why. */
export class StoreError extends Error {
  constructor(
    readonly code: 'STORE_URL_INVALID' | 'STORE_UNAVAILABLE' | 'STORE_MIGRATION_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

// bigint columns (times in ms, counters) fit a JS number up to 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface Store {
  readonly db: Kysely<Database>;
  /** For reports and heavy reads: the replica when one is configured, else `db`. */
  readonly reader: Kysely<Database>;
  readonly dialect: Dialect;
  /**
   * SQLite only: the connection itself, for the accounting writer's synchronous path. Use it
   * only between the query builder's transactions (`inTransaction` false).
   */
  readonly sqlite?: BetterSqlite3.Database;
  /** The URL with any password removed, for logs. */
  readonly description: string;
  /** Applies pending migrations; returns the names applied. */
  migrate(): Promise<string[]>;
  /**
   * A number that changes when another process (the CLI, a second server) changed data that
   * servers cache (NAS clients). Cheap enough to read on every request.
   */
  changeCounter(): number;
  /** Tells other processes that cached data changed (after the transaction committed). */
  announceChange(): Promise<void>;
  /** A round trip to the database (health checks); throws when it is away. */
  ping(): Promise<void>;
  /** The connection's state as last seen, without a round trip. */
  health(): StoreHealth;
  /** Called when the connection goes down or comes back (for the log). */
  onHealthChange(listener: (health: StoreHealth) => void): void;
  /**
   * Runs a background job (the stale-session reaper…) in a transaction, unless another
   * instance on the same database is running it now: one instance at a time does the work.
   */
  exclusive<T>(job: string, fn: (trx: Transaction<Database>) => Promise<T>): Promise<Exclusive<T>>;
  close(): Promise<void>;
}

/** `sqlite:PATH` (relative to the data dir), `postgres://…` or `postgresql://…`. */
export async function openStore(
  url: string,
  dataDir: string,
  options: StoreOptions = {},
): Promise<Store> {
  if (url.startsWith('sqlite:'))
    return openSqlite(url.slice('sqlite:'.length), dataDir, options.sqliteCacheKiB);
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, options);
  throw new StoreError(
    'STORE_URL_INVALID',
    `database URL must be sqlite:PATH or postgres://…, got '${redactUrl(url)}'`,
  );
}

function openSqlite(path: string, dataDir: string, cacheKiB = 65_536): Store {
  const file = path === ':memory:' ? path : isAbsolute(path) ? path : resolve(dataDir, path);
  let raw: BetterSqlite3.Database;
  try {
    raw = new BetterSqlite3(file);
  } catch (e) {
    throw new StoreError(
      'STORE_UNAVAILABLE',
      `cannot open SQLite database ${file}: ${(e as Error).message}`,
    );
  }
  raw.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before we answer (accounting is acknowledged only once durable).
  raw.pragma('synchronous = FULL');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  // 64 MiB of page cache by default (SQLite's own is 2 MiB) for the server's reads; the
  // accounting writer's connection asks for less (sessions/writer-worker.ts says why).
  raw.pragma(`cache_size = -${Math.max(64, Math.floor(cacheKiB))}`);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: statementCache(raw) }),
  });
  const ping = () => sql`select 1`.execute(db).then(() => undefined);
  // The change counter: the version row every service bumps after a change that servers cache
  // (announceChange), read at most once per turn of the event loop (a call into SQLite on the
  // hot path showed at 11 % of the server's CPU when read per request). Not PRAGMA
  // data_version: that moves with every commit of another connection, the accounting writer
  // thread's included, and would empty the caches on every accounting batch.
  let versionStmt: BetterSqlite3.Statement | undefined;
  let local = 0;
  let versionFresh = false;
  let versionValue = 0;
  const version = (): number => {
    if (!versionFresh) {
      try {
        versionStmt ??= raw.prepare('select version from ispkit_changes where id = 1').pluck();
        versionValue = Number(versionStmt.get() ?? 0);
      } catch {
        versionValue = -1; // not migrated yet
      }
      versionFresh = true;
      setImmediate(() => {
        versionFresh = false;
      });
    }
    return versionValue;
  };

  const since = Date.now();
  return {
    db,
    reader: db,
    sqlite: raw,
    ping,
    dialect: 'sqlite',
    description: `sqlite:${file}`,
    health: () => ({ state: 'up', endpoint: file, since, failures: 0 }),
    onHealthChange: () => undefined,
    exclusive: async (_job, fn) =>
      db.transaction().execute(async (trx) => ({ ran: true as const, value: await fn(trx) })),
    migrate: () => migrate(db, 'sqlite'),
    // The version row moves when any process announces a change; `local` at once for this one.
    changeCounter: () => version() + local,
    announceChange: async () => {
      local++;
      await sql`update ispkit_changes set version = version + 1 where id = 1`.execute(db);
    },
    close: async () => {
      await db.destroy();
    },
  };
}

async function openPostgres(url: string, options: StoreOptions): Promise<Store> {
  let target: PgTarget;
  try {
    target = parsePostgresUrl(url);
  } catch (e) {
    throw new StoreError('STORE_URL_INVALID', (e as Error).message);
  }
  const poolOptions = {
    max: options.poolSize ?? 10,
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    queryTimeoutMs: options.queryTimeoutMs ?? 30_000,
    minBackoffMs: 250,
    maxBackoffMs: options.maxBackoffMs ?? 5000,
  };
  const listeners: ((h: StoreHealth) => void)[] = [];
  const pool = new FailoverPool(target, {
    ...poolOptions,
    sessionSetup: options.pgSessionSetup,
    onStateChange: (h) => {
      for (const l of listeners) l(h);
      options.onStateChange?.(h);
    },
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let reader = db;
  if (options.replicaUrl) {
    let replicaTarget: PgTarget;
    try {
      replicaTarget = parsePostgresUrl(options.replicaUrl);
    } catch (e) {
      await db.destroy();
      throw new StoreError('STORE_URL_INVALID', `replica: ${(e as Error).message}`);
    }
    reader = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new FailoverPool(replicaTarget, poolOptions) }),
    });
  }
  const ping = () => sql`select 1`.execute(db).then(() => undefined);
  const changes = new PostgresChanges(pool, db, {
    mode: options.changes ?? 'listen',
    listenUrl: options.listenUrl,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    connectTimeoutMs: poolOptions.connectTimeoutMs,
    maxBackoffMs: poolOptions.maxBackoffMs,
  });
  try {
    await ping();
    await changes.start();
  } catch (e) {
    await changes.stop();
    await db.destroy();
    if (reader !== db) await reader.destroy();
    throw new StoreError(
      'STORE_UNAVAILABLE',
      `cannot connect to ${target.redacted}: ${(e as Error).message}`,
    );
  }
  return {
    db,
    reader,
    ping,
    dialect: 'postgres',
    description: target.redacted,
    health: () => pool.state(),
    onHealthChange: (l) => listeners.push(l),
    migrate: () => migrate(db, 'postgres'),
    changeCounter: () => changes.counter,
    announceChange: () => changes.announce(),
    exclusive: async (job, fn) =>
      db.transaction().execute(async (trx) => {
        // A transaction-scoped lock: works through PgBouncer in transaction mode, and is let go
        // by the commit, or by the server when this instance dies mid-job.
        const r = await sql<{
          ok: boolean;
        }>`select pg_try_advisory_xact_lock(hashtext(${`ispkit:${job}`})) as ok`.execute(trx);
        if (r.rows[0]?.ok !== true) return { ran: false as const };
        return { ran: true as const, value: await fn(trx) };
      }),
    close: async () => {
      await changes.stop();
      await db.destroy();
      if (reader !== db) await reader.destroy();
    },
  };
}

/**
 * Applies pending migrations in one transaction, in name order. Our own small migrator:
 * Kysely's introspects every table of every schema to find its bookkeeping, which is slow on a
 * big database and fails when another schema is being dropped at the same moment (seen with
 * parallel test files, each in its own schema).
 */
async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  const all = migrations(dialect);
  const applied: string[] = [];
  let current = '';
  try {
    await db.transaction().execute(async (trx) => {
      // Two instances starting together: the second waits for the first (PostgreSQL); SQLite
      // serialises writers anyway. Tables are created in the current schema (search_path).
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(7431092)`.execute(trx);
      await sql`create table if not exists ispkit_migrations (name varchar(255) primary key, applied_at bigint not null)`.execute(
        trx,
      );
      const done = await sql<{ name: string }>`select name from ispkit_migrations`.execute(trx);
      const have = new Set(done.rows.map((r) => r.name));
      for (const name of Object.keys(all).sort()) {
        if (have.has(name)) continue;
        current = name;
        await (all[name] as Migration).up(trx as unknown as Kysely<unknown>);
        await sql`insert into ispkit_migrations (name, applied_at) values (${name}, ${Date.now()})`.execute(
          trx,
        );
        applied.push(name);
      }
    });
  } catch (e) {
    throw new StoreError(
      'STORE_MIGRATION_FAILED',
      `migration ${current || '(bookkeeping)'} failed: ${(e as Error).message}`,
    );
  }
  return applied;
}

/**
 * better-sqlite3 with its prepared statements kept by SQL text: Kysely prepares every query it
 * runs, which showed in the RADIUS hot path's profile. Statements are only ever run to
 * completion (`all`/`run`, never a streaming iterator), so reusing one is safe. Bounded: the
 * least recently used statement goes when the cache is full (multi-row inserts vary in text).
 */
function statementCache(raw: BetterSqlite3.Database): {
  close(): void;
  prepare(sql: string): BetterSqlite3.Statement;
} {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      cache.clear();
      raw.close();
    },
    prepare: (sql: string) => {
      const hit = cache.get(sql);
      if (hit) {
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = raw.prepare(sql);
      cache.set(sql, stmt);
      if (cache.size > 256) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
  };
}
