import { hash, timingSafeEqual } from 'node:crypto';

import { createMD5 } from 'hash-wasm';
import { freshOctets } from './octets.js';

/** RADIUS header: Code(1) Identifier(1) Length(2) Authenticator(16). */
export const HEADER_LENGTH = 20;
export const AUTHENTICATOR_OFFSET = 4;
export const AUTHENTICATOR_LENGTH = 16;
const EMPTY = Buffer.alloc(0);

/** Constant-time equality; a length mismatch is answered at once (lengths are not secret). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The packet's own Length field when it is usable, else null. Octets past Length are UDP
 * padding that RFC 2865 §3 says to ignore, so every digest covers exactly Length octets.
 */
export function packetLength(raw: Buffer): number | null {
  if (raw.length < HEADER_LENGTH) return null;
  const length = raw.readUInt16BE(2);
  return length >= HEADER_LENGTH && length <= raw.length ? length : null;
}

// MD5 from hash-wasm (as MD4 in primitives.ts), loaded once by top-level await, then synchronous
// and reused: a RADIUS answer takes four to six MD5s of one to six blocks, and node:crypto's
// one-shot `hash` spends most of its ~1 µs per call on fixed costs. For 20–356 octets this is
// 0.3–0.8 µs against 1.1–1.3 (a loop of 200,000 calls each; md5.test.ts checks it against
// node:crypto for any input).
const md5Hasher = await createMD5();

// Several parts are copied end to end and hashed in one `update`: each `update` of hash-wasm
// costs ~0.15 µs of wrapping (views, a copy into its memory, the call), so an authenticator's
// four parts took 1.8 µs against 1.4 this way (356 octets, a loop of 300,000, Intel Xeon).
const joined = Buffer.alloc(4096 + 256);

export function md5(...parts: Uint8Array[]): Buffer {
  md5Hasher.init();
  if (parts.length === 1) md5Hasher.update(parts[0] as Uint8Array);
  else {
    let n = 0;
    for (const part of parts) n += part.length;
    if (n <= joined.length) {
      n = 0;
      for (const part of parts) {
        joined.set(part, n);
        n += part.length;
      }
      md5Hasher.update(joined.subarray(0, n));
    } else for (const part of parts) md5Hasher.update(part);
  }
  // Copied into a slab's view: `digest` is a 16-octet array inside V8's heap, and asking for its
  // `.buffer` would cost it an allocation of its own (octets.ts).
  const out = freshOctets(16);
  out.set(md5Hasher.digest('binary'));
  return out;
}

export function sha1(...parts: Uint8Array[]): Buffer {
  return hash('sha1', parts.length === 1 ? (parts[0] ?? EMPTY) : Buffer.concat(parts), 'buffer');
}

export function requireLength(name: string, value: Uint8Array, length: number): void {
  if (value.length !== length) {
    throw new RangeError(`${name} must be ${length} octets, got ${value.length}`);
  }
}

/**
 * The MD5 keystream of RFC 2865 §5.2, shared by User-Password hiding and the salted encryption
 * of RFC 2868 §3.5 / RFC 2548 §2.4: b(1) = MD5(secret | iv...), b(i) = MD5(secret | c(i-1)),
 * c(i) = p(i) xor b(i). `input` is a multiple of 16 octets; a new buffer is returned.
 */
export function md5Chain(
  input: Uint8Array,
  secret: Uint8Array,
  iv: readonly Uint8Array[],
  mode: 'encrypt' | 'decrypt',
): Buffer {
  // Not allocUnsafe: keeps plaintext and secret out of Node's shared pool slab (octets.ts).
  const out = freshOctets(input.length);
  const cipherText = mode === 'encrypt' ? out : input;
  let ivLength = 0;
  for (const part of iv) ivLength += part.length;
  // secret | (iv or previous cipher block), rebuilt in place for each block.
  const scratch = freshOctets(secret.length + Math.max(16, ivLength));
  scratch.set(secret);
  let filled = secret.length;
  for (const part of iv) {
    scratch.set(part, filled);
    filled += part.length;
  }
  for (let offset = 0; offset < input.length; offset += 16) {
    if (offset > 0) {
      scratch.set(cipherText.subarray(offset - 16, offset), secret.length);
      filled = secret.length + 16;
    }
    const pad = md5(scratch.subarray(0, filled));
    for (let i = 0; i < 16; i++) out[offset + i] = (input[offset + i] ?? 0) ^ (pad[i] ?? 0);
  }
  return out;
}
