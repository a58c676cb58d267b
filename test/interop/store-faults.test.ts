// The fault test of issue 5, with an accounting load running against `ispkit serve` (a child
// process) on a PostgreSQL server of the test's own:
//   (a) PostgreSQL is stopped in immediate mode for 10 s, then started;
//   (b) ispkit is killed with SIGKILL and started again while the load generator retransmits.
// Afterwards every record the generator got an Accounting-Response for must be in the database
// exactly once: each session holds the counters of its last acknowledged record, and daily
// usage (which adds deltas) holds their sum — a record applied twice would add twice.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp } from '../../src/app.js';
import { bundledDictionary, RadiusClient } from '../../src/radius/index.js';
import { databaseTotals, expectedTotals, runAcctLoad } from '../helpers/acct-load.js';
import type { PgInstance } from '../helpers/pg-instance.js';
import { pgInstanceMissing, startPgInstance } from '../helpers/pg-instance.js';
import { freePorts, tail } from '../helpers/processes.js';

const dict = bundledDictionary();
const secret = 'a-long-shared-secret';
const missing = pgInstanceMissing();
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`PostgreSQL server binaries missing: ${missing.join(', ')}`);
}

interface Health {
  store: { state: string };
  spool: {
    mode: string;
    records: number;
    spooled_since_start: number;
    replayed_since_start: number;
  };
}

describe.skipIf(missing.length > 0)('accounting through database outages and crashes', () => {
  let pgi: PgInstance;
  let dir: string;
  let ports: number[];
  let child: ChildProcess | undefined;
  const log = () => join(dir, 'serve.log');

  const startServer = (): ChildProcess => {
    const out = openSync(log(), 'a');
    const c = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'serve',
        '--data',
        dir,
        '--listen',
        '127.0.0.1',
        '--auth-port',
        String(ports[0]),
        '--acct-port',
        String(ports[1]),
        '--http-port',
        String(ports[2]),
      ],
      { stdio: ['ignore', out, out] },
    );
    closeSync(out);
    return c;
  };

  const health = async (): Promise<Health | undefined> => {
    try {
      const r = await fetch(`http://127.0.0.1:${ports[2]}/healthz`, {
        signal: AbortSignal.timeout(1000),
      });
      return (await r.json()) as Health;
    } catch {
      return undefined;
    }
  };

  const waitFor = async (what: string, ms: number, ok: () => Promise<boolean>): Promise<void> => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (await ok()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}\n${tail(log(), 30)}`);
  };

  beforeAll(async () => {
    pgi = await startPgInstance();
    ports = await freePorts(3);
    dir = mkdtempSync(join(tmpdir(), 'ispkit-faults-'));
    writeFileSync(
      join(dir, 'ispkit.yaml'),
      [
        `database: '${pgi.url}'`,
        'log: { level: info }',
        'store: { connect_timeout: 1, query_timeout: 3, max_backoff: 1 }',
        'accounting: { spool_after: 1 }',
      ].join('\n'),
    );
    const app = await openApp({ dataDir: dir, create: true });
    await app.nas.add('lo', '127.0.0.1', secret, false, 'test');
    await app.close();
    child = startServer();
    await waitFor(
      'ispkit serve to answer /healthz',
      30_000,
      async () => (await health()) !== undefined,
    );
  }, 90_000);

  afterAll(() => {
    child?.kill('SIGKILL');
    pgi?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged record exactly once through a 10 s PostgreSQL stop and a SIGKILL', async () => {
    const acct = new RadiusClient({
      host: '127.0.0.1',
      port: ports[1] as number,
      secret: Buffer.from(secret),
      dictionary: dict,
      timeoutMs: 1000,
      retries: 3,
    });
    const events: string[] = [];
    const mark = (e: string) => events.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${e}`);
    const t0 = Date.now();
    let spooledBeforeKill = 0;
    // The fault schedule runs beside the load, each step bounded in time.
    const faults = (async () => {
      await new Promise((r) => setTimeout(r, 2000));
      pgi.stop('immediate');
      mark('PostgreSQL stopped (immediate)');
      await new Promise((r) => setTimeout(r, 10_000));
      pgi.start();
      mark('PostgreSQL started');
      await new Promise((r) => setTimeout(r, 4000));
      spooledBeforeKill = (await health())?.spool.spooled_since_start ?? 0;
      child?.kill('SIGKILL');
      mark('ispkit killed (SIGKILL)');
      child = startServer();
      await waitFor(
        'ispkit serve after the kill',
        30_000,
        async () => (await health()) !== undefined,
      );
      mark('ispkit answering again');
    })();
    const load = await runAcctLoad({
      dictionary: dict,
      pick: () => acct,
      sessions: 600,
      interims: 8,
      concurrency: 32,
      pauseMs: 150,
      deadlineMs: 120_000,
      t0: Math.floor(Date.parse('2025-04-08T10:00:00Z') / 1000),
    });
    mark(`load done: ${load.acked} records acknowledged, ${load.resends} sent again`);
    await faults;
    acct.close();
    await waitFor('the spool to be replayed', 60_000, async () => {
      const h = await health();
      return h?.spool.mode === 'direct' && h.spool.records === 0;
    });
    const h = (await health()) as Health;
    const want = expectedTotals(load);
    const got = await databaseTotals(pgi.url);
    process.stdout.write(
      [
        ...events,
        `spooled before the kill: ${spooledBeforeKill}; after the restart: spooled ${h.spool.spooled_since_start}, replayed ${h.spool.replayed_since_start}`,
        `acknowledged: ${load.acked} records of ${want.sessions} sessions (${load.unanswered} unanswered)`,
        `database: ${got.sessions} sessions (${got.stopped} stopped), usage ${got.usageBytesIn} bytes in / ${got.usageBytesOut} out; expected ${want.bytesIn} / ${want.bytesOut}`,
        '',
      ].join('\n'),
    );
    expect(load.unanswered).toBe(0);
    expect(spooledBeforeKill).toBeGreaterThan(0); // the outage did go through the spool
    expect(got).toEqual(want);
  }, 240_000);
});
