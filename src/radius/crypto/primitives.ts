// MD4 and single DES, which Node 20's OpenSSL 3 default provider refuses ("md4", "des-ecb").
// Both come from maintained implementations, never hand-written: MD4 from hash-wasm (loaded
// once, then synchronous), DES as 3DES-EDE with K|K|K, which collapses to single DES.
import { createCipheriv } from 'node:crypto';

import { createMD4 } from 'hash-wasm';

import { requireLength } from './internal.js';

// Top-level await: every importer gets a ready hasher, so md4() stays synchronous (~1 µs).
const md4Hasher = await createMD4();

export function md4(data: Uint8Array): Buffer {
  const digest = md4Hasher.init().update(data).digest('binary');
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength);
}

/**
 * Spreads 56 key bits over 8 octets, 7 bits each, the low bit set for odd parity (RFC 2433
 * A.8 example values; DES ignores the parity bit, the RFCs print it).
 */
export function desExpandKey(key7: Buffer): Buffer {
  requireLength('DES key', key7, 7);
  const key = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) {
    // Bits 7i..7i+6 of key7, read through the two octets they may straddle.
    const bit = i * 7;
    const pair = ((key7[bit >> 3] ?? 0) << 8) | (key7[(bit >> 3) + 1] ?? 0);
    const seven = (pair >> (9 - (bit & 7))) & 0x7f;
    key[i] = (seven << 1) | oddParityBit(seven);
  }
  return key;
}

/** 1 when the 7 bits hold an even number of ones, so that the octet's total is odd. */
function oddParityBit(seven: number): number {
  let ones = 0;
  for (let v = seven; v !== 0; v >>= 1) ones += v & 1;
  return (ones & 1) === 0 ? 1 : 0;
}

/** DES-encrypt one 8-octet block under a 7-octet key. */
export function desEncrypt(key7: Buffer, block8: Uint8Array): Buffer {
  requireLength('DES block', block8, 8);
  const key = desExpandKey(key7);
  const cipher = createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null);
  cipher.setAutoPadding(false);
  return cipher.update(block8);
}
