import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { testStores } from '../../test/helpers/stores.js';
import { DomainError } from '../errors.js';
import { SecretBox } from '../secrets/box.js';
import type { Store } from '../store/store.js';
import { openStore } from '../store/store.js';
import { NasDirectory, NasService, checkNasName, normalizeNasAddress } from './nas-clients.js';

const stores = await testStores();

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a DomainError, the call succeeded');
}

describe('NAS addresses and names', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['192.0.2.1/32', '192.0.2.1'],
    ['192.0.2.0/24', '192.0.2.0/24'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:db8::1/128', '2001:db8::1'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
  ])('%s is stored as %s', (given, stored) => {
    expect(normalizeNasAddress(given)).toBe(stored);
  });

  it.each([
    ['192.0.2.300', 'is not an IP address'],
    ['192.0.2.1/24', 'did you mean 192.0.2.0/24?'],
    ['192.0.2.0/33', 'outside 0–32'],
    ['2001:db8::1/64', 'did you mean 2001:db8::/64?'],
    ['fe80::1%eth0', 'is not an IP address'],
    ['nas.example.net', 'is not an IP address'],
  ])('%s is refused: %s', (given, text) => {
    expect(() => normalizeNasAddress(given)).toThrow(text);
  });

  it('accepts names of letters, digits, dots, dashes and underscores, up to 64', () => {
    expect(checkNasName('collecte-1.par_2')).toBe('collecte-1.par_2');
    for (const bad of ['', 'a b', 'x'.repeat(65), 'nas/1', 'né']) {
      expect(() => checkNasName(bad)).toThrow(DomainError);
    }
  });
});

describe.each(stores)('NAS clients on $name', (ts) => {
  let dir: string;
  let store: Store;
  let box: SecretBox;
  let directory: NasDirectory;
  let nas: NasService;

  beforeEach(async () => {
    await ts.reset();
    dir = mkdtempSync(join(tmpdir(), 'ispkit-nas-'));
    store = await openStore(ts.url, dir);
    await store.migrate();
    box = SecretBox.withKey(randomBytes(32));
    directory = new NasDirectory(store, box);
    nas = new NasService(store, box);
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, lists, shows and removes, with an audit entry that never holds the secret', async () => {
    const added = await nas.add('collecte', '192.0.2.0/24', 'a-long-shared-secret', true, 'test');
    expect(added).toMatchObject({
      name: 'collecte',
      address: '192.0.2.0/24',
      requireMessageAuthenticator: true,
    });
    await nas.add('vpn1', '2001:db8::10', 's', false, 'test');
    expect((await nas.list()).map((n) => n.name)).toEqual(['collecte', 'vpn1']);
    expect(await nas.show('vpn1')).toMatchObject({
      address: '2001:db8::10',
      requireMessageAuthenticator: false,
    });
    const row = await store.db
      .selectFrom('nas')
      .selectAll()
      .where('name', '=', 'collecte')
      .executeTakeFirstOrThrow();
    expect(row.secret_sealed).not.toContain('a-long-shared-secret');
    await nas.remove('vpn1', 'test');
    expect((await nas.list()).map((n) => n.name)).toEqual(['collecte']);
    const audit = await store.db
      .selectFrom('audit_log')
      .select(['action', 'new_value', 'old_value'])
      .orderBy('id')
      .execute();
    expect(audit.map((a) => a.action)).toEqual(['nas.add', 'nas.add', 'nas.remove']);
    expect(JSON.stringify(audit)).not.toContain('a-long-shared-secret');
    expect((await refusal(nas.remove('vpn1', 't'))).code).toBe('NAS_NOT_FOUND');
    expect((await refusal(nas.show('nope'))).kind).toBe('not_found');
  });

  it('refuses a taken name, a taken address in any spelling, and a bad secret, writing nothing', async () => {
    await nas.add('edge', '192.0.2.1', 'secret', false, 'test');
    const cases: [() => Promise<unknown>, string, string][] = [
      [
        () => nas.add('edge', '192.0.2.2', 's', false, 't'),
        'NAS_EXISTS',
        'a NAS named edge already exists',
      ],
      [
        () => nas.add('edge2', '192.0.2.1/32', 's', false, 't'),
        'NAS_ADDRESS_IN_USE',
        'already belongs to NAS edge',
      ],
      [
        () => nas.add('edge3', '::ffff:192.0.2.1', 's', false, 't'),
        'NAS_ADDRESS_IN_USE',
        '192.0.2.1',
      ],
      [
        () => nas.add('edge4', '192.0.2.9', '', false, 't'),
        'NAS_SECRET_INVALID',
        'must be 1–128 octets, got 0',
      ],
      [
        () => nas.add('edge5', '192.0.2.9', 'x'.repeat(129), false, 't'),
        'NAS_SECRET_INVALID',
        'got 129',
      ],
      [() => nas.add('bad name', '192.0.2.9', 's', false, 't'), 'NAS_NAME_INVALID', 'must be 1–64'],
    ];
    for (const [p, code, text] of cases) {
      const e = await refusal(p());
      expect(e.code).toBe(code);
      expect(e.message).toContain(text);
    }
    expect(await nas.list()).toHaveLength(1);
    const audits = await store.db.selectFrom('audit_log').select('id').execute();
    expect(audits).toHaveLength(1);
  });

  it('finds the NAS of a source: exact address first, then the longest prefix', async () => {
    await nas.add('wide', '10.0.0.0/8', 'wide-secret', false, 't');
    await nas.add('narrow', '10.1.0.0/16', 'narrow-secret', true, 't');
    await nas.add('host', '10.1.2.3', 'host-secret', false, 't');
    await nas.add('v6', '2001:db8:aa::/48', 'v6-secret', false, 't');
    await nas.add('everything', '0.0.0.0/0', 'any', false, 't');
    const name = async (a: string) => (await directory.lookup(a))?.name;
    expect(await name('10.1.2.3')).toBe('host');
    expect(await name('10.1.2.4')).toBe('narrow');
    expect(await name('10.2.0.1')).toBe('wide');
    expect(await name('192.0.2.1')).toBe('everything');
    expect(await name('::ffff:10.1.2.3')).toBe('host');
    expect(await name('::ffff:10.1.9.9')).toBe('narrow');
    expect(await name('2001:db8:aa:1::5')).toBe('v6');
    expect(await name('2001:db8:ab::5')).toBeUndefined();
    expect(await name('not an address')).toBeUndefined();
    const narrow = await directory.lookup('10.1.200.1');
    expect(narrow?.secret.equals(Buffer.from('narrow-secret'))).toBe(true);
    expect(narrow?.requireMessageAuthenticator).toBe(true);
  });

  it('answers from memory while nothing changed', async () => {
    await nas.add('edge', '192.0.2.1', 'secret', false, 't');
    expect((await directory.lookup('192.0.2.1'))?.name).toBe('edge');
    // PostgreSQL's NOTIFY for our own add arrives a moment later: let it land and be read.
    await new Promise((r) => setTimeout(r, 300));
    expect((await directory.lookup('192.0.2.1'))?.name).toBe('edge');
    // Deleted behind the services' back (no change announced): the cache still answers.
    await store.db.deleteFrom('nas').execute();
    expect((await directory.lookup('192.0.2.1'))?.name).toBe('edge');
    directory.invalidate();
    expect(await directory.lookup('192.0.2.1')).toBeUndefined();
  });

  it("sees another connection's changes on the next lookup (as from another process)", async () => {
    expect(await directory.lookup('198.51.100.7')).toBeUndefined();
    const other = await openStore(ts.url, dir);
    try {
      const otherNas = new NasService(other, box);
      await otherNas.add('late', '198.51.100.0/24', 'late-secret', false, 't');
      // The service bumps the version row after its commit; a PostgreSQL NOTIFY arrives a moment
      // later. SQLite's store reads the row once per turn of the event loop, and a packet from
      // a NAS always arrives in a later turn than the commit it follows: wait for one.
      await new Promise((r) => setImmediate(r));
      if (ts.name === 'sqlite') expect((await directory.lookup('198.51.100.7'))?.name).toBe('late');
      await vi.waitFor(async () =>
        expect((await directory.lookup('198.51.100.7'))?.name).toBe('late'),
      );
      await otherNas.remove('late', 't');
      await vi.waitFor(async () => expect(await directory.lookup('198.51.100.7')).toBeUndefined());
    } finally {
      await other.close();
    }
  });

  it('answers at once (lookupNow) only while nothing has to be loaded', async () => {
    await nas.add('edge', '192.0.2.1', 'secret', false, 't');
    let counter = 0;
    const counted: Store = { ...store, changeCounter: () => counter };
    const cached = new NasDirectory(counted, box);
    expect(cached.lookupNow('192.0.2.1')).toBeUndefined(); // never loaded
    expect((await cached.lookup('192.0.2.1'))?.name).toBe('edge');
    expect(cached.lookupNow('192.0.2.1')?.name).toBe('edge');
    expect(cached.lookupNow('203.0.113.9')).toBeNull(); // known: no such NAS
    counter++; // a change announced: only `lookup` can answer now
    expect(cached.lookupNow('192.0.2.1')).toBeUndefined();
    expect((await cached.lookup('192.0.2.1'))?.name).toBe('edge');
    expect(cached.lookupNow('192.0.2.1')?.name).toBe('edge');
    cached.invalidate();
    expect(cached.lookupNow('192.0.2.1')).toBeUndefined();
  });

  it('keeps answering from the cache when the store fails on a reload', async () => {
    await nas.add('edge', '192.0.2.1', 'secret', false, 't');
    let counter = 0;
    const flaky: Store = { ...store, changeCounter: () => counter };
    const cached = new NasDirectory(flaky, box);
    expect((await cached.lookup('192.0.2.1'))?.name).toBe('edge');
    await sql`drop table nas`.execute(store.db);
    counter++;
    expect((await cached.lookup('192.0.2.1'))?.name).toBe('edge');
    // Never loaded: nothing to fall back on, so the error is the answer.
    await expect(new NasDirectory(flaky, box).lookup('192.0.2.1')).rejects.toThrow();
  });

  it('stops answering from the cache once it is older than the staleness bound', async () => {
    await nas.add('edge', '192.0.2.1', 'secret', false, 't');
    let counter = 0;
    let t = 1_000_000;
    const flaky: Store = { ...store, changeCounter: () => counter };
    const cached = new NasDirectory(flaky, box, 60_000, () => t);
    expect((await cached.lookup('192.0.2.1'))?.name).toBe('edge');
    t += 50_000; // nothing changed: a lookup confirms the list
    expect((await cached.lookup('192.0.2.1'))?.name).toBe('edge');
    await sql`drop table nas`.execute(store.db);
    counter++;
    t += 50_000;
    expect((await cached.lookup('192.0.2.1'))?.name).toBe('edge');
    t += 20_000; // 70 s since the store last confirmed it
    await expect(cached.lookup('192.0.2.1')).rejects.toThrow();
  });
});
