import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testStores } from '../../test/helpers/stores.js';
import { DomainError } from '../errors.js';
import { SecretBox } from '../secrets/box.js';
import type { Store } from '../store/store.js';
import { openStore } from '../store/store.js';
import { SubscriberService } from '../subscribers/service.js';
import { checkPool, isReserved, reservedSlots, slotOf } from './pools.js';
import { parsePrefix } from './prefix.js';
import { IpamService } from './service.js';

const stores = await testStores();
const T0 = Date.UTC(2025, 3, 8, 10, 0, 0);
const HOUR = 3600_000;

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a DomainError, the call succeeded');
}

describe.each(stores)('IpamService on $name', (ts) => {
  let dir: string;
  let store: Store;
  let now: number;
  let ipam: IpamService;
  let subs: SubscriberService;
  const clock = () => now;
  const audits = async () => (await store.db.selectFrom('audit_log').select('id').execute()).length;
  const add = (username: string, allocate = true, extra = {}) =>
    subs.add({ username, password: 'pw', ...extra }, 'test', { allocate });

  beforeEach(async () => {
    await ts.reset();
    dir = mkdtempSync(join(tmpdir(), 'ispkit-ipam-'));
    store = await openStore(ts.url, dir);
    await store.migrate();
    now = T0;
    ipam = new IpamService(store, clock);
    subs = new SubscriberService(store, SecretBox.withKey(randomBytes(32)), clock, ipam);
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('allocates lowest free first, skipping network, gateway and reserved; a member keeps its own', async () => {
    await ipam.addPool(
      {
        name: 'public',
        prefix: '80.67.191.0/24',
        purpose: 'ipv4',
        gateway: '80.67.191.1',
        reserve: ['80.67.191.2', '80.67.191.4'],
      },
      'test',
    );
    await ipam.addPool(
      { name: 'framed', prefix: '2001:913:1000::/48', purpose: 'framed-ipv6' },
      'test',
    );
    await ipam.addPool(
      { name: 'pd', prefix: '2001:913:1d00::/48', purpose: 'delegated-ipv6', size: 60 },
      'test',
    );
    const a = await add('a@X');
    expect(a).toMatchObject({
      ipv4: '80.67.191.3',
      ipv6Prefix: '2001:913:1000::/64',
      delegatedPrefix: '2001:913:1d00::/60',
    });
    expect((await add('b@X')).ipv4).toBe('80.67.191.5');
    // Asking again changes nothing: the member keeps its addresses.
    expect(await subs.update('a@X', {}, 'test', { allocate: true })).toMatchObject({
      ipv4: '80.67.191.3',
    });
    const pools = await ipam.listPools();
    expect(pools.find((p) => p.name === 'public')).toMatchObject({
      total: 256,
      used: 2,
      quarantined: 0,
      reserved: 5,
      free: 249,
    });
    expect(pools.find((p) => p.name === 'pd')).toMatchObject({ total: 4096, used: 2, free: 4094 });
    const audit = await store.db
      .selectFrom('audit_log')
      .select('action')
      .where('action', '=', 'ip.allocate')
      .execute();
    expect(audit).toHaveLength(6);
  });

  it('keeps a released address in quarantine, gives it back to its holder, and to others later', async () => {
    await ipam.addPool(
      { name: 'cg', prefix: '100.64.0.0/30', purpose: 'cgnat-ipv4', quarantineSeconds: 3600 },
      'test',
    );
    const a = await subs.add({ username: 'a@X', password: 'pw' }, 'test', {
      allocate: true,
      cgnat: true,
    });
    expect(a.ipv4).toBe('100.64.0.1');
    now += 1000;
    expect(await subs.update('a@X', {}, 'test', { release: true })).toMatchObject({ ipv4: null });
    expect((await ipam.showPool('cg')).quarantined).toBe(1);
    // Another member gets the next one, not the quarantined one.
    const b = await subs.add({ username: 'b@X', password: 'pw' }, 'test', {
      allocate: true,
      cgnat: true,
    });
    expect(b.ipv4).toBe('100.64.0.2');
    const e = await refusal(
      subs.add({ username: 'c@X', password: 'pw' }, 'test', { allocate: true, cgnat: true }),
    );
    expect(e).toMatchObject({ code: 'POOL_EXHAUSTED', kind: 'conflict' });
    expect(e.message).toContain('1 held, 1 in quarantine, 2 reserved of 4');
    // Its own holder may take it back during quarantine.
    expect((await subs.update('a@X', {}, 'test', { allocate: true, cgnat: true })).ipv4).toBe(
      '100.64.0.1',
    );
    await subs.update('a@X', {}, 'test', { release: true });
    now += HOUR + 1;
    const c = await subs.add({ username: 'c@X', password: 'pw' }, 'test', {
      allocate: true,
      cgnat: true,
    });
    expect(c.ipv4).toBe('100.64.0.1');
    const who = await ipam.whoHolds('100.64.0.1');
    expect(who.current.map((h) => h.username)).toEqual(['c@X']);
    expect(who.history.map((h) => h.username)).toEqual(['c@X', 'a@X', 'a@X']);
  });

  it('answers who held an address at a given time, after the member and the pool are gone', async () => {
    await ipam.addPool(
      { name: 'public', prefix: '80.67.191.0/24', purpose: 'ipv4', quarantineSeconds: 0 },
      'test',
    );
    await add('early@X', false, { ipv4: '80.67.191.6' });
    now = T0 + 24 * HOUR;
    await subs.delete('early@X', 'test');
    now = T0 + 48 * HOUR;
    await add('late@X', false, { ipv4: '80.67.191.6' });
    const at = (ms: number) => ipam.whoHolds('80.67.191.6', ms);
    expect((await at(T0 + 11 * 60_000)).current.map((h) => h.username)).toEqual(['early@X']);
    expect((await at(T0 + 30 * HOUR)).current).toEqual([]);
    expect((await at(T0 + 50 * HOUR)).current.map((h) => h.username)).toEqual(['late@X']);
    // Looked up by the /24 it sits in: both holdings.
    expect((await ipam.whoHolds('80.67.191.0/24')).history).toHaveLength(2);
    await subs.delete('late@X', 'test');
    await ipam.removePool('public', 'test');
    const h = (await ipam.whoHolds('80.67.191.6')).history;
    expect(h.map((x) => [x.username, x.pool, x.origin])).toEqual([
      ['late@X', null, 'static'],
      ['early@X', null, 'static'],
    ]);
    expect(h[1]).toMatchObject({ from: T0, to: T0 + 24 * HOUR });
  });

  it('finds the delegated prefix that holds an IPv6 address', async () => {
    await ipam.addPool(
      { name: 'pd', prefix: '2001:913:1d00::/48', purpose: 'delegated-ipv6', size: 60 },
      'test',
    );
    await add('a@X', false, { delegatedPrefix: '2001:913:1d00:600::/60' });
    const who = await ipam.whoHolds('2001:913:1d00:605::1');
    expect(who.current.map((h) => [h.username, h.address])).toEqual([
      ['a@X', '2001:913:1d00:600::/60'],
    ]);
    expect((await ipam.whoHolds('2001:913:1d00:610::1')).history).toEqual([]);
  });

  it('refuses bad pools with one clear error and writes nothing', async () => {
    await ipam.addPool({ name: 'public', prefix: '80.67.191.0/24', purpose: 'ipv4' }, 'test');
    const before = await audits();
    for (const [input, code] of [
      [{ name: 'inner', prefix: '80.67.191.128/25', purpose: 'cgnat-ipv4' }, 'POOL_OVERLAP'],
      [{ name: 'outer', prefix: '80.67.0.0/16', purpose: 'ipv4' }, 'POOL_OVERLAP'],
      [{ name: 'public', prefix: '80.67.192.0/24', purpose: 'ipv4' }, 'POOL_EXISTS'],
      [{ name: 'x', prefix: '80.67.192.1/24', purpose: 'ipv4' }, 'PREFIX_NOT_ALIGNED'],
      [
        { name: 'x', prefix: '2001:913::/32', purpose: 'framed-ipv6', size: 56 },
        'POOL_SIZE_INVALID',
      ],
    ] as const) {
      expect(await refusal(ipam.addPool(input, 'test'))).toMatchObject({ code });
    }
    expect((await ipam.listPools()).map((p) => p.name)).toEqual(['public']);
    expect(await audits()).toBe(before);
  });

  it('checks static addresses against the pools, only once a pool exists', async () => {
    // No pool: any address, as before IPAM.
    await add('old@X', false, { ipv4: '192.0.2.10', delegatedPrefix: '2001:913:1d00:600::/60' });
    await ipam.addPool(
      { name: 'public', prefix: '80.67.191.0/24', purpose: 'ipv4', gateway: '80.67.191.1' },
      'test',
    );
    await add('m1@X', false, { ipv4: '80.67.191.6' });
    const before = await audits();
    const cases = [
      [{ ipv4: '80.67.192.6' }, 'ADDRESS_OUTSIDE_POOLS', 'outside every ipv4/cgnat-ipv4 pool'],
      [{ ipv4: '80.67.191.1' }, 'ADDRESS_RESERVED', 'is reserved in pool public'],
      [{ ipv4: '80.67.191.255' }, 'ADDRESS_RESERVED', 'is reserved'],
      [{ ipv4: '80.67.191.6' }, 'ADDRESS_IN_USE', 'held by m1@X'],
    ] as const;
    for (const [fields, code, message] of cases) {
      const e = await refusal(add('m2@X', false, fields));
      expect(e).toMatchObject({ code });
      expect(e.message).toContain(message);
      if (code !== 'ADDRESS_IN_USE') {
        expect(await refusal(subs.update('m1@X', fields, 'test'))).toMatchObject({ code });
      }
    }
    expect(await audits()).toBe(before);
    expect((await subs.list()).map((s) => s.username)).toEqual(['m1@X', 'old@X']);
    // IPv6 has no pool yet: any prefix goes.
    await add('m3@X', false, { delegatedPrefix: '2001:db8::/56' });
    // A pool that holds a member's hand-set address adopts it; the allocator skips it.
    await ipam.addPool(
      { name: 'pd', prefix: '2001:913:1d00::/48', purpose: 'delegated-ipv6', size: 60 },
      'test',
    );
    const owner = await ipam.whoHolds('2001:913:1d00:600::/60');
    expect(owner.current.map((h) => [h.username, h.origin])).toEqual([['old@X', 'static']]);
    const e = await refusal(
      ipam.addPool(
        { name: 'pd2', prefix: '2001:db8::/48', purpose: 'delegated-ipv6', size: 60 },
        'test',
      ),
    );
    expect(e).toMatchObject({ code: 'ADDRESS_SIZE_MISMATCH' });
    expect(e.message).toContain('m3@X');
  });

  it('moves a member to another static address, the old one into quarantine', async () => {
    await ipam.addPool({ name: 'public', prefix: '80.67.191.0/24', purpose: 'ipv4' }, 'test');
    await add('m1@X', false, { ipv4: '80.67.191.6' });
    await subs.update('m1@X', { ipv4: '80.67.191.7' }, 'test');
    expect((await ipam.showPool('public')).quarantined).toBe(1);
    const e = await refusal(add('m2@X', false, { ipv4: '80.67.191.6' }));
    expect(e).toMatchObject({ code: 'ADDRESS_IN_USE' });
    expect(e.message).toContain('quarantine until 2025-04-15T10:00:00.000Z (released by m1@X)');
  });

  it('refuses to remove a pool in use; after release it goes and the history stays', async () => {
    await ipam.addPool({ name: 'public', prefix: '80.67.191.0/24', purpose: 'ipv4' }, 'test');
    await add('m1@X');
    expect(await refusal(ipam.removePool('public', 'test'))).toMatchObject({
      code: 'POOL_IN_USE',
    });
    await subs.update('m1@X', {}, 'test', { release: true });
    await ipam.removePool('public', 'test');
    expect(await ipam.listPools()).toEqual([]);
    expect((await ipam.whoHolds('80.67.191.1')).history).toHaveLength(1);
    expect(await refusal(add('m2@X'))).toMatchObject({ code: 'NO_POOL' });
  });

  it('never hands out an address twice, outside the pool, reserved or quarantined (random runs)', async () => {
    await ipam.addPool(
      {
        name: 'small',
        prefix: '80.67.191.0/28',
        purpose: 'ipv4',
        gateway: '80.67.191.1',
        reserve: ['80.67.191.8/31'],
        quarantineSeconds: 60,
      },
      'test',
    );
    const def = checkPool({
      name: 'small',
      prefix: '80.67.191.0/28',
      purpose: 'ipv4',
      gateway: '80.67.191.1',
      reserve: ['80.67.191.8/31'],
    });
    const reserved = reservedSlots(def);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            who: fc.integer({ min: 0, max: 12 }),
            op: fc.constantFrom('allocate', 'release', 'wait'),
          }),
          { minLength: 5, maxLength: 25 },
        ),
        async (ops) => {
          run++;
          // A fresh set of names per run: earlier runs' holdings stay, as in a real pool.
          const name = (i: number) => `r${run}m${i}@X`;
          const released = new Map<string, { by: string; until: number }>();
          for (const { who, op } of ops) {
            if (op === 'wait') {
              now += 30_000;
              continue;
            }
            const exists = await subs.show(name(who)).then(
              () => true,
              () => false,
            );
            if (!exists) await subs.add({ username: name(who), password: 'pw' }, 'test');
            if (op === 'release') {
              const before = await subs.show(name(who));
              await subs.update(name(who), {}, 'test', { release: true }).catch(() => undefined);
              if (before.ipv4) released.set(before.ipv4, { by: name(who), until: now + 60_000 });
              continue;
            }
            let got: string | null;
            try {
              got = (await subs.update(name(who), {}, 'test', { allocate: true })).ipv4;
            } catch (e) {
              if (e instanceof DomainError && e.code === 'POOL_EXHAUSTED') continue;
              throw e;
            }
            if (got === null) throw new Error('no address');
            const slot = slotOf(def, parsePrefix(got));
            expect(slot).toBeDefined();
            expect(isReserved(reserved, slot as number)).toBe(false);
            const q = released.get(got);
            if (q && q.by !== name(who)) expect(now).toBeGreaterThanOrEqual(q.until);
          }
          const held = (await subs.list()).map((s) => s.ipv4).filter((a) => a !== null);
          expect(new Set(held).size).toBe(held.length);
          const current = await store.db
            .selectFrom('ip_assignments')
            .select('address')
            .where('valid_to', 'is', null)
            .execute();
          expect(current.map((r) => r.address).sort()).toEqual([...held].sort());
        },
      ),
      { numRuns: 15 },
    );
  });
});
