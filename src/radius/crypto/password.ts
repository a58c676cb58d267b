// User-Password hiding (RFC 2865 §5.2); also the "encrypt=1" of FreeRADIUS dictionaries, used
// for MS-CHAP-MPPE-Keys.
import { AUTHENTICATOR_LENGTH, md5Chain, requireLength } from './internal.js';

const BLOCK = 16;
const MAX_PASSWORD_LENGTH = 128;

/** Pads with zeros to a multiple of 16 (16 for an empty password) and hides. */
export function hideUserPassword(
  plain: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
): Buffer {
  requireLength('requestAuthenticator', requestAuthenticator, AUTHENTICATOR_LENGTH);
  if (plain.length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(
      `User-Password is at most ${MAX_PASSWORD_LENGTH} octets, got ${plain.length}`,
    );
  }
  const padded = Buffer.alloc(Math.max(BLOCK, Math.ceil(plain.length / BLOCK) * BLOCK));
  plain.copy(padded);
  return md5Chain(padded, secret, [requestAuthenticator], 'encrypt');
}

/**
 * Every decrypted octet, padding included, or null when `hidden` cannot be a hidden value
 * (empty or not a multiple of 16). For fixed-length values such as MS-CHAP-MPPE-Keys, whose
 * last octets may legitimately be zero. Lengths above 128 are decoded anyway: the codec already
 * bounds an attribute to 253 octets. A wrong secret is not detectable here: it yields garbage,
 * which the password check then rejects.
 */
export function unhideUserPasswordRaw(
  hidden: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
): Buffer | null {
  if (hidden.length === 0 || hidden.length % BLOCK !== 0) return null;
  if (requestAuthenticator.length !== AUTHENTICATOR_LENGTH) return null;
  return md5Chain(hidden, secret, [requestAuthenticator], 'decrypt');
}

/** The password without its trailing NUL padding, or null as unhideUserPasswordRaw. */
export function unhideUserPassword(
  hidden: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
): Buffer | null {
  const plain = unhideUserPasswordRaw(hidden, secret, requestAuthenticator);
  if (plain === null) return null;
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return plain.subarray(0, end);
}
