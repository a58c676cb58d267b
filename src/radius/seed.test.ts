import { describe, expect, it } from 'vitest';
import {
  lines,
  SEED_ACCESS_ACCEPT,
  SEED_ACCESS_REQUEST,
  SEED_ACCOUNTING_REQUEST,
} from '../../test/fixtures/seed.js';
import { decodePacket } from './decode.js';
import { bundledDictionary } from './dictionary/load.js';
import { encodePacket } from './encode.js';
import { Packet } from './packet.js';
import { formatAttributes, parseAttributes } from './text.js';
import {
  verifyMessageAuthenticator,
  verifyResponseAuthenticator,
  verifyRequestAuthenticator,
} from './crypto/index.js';

const dict = bundledDictionary();
const secret = Buffer.from('seed-secret');
const requestAuthenticator = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');

describe('the seed exchange', () => {
  it('Access-Request encodes to 356 octets and decodes back to the same text', () => {
    const p = new Packet(
      dict,
      1,
      126,
      requestAuthenticator,
      parseAttributes(dict, SEED_ACCESS_REQUEST),
    );
    const wire = encodePacket(p, { secret });
    expect(wire.length).toBe(356);
    const back = decodePacket(wire, dict, { secret });
    expect(back.identifier).toBe(126);
    // The Message-Authenticator is recomputed with our secret, so it differs from the capture.
    const expected = lines(SEED_ACCESS_REQUEST).map((l) =>
      l.startsWith('Message-Authenticator')
        ? l.replace(
            /0x[0-9a-f]+/,
            `0x${(back.get('Message-Authenticator') as Buffer).toString('hex')}`,
          )
        : l,
    );
    expect(formatAttributes(back.attributes)).toEqual(expected);
    expect(back.messageAuthenticatorOffset).toBeDefined();
    expect(
      verifyMessageAuthenticator(
        wire,
        back.messageAuthenticatorOffset as number,
        requestAuthenticator,
        secret,
      ),
    ).toBe(true);
  });

  it('Access-Accept (as sent, without Message-Authenticator) encodes to 176 octets', () => {
    const p = new Packet(dict, 2, 126, Buffer.alloc(16), parseAttributes(dict, SEED_ACCESS_ACCEPT));
    const wire = encodePacket(p, { secret, requestAuthenticator });
    expect(wire.length).toBe(176);
    expect(verifyResponseAuthenticator(wire, requestAuthenticator, secret)).toBe(true);
    const back = decodePacket(wire, dict, { secret, requestAuthenticator });
    expect(formatAttributes(back.attributes)).toEqual(lines(SEED_ACCESS_ACCEPT));
    // MS-CHAP-MPPE-Keys travels hidden: 24 octets in clear become 32 on the wire.
    expect(back.find('MS-CHAP-MPPE-Keys')?.raw?.length).toBe(32);
  });

  it('Accounting-Request encodes to 362 octets and decodes back to the same text', () => {
    const p = new Packet(
      dict,
      4,
      126,
      Buffer.alloc(16),
      parseAttributes(dict, SEED_ACCOUNTING_REQUEST),
    );
    const wire = encodePacket(p, { secret });
    expect(wire.length).toBe(362);
    expect(verifyRequestAuthenticator(wire, secret)).toBe(true);
    const back = decodePacket(wire, dict);
    expect(formatAttributes(back.attributes)).toEqual(lines(SEED_ACCOUNTING_REQUEST));
    expect(back.get('Acct-Input-Octets')).toBe(184624542);
    expect(back.get('Acct-Status-Type')).toBe('Interim-Update');
    expect(back.get('Event-Timestamp')).toEqual(new Date('2025-04-08T10:12:09Z'));
    expect(back.get('Framed-IPv6-Prefix')).toBe('2001:913:1000:500::/60');
  });

  it('re-encodes a decoded packet to the same bytes without the secret', () => {
    const p = new Packet(
      dict,
      1,
      126,
      requestAuthenticator,
      parseAttributes(dict, SEED_ACCESS_REQUEST),
    );
    const wire = encodePacket(p, { secret });
    const back = decodePacket(wire, dict);
    expect(encodePacket(back).equals(wire)).toBe(true);
  });
});
