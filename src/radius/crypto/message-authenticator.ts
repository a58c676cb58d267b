// Message-Authenticator (RFC 2869 §5.14, RFC 3579 §3.2): HMAC-MD5 keyed with the shared secret.
import { createHmac } from 'node:crypto';

import {
  AUTHENTICATOR_LENGTH,
  AUTHENTICATOR_OFFSET,
  HEADER_LENGTH,
  constantTimeEqual,
  packetLength,
  requireLength,
} from './internal.js';

const MA_LENGTH = 16;
const ZERO_VALUE = Buffer.alloc(MA_LENGTH);
// The value follows the Type and Length octets of an attribute after the header.
const MIN_VALUE_OFFSET = HEADER_LENGTH + 2;

function digest(
  raw: Buffer,
  length: number,
  maValueOffset: number,
  authenticator: Buffer,
  secret: Buffer,
): Buffer {
  // Hashed piecewise so `raw` is never copied nor mutated.
  return createHmac('md5', secret)
    .update(raw.subarray(0, AUTHENTICATOR_OFFSET))
    .update(authenticator)
    .update(raw.subarray(HEADER_LENGTH, maValueOffset))
    .update(ZERO_VALUE)
    .update(raw.subarray(maValueOffset + MA_LENGTH, length))
    .digest();
}

function offsetFits(length: number, maValueOffset: number): boolean {
  return (
    Number.isInteger(maValueOffset) &&
    maValueOffset >= MIN_VALUE_OFFSET &&
    maValueOffset + MA_LENGTH <= length
  );
}

/**
 * The Message-Authenticator value for `raw`, whose M-A value octets start at `maValueOffset`
 * (their current content is ignored). `authenticator` stands in octets 4..20:
 * - Access-Request, Status-Server: the packet's own Request Authenticator;
 * - any response: the REQUEST's authenticator;
 * - Accounting-Request, CoA-Request, Disconnect-Request: 16 zero octets, since their Request
 *   Authenticator is computed afterwards, over the finished M-A (FreeRADIUS signs them so).
 */
export function computeMessageAuthenticator(
  raw: Buffer,
  maValueOffset: number,
  authenticator: Buffer,
  secret: Buffer,
): Buffer {
  requireLength('authenticator', authenticator, AUTHENTICATOR_LENGTH);
  const length = packetLength(raw);
  if (length === null) throw new RangeError('not a RADIUS packet: bad header or Length field');
  if (!offsetFits(length, maValueOffset)) {
    throw new RangeError(`Message-Authenticator offset ${maValueOffset} outside the packet`);
  }
  return digest(raw, length, maValueOffset, authenticator, secret);
}

/** False (never a throw) for a malformed packet or an offset outside it. */
export function verifyMessageAuthenticator(
  raw: Buffer,
  maValueOffset: number,
  authenticator: Buffer,
  secret: Buffer,
): boolean {
  const length = packetLength(raw);
  if (length === null || authenticator.length !== AUTHENTICATOR_LENGTH) return false;
  if (!offsetFits(length, maValueOffset)) return false;
  return constantTimeEqual(
    digest(raw, length, maValueOffset, authenticator, secret),
    raw.subarray(maValueOffset, maValueOffset + MA_LENGTH),
  );
}
