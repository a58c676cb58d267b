import { describe, expect, it } from 'vitest';
import fc from 'fast-check';

import { md5Chain } from './internal.js';
import { SALT_ENCRYPT_MAX_PLAIN, saltDecrypt, saltEncrypt } from './salt.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const secret = Buffer.from('xyzzy5461');
// Request Authenticator of RFC 2865 §7.1.
const ra = hex('0f403f9473978057bd83d5cb98f4227a');

// DERIVED expectations (reference notes §6, not printed in any RFC; cross-checked against
// pyrad): the MS-MPPE keys of the RFC 2759/3079 example, salt-encrypted for that request.
const sendKey = hex('8B7CDC149B993A1BA118CB153F56DCCB');
const recvKey = hex('D5F0E9521E3EA9589645E86051C82226');
const sendKeyOnWire = hex('8001d7c4aaa4718a06cddca737c2f3bcd1ffef26b141dc036e4cdb731d79248c658e');
const recvKeyOnWire = hex('80028118c1340bddec5f79718a8085b7273966e0d8bf4cd44176fa9f6eabd96e2af8');

describe('salt encryption (RFC 2868 §3.5, RFC 2548 §2.4.2/§2.4.3)', () => {
  it('derived: MS-MPPE-Send-Key with salt 8001 and Recv-Key with salt 8002', () => {
    expect(saltEncrypt(sendKey, secret, ra, hex('8001'))).toEqual(sendKeyOnWire);
    expect(saltEncrypt(recvKey, secret, ra, hex('8002'))).toEqual(recvKeyOnWire);
  });

  it('derived: both decrypt back', () => {
    expect(saltDecrypt(sendKeyOnWire, secret, ra)).toEqual(sendKey);
    expect(saltDecrypt(recvKeyOnWire, secret, ra)).toEqual(recvKey);
  });

  it('a 16-octet key takes two blocks: the length octet pushes it over', () => {
    expect(sendKeyOnWire).toHaveLength(2 + 32);
    expect(saltEncrypt(Buffer.alloc(15, 1), secret, ra, hex('8001'))).toHaveLength(2 + 16);
    expect(saltEncrypt(Buffer.alloc(0), secret, ra, hex('8001'))).toHaveLength(2 + 16);
  });

  it('picks a random salt with its high bit set by default', () => {
    const salts = new Set<number>();
    for (let i = 0; i < 32; i++) {
      const wire = saltEncrypt(sendKey, secret, ra);
      expect((wire[0] ?? 0) & 0x80).toBe(0x80);
      salts.add(wire.readUInt16BE(0));
      expect(saltDecrypt(wire, secret, ra)).toEqual(sendKey);
    }
    expect(salts.size).toBeGreaterThan(1);
  });

  it('refuses bad arguments when encrypting', () => {
    expect(() => saltEncrypt(sendKey, secret, ra, hex('0001'))).toThrow(RangeError);
    expect(() => saltEncrypt(sendKey, secret, ra, hex('800102'))).toThrow(RangeError);
    expect(() => saltEncrypt(sendKey, secret, Buffer.alloc(15))).toThrow(RangeError);
    expect(() => saltEncrypt(Buffer.alloc(SALT_ENCRYPT_MAX_PLAIN + 1), secret, ra)).toThrow(
      RangeError,
    );
    expect(saltEncrypt(Buffer.alloc(SALT_ENCRYPT_MAX_PLAIN), secret, ra)).toHaveLength(2 + 240);
  });

  it('returns null when malformed', () => {
    expect(saltDecrypt(Buffer.alloc(0), secret, ra)).toBeNull();
    expect(saltDecrypt(hex('8001'), secret, ra)).toBeNull();
    expect(saltDecrypt(sendKeyOnWire.subarray(0, 17), secret, ra)).toBeNull();
    expect(saltDecrypt(sendKeyOnWire.subarray(0, 33), secret, ra)).toBeNull();
    expect(saltDecrypt(sendKeyOnWire, secret, Buffer.alloc(8))).toBeNull();
  });

  it('returns null when the embedded length runs past the data', () => {
    // Flipping a bit of the first cipher octet flips the same bit of the length octet.
    const empty = saltEncrypt(Buffer.alloc(0), secret, ra, hex('8001'));
    expect(saltDecrypt(empty, secret, ra)).toEqual(Buffer.alloc(0));
    const fifteen = Buffer.from(empty);
    fifteen[2] = (fifteen[2] ?? 0) ^ 0x0f;
    expect(saltDecrypt(fifteen, secret, ra)).toHaveLength(15);
    const sixteen = Buffer.from(empty);
    sixteen[2] = (sixteen[2] ?? 0) ^ 0x10;
    expect(saltDecrypt(sixteen, secret, ra)).toBeNull();
  });

  it('tolerates a salt without its high bit, as FreeRADIUS does', () => {
    const salt = hex('0001');
    const plain = Buffer.from('tunnel secret');
    const padded = Buffer.alloc(16);
    padded[0] = plain.length;
    plain.copy(padded, 1);
    const wire = Buffer.concat([salt, md5Chain(padded, secret, [ra, salt], 'encrypt')]);
    expect(saltDecrypt(wire, secret, ra)).toEqual(plain);
  });

  it('round-trips any value of 0..239 octets', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: SALT_ENCRYPT_MAX_PLAIN }).map((p) => Buffer.from(p)),
        fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
        fc.uint8Array({ minLength: 1, maxLength: 64 }).map((s) => Buffer.from(s)),
        (plain, auth, key) => {
          const wire = saltEncrypt(plain, key, auth);
          expect((wire.length - 2) % 16).toBe(0);
          expect(saltDecrypt(wire, key, auth)).toEqual(plain);
        },
      ),
    );
  });

  it('never throws on arbitrary input, and is null whenever the shape is wrong', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 20 }),
        (cipher, auth) => {
          const result = saltDecrypt(Buffer.from(cipher), secret, Buffer.from(auth));
          const shaped = cipher.length >= 18 && (cipher.length - 2) % 16 === 0;
          if (!shaped || auth.length !== 16) expect(result).toBeNull();
          if (result !== null) expect(result.length).toBeLessThan(cipher.length - 2);
        },
      ),
    );
  });
});
