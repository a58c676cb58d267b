// Access-Requests as a NAS builds them for PAP, CHAP, MS-CHAPv1 and MS-CHAPv2 (radtest, interop
// tests, health checks), and the check of the server's MS-CHAP2-Success.
import { randomBytes } from 'node:crypto';

import {
  authenticatorResponse,
  challengeResponse,
  chapResponse,
  generateNtResponse,
  ntPasswordHash,
} from './crypto/index.js';
import { constantTimeEqual } from './crypto/internal.js';
import type { Dictionary } from './dictionary/dictionary.js';
import { RadiusError } from './errors.js';
import type { Packet, PacketAttributes } from './packet.js';
import { createPacket } from './packet.js';

// MS-CHAP-Response / MS-CHAP2-Response Flags (RFC 2548 §2.1.3, §2.3.2).
const MSCHAP1_FLAG_USE_NT = 0x01;

function randomIdent(): number {
  return randomBytes(1)[0] ?? 0;
}

function requireOctets(name: string, b: Buffer | undefined, n: number): Buffer {
  const v = b ?? randomBytes(n);
  if (v.length !== n) throw new RadiusError('VALUE_INVALID', `${name} must be ${n} octets`);
  return v;
}

/** Access-Request with User-Name and User-Password (hidden when encoded). */
export function papRequest(
  dict: Dictionary,
  user: string,
  password: string,
  extra: PacketAttributes = {},
): Packet {
  return createPacket(dict, 'Access-Request', {
    'User-Name': user,
    'User-Password': password,
    ...extra,
  });
}

export interface ChapOptions {
  /** CHAP Identifier (default random). */
  ident?: number;
  /**
   * The challenge: 16 random octets sent as CHAP-Challenge (default), given octets, or
   * 'authenticator' to use the Request Authenticator and send no CHAP-Challenge (RFC 2865 §5.3).
   */
  challenge?: Buffer | 'authenticator';
}

/** Access-Request with CHAP-Password = ident ‖ MD5(ident ‖ password ‖ challenge). */
export function chapRequest(
  dict: Dictionary,
  user: string,
  password: string,
  extra: PacketAttributes = {},
  opts: ChapOptions = {},
): Packet {
  const ident = opts.ident ?? randomIdent();
  const packet = createPacket(dict, 'Access-Request', { 'User-Name': user, ...extra });
  let challenge: Buffer;
  if (opts.challenge === 'authenticator') challenge = packet.authenticator;
  else {
    challenge = opts.challenge ?? randomBytes(16);
    packet.add('CHAP-Challenge', challenge);
  }
  const response = chapResponse(ident, Buffer.from(password, 'utf8'), challenge);
  packet.add('CHAP-Password', Buffer.concat([Buffer.of(ident), response]));
  return packet;
}

export interface MsChapV1Options {
  ident?: number;
  /** MS-CHAP-Challenge, 8 octets (default random). */
  challenge?: Buffer;
}

/**
 * Access-Request with MS-CHAP-Challenge (8) and MS-CHAP-Response (50 = Ident, Flags = 1 "use
 * NT", LM-Response left zero, NT-Response): the LM response is never sent, it is too weak.
 */
export function msChapV1Request(
  dict: Dictionary,
  user: string,
  password: string,
  extra: PacketAttributes = {},
  opts: MsChapV1Options = {},
): Packet {
  const challenge = requireOctets('MS-CHAP-Challenge', opts.challenge, 8);
  const response = Buffer.alloc(50);
  response[0] = opts.ident ?? randomIdent();
  response[1] = MSCHAP1_FLAG_USE_NT;
  challengeResponse(challenge, ntPasswordHash(password)).copy(response, 26);
  return createPacket(dict, 'Access-Request', {
    'User-Name': user,
    ...extra,
    'MS-CHAP-Challenge': challenge,
    'MS-CHAP-Response': response,
  });
}

export interface MsChapV2Options {
  ident?: number;
  /** MS-CHAP-Challenge, the authenticator challenge, 16 octets (default random). */
  authChallenge?: Buffer;
  /** Peer-Challenge, 16 octets (default random). */
  peerChallenge?: Buffer;
}

/**
 * Access-Request with MS-CHAP-Challenge (16) and MS-CHAP2-Response (50 = Ident, Flags 0,
 * Peer-Challenge(16), Reserved(8) zero, NT-Response(24)). The NT-Response hashes User-Name
 * without a `DOMAIN\` prefix, as the server does.
 */
export function msChapV2Request(
  dict: Dictionary,
  user: string,
  password: string,
  extra: PacketAttributes = {},
  opts: MsChapV2Options = {},
): Packet {
  const authChallenge = requireOctets('MS-CHAP-Challenge', opts.authChallenge, 16);
  const peerChallenge = requireOctets('Peer-Challenge', opts.peerChallenge, 16);
  const response = Buffer.alloc(50);
  response[0] = opts.ident ?? randomIdent();
  peerChallenge.copy(response, 2);
  generateNtResponse(authChallenge, peerChallenge, user, ntPasswordHash(password)).copy(
    response,
    26,
  );
  return createPacket(dict, 'Access-Request', {
    'User-Name': user,
    ...extra,
    'MS-CHAP-Challenge': authChallenge,
    'MS-CHAP2-Response': response,
  });
}

/**
 * Does the reply's MS-CHAP2-Success (Ident ‖ "S=" 40 hex) prove the server knew the password?
 * Recomputes the RFC 2759 §8.7 authenticator response from the request's MS-CHAP-Challenge,
 * MS-CHAP2-Response and User-Name. False when anything is missing or malformed.
 */
export function verifyMsChapV2Success(
  reply: Packet,
  request: Packet,
  password: string | { ntHash: Buffer },
): boolean {
  const success = reply.get('MS-CHAP2-Success');
  const challenge = request.get('MS-CHAP-Challenge');
  const response = request.get('MS-CHAP2-Response');
  const user = request.find('User-Name');
  if (!Buffer.isBuffer(success) || !Buffer.isBuffer(challenge) || !Buffer.isBuffer(response)) {
    return false;
  }
  if (success.length !== 43 || challenge.length !== 16 || response.length !== 50 || !user) {
    return false;
  }
  if (success[0] !== response[0]) return false; // the Ident must echo the request's
  const ntHash = typeof password === 'string' ? ntPasswordHash(password) : password.ntHash;
  const userName = user.raw ?? Buffer.from(String(user.value), 'utf8');
  const expected = authenticatorResponse(
    ntHash,
    response.subarray(26, 50),
    response.subarray(2, 18),
    challenge,
    userName,
  );
  // FreeRADIUS sends uppercase hex; RFC 2759 does not say, so compare case-insensitively.
  const got = success.subarray(1).toString('latin1').toUpperCase();
  return constantTimeEqual(Buffer.from(got, 'latin1'), Buffer.from(expected, 'latin1'));
}
