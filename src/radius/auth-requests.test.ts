import { describe, expect, it } from 'vitest';

import {
  chapRequest,
  msChapV1Request,
  msChapV2Request,
  papRequest,
  verifyMsChapV2Success,
} from './auth-requests.js';
import {
  authenticatorResponse,
  mschap2SuccessValue,
  ntPasswordHash,
  verifyChap,
  verifyMsChapV1,
  verifyMsChapV2,
} from './crypto/index.js';
import { decodePacket } from './decode.js';
import { bundledDictionary } from './dictionary/load.js';
import { encodePacket } from './encode.js';
import { createPacket } from './packet.js';

const dict = bundledDictionary();
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('authentication requests', () => {
  it('PAP: the password survives hiding with the secret', () => {
    const secret = Buffer.from('k');
    const raw = encodePacket(papRequest(dict, 'bob', 'pa55', { 'NAS-Port': 7 }), { secret });
    const p = decodePacket(raw, dict, { secret });
    expect(p.get('User-Password')).toBe('pa55');
    expect(p.get('NAS-Port')).toBe(7);
  });

  it('CHAP with a CHAP-Challenge attribute, and with the Request Authenticator', () => {
    const withAttr = chapRequest(dict, 'bob', 'pw', {}, { ident: 9 });
    const chal = withAttr.get('CHAP-Challenge') as Buffer;
    expect(chal).toHaveLength(16);
    const cp = withAttr.get('CHAP-Password') as Buffer;
    expect(cp[0]).toBe(9);
    expect(verifyChap(cp, Buffer.from('pw'), chal)).toBe(true);
    expect(verifyChap(cp, Buffer.from('pX'), chal)).toBe(false);

    const viaAuth = chapRequest(dict, 'bob', 'pw', {}, { challenge: 'authenticator' });
    expect(viaAuth.has('CHAP-Challenge')).toBe(false);
    const cp2 = viaAuth.get('CHAP-Password') as Buffer;
    expect(verifyChap(cp2, Buffer.from('pw'), viaAuth.authenticator)).toBe(true);
  });

  it('MS-CHAPv1 gives the RFC 2433 B.2 NT-Response, flags "use NT"', () => {
    const p = msChapV1Request(
      dict,
      'User',
      'MyPw',
      {},
      { ident: 1, challenge: hex('102DB5DF085D3041') },
    );
    const r = p.get('MS-CHAP-Response') as Buffer;
    expect(r).toHaveLength(50);
    expect(r[1]).toBe(1);
    expect(r.subarray(2, 26)).toEqual(Buffer.alloc(24));
    expect(r.subarray(26).toString('hex').toUpperCase()).toBe(
      '4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61',
    );
    expect(verifyMsChapV1(p.get('MS-CHAP-Challenge') as Buffer, r, ntPasswordHash('MyPw'))).toBe(
      true,
    );
  });

  const v2 = {
    authChallenge: hex('5B5D7C7D7B3F2F3E3C2C602132262628'),
    peerChallenge: hex('21402324255E262A28295F2B3A337C7E'),
    ident: 1,
  };

  it('MS-CHAPv2 gives the RFC 2759 §9.2 NT-Response', () => {
    const p = msChapV2Request(dict, 'User', 'clientPass', {}, v2);
    const r = p.get('MS-CHAP2-Response') as Buffer;
    expect(r).toHaveLength(50);
    expect(r[1]).toBe(0);
    expect(r.subarray(2, 18)).toEqual(v2.peerChallenge);
    expect(r.subarray(18, 26)).toEqual(Buffer.alloc(8));
    expect(r.subarray(26).toString('hex').toUpperCase()).toBe(
      '82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF',
    );
    expect(verifyMsChapV2(v2.authChallenge, r, 'User', ntPasswordHash('clientPass'))).toBe(true);
  });

  it('verifyMsChapV2Success checks the RFC 2759 §9.2 authenticator response', () => {
    const request = msChapV2Request(dict, 'User', 'clientPass', {}, v2);
    const reply = (value: Buffer): ReturnType<typeof createPacket> =>
      createPacket(dict, 'Access-Accept', { 'MS-CHAP2-Success': value });
    const good = mschap2SuccessValue(1, 'S=407A5589115FD0D6209F510FE9C04566932CDA56');
    expect(verifyMsChapV2Success(reply(good), request, 'clientPass')).toBe(true);
    expect(
      verifyMsChapV2Success(reply(good), request, { ntHash: ntPasswordHash('clientPass') }),
    ).toBe(true);
    expect(verifyMsChapV2Success(reply(good), request, 'otherPass')).toBe(false);
    const otherIdent = Buffer.from(good);
    otherIdent[0] = 2;
    expect(verifyMsChapV2Success(reply(otherIdent), request, 'clientPass')).toBe(false);
    const flipped = Buffer.from(good);
    flipped[10] = 0x30 + ((flipped[10] as number) === 0x30 ? 1 : 0);
    expect(verifyMsChapV2Success(reply(flipped), request, 'clientPass')).toBe(false);
    expect(verifyMsChapV2Success(createPacket(dict, 'Access-Accept'), request, 'clientPass')).toBe(
      false,
    );
  });

  it('MS-CHAPv2 hashes the user name without its DOMAIN\\ prefix', () => {
    const p = msChapV2Request(dict, 'NEUTRINET\\User', 'clientPass', {}, v2);
    const r = p.get('MS-CHAP2-Response') as Buffer;
    expect(r.subarray(26).toString('hex').toUpperCase()).toBe(
      '82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF',
    );
    const expected = authenticatorResponse(
      ntPasswordHash('clientPass'),
      r.subarray(26),
      v2.peerChallenge,
      v2.authChallenge,
      'User',
    );
    const reply = createPacket(dict, 'Access-Accept', {
      'MS-CHAP2-Success': mschap2SuccessValue(1, expected),
    });
    expect(verifyMsChapV2Success(reply, p, 'clientPass')).toBe(true);
  });
});
