import { describe, expect, it } from 'vitest';
import fc from 'fast-check';

import {
  computeRequestAuthenticator,
  computeResponseAuthenticator,
  randomAuthenticator,
  verifyRequestAuthenticator,
  verifyResponseAuthenticator,
} from './authenticator.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const secret = Buffer.from('xyzzy5461');
const authOf = (raw: Buffer): Buffer => raw.subarray(4, 20);

// RFC 2865 §7 and RFC 5997 §6, as quoted in the reference notes (§6).
const rfc2865 = {
  req71:
    hex(`01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be
    70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03`),
  accept71:
    hex(`02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01 0f 06 00
    00 00 00 0e 06 c0 a8 01 03`),
  req72:
    hex(`01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e 0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13
    16 e9 75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04 06 c0 a8 01 10 05 06 00 00 00 14 06 06 00
    00 00 02 07 06 00 00 00 01`),
  accept72:
    hex(`02 01 00 38 15 ef bc 7d ab 26 cf a3 dc 34 d9 c0 3c 86 01 a4 06 06 00 00 00 02 07 06 00
    00 00 01 08 06 ff ff ff fe 0a 06 00 00 00 02 0d 06 00 00 00 01 0c 06 00 00 05 dc`),
  req73:
    hex(`01 02 00 39 f3 a4 7a 1f 6a 6d 76 71 0b 94 7a b9 30 41 a0 39 01 07 6d 6f 70 73 79 02 12 33
    65 75 73 77 82 89 b5 70 88 5e 15 08 48 25 c5 04 06 c0 a8 01 10 05 06 00 00 00 07`),
  challenge73:
    hex(`0b 02 00 4e 36 f3 c8 76 4a e8 c7 11 57 40 3c 0c 71 ff 9c 45 12 30 43 68 61 6c 6c 65
    6e 67 65 20 33 32 37 36 39 34 33 30 2e 20 20 45 6e 74 65 72 20 72 65 73 70 6f 6e 73 65 20 61 74
    20 70 72 6f 6d 70 74 2e 18 0a 33 32 37 36 39 34 33 30`),
  // The RFC's second request carries a State whose length octet is wrong (erratum): a codec
  // matter, irrelevant to the authenticator, which covers the octets as sent.
  req73b:
    hex(`01 03 00 43 b1 22 55 6d 42 8a 13 d0 d6 25 38 07 c4 57 ec f0 01 07 6d 6f 70 73 79 02 12
    69 2c 1f 20 5f c0 81 b9 19 b9 51 95 f5 61 a5 81 04 06 c0 a8 01 10 05 06 00 00 00 07 18 10 33 32
    37 36 39 34 33 30`),
  reject73: hex('03 03 00 14 a4 2f 4f ca 45 91 6c 4e 09 c8 34 0f 9e 74 6a a0'),
};
const rfc5997 = {
  req61:
    hex(`0c da 00 26 8a 54 f4 68 6f b3 94 c5 28 66 e3 02 18 5d 06 23 50 12 5a 66 5e 2e 1e 84 11 f3
    e2 43 82 20 97 c8 4f a3`),
  resp61: hex('02 da 00 14 ef 0d 55 2a 4b f2 d6 93 ec 2b 6f e8 b5 41 1d 66'),
  req62:
    hex(`0c b3 00 26 92 5f 6b 66 dd 5f ed 57 1f cb 1d b7 ad 38 82 60 50 12 e8 d6 ea bd a9 10 87 5c
    d9 1f da de 26 36 78 58`),
  resp62AsPrinted: hex('02 b3 00 14 0f 6f 92 14 5f 10 7e 2f 50 4e 86 0a 48 60 66 9c'),
  req63:
    hex(`0c 47 00 2c bf 58 de 56 ae 40 8a d3 b7 0c 85 13 f9 b0 3f be 04 06 c0 00 02 10 50 12 85 2d
    6f ec 61 e7 ed 74 b8 e3 2d ac 2f 2a 5f b2`),
  resp63:
    hex(`02 47 00 34 46 f4 3e 62 fd 03 54 42 4c bb eb fd 6d 21 4e 06 12 20 52 41 44 49 55 53 20 53
    65 72 76 65 72 20 75 70 20 32 20 64 61 79 73 2c 20 31 38 3a 34 30`),
};

describe('Response Authenticator (RFC 2865 §3)', () => {
  const exchanges: [string, Buffer, Buffer][] = [
    ['RFC 2865 §7.1 Access-Accept', rfc2865.req71, rfc2865.accept71],
    ['RFC 2865 §7.2 Access-Accept (CHAP)', rfc2865.req72, rfc2865.accept72],
    ['RFC 2865 §7.3 Access-Challenge', rfc2865.req73, rfc2865.challenge73],
    ['RFC 2865 §7.3 Access-Reject', rfc2865.req73b, rfc2865.reject73],
    ['RFC 5997 §6.1 Access-Accept to Status-Server', rfc5997.req61, rfc5997.resp61],
    ['RFC 5997 §6.3 Access-Accept to Status-Server', rfc5997.req63, rfc5997.resp63],
  ];

  it.each(exchanges)('%s verifies against its request', (_name, request, response) => {
    expect(verifyResponseAuthenticator(response, authOf(request), secret)).toBe(true);
    expect(computeResponseAuthenticator(response, authOf(request), secret)).toEqual(
      authOf(response),
    );
  });

  it.each(exchanges)('%s fails with another secret', (_name, request, response) => {
    expect(verifyResponseAuthenticator(response, authOf(request), Buffer.from('xyzzy5462'))).toBe(
      false,
    );
  });

  it('fails against another request', () => {
    expect(verifyResponseAuthenticator(rfc2865.accept71, authOf(rfc2865.req72), secret)).toBe(
      false,
    );
  });

  it('RFC 5997 §6.2 erratum: the reply does not verify with code 0x02 as printed, only with 0x05', () => {
    const printed = rfc5997.resp62AsPrinted;
    expect(verifyResponseAuthenticator(printed, authOf(rfc5997.req62), secret)).toBe(false);
    const accountingResponse = Buffer.from(printed);
    accountingResponse[0] = 0x05;
    expect(verifyResponseAuthenticator(accountingResponse, authOf(rfc5997.req62), secret)).toBe(
      true,
    );
  });

  it('detects any single flipped bit in the response', () => {
    const response = rfc2865.challenge73;
    for (let i = 0; i < response.length * 8; i += 7) {
      const tampered = Buffer.from(response);
      tampered[i >> 3] = (tampered[i >> 3] ?? 0) ^ (1 << (i & 7));
      expect(verifyResponseAuthenticator(tampered, authOf(rfc2865.req73), secret)).toBe(false);
    }
  });

  it('hashes only the octets covered by Length (RFC 2865 §3: the rest is padding)', () => {
    const padded = Buffer.concat([rfc2865.accept71, Buffer.from('trailing junk')]);
    expect(verifyResponseAuthenticator(padded, authOf(rfc2865.req71), secret)).toBe(true);
  });

  it('refuses a Length larger than the buffer or smaller than a header', () => {
    const truncated = rfc2865.accept71.subarray(0, rfc2865.accept71.length - 1);
    expect(verifyResponseAuthenticator(truncated, authOf(rfc2865.req71), secret)).toBe(false);
    expect(() => computeResponseAuthenticator(truncated, authOf(rfc2865.req71), secret)).toThrow(
      RangeError,
    );
    const short = Buffer.from(rfc2865.reject73);
    short.writeUInt16BE(19, 2);
    expect(verifyResponseAuthenticator(short, authOf(rfc2865.req73b), secret)).toBe(false);
    expect(verifyResponseAuthenticator(Buffer.alloc(10), Buffer.alloc(16), secret)).toBe(false);
  });

  it('wants a 16-octet request authenticator', () => {
    expect(verifyResponseAuthenticator(rfc2865.accept71, Buffer.alloc(15), secret)).toBe(false);
    expect(() => computeResponseAuthenticator(rfc2865.accept71, Buffer.alloc(15), secret)).toThrow(
      RangeError,
    );
  });
});

describe('Request Authenticator (RFC 2866 §3, RFC 5176 §2.3)', () => {
  // An Accounting-Request: Acct-Status-Type Start, Acct-Session-Id "0001", NAS-IP 192.0.2.1.
  const unsigned =
    hex(`04 2a 00 26 00000000000000000000000000000000 28 06 00 00 00 01 2c 06 30 30 30 31
    04 06 c0 00 02 01`);

  it('is the response construction with 16 zero octets for the authenticator', () => {
    // Anchored on the RFC 2865 vectors above: the two differ only in the authenticator used.
    expect(computeRequestAuthenticator(unsigned, secret)).toEqual(
      computeResponseAuthenticator(unsigned, Buffer.alloc(16), secret),
    );
  });

  it('ignores what the authenticator field holds while computing', () => {
    const signed = Buffer.from(unsigned);
    computeRequestAuthenticator(unsigned, secret).copy(signed, 4);
    expect(computeRequestAuthenticator(signed, secret)).toEqual(authOf(signed));
    expect(verifyRequestAuthenticator(signed, secret)).toBe(true);
  });

  it('rejects a tampered request, a wrong secret and an unsigned one', () => {
    const signed = Buffer.from(unsigned);
    computeRequestAuthenticator(unsigned, secret).copy(signed, 4);
    const tampered = Buffer.from(signed);
    tampered[tampered.length - 1] = 0x02;
    expect(verifyRequestAuthenticator(tampered, secret)).toBe(false);
    expect(verifyRequestAuthenticator(signed, Buffer.from('other'))).toBe(false);
    expect(verifyRequestAuthenticator(unsigned, secret)).toBe(false);
  });

  it('an Access-Request is not signed this way (its authenticator is random)', () => {
    expect(verifyRequestAuthenticator(rfc2865.req71, secret)).toBe(false);
  });
});

describe('randomAuthenticator', () => {
  it('gives 16 fresh octets each time', () => {
    const a = randomAuthenticator();
    expect(a).toHaveLength(16);
    expect(randomAuthenticator().equals(a)).toBe(false);
  });
});

describe('verification of arbitrary input', () => {
  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ minLength: 0, maxLength: 20 }),
        (raw, auth) => {
          const packet = Buffer.from(raw);
          expect(typeof verifyResponseAuthenticator(packet, Buffer.from(auth), secret)).toBe(
            'boolean',
          );
          expect(typeof verifyRequestAuthenticator(packet, secret)).toBe('boolean');
        },
      ),
    );
  });
});
