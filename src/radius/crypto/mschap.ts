// MS-CHAP v1 (RFC 2433) and v2 (RFC 2759), server side: the server holds the NT hash, never
// needs the cleartext, and checks responses the way FreeRADIUS rlm_mschap does.
import { constantTimeEqual, requireLength, sha1 } from './internal.js';
import { desEncrypt, md4 } from './primitives.js';

export { desExpandKey } from './primitives.js';

const RESPONSE_LENGTH = 50;
const NT_RESPONSE_OFFSET = 26;
const NT_HASH_LENGTH = 16;
// MS-CHAP-Response Flags bit 0: the NT-Response field is valid (RFC 2548 §2.1.3).
const FLAG_USE_NT = 0x01;

// RFC 2759 §8.7 constants of GenerateAuthenticatorResponse.
const AUTH_MAGIC1 = Buffer.from('Magic server to client signing constant', 'ascii');
const AUTH_MAGIC2 = Buffer.from('Pad to make it do more than one iteration', 'ascii');

/** NtPasswordHash: MD4 of the UTF-16LE password (RFC 2433 A.2). */
export function ntPasswordHash(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}

/** HashNtPasswordHash: MD4 of the NT hash (RFC 2759 §8.4). */
export function ntPasswordHashHash(hash: Buffer): Buffer {
  requireLength('NT hash', hash, NT_HASH_LENGTH);
  return md4(hash);
}

/** ChallengeResponse: the 8-octet challenge DES-encrypted under NT-hash‖5 zeros in 3 slices. */
export function challengeResponse(challenge8: Buffer, ntHash16: Buffer): Buffer {
  requireLength('challenge', challenge8, 8);
  requireLength('NT hash', ntHash16, NT_HASH_LENGTH);
  const zPasswordHash = Buffer.alloc(21);
  ntHash16.copy(zPasswordHash);
  return Buffer.concat([
    desEncrypt(zPasswordHash.subarray(0, 7), challenge8),
    desEncrypt(zPasswordHash.subarray(7, 14), challenge8),
    desEncrypt(zPasswordHash.subarray(14, 21), challenge8),
  ]);
}

/**
 * Checks an MS-CHAP-Response (Ident, Flags, LM-Response(24), NT-Response(24)) against the
 * MS-CHAP-Challenge. LM-only responses are refused, as FreeRADIUS does: the LM hash is too weak.
 */
export function verifyMsChapV1(challenge8: Buffer, response50: Buffer, ntHash: Buffer): boolean {
  if (challenge8.length !== 8 || response50.length !== RESPONSE_LENGTH) return false;
  if (ntHash.length !== NT_HASH_LENGTH) return false;
  if (((response50[1] ?? 0) & FLAG_USE_NT) === 0) return false;
  return constantTimeEqual(
    challengeResponse(challenge8, ntHash),
    response50.subarray(NT_RESPONSE_OFFSET, RESPONSE_LENGTH),
  );
}

/**
 * The user name as MS-CHAPv2 hashes it: without a `DOMAIN\` prefix (up to the first
 * backslash, as FreeRADIUS's with_ntdomain_hack, on by default). A Buffer is taken as the
 * raw User-Name octets, which need not be valid UTF-8.
 */
function hashedUserName(userName: string | Buffer): Buffer {
  const raw = typeof userName === 'string' ? Buffer.from(userName, 'utf8') : userName;
  return raw.subarray(raw.indexOf(0x5c) + 1);
}

/** ChallengeHash (RFC 2759 §8.2): first 8 octets of SHA1(peer | authenticator | user). */
export function mschapv2Challenge(
  peerChallenge16: Buffer,
  authenticatorChallenge16: Buffer,
  userName: string | Buffer,
): Buffer {
  requireLength('peer challenge', peerChallenge16, 16);
  requireLength('authenticator challenge', authenticatorChallenge16, 16);
  return sha1(peerChallenge16, authenticatorChallenge16, hashedUserName(userName)).subarray(0, 8);
}

/** GenerateNTResponse (RFC 2759 §8.1), from the NT hash rather than the cleartext. */
export function generateNtResponse(
  authChallenge: Buffer,
  peerChallenge: Buffer,
  userName: string | Buffer,
  ntHash: Buffer,
): Buffer {
  return challengeResponse(mschapv2Challenge(peerChallenge, authChallenge, userName), ntHash);
}

/**
 * Checks an MS-CHAP2-Response (Ident, Flags, Peer-Challenge(16), Reserved(8), NT-Response(24))
 * against the 16-octet MS-CHAP-Challenge. Flags and Reserved are not checked (FreeRADIUS
 * does not either).
 */
export function verifyMsChapV2(
  authChallenge16: Buffer,
  response50: Buffer,
  userName: string | Buffer,
  ntHash: Buffer,
): boolean {
  if (authChallenge16.length !== 16 || response50.length !== RESPONSE_LENGTH) return false;
  if (ntHash.length !== NT_HASH_LENGTH) return false;
  const peerChallenge = response50.subarray(2, 18);
  const expected = generateNtResponse(authChallenge16, peerChallenge, userName, ntHash);
  return constantTimeEqual(expected, response50.subarray(NT_RESPONSE_OFFSET, RESPONSE_LENGTH));
}

/** GenerateAuthenticatorResponse (RFC 2759 §8.7): 'S=' + 40 uppercase hex digits. */
export function authenticatorResponse(
  ntHash: Buffer,
  ntResponse24: Buffer,
  peerChallenge: Buffer,
  authChallenge: Buffer,
  userName: string | Buffer,
): string {
  requireLength('NT-Response', ntResponse24, 24);
  const digest = sha1(ntPasswordHashHash(ntHash), ntResponse24, AUTH_MAGIC1);
  const challenge = mschapv2Challenge(peerChallenge, authChallenge, userName);
  return 'S=' + sha1(digest, challenge, AUTH_MAGIC2).toString('hex').toUpperCase();
}

function identOctet(ident: number): Buffer {
  if (!Number.isInteger(ident) || ident < 0 || ident > 255) {
    throw new RangeError(`MS-CHAP ident must be 0..255, got ${ident}`);
  }
  return Buffer.of(ident);
}

/** MS-CHAP2-Success value (RFC 2548 §2.3.3): Ident + the 42 ASCII octets of 'S=…'. */
export function mschap2SuccessValue(ident: number, authResponse: string): Buffer {
  if (!/^S=[0-9A-F]{40}$/.test(authResponse)) {
    throw new RangeError('authenticator response must be S= and 40 uppercase hex digits');
  }
  return Buffer.concat([identOctet(ident), Buffer.from(authResponse, 'ascii')]);
}

/** Failure codes of RFC 2759 §6 (also RFC 2433 §6). */
export const MsChapErrorCode = {
  RestrictedLogonHours: 646,
  AccountDisabled: 647,
  PasswordExpired: 648,
  NoDialinPermission: 649,
  AuthenticationFailure: 691,
  ChangingPassword: 709,
} as const;

/**
 * MS-CHAP-Error value (RFC 2548 §2.1.5): Ident + text, in the layout FreeRADIUS emits:
 * version 2 (MS-CHAPv1) `E=<code> R=<0|1> C=<16 hex> V=2`; version 3 (MS-CHAPv2)
 * `E=<code> R=<0|1> C=<32 hex> V=3 M=<message>`. C is the challenge a retrying peer must
 * use (8 or 16 octets, lowercase hex as FreeRADIUS prints it); M exists only in version 3,
 * and FreeRADIUS always sends one, so it defaults to "Authentication failed".
 */
export function mschapErrorValue(
  ident: number,
  code: number,
  retry: boolean,
  challenge: Buffer,
  version: 2 | 3,
  message?: string,
): Buffer {
  if (!Number.isInteger(code) || code < 0) throw new RangeError(`bad MS-CHAP error code ${code}`);
  requireLength('MS-CHAP-Error challenge', challenge, version === 2 ? 8 : 16);
  let text = `E=${code} R=${retry ? 1 : 0} C=${challenge.toString('hex')} V=${version}`;
  if (version === 3) text += ` M=${message ?? 'Authentication failed'}`;
  else if (message !== undefined) throw new RangeError('an MS-CHAPv1 error (V=2) has no message');
  return Buffer.concat([identOctet(ident), Buffer.from(text, 'utf8')]);
}
