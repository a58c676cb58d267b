// Message-Authenticator (RFC 2869 §5.14, RFC 3579 §3.2): HMAC-MD5 keyed with the shared secret.
import {
  AUTHENTICATOR_LENGTH,
  AUTHENTICATOR_OFFSET,
  HEADER_LENGTH,
  constantTimeEqual,
  md5,
  packetLength,
  requireLength,
} from './internal.js';

const MA_LENGTH = 16;
// The value follows the Type and Length octets of an attribute after the header.
const MIN_VALUE_OFFSET = HEADER_LENGTH + 2;
const BLOCK = 64;

/** K0 xor ipad and K0 xor opad (RFC 2104 §2), computed once per secret Buffer. */
interface Pads {
  readonly inner: Buffer;
  readonly outer: Buffer;
}
const padsBySecret = new WeakMap<Buffer, Pads>();

function padsOf(secret: Buffer): Pads {
  let pads = padsBySecret.get(secret);
  if (pads === undefined) {
    // A key longer than the block is hashed first (RFC 2104 §2).
    const key = secret.length > BLOCK ? md5(secret) : secret;
    const inner = Buffer.alloc(BLOCK, 0x36);
    const outer = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < key.length; i++) {
      inner[i] = (inner[i] as number) ^ (key[i] as number);
      outer[i] = (outer[i] as number) ^ (key[i] as number);
    }
    pads = { inner, outer };
    padsBySecret.set(secret, pads);
  }
  return pads;
}

// One scratch area: (K0 ^ ipad) | message, then (K0 ^ opad) | inner digest. Hashing is
// synchronous, so it is never shared mid-use. Two MD5s (internal.ts) cost about half of a
// createHmac().update()×5.digest() chain, which showed in the server's profile.
const scratch = Buffer.alloc(BLOCK + 4096 + 256);
const outerScratch = Buffer.alloc(BLOCK + 16);

function digest(
  raw: Buffer,
  length: number,
  maValueOffset: number,
  authenticator: Buffer,
  secret: Buffer,
): Buffer {
  const pads = padsOf(secret);
  // The Length field allows up to 65,535 octets; the codec stops at 4,096.
  const buf = BLOCK + length <= scratch.length ? scratch : Buffer.alloc(BLOCK + length);
  // The message: the packet with `authenticator` in octets 4..20 and the M-A value zeroed.
  const m = BLOCK;
  // The whole packet in one copy, then its authenticator and M-A value overwritten: each
  // partial `copy` builds a view of its source, which showed in the auth worker's profile.
  buf.set(pads.inner, 0);
  buf.set(length === raw.length ? raw : raw.subarray(0, length), m);
  buf.set(authenticator, m + AUTHENTICATOR_OFFSET); // 16 octets: both callers check
  buf.fill(0, m + maValueOffset, m + maValueOffset + MA_LENGTH);
  const inner = md5(buf.subarray(0, m + length));
  outerScratch.set(pads.outer, 0);
  outerScratch.set(inner, BLOCK);
  return md5(outerScratch);
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
