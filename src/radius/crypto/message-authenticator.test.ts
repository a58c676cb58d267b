import { describe, expect, it } from 'vitest';
import fc from 'fast-check';

import { computeResponseAuthenticator, verifyResponseAuthenticator } from './authenticator.js';
import {
  computeMessageAuthenticator,
  verifyMessageAuthenticator,
} from './message-authenticator.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const secret = Buffer.from('xyzzy5461');
const authOf = (raw: Buffer): Buffer => raw.subarray(4, 20);

// RFC 5997 §6 Status-Server requests; each carries a Message-Authenticator.
const statusServer: [string, Buffer, number][] = [
  [
    '§6.1 (to 1812)',
    hex(`0c da 00 26 8a 54 f4 68 6f b3 94 c5 28 66 e3 02 18 5d 06 23 50 12 5a 66 5e 2e 1e 84 11 f3
      e2 43 82 20 97 c8 4f a3`),
    22,
  ],
  [
    '§6.2 (to 1813)',
    hex(`0c b3 00 26 92 5f 6b 66 dd 5f ed 57 1f cb 1d b7 ad 38 82 60 50 12 e8 d6 ea bd a9 10 87 5c
      d9 1f da de 26 36 78 58`),
    22,
  ],
  [
    // NAS-IP-Address (6 octets) comes first, so the M-A attribute starts at 26, its value at 28.
    '§6.3 (verbose)',
    hex(`0c 47 00 2c bf 58 de 56 ae 40 8a d3 b7 0c 85 13 f9 b0 3f be 04 06 c0 00 02 10 50 12 85 2d
      6f ec 61 e7 ed 74 b8 e3 2d ac 2f 2a 5f b2`),
    28,
  ],
];

describe('Message-Authenticator (RFC 2869 §5.14, RFC 3579 §3.2)', () => {
  it.each(statusServer)('RFC 5997 %s verifies', (_name, raw, offset) => {
    expect(raw[offset - 2]).toBe(80); // the test points at a Message-Authenticator attribute
    expect(verifyMessageAuthenticator(raw, offset, authOf(raw), secret)).toBe(true);
    expect(computeMessageAuthenticator(raw, offset, authOf(raw), secret)).toEqual(
      raw.subarray(offset, offset + 16),
    );
  });

  it.each(statusServer)('RFC 5997 %s: computing leaves the packet untouched', (_n, raw, offset) => {
    const before = Buffer.from(raw);
    computeMessageAuthenticator(raw, offset, authOf(raw), secret);
    verifyMessageAuthenticator(raw, offset, authOf(raw), secret);
    expect(raw).toEqual(before);
  });

  it.each(statusServer)('RFC 5997 %s fails with another secret', (_name, raw, offset) => {
    expect(verifyMessageAuthenticator(raw, offset, authOf(raw), Buffer.from('xyzzy546'))).toBe(
      false,
    );
  });

  it.each(statusServer)('RFC 5997 %s detects a tampered octet', (_name, raw, offset) => {
    for (let i = 0; i < raw.length; i++) {
      // Octets 4..20 are replaced by the authenticator passed in; the M-A value is zeroed.
      if ((i >= 4 && i < 20) || (i >= offset && i < offset + 16)) continue;
      const tampered = Buffer.from(raw);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      expect(verifyMessageAuthenticator(tampered, offset, authOf(raw), secret)).toBe(false);
    }
  });

  it('fails with a wrong authenticator or a wrong value', () => {
    const [, raw, offset] = statusServer[1] ?? ['', Buffer.alloc(0), 0];
    const otherAuth = Buffer.from(authOf(raw));
    otherAuth[0] = (otherAuth[0] ?? 0) ^ 0x80;
    expect(verifyMessageAuthenticator(raw, offset, otherAuth, secret)).toBe(false);
    const badValue = Buffer.from(raw);
    badValue[offset + 15] = (badValue[offset + 15] ?? 0) ^ 0x01;
    expect(verifyMessageAuthenticator(badValue, offset, authOf(raw), secret)).toBe(false);
  });

  it('fails when pointed at the wrong octets', () => {
    const [, raw, offset] = statusServer[2] ?? ['', Buffer.alloc(0), 0];
    expect(verifyMessageAuthenticator(raw, offset - 6, authOf(raw), secret)).toBe(false);
    expect(verifyMessageAuthenticator(raw, offset + 1, authOf(raw), secret)).toBe(false);
  });

  it('refuses offsets outside the attributes', () => {
    const [, raw] = statusServer[0] ?? ['', Buffer.alloc(0)];
    for (const offset of [-1, 0, 4, 21, raw.length - 15, raw.length, 22.5]) {
      expect(verifyMessageAuthenticator(raw, offset, authOf(raw), secret)).toBe(false);
      expect(() => computeMessageAuthenticator(raw, offset, authOf(raw), secret)).toThrow(
        RangeError,
      );
    }
  });

  it('signs a response with the request authenticator, then the Response Authenticator', () => {
    const [, request] = statusServer[0] ?? ['', Buffer.alloc(0)];
    // Access-Accept carrying only a Message-Authenticator, placed first as FreeRADIUS does.
    const response = hex(`02 da 00 26 ${'00'.repeat(16)} 50 12 ${'00'.repeat(16)}`);
    computeMessageAuthenticator(response, 22, authOf(request), secret).copy(response, 22);
    computeResponseAuthenticator(response, authOf(request), secret).copy(response, 4);

    expect(verifyMessageAuthenticator(response, 22, authOf(request), secret)).toBe(true);
    expect(verifyResponseAuthenticator(response, authOf(request), secret)).toBe(true);
    // A verifier using the response's own authenticator (the BlastRADIUS-era mistake) fails.
    expect(verifyMessageAuthenticator(response, 22, authOf(response), secret)).toBe(false);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: -5, max: 90 }),
        fc.uint8Array({ maxLength: 20 }),
        (raw, offset, auth) => {
          const result = verifyMessageAuthenticator(
            Buffer.from(raw),
            offset,
            Buffer.from(auth),
            secret,
          );
          expect(typeof result).toBe('boolean');
        },
      ),
    );
  });
});

describe('Message-Authenticator against node:crypto createHmac', () => {
  it('is HMAC-MD5 over the packet with the M-A zeroed, for any secret length and packet', async () => {
    const { createHmac } = await import('node:crypto');
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (secretBytes, body, auth) => {
          const s = Buffer.from(secretBytes);
          const authenticator = Buffer.from(auth);
          // Header, Message-Authenticator first (type 80, length 18), then the body.
          const raw = Buffer.concat([
            Buffer.alloc(20),
            Buffer.from([80, 18]),
            Buffer.alloc(16, 0xaa),
            Buffer.from(body),
          ]);
          raw.writeUInt16BE(raw.length, 2);
          const zeroed = Buffer.from(raw);
          authenticator.copy(zeroed, 4);
          zeroed.fill(0, 22, 38);
          const want = createHmac('md5', s).update(zeroed).digest();
          expect(computeMessageAuthenticator(raw, 22, authenticator, s)).toEqual(want);
          want.copy(raw, 22);
          expect(verifyMessageAuthenticator(raw, 22, authenticator, s)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles packets longer than the codec maximum (Length up to 65,535)', async () => {
    const { createHmac } = await import('node:crypto');
    const raw = Buffer.alloc(9000, 0x41);
    raw.writeUInt16BE(9000, 2);
    raw[20] = 80;
    raw[21] = 18;
    const authenticator = Buffer.alloc(16, 7);
    const zeroed = Buffer.from(raw);
    authenticator.copy(zeroed, 4);
    zeroed.fill(0, 22, 38);
    expect(computeMessageAuthenticator(raw, 22, authenticator, secret)).toEqual(
      createHmac('md5', secret).update(zeroed).digest(),
    );
  });
});
