// Packet authenticators (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3). All functions take the whole
// encoded packet and hash exactly the octets its Length field covers.

import {
  AUTHENTICATOR_LENGTH,
  AUTHENTICATOR_OFFSET,
  HEADER_LENGTH,
  constantTimeEqual,
  md5,
  packetLength,
  requireLength,
} from './internal.js';
import { randomOctets } from './random.js';

const ZERO_AUTHENTICATOR = Buffer.alloc(AUTHENTICATOR_LENGTH);

/** MD5(Code | Identifier | Length | authenticator | Attributes | secret). */
function digestWith(raw: Buffer, length: number, authenticator: Buffer, secret: Buffer): Buffer {
  return md5(
    raw.subarray(0, AUTHENTICATOR_OFFSET),
    authenticator,
    raw.subarray(HEADER_LENGTH, length),
    secret,
  );
}

function lengthOrThrow(raw: Buffer): number {
  const length = packetLength(raw);
  if (length === null) throw new RangeError('not a RADIUS packet: bad header or Length field');
  return length;
}

/**
 * Response Authenticator of an Access-Accept/Reject/Challenge, Accounting-Response or
 * CoA/Disconnect-ACK/NAK: `raw` is the response, `requestAuthenticator` the request's.
 */
export function computeResponseAuthenticator(
  raw: Buffer,
  requestAuthenticator: Buffer,
  secret: Buffer,
): Buffer {
  requireLength('requestAuthenticator', requestAuthenticator, AUTHENTICATOR_LENGTH);
  return digestWith(raw, lengthOrThrow(raw), requestAuthenticator, secret);
}

/**
 * Request Authenticator of an Accounting-Request, CoA-Request or Disconnect-Request: the same
 * MD5 with 16 zero octets standing for the authenticator field, whatever it holds now.
 */
export function computeRequestAuthenticator(raw: Buffer, secret: Buffer): Buffer {
  return digestWith(raw, lengthOrThrow(raw), ZERO_AUTHENTICATOR, secret);
}

/** False (never a throw) for anything malformed: a bad packet is simply not authentic. */
export function verifyResponseAuthenticator(
  raw: Buffer,
  requestAuthenticator: Buffer,
  secret: Buffer,
): boolean {
  const length = packetLength(raw);
  if (length === null || requestAuthenticator.length !== AUTHENTICATOR_LENGTH) return false;
  return constantTimeEqual(
    digestWith(raw, length, requestAuthenticator, secret),
    raw.subarray(AUTHENTICATOR_OFFSET, HEADER_LENGTH),
  );
}

export function verifyRequestAuthenticator(raw: Buffer, secret: Buffer): boolean {
  const length = packetLength(raw);
  if (length === null) return false;
  return constantTimeEqual(
    digestWith(raw, length, ZERO_AUTHENTICATOR, secret),
    raw.subarray(AUTHENTICATOR_OFFSET, HEADER_LENGTH),
  );
}

/**
 * Request Authenticator of an Access-Request or Status-Server. It keys the password hiding, so
 * RFC 2865 §3 wants it unpredictable and unique over the secret's lifetime: CSPRNG, not Math.random.
 */
export function randomAuthenticator(): Buffer {
  return randomOctets(AUTHENTICATOR_LENGTH);
}
