/**
 * How a server on PostgreSQL learns that another process changed what it caches (NAS clients,
 * subscribers): LISTEN/NOTIFY, or polling the version row (PgBouncer). Store.changeCounter()
 * reads its counter.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import pg from 'pg';
import type { FailoverPool } from './pg-pool.js';
import type { Database } from './schema.js';

export interface ChangesOptions {
  mode: 'listen' | 'poll';
  listenUrl: string | undefined;
  pollIntervalMs: number;
  connectTimeoutMs: number;
  maxBackoffMs: number;
}

/**
 * Tells this process that another one changed cached data. `listen`: LISTEN on a channel per
 * schema (on a connection of its own, re-established with backoff; a reconnect counts as a
 * change, since notifications were missed meanwhile). `poll`: read the version row every
 * interval — for PgBouncer in transaction mode, which cannot carry LISTEN (unless `listen_url`
 * gives a direct connection for it). Writers do both: bump the row and notify.
 */
export class PostgresChanges {
  counter = 0;
  private channel = 'ispkit_changes_public';
  private listener: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private lastVersion: number | undefined;
  private missed = false;

  constructor(
    private readonly pool: FailoverPool,
    private readonly db: Kysely<Database>,
    private readonly opts: ChangesOptions,
  ) {}

  async start(): Promise<void> {
    const r = await sql<{ s: string }>`select current_schema() as s`.execute(this.db);
    // One channel per schema: two ispkit databases in one PostgreSQL (or parallel test files,
    // each in its own schema) must not wake each other's caches.
    this.channel = `ispkit_changes_${r.rows[0]?.s ?? 'public'}`;
    if (this.opts.mode === 'listen') await this.listen(true);
    else this.poll();
  }

  async announce(): Promise<void> {
    this.counter++; // this process's caches see the change at once; others by NOTIFY or poll
    await sql`with bump as (update ispkit_changes set version = version + 1 where id = 1 returning version) select pg_notify(${this.channel}, '')`.execute(
      this.db,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
  }

  private async listen(first: boolean): Promise<void> {
    if (this.stopped) return;
    const cs = this.opts.listenUrl ?? this.pool.current()?.connectionString;
    if (cs === undefined) return this.retryListen();
    const client = new pg.Client({
      connectionString: cs,
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
    });
    client.on('error', () => undefined); // 'end' follows
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
    } catch (e) {
      await client.end().catch(() => undefined);
      if (first) throw e;
      return this.retryListen();
    }
    client.on('notification', () => {
      this.counter++;
    });
    client.on('end', () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.counter++; // notifications may be missed until we listen again
      this.retryListen();
    });
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.failures = 0;
    if (!first) this.counter++;
  }

  private retryListen(): void {
    if (this.stopped) return;
    const wait = Math.min(this.opts.maxBackoffMs, 250 * 2 ** Math.min(10, this.failures++));
    this.timer = setTimeout(() => void this.listen(false), wait * (0.8 + Math.random() * 0.4));
    this.timer.unref();
  }

  private poll(): void {
    const tick = async (): Promise<void> => {
      try {
        const r = await sql<{
          version: number;
        }>`select version from ispkit_changes where id = 1`.execute(this.db);
        const v = r.rows[0]?.version;
        if (this.missed || (this.lastVersion !== undefined && v !== this.lastVersion)) {
          this.counter++;
        }
        this.missed = false;
        this.lastVersion = v;
      } catch {
        // Away (the spool and the caches cope), or not migrated yet: try again next time, and
        // count a change when it answers again (what changed meanwhile was not seen).
        this.lastVersion = undefined;
        this.missed = true;
        return;
      }
    };
    const loop = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void tick().finally(loop), this.opts.pollIntervalMs);
      this.timer.unref();
    };
    loop();
  }
}
