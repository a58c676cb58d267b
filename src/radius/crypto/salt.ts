// Salt-encryption of Tunnel-Password (RFC 2868 §3.5) and MS-MPPE-Send/Recv-Key (RFC 2548
// §2.4.2/§2.4.3): the same algorithm, "encrypt=2" in FreeRADIUS dictionaries.

import { AUTHENTICATOR_LENGTH, md5Chain, requireLength } from './internal.js';
import { randomOctets } from './random.js';

const SALT_LENGTH = 2;
const BLOCK = 16;
// 2 + 240 octets is the largest multiple-of-16 value that fits a 253-octet attribute, with
// room left for a Tunnel-Password tag; the length octet takes one of the 240.
export const SALT_ENCRYPT_MAX_PLAIN = 239;

/**
 * Salt(2) | E(Length(1) | plain | zero padding to 16n). The salt's high bit MUST be set; the
 * default one is random. RFC 2868 wants each salt unique among the attributes of a packet:
 * callers encrypting several values into one packet should pass distinct salts.
 */
export function saltEncrypt(
  plain: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
  salt?: Buffer,
): Buffer {
  requireLength('requestAuthenticator', requestAuthenticator, AUTHENTICATOR_LENGTH);
  if (plain.length > SALT_ENCRYPT_MAX_PLAIN) {
    throw new RangeError(`salt-encrypted value is at most ${SALT_ENCRYPT_MAX_PLAIN} octets`);
  }
  let saltBytes: Buffer;
  if (salt === undefined) {
    saltBytes = randomOctets(SALT_LENGTH);
    saltBytes[0] = (saltBytes[0] ?? 0) | 0x80;
  } else {
    requireLength('salt', salt, SALT_LENGTH);
    if (((salt[0] ?? 0) & 0x80) === 0) throw new RangeError('salt must have its high bit set');
    saltBytes = salt;
  }
  const padded = Buffer.alloc(Math.ceil((plain.length + 1) / BLOCK) * BLOCK);
  padded[0] = plain.length;
  plain.copy(padded, 1);
  const encrypted = md5Chain(padded, secret, [requestAuthenticator, saltBytes], 'encrypt');
  return Buffer.concat([saltBytes, encrypted]);
}

/**
 * The plaintext, or null when malformed: shorter than 18 octets, not 2 + 16n, or an embedded
 * length running past the data. Like FreeRADIUS, a salt without its high bit and non-zero
 * padding are tolerated: neither check adds security, and strictness would only break peers.
 */
export function saltDecrypt(
  cipher: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
): Buffer | null {
  if (requestAuthenticator.length !== AUTHENTICATOR_LENGTH) return null;
  const data = cipher.subarray(SALT_LENGTH);
  if (data.length === 0 || data.length % BLOCK !== 0) return null;
  const salt = cipher.subarray(0, SALT_LENGTH);
  const padded = md5Chain(data, secret, [requestAuthenticator, salt], 'decrypt');
  const length = padded[0] ?? 0;
  if (length > padded.length - 1) return null;
  return padded.subarray(1, 1 + length);
}
