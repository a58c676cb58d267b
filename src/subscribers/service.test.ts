import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testStores } from '../../test/helpers/stores.js';
import { DomainError } from '../errors.js';
import { SecretBox } from '../secrets/box.js';
import type { Store } from '../store/store.js';
import { openStore } from '../store/store.js';
import { ImportError } from './bulk.js';
import type { SubscriberInput } from './service.js';
import { SubscriberService } from './service.js';

const stores = await testStores();
const HEADER = 'username,password,ipv4,ipv6_prefix,delegated_prefix,mtu,port_limit';
const T0 = Date.UTC(2025, 3, 8, 10, 0, 0);

/** The refusal a promise ends with (fails the test if it resolves). */
async function refusal(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a DomainError, the call succeeded');
}

describe.each(stores)('SubscriberService on $name', (ts) => {
  let dir: string;
  let store: Store;
  let box: SecretBox;
  let now: number;
  let service: SubscriberService;

  const count = async (table: 'subscribers' | 'subscriber_status' | 'audit_log') => {
    const r = await store.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  };
  const p1: SubscriberInput = {
    username: 'p1f9bd1@NEUTRINET',
    password: 'correct horse',
    ipv4: '80.67.191.6',
    ipv6Prefix: '2001:db8:1:2::/64',
    delegatedPrefix: '2001:db8:100::/56',
    mtu: 1492,
    portLimit: 1,
  };

  beforeEach(async () => {
    await ts.reset();
    dir = mkdtempSync(join(tmpdir(), 'ispkit-sub-'));
    store = await openStore(ts.url, dir);
    await store.migrate();
    box = SecretBox.withKey(randomBytes(32));
    now = T0;
    service = new SubscriberService(store, box, () => now);
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a subscriber that authentication finds by User-Name, realm in any case', async () => {
    const added = await service.add(p1, 'test');
    expect(added).toMatchObject({ username: 'p1f9bd1@NEUTRINET', status: 'active', mtu: 1492 });
    const found = await service.findForAuth('p1f9bd1@neutrinet');
    expect(found).toMatchObject({
      username: 'p1f9bd1@NEUTRINET',
      password: 'correct horse',
      ipv4: '80.67.191.6',
      ipv6Prefix: '2001:db8:1:2::/64',
      delegatedPrefix: '2001:db8:100::/56',
      portLimit: 1,
      interim: null,
    });
    // The user part is the member's own: another case is another name.
    expect(await service.findForAuth('P1F9BD1@NEUTRINET')).toBeUndefined();
    expect(await service.findForAuth('nobody@NEUTRINET')).toBeUndefined();
    const row = await store.db.selectFrom('subscribers').selectAll().executeTakeFirstOrThrow();
    expect(row.password_sealed).not.toContain('correct horse');
    expect(row.password_sealed.startsWith('v1:')).toBe(true);
    expect((await service.list()).map((s) => s.username)).toEqual(['p1f9bd1@NEUTRINET']);
    expect(await count('subscriber_status')).toBe(1);
    const audit = await store.db.selectFrom('audit_log').selectAll().execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'test', action: 'subscriber.add', at: T0 });
    expect(audit[0]?.new_value).toContain('"password":"(set)"');
    expect(audit[0]?.new_value).not.toContain('correct horse');
  });

  it('refuses a second subscriber whose name differs only in the realm case', async () => {
    await service.add(p1, 'test');
    const e = await refusal(service.add({ username: 'p1f9bd1@neutrinet', password: 'x' }, 'test'));
    expect(e).toMatchObject({ code: 'SUBSCRIBER_EXISTS', kind: 'conflict' });
    expect(e.message).toBe('subscriber p1f9bd1@neutrinet already exists as p1f9bd1@NEUTRINET');
    expect(await count('subscribers')).toBe(1);
    expect(await count('audit_log')).toBe(1);
  });

  it.each<[string, Partial<SubscriberInput>, string, string]>([
    ['an empty name', { username: '' }, 'USERNAME_INVALID', 'username is empty'],
    ['254 octets', { username: 'é'.repeat(127) }, 'USERNAME_INVALID', '254 octets'],
    ['a control character', { username: 'a\tb@X' }, 'USERNAME_INVALID', 'control character'],
    ['an empty password', { password: '' }, 'PASSWORD_INVALID', 'password is empty'],
    ['a 129-octet password', { password: 'x'.repeat(129) }, 'PASSWORD_INVALID', '129 octets'],
    [
      'ipv4 .300',
      { ipv4: '80.67.191.300' },
      'IPV4_INVALID',
      "ipv4 '80.67.191.300' is not an IPv4 address",
    ],
    ['ipv4 of three parts', { ipv4: '80.67.191' }, 'IPV4_INVALID', 'not an IPv4 address'],
    ['ipv4 with a leading zero', { ipv4: '80.67.191.06' }, 'IPV4_INVALID', 'not an IPv4'],
    ['a multicast ipv4', { ipv4: '224.0.0.1' }, 'IPV4_INVALID', 'not an address a member can hold'],
    [
      'ipv6 host bits',
      { ipv6Prefix: '2001:db8::1/64' },
      'IPV6_PREFIX_INVALID',
      'did you mean 2001:db8::/64?',
    ],
    ['ipv6 without length', { ipv6Prefix: '2001:db8::' }, 'IPV6_PREFIX_INVALID', 'is not a prefix'],
    ['ipv6 /129', { ipv6Prefix: '2001:db8::/129' }, 'IPV6_PREFIX_INVALID', 'outside 1–128'],
    ['an IPv4 prefix', { ipv6Prefix: '10.0.0.0/8' }, 'IPV6_PREFIX_INVALID', 'not an IPv6 prefix'],
    [
      'delegated garbage',
      { delegatedPrefix: '2001:db8::/5x' },
      'DELEGATED_PREFIX_INVALID',
      'delegated_prefix',
    ],
    ['mtu 575', { mtu: 575 }, 'MTU_INVALID', 'mtu 575 is outside 576–9000'],
    ['mtu 9001', { mtu: 9001 }, 'MTU_INVALID', 'outside 576–9000'],
    ['mtu 1000 with IPv6', { mtu: 1000 }, 'MTU_INVALID', 'too small for IPv6'],
    ['port-limit 0', { portLimit: 0 }, 'PORT_LIMIT_INVALID', 'port_limit 0 is outside'],
    ['interim -1', { interim: -1 }, 'INTERIM_INVALID', 'interim -1 is outside'],
  ])('refuses %s with one clear error and writes nothing', async (_what, bad, code, text) => {
    const e = await refusal(service.add({ ...p1, ...bad }, 'test'));
    expect(e).toMatchObject({ code, kind: 'invalid' });
    expect(e.message).toContain(text);
    expect(await count('subscribers')).toBe(0);
    expect(await count('audit_log')).toBe(0);
  });

  it('never gives one address to two members: same IPv4, same or overlapping prefixes', async () => {
    await service.add(p1, 'test');
    const cases: [Partial<SubscriberInput>, string][] = [
      [{ ipv4: '80.67.191.6' }, 'ipv4 80.67.191.6 is already held by p1f9bd1@NEUTRINET'],
      [{ ipv6Prefix: '2001:db8:1:2::/64' }, 'overlaps 2001:db8:1:2::/64 (ipv6_prefix of p1f9bd1@'],
      [
        { delegatedPrefix: '2001:db8:100:40::/58' },
        'overlaps 2001:db8:100::/56 (delegated_prefix of',
      ],
      [{ delegatedPrefix: '2001:db8::/32' }, 'delegated_prefix 2001:db8::/32 overlaps'],
    ];
    for (const [fields, text] of cases) {
      const e = await refusal(
        service.add({ username: 'p2@NEUTRINET', password: 'pw', ...fields }, 't'),
      );
      expect(e).toMatchObject({ code: 'ADDRESS_IN_USE', kind: 'conflict' });
      expect(e.message).toContain(text);
    }
    // A member's framed /64 inside its own delegated prefix is the seed's layout: accepted.
    await service.add(
      {
        username: 'p3@X',
        password: 'pw',
        ipv6Prefix: '2001:db8:9::/64',
        delegatedPrefix: '2001:db8:9::/56',
      },
      't',
    );
    expect(await count('subscribers')).toBe(2);
    await service.delete('p3@X', 't');
    // Neighbouring prefixes are fine.
    await service.add(
      {
        username: 'p2@NEUTRINET',
        password: 'pw',
        ipv4: '80.67.191.7',
        delegatedPrefix: '2001:db8:101::/56',
      },
      't',
    );
  });

  it('updates and clears fields, keeps the password out of the audit log', async () => {
    await service.add(p1, 'test');
    now = T0 + 1000;
    const s = await service.update(
      'p1f9bd1@neutrinet',
      { ipv4: null, mtu: 1500, interim: 300, password: 'new secret' },
      'alice',
    );
    expect(s).toMatchObject({ ipv4: null, mtu: 1500, interim: 300, updatedAt: T0 + 1000 });
    expect(await service.show('p1f9bd1@NEUTRINET')).toEqual(s);
    expect((await service.findForAuth('p1f9bd1@NEUTRINET'))?.password).toBe('new secret');
    const audit = await store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'subscriber.update')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(audit.old_value ?? '')).toEqual({
      ipv4: '80.67.191.6',
      mtu: 1492,
      interim: null,
      password: '(changed)',
    });
    expect(JSON.parse(audit.new_value ?? '')).toEqual({
      ipv4: null,
      mtu: 1500,
      interim: 300,
      password: '(changed)',
    });
    const all = await store.db.selectFrom('audit_log').select(['old_value', 'new_value']).execute();
    expect(JSON.stringify(all)).not.toMatch(/correct horse|new secret/);
    // The freed address can go to someone else; taking a held one cannot.
    await service.add({ username: 'p2@X', password: 'pw', ipv4: '80.67.191.6' }, 't');
    const e = await refusal(service.update('p2@X', { ipv6Prefix: '2001:db8:1:2::/64' }, 't'));
    expect(e.code).toBe('ADDRESS_IN_USE');
    expect((await refusal(service.update('p2@X', {}, 't'))).code).toBe('NOTHING_TO_CHANGE');
    expect((await refusal(service.update('nobody@X', { mtu: 1500 }, 't'))).kind).toBe('not_found');
    // Clearing IPv6 would not make a small MTU valid before it is cleared: checked on the result.
    expect((await refusal(service.update('p1f9bd1@NEUTRINET', { mtu: 1000 }, 't'))).code).toBe(
      'MTU_INVALID',
    );
    await service.update(
      'p1f9bd1@NEUTRINET',
      { mtu: 1000, ipv6Prefix: null, delegatedPrefix: null },
      't',
    );
  });

  it('keeps status history as intervals: suspend, resume, and the status at any time', async () => {
    await service.add(p1, 'test');
    now = T0 + 60_000;
    expect((await service.suspend('p1f9bd1@neutrinet', 'bob')).changed).toBe(true);
    expect((await service.findForAuth('p1f9bd1@NEUTRINET'))?.status).toBe('suspended');
    now = T0 + 120_000;
    expect((await service.suspend('p1f9bd1@neutrinet', 'bob')).changed).toBe(false);
    now = T0 + 180_000;
    const r = await service.resume('p1f9bd1@NEUTRINET', 'bob');
    expect(r).toMatchObject({ changed: true, subscriber: { status: 'active' } });
    const intervals = await store.db
      .selectFrom('subscriber_status')
      .select(['status', 'valid_from', 'valid_to'])
      .orderBy('valid_from')
      .execute();
    expect(intervals).toEqual([
      { status: 'active', valid_from: T0, valid_to: T0 + 60_000 },
      { status: 'suspended', valid_from: T0 + 60_000, valid_to: T0 + 180_000 },
      { status: 'active', valid_from: T0 + 180_000, valid_to: null },
    ]);
    expect(await service.statusAt('p1f9bd1@NEUTRINET', T0 - 1)).toBeUndefined();
    expect(await service.statusAt('p1f9bd1@NEUTRINET', T0 + 59_999)).toBe('active');
    expect(await service.statusAt('p1f9bd1@NEUTRINET', T0 + 60_000)).toBe('suspended');
    expect(await service.statusAt('p1f9bd1@NEUTRINET', T0 + 999_999)).toBe('active');
    const actions = await store.db.selectFrom('audit_log').select('action').orderBy('id').execute();
    expect(actions.map((a) => a.action)).toEqual([
      'subscriber.add',
      'subscriber.suspend',
      'subscriber.resume',
    ]);
  });

  it('deletes the subscriber and its history, and the audit log keeps what it was', async () => {
    await service.add(p1, 'test');
    await service.suspend(p1.username, 'test');
    const gone = await service.delete('p1f9bd1@neutrinet', 'carol');
    expect(gone.username).toBe('p1f9bd1@NEUTRINET');
    expect(await service.findForAuth(p1.username)).toBeUndefined();
    expect(await count('subscribers')).toBe(0);
    expect(await count('subscriber_status')).toBe(0);
    const last = await store.db
      .selectFrom('audit_log')
      .selectAll()
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(last).toMatchObject({
      action: 'subscriber.delete',
      actor: 'carol',
      entity_key: 'p1f9bd1@NEUTRINET',
    });
    expect(JSON.parse(last.old_value ?? '')).toMatchObject({
      ipv4: '80.67.191.6',
      status: 'suspended',
    });
    expect((await refusal(service.delete(p1.username, 't'))).code).toBe('SUBSCRIBER_NOT_FOUND');
  });

  it('imports CSV all-or-nothing; every error names its line', async () => {
    await service.add(p1, 'test');
    const csv = [
      HEADER,
      'a@R,pw,80.67.191.10,,,,', // 2: fine
      'b@R,pw,80.67.191.300,,,,', // 3: bad address
      'A@r,pw,,,,,', // 4: fine (user part case differs)
      'a@r,pw,,,,,', // 5: duplicate of line 2 (realm case)
      'c@R,pw,80.67.191.6,,,,', // 6: held by p1
      'd@R,pw,,2001:db8:100:1::/64,,,', // 7: inside p1's delegated prefix
      'e@R,pw,,,2001:db8:200::/56,1400,2', // 8: fine
      'f@R,pw,,,2001:db8:200:10::/60,,', // 9: inside line 8
      'g@R,pw,80.67.191.10,,,,', // 10: same as line 2
      'h@R,pw,,,,abc,', // 11: not a number
      'p1f9bd1@neutrinet,pw,,,,,', // 12: exists
      'i@R,pw,,,', // 13: too few cells
    ].join('\n');
    const e = await refusal(service.importCsv(csv, 'test'));
    expect(e).toBeInstanceOf(ImportError);
    expect((e as ImportError).errors).toEqual([
      "line 3: ipv4 '80.67.191.300' is not an IPv4 address",
      'line 5: subscriber a@r already appears on line 2',
      'line 6: ipv4 80.67.191.6 is already held by p1f9bd1@NEUTRINET',
      'line 7: ipv6_prefix 2001:db8:100:1::/64 overlaps 2001:db8:100::/56 (delegated_prefix of p1f9bd1@NEUTRINET)',
      'line 9: delegated_prefix 2001:db8:200:10::/60 overlaps 2001:db8:200::/56 (delegated_prefix of e@R, line 8)',
      'line 10: ipv4 80.67.191.10 is already held by a@R (line 2)',
      "line 11: mtu 'abc' is not a whole number",
      'line 12: subscriber p1f9bd1@neutrinet already exists as p1f9bd1@NEUTRINET',
      'line 13: 5 cells, expected 7',
    ]);
    expect(e.message).toMatch(/\n9 errors; nothing was imported$/);
    expect(await count('subscribers')).toBe(1);
    expect(await count('audit_log')).toBe(1);

    const good = `${HEADER}\r\n"quoted, name@R","pa""ss\nword",,,,1492,1\r\nA@r,pw,,,,,\r\n`;
    const progress: number[] = [];
    const r = await service.importCsv(good, 'test', { onProgress: (d) => progress.push(d) });
    expect(r.imported).toBe(2);
    expect(progress).toEqual([2]);
    expect(await service.findForAuth('quoted, name@r')).toMatchObject({
      password: 'pa"ss\nword',
      mtu: 1492,
    });
    expect(await count('subscriber_status')).toBe(3);
    expect(await count('audit_log')).toBe(3);
  });

  it('reports the first 20 errors and how many there were; refuses a wrong header', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => `u${i}@R,pw,1.2.3.${300 + i},,,,`);
    const e = (await refusal(service.importCsv([HEADER, ...rows].join('\n'), 't'))) as ImportError;
    expect(e.errors).toHaveLength(20);
    expect(e.errorCount).toBe(30);
    expect(e.errors[0]).toBe("line 2: ipv4 '1.2.3.300' is not an IPv4 address");
    expect(e.message).toContain('30 errors (the first 20 are shown); nothing was imported');
    const h = (await refusal(service.importCsv('user,password\nx,y\n', 't'))) as ImportError;
    expect(h.errors).toEqual([`line 1: the header must be exactly ${HEADER}`]);
    const q = (await refusal(service.importCsv(`${HEADER}\n"open,pw,,,,,\n`, 't'))) as ImportError;
    expect(q.errors).toEqual(['line 2: a quoted field is not closed']);
  });

  it('exports what import reads back (round trip), passwords included', async () => {
    await service.add(p1, 'test');
    await service.add({ username: 'odd, "name"@R', password: 'p,w"x', ipv4: '80.67.191.9' }, 't');
    const csv = await service.export();
    expect(csv.split('\n')[0]).toBe(HEADER);
    expect(csv).toContain('correct horse');
    const before = (await service.list()).map(({ createdAt: _c, updatedAt: _u, ...rest }) => rest);
    await service.delete(p1.username, 't');
    await service.delete('odd, "name"@R', 't');
    expect((await service.importCsv(csv, 't')).imported).toBe(2);
    const after = (await service.list()).map(({ createdAt: _c, updatedAt: _u, ...rest }) => rest);
    expect(after).toEqual(before);
    expect((await service.findForAuth('odd, "name"@r'))?.password).toBe('p,w"x');
  });

  it('imports 10,000 rows in a few seconds', async () => {
    const rows = Array.from(
      { length: 10_000 },
      (_, i) =>
        `m${i}@NEUTRINET,pw-${i},10.${i >> 8}.${i & 255}.1,2001:db8:${i.toString(16)}::/64,2001:db9:${i.toString(16)}::/48,1492,1`,
    );
    const started = performance.now();
    const r = await service.importCsv([HEADER, ...rows].join('\n'), 'test');
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `[${ts.name}] service import of 10,000 rows: ${seconds.toFixed(2)} s (${Math.round(10_000 / seconds)} rows/s)\n`,
    );
    expect(r.imported).toBe(10_000);
    expect(await count('subscribers')).toBe(10_000);
    expect(await count('audit_log')).toBe(10_000);
    expect((await service.findForAuth('m9999@neutrinet'))?.password).toBe('pw-9999');
    expect(seconds).toBeLessThan(10);
  });
});
