// CHAP (RFC 1994 §4.1) as carried by RADIUS (RFC 2865 §2.2, §5.3).
import { constantTimeEqual, md5 } from './internal.js';

const CHAP_PASSWORD_LENGTH = 17;

/** MD5(Identifier | password | challenge). */
export function chapResponse(ident: number, password: Buffer, challenge: Buffer): Buffer {
  if (!Number.isInteger(ident) || ident < 0 || ident > 255) {
    throw new RangeError(`CHAP identifier must be 0..255, got ${ident}`);
  }
  return md5(Uint8Array.of(ident), password, challenge);
}

/**
 * Checks a CHAP-Password value (Identifier(1) | Response(16)). `challenge` is the
 * CHAP-Challenge attribute when present, else the Request Authenticator: the caller decides.
 */
export function verifyChap(chapPassword: Buffer, password: Buffer, challenge: Buffer): boolean {
  if (chapPassword.length !== CHAP_PASSWORD_LENGTH) return false;
  const expected = md5(chapPassword.subarray(0, 1), password, challenge);
  return constantTimeEqual(expected, chapPassword.subarray(1));
}
