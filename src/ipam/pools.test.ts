import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PoolInput } from './pools.js';
import { checkPool, isReserved, lowestFree, reservedSlots, slotCount, slotText } from './pools.js';

describe('pool definitions', () => {
  it('reserves network, broadcast and the gateway of an IPv4 pool', () => {
    const p = checkPool({
      name: 'public',
      prefix: '80.67.191.0/24',
      purpose: 'ipv4',
      gateway: '80.67.191.1',
      reserve: ['80.67.191.128/30'],
    });
    expect(slotCount(p)).toBe(256);
    expect(reservedSlots(p)).toEqual([
      [0, 1],
      [128, 131],
      [255, 255],
    ]);
    expect(slotText(p, 6)).toBe('80.67.191.6');
    // RFC 3021: both addresses of a /31 are usable.
    expect(
      reservedSlots(checkPool({ name: 'p2p', prefix: '10.0.0.0/31', purpose: 'ipv4' })),
    ).toEqual([]);
  });

  it('cuts IPv6 pools into their allocation size', () => {
    const p = checkPool({
      name: 'pd',
      prefix: '2001:913:1d00::/48',
      purpose: 'delegated-ipv6',
      size: 60,
    });
    expect(slotCount(p)).toBe(4096);
    expect(reservedSlots(p)).toEqual([]);
    expect(slotText(p, 96)).toBe('2001:913:1d00:600::/60');
  });

  it.each<[Partial<PoolInput>, string, string]>([
    [{ prefix: '80.67.191.1/24' }, 'PREFIX_NOT_ALIGNED', 'did you mean 80.67.191.0/24?'],
    [{ purpose: 'ipv5' }, 'POOL_PURPOSE_INVALID', "purpose 'ipv5' is not one of"],
    [{ prefix: '2001:913::/48' }, 'POOL_FAMILY_MISMATCH', 'needs an IPv4 prefix'],
    [{ size: 30 }, 'POOL_SIZE_INVALID', 'allowed: /32'],
    [
      { purpose: 'delegated-ipv6', prefix: '2001:913::/32', size: 72 },
      'POOL_SIZE_INVALID',
      'allowed: /48–64',
    ],
    [
      { purpose: 'delegated-ipv6', prefix: '2001:913:1d00:600::/60', size: 56 },
      'POOL_SIZE_INVALID',
      'smaller than one /56',
    ],
    [{ purpose: 'framed-ipv6', prefix: '2001::/16', size: 128 }, 'POOL_TOO_LARGE', 'at most 2^48'],
    [{ reserve: ['80.67.192.1'] }, 'POOL_RESERVED_OUTSIDE', 'is not inside the pool'],
    [{ quarantineSeconds: -1 }, 'POOL_QUARANTINE_INVALID', 'outside'],
    [{ name: 'a b' }, 'POOL_NAME_INVALID', 'must be 1–64'],
  ])('refuses %o', (change, code, message) => {
    const input = { name: 'p', prefix: '80.67.191.0/24', purpose: 'ipv4', ...change };
    expect(() => checkPool(input)).toThrow(expect.objectContaining({ code }));
    expect(() => checkPool(input)).toThrow(message);
  });
});

describe('lowest free slot', () => {
  const poolArb = fc
    .record({
      length: fc.integer({ min: 22, max: 32 }),
      reserve: fc.array(fc.integer({ min: 0, max: 1023 }), { maxLength: 6 }),
      taken: fc.uniqueArray(fc.integer({ min: 0, max: 1023 }), { maxLength: 1024 }),
      from: fc.integer({ min: 0, max: 1100 }),
      skip: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 })),
    })
    .map((r) => {
      const total = 2 ** (32 - r.length);
      const reserve = r.reserve.filter((s) => s < total).map((s) => `10.0.${s >> 8}.${s & 255}`);
      const def = checkPool({
        name: 'p',
        prefix: `10.0.0.0/${r.length}`,
        purpose: 'ipv4',
        reserve,
      });
      return { ...r, def, total, taken: new Set(r.taken.filter((s) => s < total)) };
    });

  /** What the store answers: the first slot at or after `from` that is not taken. */
  const fakeStore = (taken: Set<number>) => {
    let queries = 0;
    const next = (from: number) => {
      queries++;
      let s = from;
      while (taken.has(s)) s++;
      return Promise.resolve(s);
    };
    return { next, queries: () => queries };
  };

  it('is the smallest slot at or after `from` neither reserved nor occupied (or the skip+1th)', async () => {
    await fc.assert(
      fc.asyncProperty(poolArb, async ({ def, total, taken, from, skip }) => {
        const reserved = reservedSlots(def);
        const store = fakeStore(taken);
        const found = await lowestFree(total, reserved, store.next, from, skip);
        const free: number[] = [];
        for (let s = from; s < total && free.length <= skip; s++) {
          if (!isReserved(reserved, s) && !taken.has(s)) free.push(s);
        }
        expect(found).toBe(free[Math.min(skip, free.length - 1)]);
        // One query per gap, reserved range and skipped slot: never one per slot of the pool.
        expect(store.queries()).toBeLessThanOrEqual(2 * (reserved.length + skip + 2));
      }),
    );
  });

  it('finds the gap in a /32 of /56s (16M slots) in one query', async () => {
    const def = checkPool({ name: 'big', prefix: '2001:913::/32', purpose: 'delegated-ipv6' });
    expect(slotCount(def)).toBe(2 ** 24);
    const taken = new Set(Array.from({ length: 1500 }, (_, i) => (i < 1200 ? i : i + 1)));
    const store = fakeStore(taken);
    expect(await lowestFree(slotCount(def), [], store.next)).toBe(1200);
    expect(store.queries()).toBe(2);
  });
});
