import { describe, expect, it } from 'vitest';

import { chapResponse, verifyChap } from './chap.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 2865 §7.2: CHAP-Password (ident 0x16) of user "flopsy", password "arctangent"; no
// CHAP-Challenge attribute, so the challenge is the Request Authenticator.
const requestAuthenticator = hex('2a ee 86 f0 8d 0d 55 96 9c a5 97 8e 0d 33 67 a2');
const chapPassword = hex('16 e9 75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75');
const password = Buffer.from('arctangent');

describe('CHAP (RFC 1994, RFC 2865 §2.2)', () => {
  it('RFC 2865 §7.2 CHAP-Password verifies with "arctangent"', () => {
    expect(verifyChap(chapPassword, password, requestAuthenticator)).toBe(true);
  });

  it('RFC 2865 §7.2: the response is MD5(ident | password | challenge)', () => {
    expect(chapResponse(0x16, password, requestAuthenticator)).toEqual(chapPassword.subarray(1));
  });

  it('fails with another password, challenge or identifier', () => {
    expect(verifyChap(chapPassword, Buffer.from('arctangenT'), requestAuthenticator)).toBe(false);
    expect(verifyChap(chapPassword, password, Buffer.alloc(16))).toBe(false);
    const otherIdent = Buffer.from(chapPassword);
    otherIdent[0] = 0x17;
    expect(verifyChap(otherIdent, password, requestAuthenticator)).toBe(false);
  });

  it('returns false for a CHAP-Password that is not 17 octets', () => {
    expect(verifyChap(chapPassword.subarray(0, 16), password, requestAuthenticator)).toBe(false);
    expect(
      verifyChap(Buffer.concat([chapPassword, Buffer.alloc(1)]), password, requestAuthenticator),
    ).toBe(false);
    expect(verifyChap(Buffer.alloc(0), password, requestAuthenticator)).toBe(false);
  });

  it('refuses an identifier outside an octet', () => {
    expect(() => chapResponse(256, password, requestAuthenticator)).toThrow(RangeError);
    expect(() => chapResponse(-1, password, requestAuthenticator)).toThrow(RangeError);
  });
});
