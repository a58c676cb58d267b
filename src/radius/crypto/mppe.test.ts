import { describe, expect, it } from 'vitest';

import {
  getNewKeyFromSha,
  lmPasswordHash,
  mppeAsymmetricStartKey,
  mppeMasterKey,
  mppeV1StartKey,
  mschapV1MppeKeys,
  mschapV2ServerKeys,
  reduceSessionKey,
} from './mppe.js';
import { ntPasswordHash, ntPasswordHashHash } from './mschap.js';
import { hideUserPassword, unhideUserPasswordRaw } from './password.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Not tested: RFC 3079's rc4(SessionKey, "test message") ciphertexts. Node 20's OpenSSL 3
// default provider refuses rc4, and RC4 is the NAS's business, not a RADIUS server's.

// RFC 3079 §3.5 (inputs: the RFC 2759 §9.2 example).
const v2 = {
  hashHash: hex('41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F'),
  ntResponse: hex('82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF'),
  masterKey: hex('FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31'),
  sendStartKey40: hex('8B 7C DC 14 9B 99 3A 1B'),
  sendSessionKey40: hex('D1 26 9E C4 9F A6 2E 3E'),
  sendSessionKey56: hex('D1 5C 00 C4 9F A6 2E 3E'),
  sendStartKey128: hex('8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB'),
  sendSessionKey128: hex('40 5C B2 24 7A 79 56 E6 E2 11 00 7A E2 7B 22 D4'),
};

describe('MPPE keys from MS-CHAPv2 (RFC 3079 §3)', () => {
  it('§3.5 MasterKey', () => {
    expect(mppeMasterKey(v2.hashHash, v2.ntResponse)).toEqual(v2.masterKey);
  });

  it('§3.5 40/56-bit send keys', () => {
    const start = mppeAsymmetricStartKey(v2.masterKey, 8, true, true);
    expect(start).toEqual(v2.sendStartKey40);
    const session = getNewKeyFromSha(start, start, 8);
    expect(reduceSessionKey(session, 40)).toEqual(v2.sendSessionKey40);
    expect(reduceSessionKey(session, 56)).toEqual(v2.sendSessionKey56);
  });

  it('§3.5 128-bit send keys', () => {
    const start = mppeAsymmetricStartKey(v2.masterKey, 16, true, true);
    expect(start).toEqual(v2.sendStartKey128);
    expect(getNewKeyFromSha(start, start, 16)).toEqual(v2.sendSessionKey128);
  });

  it("the server's send key is the client's receive key, and the other way round", () => {
    const serverSend = mppeAsymmetricStartKey(v2.masterKey, 16, true, true);
    const serverRecv = mppeAsymmetricStartKey(v2.masterKey, 16, false, true);
    expect(mppeAsymmetricStartKey(v2.masterKey, 16, false, false)).toEqual(serverSend);
    expect(mppeAsymmetricStartKey(v2.masterKey, 16, true, false)).toEqual(serverRecv);
    expect(serverSend).not.toEqual(serverRecv);
  });

  it('derived: the MS-MPPE-Send-Key/Recv-Key plaintexts an Access-Accept carries', () => {
    // Reference notes §6 "derived expectations": the RFC's send key is the server's (Magic3).
    const keys = mschapV2ServerKeys(ntPasswordHash('clientPass'), v2.ntResponse);
    expect(keys.sendKey).toEqual(hex('8B7CDC149B993A1BA118CB153F56DCCB'));
    expect(keys.recvKey).toEqual(hex('D5F0E9521E3EA9589645E86051C82226'));
  });

  it('refuses key lengths other than 8 and 16 octets', () => {
    expect(() => mppeAsymmetricStartKey(v2.masterKey, 12 as 8, true, true)).toThrow(RangeError);
    expect(() => getNewKeyFromSha(v2.sendStartKey40, v2.sendStartKey40, 16)).toThrow(RangeError);
    expect(() => mppeMasterKey(v2.hashHash, v2.ntResponse.subarray(1))).toThrow(RangeError);
  });
});

describe('MPPE keys from MS-CHAPv1 (RFC 3079 §2)', () => {
  const lmHash = hex('76 a1 52 93 60 96 d7 83 0e 23 90 22 74 04 af d2');
  const challenge = hex('10 2d b5 df 08 5d 30 41');

  it('§2.5 LmPasswordHash("clientPass")', () => {
    expect(lmPasswordHash('clientPass')).toEqual(lmHash);
    // Uppercased first: the case of the password does not matter to LM.
    expect(lmPasswordHash('CLIENTPASS')).toEqual(lmHash);
  });

  it('§2.5 40- and 56-bit session keys', () => {
    const key = getNewKeyFromSha(lmHash, lmHash, 8);
    expect(key).toEqual(hex('d8 08 01 53 8c ec 4a 08'));
    expect(reduceSessionKey(key, 40)).toEqual(hex('d1 26 9e 53 8c ec 4a 08'));
    expect(reduceSessionKey(key, 56)).toEqual(hex('d1 08 01 53 8c ec 4a 08'));
  });

  it('§2.5 128-bit keys, with the erratum corrected (…ac c1…, not …ac ca…)', () => {
    const initial = mppeV1StartKey(challenge, ntPasswordHashHash(ntPasswordHash('clientPass')));
    expect(initial).toEqual(hex('a8 94 78 50 cf c0 ac c1 d1 78 9f b6 2d dc dd b0'));
    // Step 3 of the RFC prints this; step 4 and the computation say c1.
    expect(initial).not.toEqual(hex('a8 94 78 50 cf c0 ac ca d1 78 9f b6 2d dc dd b0'));
    expect(getNewKeyFromSha(initial, initial, 16)).toEqual(
      hex('59 d1 59 bc 09 f7 6f 1d a2 a8 6a 28 ff ec 0b 1e'),
    );
  });

  describe('derived: MS-CHAP-MPPE-Keys (FreeRADIUS layout, reference notes §6)', () => {
    const secret = Buffer.from('xyzzy5461');
    const ra = hex('0f403f9473978057bd83d5cb98f4227a'); // RFC 2865 §7.1
    const cases: [string, string, string][] = [
      [
        'clientPass',
        '0000000000000000 41c00c584bd2d91c4017a2a12fa59f3f',
        '6ccc13f9f2ba74ab1e22e86733f8d3f2889a895e498fcfd940f3d06f6e0efbd7',
      ],
      [
        'MyPw',
        '0000000000000000 874fb0693e18106a814481bc51cd7d37',
        '6ccc13f9f2ba74abd8ad545646321a84aab33f8c81dd487456d9f018f6ed7cc6',
      ],
    ];

    it.each(cases)('%s: 8 zero octets + NtPasswordHashHash', (password, plain) => {
      expect(mschapV1MppeKeys(ntPasswordHash(password))).toEqual(hex(plain));
    });

    it.each(cases)('%s: hidden like User-Password into 32 octets', (password, plain, wire) => {
      const keys = mschapV1MppeKeys(ntPasswordHash(password));
      expect(hideUserPassword(keys, secret, ra)).toEqual(hex(wire));
      expect(unhideUserPasswordRaw(hex(wire), secret, ra)?.subarray(0, 24)).toEqual(hex(plain));
    });
  });
});
