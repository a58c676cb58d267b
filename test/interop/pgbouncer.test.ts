// ispkit through Debian's PgBouncer in transaction pooling mode (issue 5): migrations, the CLI's
// services, authentication and an accounting load from a running server, a change made by
// another process seen through polling (LISTEN cannot cross transaction pooling), and a
// background job's lock — all with fewer server connections than clients.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { openApp } from '../../src/app.js';
import type { RadiusClient } from '../../src/radius/index.js';
import { bundledDictionary, papRequest } from '../../src/radius/index.js';
import type { Running } from '../../src/serve.js';
import { databaseTotals, expectedTotals, runAcctLoad } from '../helpers/acct-load.js';
import type { PgBouncer } from '../helpers/pgbouncer.js';
import { pgbouncerAvailable, startPgBouncer } from '../helpers/pgbouncer.js';
import type { Serving } from '../helpers/serving.js';
import { startServing } from '../helpers/serving.js';
import { POSTGRES_URL } from '../helpers/stores.js';

const dict = bundledDictionary();
const secret = 'a-long-shared-secret';

if (!pgbouncerAvailable() && process.env.CI === 'true') {
  throw new Error('pgbouncer is not installed (scripts/install-interop-deps.sh installs it)');
}

async function admin(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

describe.skipIf(!pgbouncerAvailable())('ispkit through PgBouncer (transaction pooling)', () => {
  const dbname = `ispkit_pgb_${randomBytes(5).toString('hex')}`;
  let bouncer: PgBouncer;
  let serverDir: string;
  let cliDir: string;
  let server: App;
  let cli: App;
  let serving: Serving;
  let running: Running;
  let auth: RadiusClient;
  let acct: RadiusClient;

  beforeAll(async () => {
    await admin(`CREATE DATABASE ${dbname}`);
    const target = new URL(POSTGRES_URL);
    bouncer = await startPgBouncer({
      host: target.hostname,
      port: Number(target.port || 5432),
      dbname,
      poolSize: 4,
    });
    const config = [
      `database: '${bouncer.url}'`,
      'log: { level: silent }',
      'store: { changes: poll, poll_interval: 0.2, pool_size: 20 }',
    ].join('\n');
    serverDir = mkdtempSync(join(tmpdir(), 'ispkit-pgb-server-'));
    cliDir = mkdtempSync(join(tmpdir(), 'ispkit-pgb-cli-'));
    writeFileSync(join(serverDir, 'ispkit.yaml'), config);
    writeFileSync(join(cliDir, 'ispkit.yaml'), config);
    // Migrations run through PgBouncer (one transaction, a transaction-scoped advisory lock).
    cli = await openApp({ dataDir: cliDir, create: true });
    expect(cli.migrationsApplied.length).toBeGreaterThan(0);
    copyFileSync(join(cliDir, 'secret.key'), join(serverDir, 'secret.key'));
    await cli.nas.add('lo', '127.0.0.1', secret, true, 'test');
    for (let i = 0; i < 50; i++) {
      await cli.subscribers.add({ username: `m${i}@R`, password: `pw-${i}` }, 'test');
    }
    server = await openApp({ dataDir: serverDir });
    serving = await startServing(server);
    running = serving.running;
    auth = serving.client('auth', secret, { timeoutMs: 2000, retries: 2 });
    acct = serving.client('acct', secret, { timeoutMs: 2000, retries: 2 });
  });

  afterAll(async () => {
    await serving?.stop();
    await cli?.close();
    await bouncer?.stop();
    await admin(`DROP DATABASE IF EXISTS ${dbname} WITH (FORCE)`);
    rmSync(serverDir, { recursive: true, force: true });
    rmSync(cliDir, { recursive: true, force: true });
  });

  it('authenticates, and stores an accounting load exactly once', async () => {
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => auth.send(papRequest(dict, `m${i}@R`, `pw-${i}`))),
    );
    expect(replies.map((r) => r.codeName)).toEqual(Array(50).fill('Access-Accept'));
    const load = await runAcctLoad({
      dictionary: dict,
      pick: () => acct,
      sessions: 400,
      interims: 2,
      concurrency: 64,
      deadlineMs: 60_000,
      t0: Math.floor(Date.parse('2025-04-08T10:00:00Z') / 1000),
    });
    expect(load.unanswered).toBe(0);
    const want = expectedTotals(load);
    const got = await databaseTotals(POSTGRES_URL.replace(/\/[^/?]*(\?|$)/, `/${dbname}$1`));
    process.stdout.write(
      `through PgBouncer (4 server connections): ${load.acked} records in ${load.ms} ms\n`,
    );
    expect(got).toMatchObject({
      sessions: want.sessions,
      stopped: want.stopped,
      usageBytesIn: want.bytesIn,
      usageBytesOut: want.bytesOut,
    });
    expect(running.pipeline.stats().spooled).toBe(0);
  });

  it('sees a suspension made by another process, by polling', async () => {
    const before = await auth.send(papRequest(dict, 'm7@R', 'pw-7'));
    expect(before.codeName).toBe('Access-Accept');
    await cli.subscribers.suspend('m7@R', 'test');
    const until = Date.now() + 5000;
    let code = before.codeName;
    while (code === 'Access-Accept' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      code = (await auth.send(papRequest(dict, 'm7@R', 'pw-7'))).codeName;
    }
    expect(code).toBe('Access-Reject');
  });

  it('runs a background job on one instance at a time', async () => {
    let inside = 0;
    let most = 0;
    const job = () =>
      server.store.exclusive('test-job', async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 300));
        inside--;
      });
    const other = () =>
      cli.store.exclusive('test-job', async () => {
        inside++;
        most = Math.max(most, inside);
        inside--;
      });
    const first = job();
    await new Promise((r) => setTimeout(r, 100));
    const second = await other();
    expect(second.ran).toBe(false);
    expect((await first).ran).toBe(true);
    expect(most).toBe(1);
  });
});
