import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEED_ACCESS_REQUEST, SEED_ACCOUNTING_REQUEST } from '../../test/fixtures/seed.js';
import { decodePacket } from './decode.js';
import { bundledDictionary } from './dictionary/load.js';
import { encodePacket } from './encode.js';
import { RadiusError } from './errors.js';
import { Packet } from './packet.js';
import { formatAttributes, parseAttributes } from './text.js';

const dict = bundledDictionary();
const secret = Buffer.from('fuzz');
const CODES = [1, 2, 3, 4, 5, 11, 12, 13, 40, 41, 42, 43, 44, 45];
// Types that exercise every decoder path: plain, encrypted, tagged, concat, VSA, extended.
const TYPES = [
  1, 2, 3, 4, 5, 8, 18, 24, 25, 26, 33, 55, 64, 69, 79, 80, 81, 87, 95, 96, 97, 123, 241, 242, 245,
  246, 255,
];
const VENDORS = [311, 14988, 3561, 9, 0, 4294967295];

function attr(type: number, data: Uint8Array): Buffer {
  return Buffer.concat([
    Buffer.from([type, Math.min(255, data.length + 2)]),
    Buffer.from(data).subarray(0, 253),
  ]);
}

const vsa = fc
  .tuple(
    fc.constantFrom(...VENDORS),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 20 })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([vendor, subs]) => {
    const v = Buffer.alloc(4);
    v.writeUInt32BE(vendor, 0);
    const inner = subs.map(([t, d]) =>
      Buffer.concat([Buffer.from([t, d.length + 2]), Buffer.from(d)]),
    );
    return attr(26, Buffer.concat([v, ...inner]));
  });

const extended = fc
  .tuple(
    fc.constantFrom(241, 242, 245, 246),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.uint8Array({ maxLength: 260 }),
  )
  .map(([type, ext, flags, data]) => {
    if (type < 245)
      return attr(type, Buffer.concat([Buffer.from([ext]), Buffer.from(data).subarray(0, 252)]));
    const out: Buffer[] = [];
    for (let i = 0; i === 0 || i < data.length; i += 251) {
      const more = i + 251 < data.length ? 0x80 : 0;
      out.push(
        attr(
          type,
          Buffer.concat([
            Buffer.from([ext, flags % 3 === 0 ? more : flags]),
            Buffer.from(data).subarray(i, i + 251),
          ]),
        ),
      );
    }
    return Buffer.concat(out);
  });

const plain = fc
  .tuple(fc.constantFrom(...TYPES), fc.uint8Array({ maxLength: 40 }))
  .map(([t, d]) => attr(t, d));

const structured = fc
  .tuple(
    fc.constantFrom(...CODES),
    fc.integer({ min: 0, max: 255 }),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: plain },
        { weight: 2, arbitrary: vsa },
        { weight: 1, arbitrary: extended },
      ),
      { maxLength: 12 },
    ),
  )
  .map(([code, id, auth, attrs]) => {
    const body = Buffer.concat(attrs);
    const head = Buffer.alloc(20);
    head[0] = code;
    head[1] = id;
    head.writeUInt16BE(Math.min(0xffff, 20 + body.length), 2);
    Buffer.from(auth).copy(head, 4);
    return Buffer.concat([head, body]);
  });

const seeds = [
  encodePacket(
    new Packet(dict, 1, 126, Buffer.alloc(16, 7), parseAttributes(dict, SEED_ACCESS_REQUEST)),
    { secret },
  ),
  encodePacket(
    new Packet(dict, 4, 126, Buffer.alloc(16), parseAttributes(dict, SEED_ACCOUNTING_REQUEST)),
    { secret },
  ),
];

/** Flip, overwrite, truncate or extend a valid packet. */
const mutated = fc
  .tuple(
    fc.oneof(fc.constantFrom(...seeds), structured),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 })), {
      minLength: 1,
      maxLength: 4,
    }),
  )
  .map(([base, edits]) => {
    let b = Buffer.from(base);
    for (const [pos, byte, op] of edits) {
      if (b.length === 0) break;
      const at = pos % b.length;
      if (op === 0) b[at] = byte;
      else if (op === 1) b = b.subarray(0, at);
      else if (op === 2)
        b = Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at)]);
      else b[at] = (b[at] as number) ^ (1 << (byte % 8));
    }
    return b;
  });

const anyBytes = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));

/** Decodes; any accepted packet must re-encode to the same octets and print without error. */
function check(buf: Buffer, withSecret: boolean): boolean {
  let packet: Packet;
  try {
    packet = decodePacket(
      buf,
      dict,
      withSecret ? { secret, requestAuthenticator: Buffer.alloc(16) } : {},
    );
  } catch (e) {
    if (!(e instanceof RadiusError)) throw e;
    return false;
  }
  const length = buf.readUInt16BE(2);
  expect(encodePacket(packet).equals(buf.subarray(0, length))).toBe(true);
  formatAttributes(packet.attributes);
  return true;
}

describe('decoder fuzzing (fast-check)', () => {
  it('survives 100,000 random, structured and mutated packets', () => {
    let accepted = 0;
    const runs = { structured: 40_000, mutated: 40_000, anyBytes: 20_000 };
    const counted = (b: Buffer, s: boolean): void => {
      if (check(b, s)) accepted++;
    };
    fc.assert(
      fc.property(structured, fc.boolean(), (b, s) => counted(b, s)),
      { numRuns: runs.structured },
    );
    fc.assert(
      fc.property(mutated, fc.boolean(), (b, s) => counted(b, s)),
      { numRuns: runs.mutated },
    );
    fc.assert(
      fc.property(anyBytes, fc.boolean(), (b, s) => counted(b, s)),
      { numRuns: runs.anyBytes },
    );
    // Most structured packets must decode, so that the attribute decoders are really exercised.
    expect(accepted).toBeGreaterThan(40_000);
  }, 120_000);
});
