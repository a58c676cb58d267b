// internal.ts's md5 (hash-wasm, reused across calls) must be the MD5 of RFC 1321, whatever the
// inputs and however they are split into parts.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { md5 } from './internal.js';

describe('md5', () => {
  it('RFC 1321 A.5 test suite', () => {
    const suite: [string, string][] = [
      ['', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['a', '0cc175b9c0f1b6a831c399e269772661'],
      ['abc', '900150983cd24fb0d6963f7d28e17f72'],
      ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
      ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
      [
        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
        'd174ab98d277d9f5a5611c2c9f419d9f',
      ],
      [
        '12345678901234567890123456789012345678901234567890123456789012345678901234567890',
        '57edf4a22be3c955ac49da2e2107b67a',
      ],
    ];
    for (const [text, digest] of suite) expect(md5(Buffer.from(text)).toString('hex')).toBe(digest);
  });

  it('equals node:crypto for any parts (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }),
        fc.uint8Array({ minLength: 0, maxLength: 5000 }),
        (parts, big) => {
          const all = [...parts, big];
          const expected = createHash('md5');
          for (const p of all) expected.update(p);
          expect(md5(...all).toString('hex')).toBe(expected.digest('hex'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('each digest is octets of its own (the hasher is reused), a view of the slab', () => {
    const a = md5(Buffer.from('a'));
    const b = md5(Buffer.from('b'));
    expect(a.toString('hex')).toBe('0cc175b9c0f1b6a831c399e269772661');
    expect(b.toString('hex')).toBe('92eb5ffee6ae2fec3ad71c777531578f');
    expect(a.buffer === b.buffer && a.byteOffset === b.byteOffset).toBe(false);
    // A view of octets.ts's slab, not V8's on-heap copy (which would cost an allocation).
    expect(a.buffer.byteLength).toBeGreaterThanOrEqual(8192);
  });
});
