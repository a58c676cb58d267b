// Issue 6's "done when": a full /24 (minus reserved) and a /48 of /60s allocated concurrently
// from two store connections (two ispkit instances on one PostgreSQL), no duplicate, and a clean
// "pool exhausted" at the end. SQLite serialises writers inside one process (one connection,
// Kysely's mutex), so there the same run checks the logic, not the race.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/errors.js';
import type { Holder, Purpose } from '../../src/ipam/service.js';
import { IpamService } from '../../src/ipam/service.js';
import { SecretBox } from '../../src/secrets/box.js';
import type { Store } from '../../src/store/store.js';
import { openStore } from '../../src/store/store.js';
import { SubscriberService } from '../../src/subscribers/service.js';
import { testStores } from '../helpers/stores.js';

const stores = await testStores();
const V4 = 254; // 80.67.191.0/24 without network and broadcast
const V6 = 4096; // 2001:913:1d00::/48 in /60s
// Per instance: more writers than a real deployment sees at once, few enough for a shared CI box.
const WORKERS = 4;

describe.each(stores)('concurrent allocation on $name', (ts) => {
  let dir: string;
  let one: Store;
  let two: Store;
  let holders: Holder[];

  beforeAll(async () => {
    await ts.reset();
    dir = mkdtempSync(join(tmpdir(), 'ispkit-ipam-race-'));
    one = await openStore(ts.url, dir);
    await one.migrate();
    two = ts.name === 'postgres' ? await openStore(ts.url, dir) : one;
    const ipam = new IpamService(one);
    await ipam.addPool({ name: 'public', prefix: '80.67.191.0/24', purpose: 'ipv4' }, 'test');
    await ipam.addPool(
      { name: 'pd', prefix: '2001:913:1d00::/48', purpose: 'delegated-ipv6', size: 60 },
      'test',
    );
    const subs = new SubscriberService(one, SecretBox.withKey(randomBytes(32)));
    const rows = Array.from({ length: V6 + 2 }, (_, i) => ({
      line: i + 2,
      username: `m${i}@NEUTRINET`,
      password: 'pw',
      ipv4: '',
      ipv6_prefix: '',
      delegated_prefix: '',
      mtu: '',
      port_limit: '',
    }));
    await subs.import(rows, 'test');
    const ids = await one.db.selectFrom('subscribers').select(['id', 'username']).execute();
    holders = ids.map((r) => ({ id: r.id, username: r.username }));
  }, 120_000);

  afterAll(async () => {
    if (two !== one) await two?.close();
    await one?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Allocates for each holder, WORKERS at a time per instance, both instances at once. */
  async function race(purpose: Purpose, wanted: Holder[]): Promise<(string | DomainError)[]> {
    const instances = [one, two].map((store) => ({ store, ipam: new IpamService(store) }));
    const results: (string | DomainError)[] = [];
    let next = 0;
    const worker = async ({ store, ipam }: (typeof instances)[number]) => {
      while (next < wanted.length) {
        const holder = wanted[next++] as Holder;
        try {
          results.push(
            await store.db
              .transaction()
              .execute((trx) => ipam.allocateIn(trx, holder, purpose, 'test')),
          );
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          results.push(e);
        }
      }
    };
    await Promise.all(instances.flatMap((i) => Array.from({ length: WORKERS }, () => worker(i))));
    return results;
  }

  function check(results: (string | DomainError)[], expected: number) {
    const addresses = results.filter((r): r is string => typeof r === 'string');
    const errors = results.filter((r): r is DomainError => r instanceof DomainError);
    expect(addresses).toHaveLength(expected);
    expect(new Set(addresses).size).toBe(expected);
    expect(errors.map((e) => e.code)).toEqual(
      Array.from({ length: results.length - expected }, () => 'POOL_EXHAUSTED'),
    );
    return addresses;
  }

  it('fills 80.67.191.0/24 from two instances: 254 addresses, no duplicate, then POOL_EXHAUSTED', async () => {
    const got = check(await race('ipv4', holders.slice(0, V4 + 2)), V4);
    expect(got).not.toContain('80.67.191.0');
    expect(got).not.toContain('80.67.191.255');
    const e = await one.db
      .transaction()
      .execute((trx) =>
        new IpamService(one).allocateIn(trx, holders[V4 + 3] as Holder, 'ipv4', 't'),
      )
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'POOL_EXHAUSTED' });
    expect((e as Error).message).toBe(
      'no free ipv4 address left (public 80.67.191.0/24: 254 held, 0 in quarantine, 2 reserved of 256)',
    );
  }, 120_000);

  it('fills a /48 of /60s from two instances: 4,096 prefixes, no duplicate, then POOL_EXHAUSTED', async () => {
    const got = check(await race('delegated-ipv6', holders), V6);
    expect(got).toContain('2001:913:1d00::/60');
    expect(got).toContain('2001:913:1d00:fff0::/60');
    const held = await one.db
      .selectFrom('ip_assignments')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('valid_to', 'is', null)
      .executeTakeFirstOrThrow();
    expect(Number(held.n)).toBe(V4 + V6);
    const pools = await new IpamService(two).listPools();
    expect(pools.map((p) => [p.name, p.used, p.free])).toEqual([
      ['pd', V6, 0],
      ['public', V4, 0],
    ]);
  }, 300_000);
});
