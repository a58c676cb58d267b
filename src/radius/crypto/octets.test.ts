import { describe, expect, it } from 'vitest';
import { freshOctets } from './octets.js';

describe('freshOctets (private slab)', () => {
  it('hands out zeroed views that never overlap, across many slabs', () => {
    const outs: Buffer[] = [];
    // 3,000 × 13 octets (16 with alignment): about six slabs of 8 KiB.
    for (let i = 0; i < 3000; i++) {
      const b = freshOctets(13);
      expect(b.length).toBe(13);
      expect(b.every((o) => o === 0)).toBe(true);
      b.fill((i % 255) + 1);
      outs.push(b);
    }
    // Each keeps what was written to it: no later view shared its octets.
    for (let i = 0; i < outs.length; i++) {
      expect(outs[i]?.every((o) => o === (i % 255) + 1)).toBe(true);
    }
  });

  it('small views share a slab (no backing store of their own); large ones do not', () => {
    const a = freshOctets(16);
    const b = freshOctets(16);
    // Same slab unless `a` took its last octets: one of the next pair then shares.
    const c = freshOctets(16);
    expect(a.buffer === b.buffer || b.buffer === c.buffer).toBe(true);
    expect(a.buffer.byteLength).toBeGreaterThanOrEqual(8192);
    const big = freshOctets(1000);
    expect(big.length).toBe(1000);
    expect(big.every((o) => o === 0)).toBe(true);
    expect(big.buffer).not.toBe(freshOctets(1000).buffer);
  });
});
