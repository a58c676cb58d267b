/**
 * `npm run bench:writer [-- URL [RECORDS]]`: the accounting writer alone (group commit and the
 * recorder, no RADIUS), as the server drives it: a window of 64 records outstanding, sessions
 * Start → Interim → Stop over 10,000 members. Prints records per second and the process's CPU
 * per record. URL: `sqlite:ispkit.db` (default; in a temp dir) or a postgres:// URL (a schema of
 * its own is created and dropped). `--cpu-prof` on node gives the profile.
 *
 * A/B switches (environment): BENCH_WRITER_KYSELY=1 (the query-builder path on either store),
 * BENCH_SESSION_CACHE=N (SQLite: open sessions kept between batches; 0: none),
 * BENCH_WINDOW=N, BENCH_PRAGMA='…' (SQLite), BENCH_SQL='…' (run after the migrations),
 * BENCH_HISTORY=N (N past sessions in the table before the run).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { uniqueSessionId } from '../src/sessions/event.js';
import type { AccountingEvent } from '../src/sessions/event.js';
import { AccountingWriter } from '../src/sessions/writer.js';
import { openStore } from '../src/store/store.js';

const base = process.argv[2] ?? 'sqlite:ispkit.db';
const N = Number(process.argv[3] ?? 30_000);
const MEMBERS = 10_000;
const WINDOW = Number(process.env.BENCH_WINDOW ?? 64);
const T0 = Date.parse('2025-04-08T10:00:00Z');

function event(i: number): AccountingEvent {
  const m = i % MEMBERS;
  const k = Math.floor(i / MEMBERS) % 3;
  return {
    status: k === 0 ? 'start' : k === 2 ? 'stop' : 'interim',
    nas: 'bench',
    at: T0 + (Math.floor(i / MEMBERS) * 60 + (i % 60)) * 1000,
    uniqueId: uniqueSessionId('bench', `S${m}-${Math.floor(i / (3 * MEMBERS))}`, `m${m}@R`),
    acctSessionId: `S${m}`,
    username: `m${m}@R`,
    bytesIn: k * 1000,
    bytesOut: k * 2000,
    packetsIn: k,
    packetsOut: k,
    sessionTime: k * 60,
    terminateCause: k === 2 ? 'User-Request' : undefined,
    nasIdentifier: 'bench',
    nasIp: '127.0.0.1',
    nasPortId: 'port 1',
    calledStationId: undefined,
    callingStationId: '00:11:22:33:44:55',
    circuitId: undefined,
    framedIp: '10.0.0.1',
    framedIpv6Prefix: undefined,
    delegatedPrefix: undefined,
    interimInterval: 60,
  };
}

/**
 * `n` stopped sessions of the bench's members, before T0, in one statement; their keys 64 hex
 * digits spread over the key space like real ones (SHA-256).
 */
async function addHistory(n: number): Promise<void> {
  const columns = `unique_id, nas, acct_session_id, username, username_key, state, inferred,
    started_at, updated_at, stopped_at, last_event_at, terminate_cause, bytes_in, bytes_out,
    packets_in, packets_out, session_time, interim_interval, nas_identifier, nas_ip, nas_port_id,
    calling_station_id, framed_ip`;
  const t = T0 - (n + 1) * 60_000;
  const values = (hex: string) => `${hex}, 'bench', 'H' || x, 'm' || (x % ${MEMBERS}) || '@R',
    'm' || (x % ${MEMBERS}) || '@r', 'stopped', 0, ${t} + x * 60000, ${t} + x * 60000 + 50000,
    ${t} + x * 60000 + 50000, ${t} + x * 60000 + 50000, 'User-Request', x * 1000, x * 2000, x,
    x, 50, 60, 'bench', '127.0.0.1', 'port 1', '00:11:22:33:44:55', '10.0.0.1'`;
  const started = performance.now();
  if (store.dialect === 'postgres') {
    await sql
      .raw(
        `insert into sessions (${columns}) select ${values('md5(x::text) || md5((-x)::text)')}
         from generate_series(1::bigint, ${n}) x`,
      )
      .execute(store.db);
    await sql.raw('vacuum analyze sessions').execute(store.db);
  } else {
    await sql
      .raw(
        `insert into sessions (${columns})
         with recursive c(x) as (select 1 union all select x + 1 from c where x < ${n})
         select ${values('lower(hex(randomblob(32)))')} from c`,
      )
      .execute(store.db);
  }
  process.stderr.write(
    `${n} past sessions added in ${Math.round(performance.now() - started)} ms\n`,
  );
}

async function admin(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(text).finally(() => c.end());
}

const dir = mkdtempSync(join(tmpdir(), 'ispkit-bench-writer-'));
let url = base;
let schema: string | undefined;
if (base.startsWith('postgres')) {
  schema = `bench_${randomBytes(4).toString('hex')}`;
  await admin(base, `create schema ${schema}`);
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  url = u.toString();
}
const store = await openStore(url, dir);
if (process.env.BENCH_PRAGMA) store.sqlite?.pragma(process.env.BENCH_PRAGMA);
try {
  await store.migrate();
  // A statement to run after the migrations (A/B of a storage setting), e.g.
  // BENCH_SQL='alter table usage_daily set (fillfactor = 100)'.
  if (process.env.BENCH_SQL) await sql.raw(process.env.BENCH_SQL).execute(store.db);
  // BENCH_HISTORY=N: N sessions of the past (stopped, the members' own) in the table first, as
  // an ISP's database has after months: what the writer costs then, not on an empty table.
  const history = Number(process.env.BENCH_HISTORY ?? 0);
  if (history > 0) await addHistory(history);
  const writer = new AccountingWriter(store.db, {
    apply: { serialize: store.dialect === 'postgres' },
    sqlite: process.env.BENCH_WRITER_KYSELY ? undefined : store.sqlite,
    // BENCH_SESSION_CACHE=0: the SQLite recorder selects every session (A/B of its cache).
    sqliteSessionCache: process.env.BENCH_SESSION_CACHE
      ? Number(process.env.BENCH_SESSION_CACHE)
      : undefined,
    pgDirect: !process.env.BENCH_WRITER_KYSELY,
  });
  let next = 0;
  let done = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await new Promise<void>((resolve) => {
    const one = (): void => {
      if (next >= N) return;
      void writer.submit(event(next++)).then(() => {
        if (++done === N) resolve();
        else one();
      });
    };
    for (let w = 0; w < WINDOW; w++) one();
  });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  process.stdout.write(
    `${JSON.stringify({
      store: store.dialect,
      records: N,
      window: WINDOW,
      history,
      per_second: Math.round((N / ms) * 1000),
      cpu_us_per_record: Number(((used.user + used.system) / N).toFixed(1)),
      committed: writer.committed,
      per_batch: Number((writer.committed / writer.batches).toFixed(1)),
    })}\n`,
  );
} finally {
  await store.close();
  if (schema) await admin(base, `drop schema ${schema} cascade`);
  rmSync(dir, { recursive: true, force: true });
}
