import { DomainError } from '../errors.js';

/** RFC 2865 §5: an attribute value holds at most 253 octets, so no User-Name is longer. */
export const MAX_USERNAME_OCTETS = 253;

// C0, DEL and C1 controls; lone surrogates cannot be encoded as UTF-8 at all.
const FORBIDDEN = /[\p{Cc}\p{Cs}]/u;

/**
 * The lookup key of a User-Name: the realm (after the last `@`) in lower case, the user part
 * as it is. NASes and proxies rewrite the realm's case (`@NEUTRINET`, `@neutrinet`); the user
 * part is the member's own and stays case-sensitive, as in FreeRADIUS's realm matching.
 */
export function usernameKey(userName: string): string {
  const at = userName.lastIndexOf('@');
  if (at < 0) return userName;
  return userName.slice(0, at + 1) + userName.slice(at + 1).toLowerCase();
}

/** Throws USERNAME_INVALID unless the name could arrive as a RADIUS User-Name. */
export function checkUsername(userName: string): string {
  const octets = Buffer.byteLength(userName, 'utf8');
  if (octets === 0) throw new DomainError('USERNAME_INVALID', 'username is empty');
  if (octets > MAX_USERNAME_OCTETS) {
    throw new DomainError(
      'USERNAME_INVALID',
      `username is ${octets} octets long; a RADIUS User-Name holds at most ${MAX_USERNAME_OCTETS}`,
    );
  }
  if (FORBIDDEN.test(userName)) {
    throw new DomainError(
      'USERNAME_INVALID',
      `username ${JSON.stringify(userName)} contains a control character`,
    );
  }
  return userName;
}
