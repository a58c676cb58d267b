// The database goes away under a running server (a TCP proxy in front of PostgreSQL is cut):
// members known before still authenticate from the cache, accounting is acknowledged from the
// spool, /healthz and /metrics say so, and when the database is back the spool is replayed —
// every record once. Then the same with the server stopped while records wait in the spool.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { openApp } from '../../src/app.js';
import type { Packet, RadiusClient } from '../../src/radius/index.js';
import { bundledDictionary, createPacket, papRequest } from '../../src/radius/index.js';
import type { Running } from '../../src/serve.js';
import type { Serving } from '../helpers/serving.js';
import { startServing } from '../helpers/serving.js';
import { POSTGRES_URL } from '../helpers/stores.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const dict = bundledDictionary();
const secret = 'a-long-shared-secret';
const T0 = Math.floor(Date.parse('2025-04-08T10:00:00Z') / 1000);

async function admin(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

let reachable = true;
try {
  await admin('select 1');
} catch {
  reachable = false;
  if (process.env.CI === 'true')
    throw new Error(`PostgreSQL at ${POSTGRES_URL} is required under CI`);
}

describe.skipIf(!reachable)('a PostgreSQL outage under a running server', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  let proxy: TcpProxy;
  let dir: string;
  let app: App;
  let serving: Serving;
  let running: Running;
  let auth: RadiusClient;
  let acct: RadiusClient;
  let http: string;

  const start = async (): Promise<void> => {
    app = await openApp({ dataDir: dir });
    serving = await startServing(app);
    running = serving.running;
    auth = serving.client('auth', secret, { timeoutMs: 700, retries: 1 });
    acct = serving.client('acct', secret, { timeoutMs: 1500, retries: 3 });
    http = serving.http;
  };
  const stop = (): Promise<void> => serving.stop();

  const interim = (i: number, t: number, bytes: number): Packet =>
    createPacket(dict, 'Accounting-Request', {
      'User-Name': `m${i}@R`,
      'Acct-Session-Id': `S${i}`,
      'NAS-IP-Address': '127.0.0.1',
      'Acct-Status-Type': t === T0 ? 'Start' : 'Interim-Update',
      'Event-Timestamp': t,
      'Acct-Session-Time': t - T0,
      'Acct-Input-Octets': bytes,
      'Acct-Output-Octets': 2 * bytes,
    });

  const totals = async (): Promise<{ sessions: number; bytesIn: number; bytesOut: number }> => {
    const s = await app.store.db
      .selectFrom('sessions')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('bytes_in').as('b')])
      .executeTakeFirstOrThrow();
    const u = await app.store.db
      .selectFrom('usage_daily')
      .select((eb) => [
        eb.fn.sum<number>('bytes_in').as('i'),
        eb.fn.sum<number>('bytes_out').as('o'),
      ])
      .executeTakeFirstOrThrow();
    expect(Number(s.b)).toBe(Number(u.i)); // sessions and daily usage agree
    return { sessions: Number(s.n), bytesIn: Number(u.i), bytesOut: Number(u.o) };
  };

  beforeAll(async () => {
    await admin(`CREATE SCHEMA ${schema}`);
    const target = new URL(POSTGRES_URL);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const url = new URL(POSTGRES_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    url.searchParams.set('options', `-c search_path=${schema}`);
    dir = mkdtempSync(join(tmpdir(), 'ispkit-outage-'));
    writeFileSync(
      join(dir, 'ispkit.yaml'),
      [
        `database: '${url.toString()}'`,
        'log: { level: silent }',
        'store: { connect_timeout: 1, query_timeout: 2, max_backoff: 0.5 }',
        'accounting: { spool_after: 0.5 }',
        'auth: { max_staleness: 600 }',
      ].join('\n'),
    );
    app = await openApp({ dataDir: dir, create: true });
    await app.nas.add('lo', '127.0.0.1', secret, true, 'test');
    await app.subscribers.add({ username: 'known@R', password: 'pw-1' }, 'test');
    await app.close();
    await start();
  });

  afterAll(async () => {
    await stop().catch(() => undefined);
    await proxy.close();
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates known members and acknowledges accounting while the database is away; replays it once when back', async () => {
    expect((await auth.send(papRequest(dict, 'known@R', 'pw-1'))).codeName).toBe('Access-Accept');
    // 20 sessions start while the database answers.
    for (let i = 0; i < 20; i++) {
      expect((await acct.send(interim(i, T0, 0))).codeName).toBe('Accounting-Response');
    }
    expect(running.pipeline.mode).toBe('direct');
    // Added while the server runs, never authenticated: not in any cache when the outage begins
    // (members present at start are: the auth workers read them all then).
    await app.subscribers.add({ username: 'unseen@R', password: 'pw-2' }, 'test');

    proxy.down();
    // A member read before the outage still gets in (a wrong password still does not).
    expect((await auth.send(papRequest(dict, 'known@R', 'pw-1'))).codeName).toBe('Access-Accept');
    expect((await auth.send(papRequest(dict, 'known@R', 'nope'))).codeName).toBe('Access-Reject');
    // One never read cannot be checked: no answer (the NAS tries the other server).
    await expect(auth.send(papRequest(dict, 'unseen@R', 'pw-2'))).rejects.toThrow();
    // Two interims per session, each acknowledged: from the spool.
    for (const [t, bytes] of [
      [T0 + 60, 1000],
      [T0 + 120, 3000],
    ] as const) {
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => acct.send(interim(i, t, bytes + i))),
      );
      expect(replies.every((r) => r.codeName === 'Accounting-Response')).toBe(true);
    }
    expect(running.pipeline.mode).toBe('spooling');
    const health = (await (await fetch(`${http}/healthz`)).json()) as {
      status: string;
      store: { state: string };
      spool: { mode: string; records: number };
    };
    expect(health.status).toBe('degraded');
    expect(health.store.state).toBe('down');
    expect(health.spool).toMatchObject({ mode: 'spooling', records: 40 });
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/^ispkit_accounting_spool_records 40$/m);
    expect(metrics).toMatch(/^ispkit_store_up 0$/m);

    proxy.up();
    expect(await running.pipeline.drained(15_000)).toBe(true);
    expect(running.pipeline.stats()).toMatchObject({ pending: 0, replayedRecords: 40 });
    const sum = 20 * 3000 + (19 * 20) / 2;
    expect(await totals()).toEqual({ sessions: 20, bytesIn: sum, bytesOut: 2 * sum });
    expect(readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.spool'))).toEqual([]);
    // Back to normal: the unseen member is read now.
    expect((await auth.send(papRequest(dict, 'unseen@R', 'pw-2'))).codeName).toBe('Access-Accept');
  });

  it(
    'keeps spooled records across a restart and replays them once, after the records before',
    { timeout: 60_000 },
    async () => {
      proxy.down();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => acct.send(interim(i, T0 + 180, 5000 + i))),
      );
      expect(replies.every((r) => r.codeName === 'Accounting-Response')).toBe(true);
      await stop(); // records wait on disk
      expect(readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.spool'))).toHaveLength(1);
      // The operator's view meanwhile (the database away: progress unknown, all counted).
      const cli = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', '--data', dir, 'spool', 'status', '--json'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(cli.stderr).toBe('');
      expect(JSON.parse(cli.stdout)).toMatchObject({
        waiting: 20,
        replay_progress: 'unknown',
        rejected: 0,
        segments: [{ records: 20 }],
      });
      proxy.up();
      await start();
      expect(await running.pipeline.drained(15_000)).toBe(true);
      const sum = 20 * 5000 + (19 * 20) / 2;
      expect(await totals()).toEqual({ sessions: 20, bytesIn: sum, bytesOut: 2 * sum });
      // A retransmission of an already replayed record changes nothing.
      expect((await acct.send(interim(3, T0 + 180, 5003))).codeName).toBe('Accounting-Response');
      expect(await totals()).toEqual({ sessions: 20, bytesIn: sum, bytesOut: 2 * sum });
    },
  );
});
