// MPPE key material (RFC 3079, RFC 2548). Only what a RADIUS server sends or what RFC 3079's
// examples need to be checked; the RC4 steps of MPPE itself belong to the NAS (and Node 20's
// OpenSSL refuses rc4 anyway).
import { requireLength, sha1 } from './internal.js';
import { desEncrypt } from './primitives.js';
import { ntPasswordHashHash } from './mschap.js';

const SHA_PAD1 = Buffer.alloc(40, 0x00);
const SHA_PAD2 = Buffer.alloc(40, 0xf2);
// RFC 3079 §3.4 constants.
const MASTER_MAGIC = Buffer.from('This is the MPPE Master Key', 'ascii');
const MAGIC2 = Buffer.from(
  'On the client side, this is the send key; on the server side, it is the receive key.',
  'ascii',
);
const MAGIC3 = Buffer.from(
  'On the client side, this is the receive key; on the server side, it is the send key.',
  'ascii',
);
const LM_MAGIC = Buffer.from('KGS!@#$%', 'ascii');

export type MppeKeyLength = 8 | 16;

function requireKeyLength(keyLength: number): void {
  if (keyLength !== 8 && keyLength !== 16) {
    throw new RangeError(`MPPE key length must be 8 or 16 octets, got ${keyLength}`);
  }
}

// ---- MS-CHAPv1 -------------------------------------------------------------------------------

/**
 * MS-CHAP-MPPE-Keys plaintext (24 octets): 8 zero octets where the LM key would go, then
 * NtPasswordHashHash. RFC 2548 §2.4.1 says the NT hash itself, but NASes derive keys per RFC 3079
 * §2.4 from the hash-hash, so FreeRADIUS sends that; hide it with hideUserPassword.
 */
export function mschapV1MppeKeys(ntHash: Buffer): Buffer {
  return Buffer.concat([Buffer.alloc(8), ntPasswordHashHash(ntHash)]);
}

/**
 * LmPasswordHash (RFC 2433 A.1): the password uppercased (ASCII letters, as C toupper does),
 * zero-padded or cut to 14 octets, each 7-octet half DES-encrypting "KGS!@#$%". Legacy: only
 * for the RFC 3079 §2 derivations, which start from it.
 */
export function lmPasswordHash(password: string): Buffer {
  const upper = Buffer.alloc(14);
  Buffer.from(password, 'latin1').copy(upper, 0, 0, 14);
  for (let i = 0; i < upper.length; i++) {
    const c = upper[i] ?? 0;
    if (c >= 0x61 && c <= 0x7a) upper[i] = c - 0x20;
  }
  return Buffer.concat([
    desEncrypt(upper.subarray(0, 7), LM_MAGIC),
    desEncrypt(upper.subarray(7, 14), LM_MAGIC),
  ]);
}

/** GetStartKey (RFC 3079 §2.4): the MS-CHAPv1 128-bit initial session key. */
export function mppeV1StartKey(challenge8: Buffer, ntHashHash: Buffer): Buffer {
  requireLength('challenge', challenge8, 8);
  requireLength('NT hash hash', ntHashHash, 16);
  return sha1(ntHashHash, ntHashHash, challenge8).subarray(0, 16);
}

/**
 * GetNewKeyFromSHA (RFC 3079 §2.4, §3.4, RFC 3078 §7.3) without the RC4 pass of rekeying:
 * first keyLength octets of SHA1(start | pad1 | session | pad2).
 */
export function getNewKeyFromSha(
  startKey: Buffer,
  sessionKey: Buffer,
  keyLength: MppeKeyLength,
): Buffer {
  requireKeyLength(keyLength);
  if (startKey.length < keyLength || sessionKey.length < keyLength) {
    throw new RangeError(`MPPE keys must hold at least ${keyLength} octets`);
  }
  return sha1(
    startKey.subarray(0, keyLength),
    SHA_PAD1,
    sessionKey.subarray(0, keyLength),
    SHA_PAD2,
  ).subarray(0, keyLength);
}

/**
 * Weakens an 8-octet key to 40 or 56 effective bits by overwriting its leading octets with
 * 0xd1 0x26 0x9e (40) or 0xd1 (56), as RFC 3079 §2.1/§2.2 and §3.1/§3.2 prescribe.
 */
export function reduceSessionKey(key8: Buffer, bits: 40 | 56): Buffer {
  requireLength('session key', key8, 8);
  const prefix = bits === 40 ? [0xd1, 0x26, 0x9e] : [0xd1];
  const out = Buffer.from(key8);
  out.set(prefix);
  return out;
}

// ---- MS-CHAPv2 -------------------------------------------------------------------------------

/** GetMasterKey (RFC 3079 §3.4). */
export function mppeMasterKey(ntHashHash: Buffer, ntResponse24: Buffer): Buffer {
  requireLength('NT hash hash', ntHashHash, 16);
  requireLength('NT-Response', ntResponse24, 24);
  return sha1(ntHashHash, ntResponse24, MASTER_MAGIC).subarray(0, 16);
}

/**
 * GetAsymmetricStartKey (RFC 3079 §3.4). The server's send key is the client's receive key:
 * Magic3 for (send, server) and (receive, client), Magic2 otherwise.
 */
export function mppeAsymmetricStartKey(
  masterKey: Buffer,
  keyLength: MppeKeyLength,
  isSend: boolean,
  isServer: boolean,
): Buffer {
  requireLength('master key', masterKey, 16);
  requireKeyLength(keyLength);
  const magic = isSend === isServer ? MAGIC3 : MAGIC2;
  return sha1(masterKey, SHA_PAD1, magic, SHA_PAD2).subarray(0, keyLength);
}

/**
 * The 128-bit keys an MS-CHAPv2 Access-Accept carries, seen from the server (RFC 2548 §2.4.2,
 * §2.4.3): MS-MPPE-Send-Key and MS-MPPE-Recv-Key plaintexts, to be salt-encrypted.
 */
export function mschapV2ServerKeys(
  ntHash: Buffer,
  ntResponse24: Buffer,
): { sendKey: Buffer; recvKey: Buffer } {
  const masterKey = mppeMasterKey(ntPasswordHashHash(ntHash), ntResponse24);
  return {
    sendKey: mppeAsymmetricStartKey(masterKey, 16, true, true),
    recvKey: mppeAsymmetricStartKey(masterKey, 16, false, true),
  };
}
