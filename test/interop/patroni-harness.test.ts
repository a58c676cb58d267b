// The Patroni harness itself (test/helpers/patroni.ts): Debian's patroni and etcd-server with
// two PostgreSQL 15 nodes on loopback, a row written on the primary, a switchover through
// Patroni's REST API, then the row read on the new primary, which takes writes, while the old
// primary has become a replica. Then ispkit, on the libpq-style multi-host URL with
// target_session_attrs=read-write, under an accounting load across a second switchover.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp } from '../../src/app.js';
import { bundledDictionary } from '../../src/radius/index.js';
import { databaseTotals, expectedTotals, runAcctLoad } from '../helpers/acct-load.js';
import { patroniGate, startPatroniCluster } from '../helpers/patroni.js';
import { startServing } from '../helpers/serving.js';
import type { PatroniCluster } from '../helpers/patroni.js';

async function sql<R extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const available = patroniGate('Patroni harness');
const dict = bundledDictionary();
const secret = 'a-long-shared-secret';

describe.runIf(available)('Patroni harness', () => {
  let cluster: PatroniCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it(
    'switches over to the replica without losing a committed row',
    { timeout: 90_000 },
    async () => {
      cluster = await startPatroniCluster({ nodes: 2, timeoutMs: 45_000 });
      const c = cluster;
      console.log(
        `Patroni cluster of 2 up in ${c.startMs.toFixed(0)} ms (etcd ${c.startPhases.etcdMs.toFixed(0)} ms, ` +
          `leader ${c.startPhases.leaderMs.toFixed(0)} ms): ${c.multiHostUrl}`,
      );
      expect(c.urls).toHaveLength(2);
      expect(c.multiHostUrl).toMatch(
        /^postgres:\/\/postgres@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/postgres\?target_session_attrs=read-write$/,
      );

      const first = await c.leader();
      await sql(c.urlOf(first), 'CREATE TABLE harness (id int PRIMARY KEY, note text)');
      await sql(c.urlOf(first), 'INSERT INTO harness VALUES (1, $1)', ['before switchover']);

      const s = await c.switchover({ timeoutMs: 30_000 });
      console.log(
        `switchover ${s.from} → ${s.to}: new primary writable after ${s.ms.toFixed(0)} ms, ` +
          `old primary streaming again after ${s.rejoinMs.toFixed(0)} ms`,
      );
      expect(s.from).toBe(first);
      expect(s.to).not.toBe(first);
      expect(await c.leader()).toBe(s.to);

      const rows = await sql<{ note: string }>(
        c.urlOf(s.to),
        'SELECT note FROM harness WHERE id = 1',
      );
      expect(rows).toEqual([{ note: 'before switchover' }]);
      await sql(c.urlOf(s.to), 'INSERT INTO harness VALUES (2, $1)', ['after switchover']);
      const [old] = await sql<{ r: boolean }>(c.urlOf(s.from), 'SELECT pg_is_in_recovery() AS r');
      expect(old?.r).toBe(true);
      await expect(
        sql(c.urlOf(s.from), 'INSERT INTO harness VALUES (3, $1)', ['on the replica']),
      ).rejects.toThrow(/read-only transaction/);
    },
  );

  it(
    'ispkit follows the primary through a switchover under accounting load, losing nothing',
    { timeout: 120_000 },
    async () => {
      const c = cluster;
      if (!c) throw new Error('the cluster did not start');
      const dir = mkdtempSync(join(tmpdir(), 'ispkit-patroni-'));
      writeFileSync(
        join(dir, 'ispkit.yaml'),
        [
          `database: '${c.multiHostUrl}'`,
          'log: { level: silent }',
          'store: { connect_timeout: 1, query_timeout: 3, max_backoff: 0.5 }',
          'accounting: { spool_after: 1 }',
        ].join('\n'),
      );
      const app = await openApp({ dataDir: dir, create: true });
      await app.nas.add('lo', '127.0.0.1', secret, false, 'test');
      const serving = await startServing(app);
      const running = serving.running;
      const acct = serving.client('acct', secret, { timeoutMs: 1000, retries: 3 });
      try {
        const before = app.store.health().endpoint;
        let switched: { from: string; to: string; ms: number } | undefined;
        const faults = (async () => {
          await new Promise((r) => setTimeout(r, 2000));
          switched = await c.switchover({ timeoutMs: 30_000 });
        })();
        const load = await runAcctLoad({
          dictionary: dict,
          pick: () => acct,
          sessions: 300,
          interims: 6,
          concurrency: 24,
          pauseMs: 100,
          deadlineMs: 90_000,
          t0: Math.floor(Date.parse('2025-04-08T10:00:00Z') / 1000),
        });
        await faults;
        expect(await running.pipeline.drained(30_000)).toBe(true);
        const leader = await c.leader();
        const want = expectedTotals(load);
        const got = await databaseTotals(c.urlOf(leader));
        const p = running.pipeline.stats();
        console.log(
          `switchover ${switched?.from} → ${switched?.to} (${switched?.ms.toFixed(0)} ms) under load: ` +
            `${load.acked} records acknowledged, ${p.spooled} went through the spool; ispkit on ` +
            `${before} then ${app.store.health().endpoint}; database: ${got.sessions} sessions, ` +
            `usage ${got.usageBytesIn} bytes (expected ${want.bytesIn})`,
        );
        expect(load.unanswered).toBe(0);
        expect(app.store.health().endpoint).not.toBe(before);
        expect(got).toEqual(want);
      } finally {
        await serving.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
