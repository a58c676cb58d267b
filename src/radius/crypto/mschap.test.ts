import { describe, expect, it } from 'vitest';

import {
  MsChapErrorCode,
  authenticatorResponse,
  challengeResponse,
  desExpandKey,
  generateNtResponse,
  mschap2SuccessValue,
  mschapErrorValue,
  mschapv2Challenge,
  ntPasswordHash,
  ntPasswordHashHash,
  verifyMsChapV1,
  verifyMsChapV2,
} from './mschap.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 2433 Appendix B.2/B.3 (MS-CHAPv1), password "MyPw".
const v1 = {
  challenge: hex('10 2D B5 DF 08 5D 30 41'),
  ntHash: hex('FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC'),
  ntResponse: hex('4E 9D 3C 8F 9C FD 38 5D 5B F4 D3 24 67 91 95 6C A4 C3 51 AB 40 9A 3D 61'),
};

/** MS-CHAP-Response: Ident, Flags, LM-Response(24), NT-Response(24). */
const v1Response = (flags: number, nt: Buffer): Buffer =>
  Buffer.concat([Buffer.of(0x01, flags), Buffer.alloc(24), nt]);

// RFC 2759 §9.2 (MS-CHAPv2), user "User", password "clientPass".
const v2 = {
  authChallenge: hex('5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28'),
  peerChallenge: hex('21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E'),
  challenge: hex('D0 2E 43 86 BC E9 12 26'),
  ntHash: hex('44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE'),
  ntResponse: hex('82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF'),
  hashHash: hex('41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F'),
  authResponse: 'S=407A5589115FD0D6209F510FE9C04566932CDA56',
};

/** MS-CHAP2-Response: Ident, Flags, Peer-Challenge(16), Reserved(8), NT-Response(24). */
const v2Response = (peer: Buffer, nt: Buffer): Buffer =>
  Buffer.concat([Buffer.of(0x01, 0x00), peer, Buffer.alloc(8), nt]);

describe('MS-CHAPv1 (RFC 2433)', () => {
  it('B.2 NtPasswordHash("MyPw")', () => {
    expect(ntPasswordHash('MyPw')).toEqual(v1.ntHash);
  });

  it('B.2 NtChallengeResponse', () => {
    expect(challengeResponse(v1.challenge, v1.ntHash)).toEqual(v1.ntResponse);
  });

  it('B.3 DES key expansion with odd parity', () => {
    expect(desExpandKey(hex('FC 15 6A F7 ED CD 6C'))).toEqual(hex('FD 0B 5B 5E 7F 6E 34 D9'));
    expect(desExpandKey(hex('0E DD E3 33 7D 42 7F'))).toEqual(hex('0E 6E 79 67 37 EA 08 FE'));
    expect(() => desExpandKey(Buffer.alloc(8))).toThrow(RangeError);
  });

  it('verifies the RFC response with the use-NT flag', () => {
    expect(verifyMsChapV1(v1.challenge, v1Response(0x01, v1.ntResponse), v1.ntHash)).toBe(true);
  });

  it('refuses LM-only responses (flag clear), as FreeRADIUS does', () => {
    expect(verifyMsChapV1(v1.challenge, v1Response(0x00, v1.ntResponse), v1.ntHash)).toBe(false);
  });

  it('fails with another password, challenge or response', () => {
    const response = v1Response(0x01, v1.ntResponse);
    expect(verifyMsChapV1(v1.challenge, response, ntPasswordHash('MyPW'))).toBe(false);
    expect(verifyMsChapV1(hex('102DB5DF085D3040'), response, v1.ntHash)).toBe(false);
    const tampered = Buffer.from(response);
    tampered[49] = (tampered[49] ?? 0) ^ 0x01;
    expect(verifyMsChapV1(v1.challenge, tampered, v1.ntHash)).toBe(false);
  });

  it('returns false on wrong lengths instead of throwing', () => {
    const response = v1Response(0x01, v1.ntResponse);
    expect(verifyMsChapV1(v1.challenge.subarray(0, 7), response, v1.ntHash)).toBe(false);
    expect(verifyMsChapV1(v1.challenge, response.subarray(0, 49), v1.ntHash)).toBe(false);
    expect(verifyMsChapV1(v1.challenge, response, v1.ntHash.subarray(0, 15))).toBe(false);
  });
});

describe('MS-CHAPv2 (RFC 2759)', () => {
  it('§9.2 NtPasswordHash and PasswordHashHash', () => {
    expect(ntPasswordHash('clientPass')).toEqual(v2.ntHash);
    expect(ntPasswordHashHash(v2.ntHash)).toEqual(v2.hashHash);
  });

  it('§9.2 ChallengeHash', () => {
    expect(mschapv2Challenge(v2.peerChallenge, v2.authChallenge, 'User')).toEqual(v2.challenge);
  });

  it('§9.2 NT-Response', () => {
    expect(generateNtResponse(v2.authChallenge, v2.peerChallenge, 'User', v2.ntHash)).toEqual(
      v2.ntResponse,
    );
  });

  it('§9.2 AuthenticatorResponse', () => {
    expect(
      authenticatorResponse(v2.ntHash, v2.ntResponse, v2.peerChallenge, v2.authChallenge, 'User'),
    ).toBe(v2.authResponse);
  });

  it('verifies the RFC response', () => {
    const response = v2Response(v2.peerChallenge, v2.ntResponse);
    expect(verifyMsChapV2(v2.authChallenge, response, 'User', v2.ntHash)).toBe(true);
  });

  it('hashes the user name without its DOMAIN\\ prefix, string or raw octets', () => {
    const response = v2Response(v2.peerChallenge, v2.ntResponse);
    expect(verifyMsChapV2(v2.authChallenge, response, 'EXAMPLE\\User', v2.ntHash)).toBe(true);
    expect(verifyMsChapV2(v2.authChallenge, response, Buffer.from('User'), v2.ntHash)).toBe(true);
    expect(
      verifyMsChapV2(v2.authChallenge, response, Buffer.from('EXAMPLE\\User'), v2.ntHash),
    ).toBe(true);
    expect(mschapv2Challenge(v2.peerChallenge, v2.authChallenge, 'A\\B\\User')).not.toEqual(
      v2.challenge,
    );
  });

  it('fails with another user, password, challenge or response', () => {
    const response = v2Response(v2.peerChallenge, v2.ntResponse);
    expect(verifyMsChapV2(v2.authChallenge, response, 'user', v2.ntHash)).toBe(false);
    expect(verifyMsChapV2(v2.authChallenge, response, 'User', ntPasswordHash('clientpass'))).toBe(
      false,
    );
    expect(verifyMsChapV2(v2.peerChallenge, response, 'User', v2.ntHash)).toBe(false);
    const otherPeer = v2Response(v2.authChallenge, v2.ntResponse);
    expect(verifyMsChapV2(v2.authChallenge, otherPeer, 'User', v2.ntHash)).toBe(false);
  });

  it('returns false on wrong lengths instead of throwing', () => {
    const response = v2Response(v2.peerChallenge, v2.ntResponse);
    expect(verifyMsChapV2(v2.authChallenge.subarray(1), response, 'User', v2.ntHash)).toBe(false);
    expect(verifyMsChapV2(v2.authChallenge, response.subarray(1), 'User', v2.ntHash)).toBe(false);
    expect(verifyMsChapV2(v2.authChallenge, response, 'User', Buffer.alloc(0))).toBe(false);
  });

  it('MS-CHAP2-Success value is Ident + "S=" + 40 hex: 43 octets', () => {
    const value = mschap2SuccessValue(0x01, v2.authResponse);
    expect(value).toHaveLength(43);
    expect(value[0]).toBe(0x01);
    expect(value.subarray(1).toString('ascii')).toBe(v2.authResponse);
    expect(() => mschap2SuccessValue(1, v2.authResponse.toLowerCase())).toThrow(RangeError);
    expect(() => mschap2SuccessValue(256, v2.authResponse)).toThrow(RangeError);
  });
});

describe('MS-CHAP-Error (RFC 2548 §2.1.5, layout of FreeRADIUS rlm_mschap)', () => {
  it('v2 (MS-CHAPv2): E, R, 32-hex C, V=3 and a message', () => {
    const value = mschapErrorValue(
      0x07,
      MsChapErrorCode.AuthenticationFailure,
      true,
      v2.authChallenge,
      3,
    );
    expect(value[0]).toBe(0x07);
    expect(value.subarray(1).toString()).toBe(
      'E=691 R=1 C=5b5d7c7d7b3f2f3e3c2c602132262628 V=3 M=Authentication failed',
    );
    expect(
      mschapErrorValue(1, MsChapErrorCode.PasswordExpired, false, v2.authChallenge, 3, 'Expired')
        .subarray(1)
        .toString(),
    ).toBe('E=648 R=0 C=5b5d7c7d7b3f2f3e3c2c602132262628 V=3 M=Expired');
  });

  it('v1 (MS-CHAPv1): E, R, 16-hex C, V=2 and no message', () => {
    const value = mschapErrorValue(0x01, 691, true, v1.challenge, 2);
    expect(value.subarray(1).toString()).toBe('E=691 R=1 C=102db5df085d3041 V=2');
  });

  it('refuses a challenge of the wrong size, a v1 message, a bad ident', () => {
    expect(() => mschapErrorValue(1, 691, true, v1.challenge, 3)).toThrow(RangeError);
    expect(() => mschapErrorValue(1, 691, true, v2.authChallenge, 2)).toThrow(RangeError);
    expect(() => mschapErrorValue(1, 691, true, v1.challenge, 2, 'no')).toThrow(RangeError);
    expect(() => mschapErrorValue(300, 691, true, v1.challenge, 2)).toThrow(RangeError);
  });
});
