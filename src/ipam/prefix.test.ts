import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import type { Family, Prefix } from './prefix.js';
import {
  BITS,
  contains,
  formatAddress,
  formatPrefix,
  lastAddress,
  nthSubPrefix,
  overlaps,
  parsePrefix,
  size,
  sortableHex,
  subPrefixCount,
  subPrefixIndex,
} from './prefix.js';

/** Any aligned prefix of either family. */
const prefixArb: fc.Arbitrary<Prefix> = fc.constantFrom<Family>(4, 6).chain((family) =>
  fc
    .record({
      n: fc.bigInt({ min: 0n, max: (1n << BigInt(BITS[family])) - 1n }),
      length: fc.integer({ min: 0, max: BITS[family] }),
    })
    .map(({ n, length }) => {
      const host = BigInt(BITS[family] - length);
      return { family, first: (n >> host) << host, length };
    }),
);

describe('prefix arithmetic', () => {
  it('parses and formats the usual forms', () => {
    expect(parsePrefix('80.67.191.0/24')).toEqual({ family: 4, first: 0x5043bf00n, length: 24 });
    expect(formatPrefix(parsePrefix('2001:0913:0000::/32'))).toBe('2001:913::/32');
    expect(formatPrefix(parsePrefix('80.67.191.6'))).toBe('80.67.191.6/32');
    expect(formatPrefix(parsePrefix('80.67.191.6/24', 'address', false))).toBe('80.67.191.0/24');
    expect(size(parsePrefix('2001:913::/48'))).toBe(1n << 80n);
  });

  it.each([
    ['80.67.191.1/24', 'PREFIX_NOT_ALIGNED', 'did you mean 80.67.191.0/24?'],
    ['2001:913::1/64', 'PREFIX_NOT_ALIGNED', 'did you mean 2001:913::/64?'],
    ['80.67.191.0/33', 'PREFIX_INVALID', 'length outside 0–32'],
    ['80.67.191/24', 'PREFIX_INVALID', 'not an IPv4 or IPv6'],
    ['80.67.191.06', 'PREFIX_INVALID', 'not an IPv4 or IPv6'],
    ['fe80::1%eth0', 'PREFIX_INVALID', 'not an IPv4 or IPv6'],
    ['2001:913::/129', 'PREFIX_INVALID', 'length outside 0–128'],
  ])('refuses %s with one clear error', (text, code, message) => {
    let error: unknown;
    try {
      parsePrefix(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toContain(message);
  });

  it('round-trips text through numbers (ipaddr.js agrees)', () => {
    fc.assert(
      fc.property(prefixArb, (p) => {
        const text = formatPrefix(p);
        expect(parsePrefix(text)).toEqual(p);
        const [addr, len] = ipaddr.parseCIDR(text);
        expect(len).toBe(p.length);
        expect(addr.toString()).toBe(formatAddress(p.family, p.first));
      }),
    );
  });

  it('orders sortable hex as numbers', () => {
    fc.assert(
      fc.property(prefixArb, prefixArb, (a, b) => {
        fc.pre(a.family === b.family);
        const [x, y] = [sortableHex(a.family, a.first), sortableHex(b.family, b.first)];
        expect(x < y).toBe(a.first < b.first);
        expect(x.length).toBe(BITS[a.family] / 4);
      }),
    );
  });

  it('contains and overlaps agree with address ranges', () => {
    fc.assert(
      fc.property(prefixArb, prefixArb, (a, b) => {
        fc.pre(a.family === b.family);
        const shareAny = a.first <= lastAddress(b) && b.first <= lastAddress(a);
        expect(overlaps(a, b)).toBe(shareAny);
        expect(contains(a, b)).toBe(a.first <= b.first && lastAddress(b) <= lastAddress(a));
        // Nested or disjoint: never a partial overlap.
        if (shareAny) expect(contains(a, b) || contains(b, a)).toBe(true);
      }),
    );
  });

  it('cuts a prefix into sub-prefixes that tile it exactly', () => {
    fc.assert(
      fc.property(
        prefixArb,
        fc.integer({ min: 0, max: 16 }),
        fc.bigInt({ min: 0n }),
        (p, extra, k) => {
          const length = Math.min(BITS[p.family], p.length + extra);
          const count = subPrefixCount(p, length);
          const n = k % count;
          const sub = nthSubPrefix(p, length, n);
          expect(contains(p, sub)).toBe(true);
          expect(sub.length).toBe(length);
          expect(subPrefixIndex(p, length, sub.first)).toBe(n);
          expect(subPrefixIndex(p, length, lastAddress(sub))).toBe(n);
          expect(count * size(sub)).toBe(size(p));
          if (n + 1n < count) {
            expect(nthSubPrefix(p, length, n + 1n).first).toBe(lastAddress(sub) + 1n);
          } else {
            expect(lastAddress(sub)).toBe(lastAddress(p));
          }
        },
      ),
    );
  });
});
