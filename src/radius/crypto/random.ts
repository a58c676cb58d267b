import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * Random octets from Node's CSPRNG, drawn from a pool refilled 4 KiB at a time. Each call of
 * `randomBytes` costs ~2 µs whatever its size (a loop of 100,000 `randomBytes(2)`), about what
 * filling 4 KiB costs, and every Access-Accept with MPPE keys needs a fresh salt. Each octet is
 * handed out once, then erased from the pool.
 */
const POOL = 4096;
const pool = Buffer.alloc(POOL);
let at = POOL;

/** `n` random octets in a new Buffer. */
export function randomOctets(n: number): Buffer {
  if (n > POOL / 8) return randomBytes(n);
  if (at + n > POOL) {
    randomFillSync(pool);
    at = 0;
  }
  const out = Buffer.from(pool.subarray(at, at + n));
  pool.fill(0, at, at + n);
  at += n;
  return out;
}
