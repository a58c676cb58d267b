import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import pg from 'pg';
import type { PgEndpoint, PgTarget } from './pg-url.js';

/** What /healthz, `ispkit status` and the metrics say about the database connection. */
export interface StoreHealth {
  state: 'up' | 'down';
  /** The server in use (`host:port`), when up. */
  endpoint?: string;
  /** Since when in this state (ms since the epoch). */
  since: number;
  /** Failed connection rounds in a row. */
  failures: number;
  /** Why the last round failed (no password in it). */
  lastError?: string;
  /** When down: the next connection attempt in this many ms. */
  retryInMs?: number;
}

export interface PoolOptions {
  /** Connections at most (PgBouncer: its default_pool_size is the real bound). */
  max: number;
  connectTimeoutMs: number;
  /** A query without an answer for this long fails, and its connection is closed. */
  queryTimeoutMs: number;
  /** First wait after a failed round; doubles per failure up to maxBackoffMs, ±20 % jitter. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Told when the state changes (up ↔ down), for the log. */
  onStateChange?: (health: StoreHealth) => void;
  /**
   * SQL run on each new connection before its first use, such as PREPARE statements. Its errors
   * are ignored: whoever relies on it checks again (through PgBouncer the statements land on
   * whichever server connection runs them).
   */
  sessionSetup?: string;
  now?: () => number;
}

/** The store cannot reach a usable server now; what waits on it (a NAS, the spool) retries. */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

const FATAL_SQLSTATE = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting, shutting down, in recovery)
  '25006', // read_only_sql_transaction: our primary became a standby (switchover)
]);
const FATAL_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * True for an error that says the connection or the server is gone (as opposed to a query the
 * server refused): the connection is dropped and the server looked up again.
 */
export function isConnectionError(e: unknown): boolean {
  if (e instanceof StoreUnavailableError) return true;
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (FATAL_ERRNO.has(code) || FATAL_SQLSTATE.has(code) || code.startsWith('08')) return true;
  }
  return /Connection terminated|connection is closed|Query read timeout|timeout expired|Client has encountered a connection error|not queryable/i.test(
    e.message,
  );
}

/**
 * A Kysely PostgresPool over one node-postgres pool at a time, on the server that
 * `target_session_attrs` accepts among the URL's hosts. When a connection or query fails
 * because the server went away (or, after a switchover, refuses writes), the pool is dropped
 * and the next request looks for the server again — the new primary after a Patroni
 * switchover. While no server is usable, requests fail at once (no connect timeout to wait
 * out) until the next attempt, spaced by an exponential backoff with jitter: the RADIUS side
 * answers from its caches and the accounting spool takes the records meanwhile.
 *
 * Works through PgBouncer in transaction mode: nothing relies on session state, and
 * node-postgres uses unnamed prepared statements.
 */
export class FailoverPool implements PostgresPool {
  private pool: pg.Pool | undefined;
  private endpoint: PgEndpoint | undefined;
  private finding: Promise<pg.Pool> | undefined;
  private nextAttemptAt = 0;
  private health: StoreHealth;
  private readonly now: () => number;
  /** Before the first connection, callers wait for it (the start of the process). */
  private readonly openedAt: number;

  constructor(
    private readonly target: PgTarget,
    private readonly opts: PoolOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.openedAt = this.now();
    this.health = { state: 'down', since: this.openedAt, failures: 0 };
  }

  state(): StoreHealth {
    const h = { ...this.health };
    if (h.state === 'down') h.retryInMs = Math.max(0, this.nextAttemptAt - this.now());
    return h;
  }

  /** The server in use now, for the LISTEN connection (undefined when down). */
  current(): PgEndpoint | undefined {
    return this.pool ? this.endpoint : undefined;
  }

  async connect(): Promise<PostgresPoolClient> {
    const pool = await this.usablePool();
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      this.drop(pool, e);
      throw new StoreUnavailableError(`database unavailable: ${(e as Error).message}`);
    }
    return this.wrap(pool, client);
  }

  async end(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.nextAttemptAt = Number.POSITIVE_INFINITY;
    await this.finding?.catch(() => undefined);
    await pool?.end().catch(() => undefined);
  }

  /** Forget the current server (tests, and an operator's `reconnect`). */
  reset(): void {
    if (this.pool) this.drop(this.pool, new Error('reset'));
  }

  private usablePool(): Promise<pg.Pool> {
    if (this.pool) return Promise.resolve(this.pool);
    if (this.finding) {
      // The server went away and one request is already looking for it (which may take up to
      // the connect timeout on a host that does not answer): the others fail at once, so that
      // authentication answers from the cache and accounting goes to the spool meanwhile.
      if (this.health.state === 'down' && this.health.since !== this.openedAt) {
        return Promise.reject(
          new StoreUnavailableError(
            `database unavailable (${this.health.lastError ?? 'reconnecting'}); reconnecting`,
          ),
        );
      }
      return this.finding;
    }
    const wait = this.nextAttemptAt - this.now();
    if (wait > 0) {
      return Promise.reject(
        new StoreUnavailableError(
          `database unavailable (${this.health.lastError ?? 'not connected'}); next attempt in ${Math.ceil(wait)} ms`,
        ),
      );
    }
    this.finding = this.find().finally(() => (this.finding = undefined));
    return this.finding;
  }

  /** One round over the hosts, in order; the first acceptable server wins. */
  private async find(): Promise<pg.Pool> {
    const errors: string[] = [];
    const want = this.target.targetSessionAttrs;
    let fallback: PgEndpoint | undefined;
    for (const ep of this.target.endpoints) {
      const verdict = await this.probe(ep).catch((e: unknown) => {
        errors.push(`${ep.label}: ${(e as Error).message}`);
        return undefined;
      });
      if (verdict === undefined) continue;
      if (accepts(want, verdict)) return this.use(ep);
      if (want === 'prefer-standby') fallback ??= ep;
      errors.push(`${ep.label}: ${verdict.inRecovery ? 'a standby' : 'a primary'}, not ${want}`);
    }
    if (fallback) return this.use(fallback);
    this.health = {
      state: 'down',
      since: this.health.state === 'down' ? this.health.since : this.now(),
      failures: this.health.failures + 1,
      lastError: errors.join('; ') || 'no host in the URL',
    };
    const base = Math.min(
      this.opts.maxBackoffMs,
      this.opts.minBackoffMs * 2 ** Math.min(20, this.health.failures - 1),
    );
    this.nextAttemptAt = this.now() + base * (0.8 + Math.random() * 0.4);
    if (this.health.failures === 1) this.opts.onStateChange?.(this.state());
    throw new StoreUnavailableError(
      `database unavailable: no usable PostgreSQL server (${this.health.lastError})`,
    );
  }

  private async probe(ep: PgEndpoint): Promise<{ inRecovery: boolean; readOnly: boolean }> {
    const client = new pg.Client({
      connectionString: ep.connectionString,
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
      query_timeout: this.opts.connectTimeoutMs,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if (this.target.targetSessionAttrs === 'any') return { inRecovery: false, readOnly: false };
      const r = await client.query<{ r: boolean; ro: string }>(
        "select pg_is_in_recovery() as r, current_setting('transaction_read_only') as ro",
      );
      const row = r.rows[0];
      return { inRecovery: row?.r === true, readOnly: row?.ro === 'on' };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private use(ep: PgEndpoint): pg.Pool {
    const pool = new pg.Pool({
      connectionString: ep.connectionString,
      max: this.opts.max,
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
      query_timeout: this.opts.queryTimeoutMs,
      idleTimeoutMillis: 30_000,
    });
    const setup = this.opts.sessionSetup;
    // Queued on the client before anything asked for it (pg-pool emits 'connect' first).
    if (setup) pool.on('connect', (client) => void client.query(setup).catch(() => undefined));
    // An idle connection died (server restart): the next query on a fresh one finds out.
    pool.on('error', (e) => {
      if (isConnectionError(e)) this.drop(pool, e);
    });
    const wasDown = this.health.state === 'down';
    this.pool = pool;
    this.endpoint = ep;
    this.health = { state: 'up', endpoint: ep.label, since: this.now(), failures: 0 };
    if (wasDown) this.opts.onStateChange?.(this.state());
    return pool;
  }

  /** The server went away (or turned standby): forget this pool; the next request looks again. */
  private drop(pool: pg.Pool, e: unknown): void {
    if (this.pool !== pool) return;
    this.pool = undefined;
    this.health = {
      state: 'down',
      since: this.now(),
      failures: 0,
      lastError: (e as Error).message,
    };
    this.nextAttemptAt = 0; // look again at once (a switchover); backoff starts if that fails
    this.opts.onStateChange?.(this.state());
    void pool.end().catch(() => undefined);
  }

  private wrap(pool: pg.Pool, client: pg.PoolClient): PostgresPoolClient {
    let broken = false;
    // pg emits 'error' on a checked-out client whose connection dies between two queries (in
    // a transaction); pg-pool listens only to idle ones. Without a listener it would crash us.
    const onClientError = (e: Error): void => {
      broken = true;
      if (isConnectionError(e)) this.drop(pool, e);
    };
    client.on('error', onClientError);
    const onError = (e: unknown): never => {
      if (isConnectionError(e)) {
        broken = true;
        this.drop(pool, e);
      }
      throw e;
    };
    function query<R>(
      sql: string,
      parameters: ReadonlyArray<unknown>,
    ): Promise<PostgresQueryResult<R>>;
    function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
    function query<R>(
      a: string | PostgresCursor<R>,
      parameters?: ReadonlyArray<unknown>,
    ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
      if (typeof a !== 'string') {
        return (client as unknown as { query(c: PostgresCursor<R>): PostgresCursor<R> }).query(a);
      }
      // Several statements in one simple query: node-postgres gives one result per statement;
      // the caller gets the last one that returns rows, else the last one (`begin; …; select
      // …` and `…; select …; commit` both read the select's rows).
      return client
        .query(a, parameters as unknown[])
        .then(
          (r: pg.QueryResult | pg.QueryResult[]) =>
            (Array.isArray(r) ? lastWithRows(r) : r) as unknown as PostgresQueryResult<R>,
          onError,
        );
    }
    return {
      query,
      release: (destroy?: boolean) => {
        client.removeListener('error', onClientError);
        client.release(broken || destroy === true);
      },
    };
  }
}

function accepts(
  want: PgTarget['targetSessionAttrs'],
  v: { inRecovery: boolean; readOnly: boolean },
): boolean {
  switch (want) {
    case 'any':
      return true;
    case 'read-write':
      return !v.readOnly;
    case 'read-only':
      return v.readOnly;
    case 'primary':
      return !v.inRecovery;
    case 'standby':
    case 'prefer-standby':
      return v.inRecovery;
  }
}

/** Of a simple query's results, the last with columns (a row description), else the last. */
function lastWithRows(results: readonly pg.QueryResult[]): pg.QueryResult | undefined {
  for (let i = results.length - 1; i >= 0; i--) {
    const r = results[i];
    if (r && r.fields.length > 0) return r;
  }
  return results[results.length - 1];
}
