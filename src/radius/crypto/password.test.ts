import { describe, expect, it } from 'vitest';
import fc from 'fast-check';

import { hideUserPassword, unhideUserPassword, unhideUserPasswordRaw } from './password.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const secret = Buffer.from('xyzzy5461');
const authOf = (raw: Buffer): Buffer => raw.subarray(4, 20);

/** The value of the first attribute of `type`, walking from the header (test-only helper). */
function attribute(raw: Buffer, type: number): Buffer {
  for (let i = 20; i + 2 <= raw.length;) {
    const length = raw[i + 1] ?? 0;
    if (raw[i] === type) return raw.subarray(i + 2, i + length);
    i += length;
  }
  throw new Error(`no attribute ${type}`);
}

// RFC 2865 §7.1 and §7.3 Access-Requests (User-Password is attribute 2).
const requests: [string, Buffer, string][] = [
  [
    '§7.1',
    hex(`01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be
      70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03`),
    'arctangent',
  ],
  [
    '§7.3 first request',
    hex(`01 02 00 39 f3 a4 7a 1f 6a 6d 76 71 0b 94 7a b9 30 41 a0 39 01 07 6d 6f 70 73 79 02 12 33
      65 75 73 77 82 89 b5 70 88 5e 15 08 48 25 c5 04 06 c0 a8 01 10 05 06 00 00 00 07`),
    'challenge',
  ],
  [
    '§7.3 second request',
    hex(`01 03 00 43 b1 22 55 6d 42 8a 13 d0 d6 25 38 07 c4 57 ec f0 01 07 6d 6f 70 73 79 02 12 69
      2c 1f 20 5f c0 81 b9 19 b9 51 95 f5 61 a5 81 04 06 c0 a8 01 10 05 06 00 00 00 07 18 10 33 32
      37 36 39 34 33 30`),
    '99101462',
  ],
];

describe('User-Password hiding (RFC 2865 §5.2)', () => {
  it.each(requests)('RFC 2865 %s decrypts to its password', (_name, raw, password) => {
    const hidden = attribute(raw, 2);
    expect(unhideUserPassword(hidden, secret, authOf(raw))?.toString()).toBe(password);
  });

  it.each(requests)('RFC 2865 %s: hiding gives the octets sent', (_name, raw, password) => {
    expect(hideUserPassword(Buffer.from(password), secret, authOf(raw))).toEqual(attribute(raw, 2));
  });

  it('a wrong secret yields something else', () => {
    const [, raw, password] = requests[0] ?? ['', Buffer.alloc(0), ''];
    const wrong = unhideUserPassword(attribute(raw, 2), Buffer.from('xyzzy5460'), authOf(raw));
    expect(wrong?.toString()).not.toBe(password);
  });

  it('pads to 16n octets; an empty password takes one block', () => {
    const ra = Buffer.alloc(16, 7);
    expect(hideUserPassword(Buffer.alloc(0), secret, ra)).toHaveLength(16);
    expect(unhideUserPassword(hideUserPassword(Buffer.alloc(0), secret, ra), secret, ra)).toEqual(
      Buffer.alloc(0),
    );
    expect(hideUserPassword(Buffer.alloc(16, 0x41), secret, ra)).toHaveLength(16);
    expect(hideUserPassword(Buffer.alloc(17, 0x41), secret, ra)).toHaveLength(32);
    expect(hideUserPassword(Buffer.alloc(128, 0x41), secret, ra)).toHaveLength(128);
  });

  it('refuses passwords over 128 octets and authenticators that are not 16', () => {
    expect(() => hideUserPassword(Buffer.alloc(129, 0x41), secret, Buffer.alloc(16))).toThrow(
      RangeError,
    );
    expect(() => hideUserPassword(Buffer.from('x'), secret, Buffer.alloc(8))).toThrow(RangeError);
  });

  it('the raw form keeps the padding that fixed-length values need', () => {
    const ra = Buffer.alloc(16, 3);
    const value = Buffer.from('0102030405060708090a0b0c0d0e0f1011121314151617000000', 'hex');
    const raw = unhideUserPasswordRaw(hideUserPassword(value, secret, ra), secret, ra);
    expect(raw).toHaveLength(32);
    expect(raw?.subarray(0, value.length)).toEqual(value);
    expect(unhideUserPassword(hideUserPassword(value, secret, ra), secret, ra)).toHaveLength(23);
  });

  it('returns null for malformed hidden values', () => {
    const ra = Buffer.alloc(16);
    for (const length of [0, 1, 15, 17, 31, 33]) {
      expect(unhideUserPassword(Buffer.alloc(length, 1), secret, ra)).toBeNull();
      expect(unhideUserPasswordRaw(Buffer.alloc(length, 1), secret, ra)).toBeNull();
    }
    expect(unhideUserPassword(Buffer.alloc(16, 1), secret, Buffer.alloc(15))).toBeNull();
  });

  it('round-trips any 1..128-octet password without trailing NULs', () => {
    fc.assert(
      fc.property(
        fc
          .uint8Array({ minLength: 1, maxLength: 128 })
          .filter((p) => p[p.length - 1] !== 0)
          .map((p) => Buffer.from(p)),
        fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
        fc.uint8Array({ minLength: 1, maxLength: 64 }).map((s) => Buffer.from(s)),
        (password, ra, key) => {
          const hidden = hideUserPassword(password, key, ra);
          expect(hidden.length % 16).toBe(0);
          expect(unhideUserPassword(hidden, key, ra)).toEqual(password);
        },
      ),
    );
  });

  it('never throws on arbitrary hidden values', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 20 }),
        (hidden, ra) => {
          const result = unhideUserPassword(Buffer.from(hidden), secret, Buffer.from(ra));
          const wellFormed = hidden.length > 0 && hidden.length % 16 === 0 && ra.length === 16;
          expect(result === null).toBe(!wellFormed);
        },
      ),
    );
  });
});
