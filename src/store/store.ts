import { isAbsolute, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Migration } from 'kysely';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import type { Dialect } from './migrations.js';
import { migrations } from './migrations.js';

export type { Dialect } from './migrations.js';

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
  readonly dialect: Dialect;
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
  close(): Promise<void>;
}

/** `sqlite:PATH` (relative to the data dir), `postgres://…` or `postgresql://…`. */
export async function openStore(url: string, dataDir: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), dataDir);
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url);
  throw new StoreError(
    'STORE_URL_INVALID',
    `database URL must be sqlite:PATH or postgres://…, got '${redact(url)}'`,
  );
}

function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*):[^@]*@/, '$1:***@');
}

function openSqlite(path: string, dataDir: string): Store {
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
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: statementCache(raw) }),
  });
  const ping = () => sql`select 1`.execute(db).then(() => undefined);
  const dataVersion = raw.prepare('PRAGMA data_version').pluck();
  let local = 0;
  // Reading data_version is a call into SQLite: on the hot path (twice per request) it showed
  // at 11 % of the server's CPU. Read it once per turn of the event loop: every packet read in
  // one poll phase shares the value, and a change committed before a packet arrived is seen.
  let versionFresh = false;
  let versionValue = 0;
  const version = (): number => {
    if (!versionFresh) {
      versionValue = dataVersion.get() as number;
      versionFresh = true;
      setImmediate(() => {
        versionFresh = false;
      });
    }
    return versionValue;
  };

  return {
    db,
    ping,
    dialect: 'sqlite',
    description: `sqlite:${file}`,
    migrate: () => migrate(db, 'sqlite'),
    // SQLite bumps data_version when another connection commits: no polling of tables needed.
    // data_version moves when another connection commits; `local` when this process does.
    changeCounter: () => version() + local,
    announceChange: () => {
      local++;
      return Promise.resolve();
    },
    close: async () => {
      await db.destroy();
    },
  };
}

async function openPostgres(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  pool.on('error', () => {
    // An idle client died (server restart): the pool replaces it on next use.
  });
  let counter = 0;
  let channel = 'ispkit_changes';
  const listener = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await listener.connect();
    // One channel per schema: two ispkit databases in one PostgreSQL (or parallel test files,
    // each in its own schema) must not wake each other's caches.
    const r = await listener.query<{ s: string }>('select current_schema() as s');
    channel = `ispkit_changes_${r.rows[0]?.s ?? 'public'}`;
    await listener.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new StoreError(
      'STORE_UNAVAILABLE',
      `cannot connect to ${redact(url)}: ${(e as Error).message}`,
    );
  }
  listener.on('notification', () => {
    counter++;
  });
  listener.on('error', () => {
    // Lost the LISTEN connection: count it as a change so that caches are re-read.
    counter++;
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const ping = () => sql`select 1`.execute(db).then(() => undefined);
  return {
    db,
    ping,
    dialect: 'postgres',
    description: redact(url),
    migrate: () => migrate(db, 'postgres'),
    changeCounter: () => counter,
    announceChange: async () => {
      counter++; // this process's caches see the change at once; others by NOTIFY
      await sql`select pg_notify(${channel}, '')`.execute(db);
    },
    close: async () => {
      await listener.end().catch(() => undefined);
      await db.destroy();
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
