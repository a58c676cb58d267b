// Addresses from pools reach the RADIUS reply: a member added with --allocate gets an
// Access-Accept carrying Framed-IP-Address, Framed-IPv6-Prefix and Delegated-IPv6-Prefix from
// the pools (the real server, in-process, as serve.test.ts runs it), and the CLI shows it all.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { openApp } from '../../src/app.js';
import { createLogger } from '../../src/logging.js';
import { bundledDictionary, papRequest, RadiusClient } from '../../src/radius/index.js';
import type { Running } from '../../src/serve.js';
import { serve } from '../../src/serve.js';
import { testStores } from '../helpers/stores.js';

const dict = bundledDictionary();
const stores = await testStores();
const ROOT = resolve(import.meta.dirname, '../..');
const SLOW = 120_000;

function ispkit(data: string, args: string[]) {
  const env = { ...process.env, ISPKIT_DATA: undefined, ISPKIT_DATABASE_URL: undefined };
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', '--data', data, ...args],
      { cwd: ROOT, env },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe.each(stores)('pools in the AAA reply and the CLI on $name', (ts) => {
  let dir: string;
  let app: App;
  let running: Running;
  let client: RadiusClient;
  const secret = 'a-long-shared-secret';

  beforeAll(async () => {
    await ts.reset();
    dir = mkdtempSync(join(tmpdir(), 'ispkit-ipam-aaa-'));
    writeFileSync(join(dir, 'ispkit.yaml'), `database: '${ts.url}'\nlog: { level: silent }\n`);
    app = await openApp({ dataDir: dir, create: true });
    await app.nas.add('lo', '127.0.0.1', secret, true, 'test');
    running = await serve(app, {
      listen: ['127.0.0.1'],
      authPort: 0,
      acctPort: 0,
      httpPort: 0,
      logger: createLogger('silent'),
    });
    client = new RadiusClient({
      host: '127.0.0.1',
      port: running.addresses.find((a) => a.kind === 'auth')?.port ?? 0,
      secret: Buffer.from(secret),
      dictionary: dict,
      timeoutMs: 1000,
      retries: 2,
    });
  });

  afterAll(async () => {
    client?.close();
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'pool add, subscriber add --allocate, Access-Accept with the pool addresses, ip show',
    async () => {
      const pools = [
        [
          'public',
          '80.67.191.0/24',
          'ipv4',
          '--gateway',
          '80.67.191.1',
          '--reserve',
          '80.67.191.2',
          '80.67.191.3',
          '80.67.191.4',
          '80.67.191.5',
        ],
        ['framed', '2001:913:1000::/48', 'framed-ipv6'],
        ['pd', '2001:913:1d00::/48', 'delegated-ipv6', '--size', '60'],
      ];
      for (const [name, prefix, purpose, ...rest] of pools) {
        const r = await ispkit(dir, [
          'pool',
          'add',
          name as string,
          '--prefix',
          prefix as string,
          '--purpose',
          purpose as string,
          ...rest,
        ]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
      const overlap = await ispkit(dir, [
        'pool',
        'add',
        'x',
        '--prefix',
        '80.67.191.128/25',
        '--purpose',
        'cgnat-ipv4',
      ]);
      expect(overlap.code).toBe(1);
      expect(overlap.stderr).toBe(
        'ispkit: pool 80.67.191.128/25 overlaps pool public (80.67.191.0/24) [POOL_OVERLAP]\n',
      );

      const added = await ispkit(dir, [
        'subscriber',
        'add',
        'p1f9bd1@NEUTRINET',
        '--password',
        'pw-1',
        '--allocate',
        '--mtu',
        '1500',
        '--json',
      ]);
      expect(added.code).toBe(0);
      expect(JSON.parse(added.stdout)).toMatchObject({
        ipv4: '80.67.191.6',
        ipv6_prefix: '2001:913:1000::/64',
        delegated_prefix: '2001:913:1d00::/60',
      });

      const reply = await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'));
      expect(reply.codeName).toBe('Access-Accept');
      expect(reply.get('Framed-IP-Address')).toBe('80.67.191.6');
      expect(reply.get('Framed-IPv6-Prefix')).toBe('2001:913:1000::/64');
      expect(reply.get('Delegated-IPv6-Prefix')).toBe('2001:913:1d00::/60');

      const list = await ispkit(dir, ['pool', 'list', '--json']);
      const byName = Object.fromEntries(
        (JSON.parse(list.stdout) as { name: string }[]).map((p) => [p.name, p]),
      );
      expect(byName.public).toMatchObject({
        used: 1,
        quarantined: 0,
        reserved_count: 7,
        free: 248,
      });
      expect(byName.pd).toMatchObject({ total: 4096, used: 1, free: 4095 });

      const busy = await ispkit(dir, ['pool', 'remove', 'public']);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain('[POOL_IN_USE]');

      const released = await ispkit(dir, [
        'subscriber',
        'set',
        'p1f9bd1@NEUTRINET',
        '--release',
        '--json',
      ]);
      expect(released.code).toBe(0);
      expect(JSON.parse(released.stdout)).toMatchObject({ ipv4: null, delegated_prefix: null });
      const afterRelease = await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'));
      expect(afterRelease.get('Framed-IP-Address')).toBeUndefined();

      const show = await ispkit(dir, ['ip', 'show', '80.67.191.6', '--json']);
      expect(show.code).toBe(0);
      const who = JSON.parse(show.stdout) as {
        current: unknown[];
        history: { username: string; valid_to: string | null }[];
      };
      expect(who.current).toEqual([]);
      expect(who.history).toHaveLength(1);
      expect(who.history[0]).toMatchObject({ username: 'p1f9bd1@NEUTRINET', origin: 'allocated' });
      expect(who.history[0]?.valid_to).not.toBeNull();
      const text = await ispkit(dir, ['ip', 'show', '2001:913:1d00:5::1']);
      expect(text.stdout).toMatch(/^2001:913:1d00:5::1\/128: not held now\n\nADDRESS/);
      expect(text.stdout).toContain('2001:913:1d00::/60');
    },
    SLOW,
  );
});
