import { describe, expect, it } from 'vitest';
import { randomOctets } from './random.js';

describe('randomOctets (pooled CSPRNG)', () => {
  it('gives the length asked, in buffers of their own, across pool refills', () => {
    const seen = new Set<string>();
    const outs: Buffer[] = [];
    for (let i = 0; i < 5000; i++) {
      const b = randomOctets(16);
      expect(b.length).toBe(16);
      outs.push(b);
      seen.add(b.toString('hex'));
    }
    // 80,000 octets: twenty refills of the pool; no value handed out twice, none erased first.
    expect(seen.size).toBe(5000);
    expect(outs[0]?.equals(Buffer.alloc(16))).toBe(false);
    expect(randomOctets(1000).length).toBe(1000); // larger than the pool's share: straight from the CSPRNG
  });

  it('octet values are spread evenly (a broken pool repeating or zeroing would not be)', () => {
    const counts = new Array<number>(256).fill(0);
    const n = 256 * 400;
    for (let i = 0; i < n / 2; i++) {
      for (const octet of randomOctets(2)) counts[octet] = (counts[octet] ?? 0) + 1;
    }
    // Expected 400 per value; a fair source stays well within ±40 % for every value.
    expect(Math.min(...counts)).toBeGreaterThan(240);
    expect(Math.max(...counts)).toBeLessThan(560);
  });
});
