// `ispkit netbox pull|push` as an operator runs them: the real CLI in a child process, against
// the fake NetBox (NetBox 4.4's REST API), the token given in ISPKIT_NETBOX_TOKEN.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamService } from '../../src/ipam/service.js';
import { SecretBox } from '../../src/secrets/box.js';
import { openStore } from '../../src/store/store.js';
import { SubscriberService } from '../../src/subscribers/service.js';
import { FAKE_NETBOX_VERSION, FakeNetbox } from '../helpers/fake-netbox.js';
import { testStores } from '../helpers/stores.js';

const stores = await testStores();
const ROOT = resolve(import.meta.dirname, '../..');
// Each run starts Node with tsx; on a busy machine that alone takes seconds.
const SLOW = 120_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ispkit(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const clean = { ...process.env, ISPKIT_DATA: undefined, ISPKIT_DATABASE_URL: undefined, ...env };
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, env: clean },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe.each(stores)(`ispkit netbox on $name, fake NetBox ${FAKE_NETBOX_VERSION}`, (ts) => {
  let tmp: string;
  let data: string;
  let fake: FakeNetbox;
  const run = (...args: string[]) =>
    ispkit(['--data', data, 'netbox', ...args], { ISPKIT_NETBOX_TOKEN: fake.token });

  beforeAll(async () => {
    await ts.reset();
    fake = await new FakeNetbox().start();
    fake.addTag('ispkit-pool');
    fake.addTag('ispkit');
    fake.addRole('ipv4');
    fake.addPrefix({ prefix: '80.67.191.0/24', role: { slug: 'ipv4' }, tags: ['ispkit-pool'] });
    fake.addIpAddress({ address: '80.67.191.200/24', description: 'router' });
    tmp = mkdtempSync(join(tmpdir(), 'ispkit-netbox-cli-'));
    data = join(tmp, 'data');
    mkdirSync(data);
    writeFileSync(
      join(data, 'ispkit.yaml'),
      [
        `database: '${ts.url}'`,
        'netbox:',
        `  url: ${fake.url}`,
        "  dns_name: '{ip_dashed}.dsl.example.be'",
        '',
      ].join('\n'),
    );
    const store = await openStore(ts.url, data);
    try {
      await store.migrate();
      const ipam = new IpamService(store);
      await ipam.addPool({ name: 'public', prefix: '80.67.191.0/24', purpose: 'ipv4' }, 'test');
      const box = SecretBox.fromKeyFile(join(data, 'secret.key'));
      const subs = new SubscriberService(store, box, Date.now, ipam);
      await subs.add({ username: 'p1f9bd1@NEUTRINET', password: 'pw' }, 'test', {
        allocate: true,
      });
    } finally {
      await store.close();
    }
  }, SLOW);

  afterAll(async () => {
    await fake?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it(
    'pull links the pool; push --dry-run --json shows the plan and writes nothing; push applies it',
    async () => {
      const pulled = await run('pull', '--json');
      expect(pulled.stderr).toBe('');
      expect(pulled.code).toBe(0);
      expect(JSON.parse(pulled.stdout)).toMatchObject({
        direction: 'pull',
        dry_run: false,
        applied: 2,
        changes: [
          { op: 'update', kind: 'pool', key: 'public' },
          { op: 'create', kind: 'reservation', key: '80.67.191.200/32' },
        ],
      });

      const dry = await run('push', '--dry-run', '--json');
      expect(dry.code).toBe(0);
      expect(JSON.parse(dry.stdout)).toEqual({
        direction: 'push',
        netbox: fake.url,
        dry_run: true,
        changes: [
          {
            op: 'create',
            kind: 'ip-address',
            key: '80.67.191.1/32',
            netbox_id: null,
            fields: {
              status: 'active',
              dns_name: '80-67-191-1.dsl.example.be',
              description: 'p1f9bd1@NEUTRINET',
            },
            note: null,
          },
        ],
        conflicts: [],
        failed: [],
        applied: 0,
      });
      expect(fake.writes).toEqual([]);

      const pushed = await run('push');
      expect(pushed.code).toBe(0);
      expect(pushed.stdout).toBe(
        [
          `ispkit → NetBox ${fake.url}: 1 to create, 0 to update, 0 to delete`,
          '  + ip-address 80.67.191.1/32  status=active, dns_name=80-67-191-1.dsl.example.be, description=p1f9bd1@NEUTRINET',
          'applied 1 of 1 change(s)',
          '',
        ].join('\n'),
      );
      expect(fake.ipAddresses().find((a) => a.address === '80.67.191.1/32')).toMatchObject({
        dns_name: '80-67-191-1.dsl.example.be',
        tags: [{ slug: 'ispkit' }],
      });

      const again = await run('push');
      expect(again.stdout).toBe(`ispkit → NetBox ${fake.url}: no changes\n`);
      for (const r of [pulled, dry, pushed, again]) {
        expect(r.stdout + r.stderr).not.toContain(fake.token);
      }
    },
    SLOW,
  );

  it(
    'a wrong token is one clear line and exit 1',
    async () => {
      const r = await ispkit(['--data', data, 'netbox', 'push'], {
        ISPKIT_NETBOX_TOKEN: '0'.repeat(40),
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^ispkit: NetBox refused the token .*\[NETBOX_AUTH\]\n$/);
    },
    SLOW,
  );
});
