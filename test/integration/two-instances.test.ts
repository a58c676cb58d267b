// Two ispkit instances on one PostgreSQL, each with its own spool, taking the same NASes'
// accounting: records of one session alternate between them, and some arrive at both at the
// same moment (a NAS that failed over while the first server was still working). No session
// may be lost or doubled, and usage must count every record once.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp } from '../../src/app.js';
import { createLogger } from '../../src/logging.js';
import type { RadiusClient } from '../../src/radius/index.js';
import { bundledDictionary } from '../../src/radius/index.js';
import { serve } from '../../src/serve.js';
import { databaseTotals, expectedTotals, runAcctLoad } from '../helpers/acct-load.js';
import type { Serving } from '../helpers/serving.js';
import { startServing } from '../helpers/serving.js';
import { testStores } from '../helpers/stores.js';

const dict = bundledDictionary();
const secret = 'a-long-shared-secret';
const pgStore = (await testStores()).find((s) => s.name === 'postgres');

describe.skipIf(!pgStore)('two instances on one PostgreSQL', () => {
  const url = pgStore?.url ?? '';
  const instances: { dir: string; serving: Serving; client: RadiusClient }[] = [];

  beforeAll(async () => {
    for (let n = 0; n < 2; n++) {
      const dir = mkdtempSync(join(tmpdir(), `ispkit-two-${n}-`));
      writeFileSync(join(dir, 'ispkit.yaml'), `database: '${url}'\nlog: { level: silent }\n`);
      // Instances of one database share the key that seals its secrets (docs/operations.md).
      if (n > 0) copyFileSync(join(instances[0]?.dir ?? '', 'secret.key'), join(dir, 'secret.key'));
      const app = await openApp({ dataDir: dir, create: true });
      if (n === 0) await app.nas.add('lo', '127.0.0.1', secret, false, 'test');
      const serving = await startServing(app);
      const client = serving.client('acct', secret, { timeoutMs: 2000, retries: 2 });
      instances.push({ dir, serving, client });
    }
  });

  afterAll(async () => {
    for (const i of instances) {
      await i.serving.stop();
      rmSync(i.dir, { recursive: true, force: true });
    }
  });

  it("refuses to start an instance whose key file is not the first one's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ispkit-two-key-'));
    try {
      writeFileSync(join(dir, 'ispkit.yaml'), `database: '${url}'\nlog: { level: silent }\n`);
      const app = await openApp({ dataDir: dir, create: true }); // creates a key of its own
      try {
        await expect(
          serve(app, {
            listen: ['127.0.0.1'],
            authPort: 0,
            acctPort: 0,
            httpPort: 0,
            logger: createLogger('silent'),
          }),
        ).rejects.toMatchObject({ code: 'SECRET_KEY_MISMATCH' });
      } finally {
        await app.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('applies each record once, whichever instance (or both) got it', async () => {
    const [a, b] = instances.map((i) => i.client) as [RadiusClient, RadiusClient];
    const load = await runAcctLoad({
      dictionary: dict,
      // Every third record goes to both at once; the others alternate.
      pick: (i, k) => ((i + k) % 3 === 0 ? [a, b] : (i + k) % 3 === 1 ? a : b),
      sessions: Number(process.env.LOAD_SESSIONS ?? 300),
      interims: 3,
      concurrency: 48,
      deadlineMs: 60_000,
      t0: Math.floor(Date.parse('2025-04-08T10:00:00Z') / 1000),
    });
    expect(load.unanswered).toBe(0);
    const want = expectedTotals(load);
    const got = await databaseTotals(url);
    process.stdout.write(
      `two instances: ${load.acked} records acknowledged in ${load.ms} ms (${load.resends} resent); ` +
        `database: ${got.sessions} sessions, ${got.usageBytesIn} bytes in usage (want ${want.bytesIn})\n`,
    );
    expect(got).toEqual(want);
  }, 120_000);
});
