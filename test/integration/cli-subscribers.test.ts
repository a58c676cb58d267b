// `ispkit nas …` and `ispkit subscriber …` as an operator runs them: the real CLI in a child
// process, a temporary data dir, on SQLite and PostgreSQL. The tests in each suite run in order
// and share one data dir, as a session at a terminal would.
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NasDirectory } from '../../src/aaa/nas-clients.js';
import { SecretBox } from '../../src/secrets/box.js';
import type { Store } from '../../src/store/store.js';
import { openStore } from '../../src/store/store.js';
import { testStores } from '../helpers/stores.js';

const stores = await testStores();
const ROOT = resolve(import.meta.dirname, '../..');
const HEADER = 'username,password,ipv4,ipv6_prefix,delegated_prefix,mtu,port_limit';
const PASSWORD = 'Sup3r-Secret-Pw!';
// Each run starts Node with tsx; on a busy machine that alone takes seconds.
const SLOW = 120_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ispkit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const clean = { ...process.env, ISPKIT_DATA: undefined, ISPKIT_DATABASE_URL: undefined, ...env };
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, env: clean, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

function csvRows(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return `m${i}@NEUTRINET,pw-${i},10.${(i >> 8) & 255}.${i & 255}.1,2001:db9:${i.toString(16)}::/64,,1492,1`;
  });
}

describe.each(stores)('ispkit nas/subscriber on $name', (ts) => {
  let tmp: string;
  let data: string;
  let store: Store;
  let directory: NasDirectory;
  const run = (...args: string[]) => ispkit(['--data', data, ...args]);
  const countSubscribers = async () =>
    (await store.db.selectFrom('subscribers').select('id').execute()).length;

  beforeAll(async () => {
    await ts.reset();
    tmp = mkdtempSync(join(tmpdir(), 'ispkit-cli-'));
    data = join(tmp, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'ispkit.yaml'), `database: '${ts.url}'\n`);
  });

  afterAll(async () => {
    await store?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it(
    'adds a subscriber, creating the key file with mode 0600 on first use',
    { timeout: SLOW },
    async () => {
      const r = await run(
      'subscriber', 'add', 'p1f9bd1@NEUTRINET', '--password', PASSWORD, '--ipv4', '80.67.191.6',
      '--ipv6-prefix', '2001:db8:1:2::/64', '--delegated-prefix', '2001:db8:100::/56',
      '--mtu', '1492', '--port-limit', '1', '--json',
    ); // prettier-ignore
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        username: 'p1f9bd1@NEUTRINET',
        status: 'active',
      });
      expect(statSync(join(data, 'secret.key')).mode & 0o777).toBe(0o600);
      // The store now exists: open it here, as a second process would.
      store = await openStore(ts.url, data);
      directory = new NasDirectory(store, SecretBox.fromKeyFile(join(data, 'secret.key')));
    },
  );

  it('shows it with stable snake_case JSON, never the password', { timeout: SLOW }, async () => {
    const [json, text] = await Promise.all([
      run('subscriber', 'show', 'p1f9bd1@neutrinet', '--json'),
      ispkit(['subscriber', 'show', 'p1f9bd1@NEUTRINET', '--data', data]), // option after the verb
    ]);
    expect(json.code).toBe(0);
    const shown = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(shown)).toEqual([
      'username', 'status', 'ipv4', 'ipv6_prefix', 'delegated_prefix', 'mtu', 'port_limit',
      'interim', 'created_at', 'updated_at',
    ]); // prettier-ignore
    expect(shown).toMatchObject({
      ipv4: '80.67.191.6',
      delegated_prefix: '2001:db8:100::/56',
      interim: null,
    });
    expect(shown.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^password: +\(set\)$/m);
    expect(text.stdout).toMatch(/^ipv6_prefix: +2001:db8:1:2::\/64$/m);
    expect(json.stdout + text.stdout).not.toContain(PASSWORD);
  });

  it('keeps the password sealed in the database', { timeout: SLOW }, async () => {
    if (ts.name === 'sqlite') {
      for (const f of ['ispkit.db', 'ispkit.db-wal'].map((n) => join(data, n))) {
        if (existsSync(f)) expect(readFileSync(f).includes(PASSWORD)).toBe(false);
      }
      const all = Buffer.concat([
        readFileSync(join(data, 'ispkit.db')),
        readFileSync(join(data, 'ispkit.db-wal')),
      ]);
      expect(all.includes('p1f9bd1@NEUTRINET')).toBe(true); // the search would have found it
    }
    const rows = await store.db.selectFrom('subscribers').select('password_sealed').execute();
    expect(rows[0]?.password_sealed).toMatch(/^v1:/);
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
  });

  it('refuses with one line and exit 1; usage errors exit 2', { timeout: SLOW }, async () => {
    const [dup, usage, bad] = await Promise.all([
      run('subscriber', 'add', 'p1f9bd1@neutrinet', '--password', 'x'),
      run('subscriber', 'add', 'p2@NEUTRINET'),
      run('subscriber', 'set', 'p1f9bd1@NEUTRINET', '--mtu', 'lots', '--json'),
    ]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe(
      'ispkit: subscriber p1f9bd1@neutrinet already exists as p1f9bd1@NEUTRINET [SUBSCRIBER_EXISTS]\n',
    );
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("required option '--password <password>' not specified");
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr)).toEqual({
      error: { code: 'MTU_INVALID', message: "mtu 'lots' is not a whole number" },
    });
  });

  it('sets, clears, suspends and lists', { timeout: SLOW }, async () => {
    const set = await run(
      'subscriber',
      'set',
      'p1f9bd1@NEUTRINET',
      '--no-ipv4',
      '--interim',
      '300',
      '--json',
    );
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ ipv4: null, interim: 300, mtu: 1492 });
    const suspend = await run('subscriber', 'suspend', 'p1f9bd1@NEUTRINET');
    expect(suspend).toMatchObject({ code: 0, stdout: 'p1f9bd1@NEUTRINET is now suspended\n' });
    const [list, text] = await Promise.all([
      run('subscriber', 'list', '--json'),
      run('subscriber', 'list'),
    ]);
    expect(JSON.parse(list.stdout)).toMatchObject([
      { username: 'p1f9bd1@NEUTRINET', status: 'suspended', ipv4: null },
    ]);
    const [head, row] = text.stdout.split('\n');
    expect(head).toMatch(/^USERNAME +STATUS +IPV4 +IPV6-PREFIX/);
    // Aligned: each column starts where its heading does.
    expect(row?.indexOf('suspended')).toBe(head?.indexOf('STATUS'));
  });

  it('imports 10,000 rows in seconds', { timeout: SLOW }, async () => {
    const file = join(tmp, 'members.csv');
    writeFileSync(file, [HEADER, ...csvRows(10_000)].join('\n') + '\n');
    const started = performance.now();
    const r = await run('subscriber', 'import', file, '--json');
    const wall = (performance.now() - started) / 1000;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { imported, seconds } = JSON.parse(r.stdout) as { imported: number; seconds: number };
    process.stdout.write(
      `[${ts.name}] CLI import of 10,000 rows: ${seconds.toFixed(2)} s in the command ` +
        `(${Math.round(imported / seconds)} rows/s), ${wall.toFixed(2)} s with process start\n`,
    );
    expect(imported).toBe(10_000);
    expect(seconds).toBeLessThan(10);
    expect(await countSubscribers()).toBe(10_001);
    if (ts.name === 'sqlite') {
      const files = ['ispkit.db', 'ispkit.db-wal'].map((n) => join(data, n)).filter(existsSync);
      expect(files.some((f) => readFileSync(f).includes('pw-4242'))).toBe(false);
    }
  });

  it('imports nothing when one row is bad, and names its line', { timeout: SLOW }, async () => {
    const rows = csvRows(100, 20_000);
    rows[15] = 'x@NEUTRINET,pw,80.67.191.300,,,,'; // line 17: the header is line 1
    const file = join(tmp, 'bad.csv');
    writeFileSync(file, [HEADER, ...rows].join('\n'));
    const r = await run('subscriber', 'import', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("line 17: ipv4 '80.67.191.300' is not an IPv4 address");
    expect(r.stderr).toContain('1 error; nothing was imported');
    expect(r.stdout).toBe('');
    expect(await countSubscribers()).toBe(10_001);
  });

  it('exports a CSV that imports back to the same subscribers', { timeout: SLOW }, async () => {
    const out = join(tmp, 'backup.csv');
    const r = await run('subscriber', 'export', '--output', out);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('passwords in clear');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const backup = readFileSync(out, 'utf8');
    expect(backup.split('\n')[0]).toBe(HEADER);
    expect(backup).toContain(
      `p1f9bd1@NEUTRINET,${PASSWORD},,2001:db8:1:2::/64,2001:db8:100::/56,1492,1\n`,
    );
    await store.db.deleteFrom('subscriber_status').execute();
    await store.db.deleteFrom('subscribers').execute();
    const back = await run('subscriber', 'import', out);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/^imported 10,001 subscribers in [\d.]+ s/);
    const again = await ispkit(['subscriber', 'export'], { ISPKIT_DATA: data }); // data dir from the environment
    expect(again.stdout).toBe(backup);
  });

  it(
    'a NAS added by the CLI is seen by a running NasDirectory, without restart',
    { timeout: SLOW },
    async () => {
      expect(await directory.lookup('192.0.2.77')).toBeUndefined();
      const add = await run(
        'nas',
        'add',
        'collecte',
        '--address',
        '192.0.2.0/24',
        '--secret',
        'short',
        '--require-message-authenticator',
      );
      expect(add.code).toBe(0);
      expect(add.stdout).toBe('added NAS collecte (192.0.2.0/24)\n');
      expect(add.stderr).toContain('the secret is 5 octets; RFC 2865 advises at least 16');
      await vi.waitFor(async () =>
        expect((await directory.lookup('192.0.2.77'))?.name).toBe('collecte'),
      );
      const seen = await directory.lookup('::ffff:192.0.2.77');
      expect(seen?.secret.toString()).toBe('short');
      expect(seen?.requireMessageAuthenticator).toBe(true);
      const list = await run('nas', 'list', '--json');
      expect(JSON.parse(list.stdout)).toMatchObject([
        { name: 'collecte', address: '192.0.2.0/24', require_message_authenticator: true },
      ]);
      expect(list.stdout).not.toContain('short');
      const remove = await run('nas', 'remove', 'collecte');
      expect(remove.code).toBe(0);
      await vi.waitFor(async () => expect(await directory.lookup('192.0.2.77')).toBeUndefined());
    },
  );

  it(
    'deletes a subscriber; a missing data dir is an error, not a new empty one',
    { timeout: SLOW },
    async () => {
      const [del, missing] = await Promise.all([
        run('subscriber', 'delete', 'p1f9bd1@neutrinet'),
        ispkit(['--data', join(tmp, 'typo'), 'subscriber', 'list']),
      ]);
      expect(del).toMatchObject({ code: 0, stdout: 'deleted subscriber p1f9bd1@NEUTRINET\n' });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('[DATA_DIR_MISSING]');
      expect(existsSync(join(tmp, 'typo'))).toBe(false);
      const audit = await store.db
        .selectFrom('audit_log')
        .select(['action', 'old_value', 'new_value'])
        .execute();
      expect(audit.map((a) => a.action)).toContain('subscriber.delete');
      expect(JSON.stringify(audit)).not.toContain(PASSWORD);
    },
  );
});
