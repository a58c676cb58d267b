// Value codecs, type by type. Wire formats: RFC 2865 §5 (text, string, address, integer, time),
// RFC 3162 §2.3 (ipv6prefix, truncated prefixes allowed), RFC 6572 §3 (ipv4prefix), RFC 2869
// §5.3 (Event-Timestamp), RFC 8044 (integer64, ifid); printing as FreeRADIUS 3.2 prints.
import { describe, expect, it } from 'vitest';
import { Dictionary } from './dictionary/dictionary.js';
import type { AttributeDef } from './dictionary/types.js';
import { loadDictionaryText } from './dictionary/parse.js';
import { RadiusError } from './errors.js';
import type { RadiusErrorCode } from './errors.js';
import type { ValueInput } from './values.js';
import { decodeValue, encodeValue, formatDate, parseDate } from './values.js';

const dict = new Dictionary();
loadDictionaryText(
  dict,
  `
ATTRIBUTE	T-String	1	string
ATTRIBUTE	T-Octets	2	octets
ATTRIBUTE	T-Fixed		3	octets[4]
ATTRIBUTE	T-Ipaddr	4	ipaddr
ATTRIBUTE	T-Ipv6addr	5	ipv6addr
ATTRIBUTE	T-Combo		6	combo-ip
ATTRIBUTE	T-Integer	7	integer
ATTRIBUTE	T-Short		8	short
ATTRIBUTE	T-Byte		9	byte
ATTRIBUTE	T-Signed	10	signed
ATTRIBUTE	T-Integer64	11	integer64
ATTRIBUTE	T-Date		12	date
ATTRIBUTE	T-Ifid		13	ifid
ATTRIBUTE	T-Ether		14	ether
ATTRIBUTE	T-V4prefix	15	ipv4prefix
ATTRIBUTE	T-V6prefix	16	ipv6prefix
VALUE	T-Integer	Zero		0
VALUE	T-Integer	Big		4294967295
VALUE	T-Short		Port		1812
VALUE	T-Byte		Max		255
`,
  'values-test',
);

function def(name: string): AttributeDef {
  const d = dict.attribute(name);
  if (!d) throw new Error(`test dictionary lacks ${name}`);
  return d;
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const enc = (name: string, v: ValueInput): string => encodeValue(def(name), v).toString('hex');
const dec = (name: string, h: string): ReturnType<typeof decodeValue> =>
  decodeValue(def(name), hex(h));

function expectInvalid(name: string, v: ValueInput, code: RadiusErrorCode = 'VALUE_INVALID'): void {
  let caught: unknown;
  try {
    encodeValue(def(name), v);
  } catch (e) {
    caught = e;
  }
  expect(caught, `${name} = ${String(v)}`).toBeInstanceOf(RadiusError);
  expect((caught as RadiusError).code).toBe(code);
}

describe('string and octets', () => {
  it('string is UTF-8 on the wire (RFC 2865 §5: "text" is UTF-8, RFC 3629)', () => {
    expect(enc('T-String', 'bob')).toBe('626f62');
    expect(enc('T-String', 'é€')).toBe('c3a9e282ac');
    expect(dec('T-String', 'c3a9e282ac')).toBe('é€');
    // a Buffer is taken as its octets
    expect(enc('T-String', hex('ff00'))).toBe('ff00');
  });

  it('octets: Buffer, 0x hex text, or plain text (as FreeRADIUS accepts)', () => {
    expect(enc('T-Octets', hex('0001ff'))).toBe('0001ff');
    expect(enc('T-Octets', '0x0001ff')).toBe('0001ff');
    expect(enc('T-Octets', '0x')).toBe('');
    expect(enc('T-Octets', 'ab')).toBe('6162');
    expect((dec('T-Octets', '0001ff') as Buffer).toString('hex')).toBe('0001ff');
    expectInvalid('T-Octets', 12);
  });

  it('octets[4] only decodes from exactly 4 octets', () => {
    expect((dec('T-Fixed', '01020304') as Buffer).toString('hex')).toBe('01020304');
    expect(dec('T-Fixed', '010203')).toBeUndefined();
    expect(dec('T-Fixed', '0102030405')).toBeUndefined();
  });
});

describe('addresses', () => {
  it('ipaddr: 4 octets; /32 accepted on input (FreeRADIUS rfc.txt)', () => {
    expect(enc('T-Ipaddr', '192.168.1.16')).toBe('c0a80110');
    expect(enc('T-Ipaddr', '127.0.0.1/32')).toBe('7f000001');
    expect(dec('T-Ipaddr', 'c0a80103')).toBe('192.168.1.3');
    expect(dec('T-Ipaddr', 'ffffffff')).toBe('255.255.255.255');
    expect(dec('T-Ipaddr', 'abcd')).toBeUndefined();
    expect(dec('T-Ipaddr', 'c0a8010300')).toBeUndefined();
    for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', 'bob', '::1', '1.2.3.4/24', ''])
      expectInvalid('T-Ipaddr', bad);
  });

  it('ipv6addr: 16 octets, printed in RFC 5952 form', () => {
    expect(enc('T-Ipv6addr', '2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(dec('T-Ipv6addr', '20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(dec('T-Ipv6addr', '20010db8000000010000000000000001')).toBe('2001:db8:0:1::1');
    expect(dec('T-Ipv6addr', '00000000000000000000000000000000')).toBe('::');
    expect(dec('T-Ipv6addr', '20010db8')).toBeUndefined();
    expectInvalid('T-Ipv6addr', '192.0.2.1');
    expectInvalid('T-Ipv6addr', '2001:db8::g');
  });

  it('combo-ip: IPv4 or IPv6 by length', () => {
    expect(enc('T-Combo', '192.0.2.1')).toBe('c0000201');
    expect(enc('T-Combo', '2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(dec('T-Combo', 'c0000201')).toBe('192.0.2.1');
    expect(dec('T-Combo', '20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(dec('T-Combo', '0102030405')).toBeUndefined();
  });

  it('ether: 6 octets printed as lower-case colon pairs (FreeRADIUS %02x:…)', () => {
    expect(enc('T-Ether', '00:11:22:AA:bb:cc')).toBe('001122aabbcc');
    expect(enc('T-Ether', '00-11-22-aa-bb-cc')).toBe('001122aabbcc');
    expect(dec('T-Ether', '001122aabbcc')).toBe('00:11:22:aa:bb:cc');
    expect(dec('T-Ether', '001122aabb')).toBeUndefined();
    expectInvalid('T-Ether', '00:11:22:aa:bb');
  });

  it('ifid: 8 octets; printed as FreeRADIUS ifid_ntoa does ("%x:%x:%x:%x", no zero padding)', () => {
    expect(enc('T-Ifid', '0211:22ff:fe33:4455')).toBe('021122fffe334455');
    expect(enc('T-Ifid', '211:22ff:fe33:4455')).toBe('021122fffe334455');
    expect(enc('T-Ifid', '0:0:0:1')).toBe('0000000000000001');
    expect(dec('T-Ifid', '021122fffe334455')).toBe('211:22ff:fe33:4455');
    expect(dec('T-Ifid', '0000000000000001')).toBe('0:0:0:1');
    expect(dec('T-Ifid', '021122fffe3344')).toBeUndefined();
    expectInvalid('T-Ifid', '1:2:3');
  });
});

describe('prefixes', () => {
  it('RFC 3162 §2.3: ipv6prefix = reserved, prefix-length, prefix (possibly truncated)', () => {
    expect(dec('T-V6prefix', '00 40 20 01 0d b8 00 00 00 00')).toBe('2001:db8::/64');
    // layeh/radius#118: 6 octets of prefix for a /64
    expect(dec('T-V6prefix', '00 40 20 01 15 30 10 0e')).toBe('2001:1530:100e::/64');
    expect(dec('T-V6prefix', '00 00')).toBe('::/0');
    expect(dec('T-V6prefix', '00 80 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01')).toBe(
      '2001:db8::1/128',
    );
    expect(dec('T-V6prefix', '00 3c 20 01 09 13 10 00 05 00')).toBe('2001:913:1000:500::/60');
  });

  it('ipv6prefix: malformed → undefined (kept raw by the decoder)', () => {
    expect(dec('T-V6prefix', '00')).toBeUndefined();
    expect(dec('T-V6prefix', '01 40 20 01 0d b8')).toBeUndefined(); // reserved octet set
    expect(dec('T-V6prefix', '00 81')).toBeUndefined(); // > 128
    expect(dec('T-V6prefix', `00 80 ${'00'.repeat(17)}`)).toBeUndefined(); // > 16 prefix octets
    expect(dec('T-V6prefix', '00 20 20 01 0d b8 00 01')).toBeUndefined(); // bits beyond /32
    expect(dec('T-V6prefix', '00 3f 20 01 0d b8 00 00 00 01')).toBeUndefined(); // last bit of /64
  });

  it('ipv6prefix on input: bare address means /128; bits beyond are zeroed (FreeRADIUS rfc.txt)', () => {
    const full = (h: string): string => h.padEnd(36, '0');
    expect(enc('T-V6prefix', '::1')).toBe(`0080${'00'.repeat(15)}01`);
    expect(enc('T-V6prefix', '2001:db8::/32').slice(0, 12)).toBe('002020010db8');
    expect(dec('T-V6prefix', enc('T-V6prefix', '2001:db8::/32'))).toBe('2001:db8::/32');
    expect(enc('T-V6prefix', '2001:db8:ffff::/32')).toBe(full('002020010db8'));
    expect(enc('T-V6prefix', '11:22:33:44:55:66:77:88/128')).toBe(
      '0080' + '00110022003300440055006600770088',
    );
    expectInvalid('T-V6prefix', '::1/200');
    expectInvalid('T-V6prefix', '::1/');
    expectInvalid('T-V6prefix', '192.0.2.0/24');
  });

  it('RFC 6572 ipv4prefix = reserved, prefix-length, 4 octets', () => {
    expect(enc('T-V4prefix', '127.0.0.0/8')).toBe('00087f000000');
    // FreeRADIUS rfc.txt: 127.63/15 → 127.62.0.0/15 (bits beyond the mask zeroed)
    expect(enc('T-V4prefix', '127.63.0.0/15')).toBe('000f7f3e0000');
    expect(enc('T-V4prefix', '127.63.1.6')).toBe('00207f3f0106');
    expect(dec('T-V4prefix', '000f7f3e0000')).toBe('127.62.0.0/15');
    expect(dec('T-V4prefix', '00207f3f0106')).toBe('127.63.1.6/32');
    expect(dec('T-V4prefix', '000000000000')).toBe('0.0.0.0/0');
    expect(dec('T-V4prefix', '00217f000000')).toBeUndefined();
    expect(dec('T-V4prefix', '00087f00')).toBeUndefined();
    expectInvalid('T-V4prefix', '127.0.0.0/33');
    expectInvalid('T-V4prefix', '256.0.0.0/8');
  });
});

describe('integers', () => {
  it('integer: 4 octets big-endian; VALUE names both ways; decimal and 0x text', () => {
    expect(enc('T-Integer', 3)).toBe('00000003');
    expect(enc('T-Integer', 4294967295)).toBe('ffffffff');
    expect(enc('T-Integer', 'Big')).toBe('ffffffff');
    expect(enc('T-Integer', 'big')).toBe('ffffffff');
    expect(enc('T-Integer', '17')).toBe('00000011');
    expect(enc('T-Integer', '0x10')).toBe('00000010');
    expect(dec('T-Integer', '00000000')).toBe('Zero');
    expect(dec('T-Integer', 'ffffffff')).toBe('Big');
    expect(dec('T-Integer', '00000007')).toBe(7);
    expect(dec('T-Integer', '000007')).toBeUndefined();
    expectInvalid('T-Integer', -1);
    expectInvalid('T-Integer', 4294967296);
    expectInvalid('T-Integer', 1.5);
    expectInvalid('T-Integer', 'Nope');
  });

  it('short and byte (FreeRADIUS uint16 / uint8)', () => {
    expect(enc('T-Short', 'Port')).toBe('0714');
    expect(dec('T-Short', '0714')).toBe('Port');
    expect(dec('T-Short', '0001')).toBe(1);
    expect(enc('T-Byte', 255)).toBe('ff');
    expect(dec('T-Byte', 'ff')).toBe('Max');
    expectInvalid('T-Short', 65536);
    expectInvalid('T-Byte', 256);
    expect(dec('T-Byte', '0001')).toBeUndefined();
  });

  it('signed: two’s complement', () => {
    expect(enc('T-Signed', -1)).toBe('ffffffff');
    expect(enc('T-Signed', -2147483648)).toBe('80000000');
    expect(dec('T-Signed', 'ffffffff')).toBe(-1);
    expect(dec('T-Signed', '7fffffff')).toBe(2147483647);
    expectInvalid('T-Signed', 2147483648);
  });

  it('integer64: 8 octets, bigint', () => {
    expect(enc('T-Integer64', 4294967298n)).toBe('0000000100000002');
    expect(enc('T-Integer64', '18446744073709551615')).toBe('ffffffffffffffff');
    expect(enc('T-Integer64', 5)).toBe('0000000000000005');
    expect(dec('T-Integer64', '0000000100000002')).toBe(4294967298n);
    expect(dec('T-Integer64', 'ffffffffffffffff')).toBe(18446744073709551615n);
    expect(dec('T-Integer64', '00000001')).toBeUndefined();
    expectInvalid('T-Integer64', 18446744073709551616n);
    expectInvalid('T-Integer64', -1n);
    expectInvalid('T-Integer64', 'many');
  });
});

describe('date (RFC 2869 §5.3: seconds since 1970-01-01 UTC)', () => {
  it('decodes to a Date; FreeRADIUS prints "Apr  8 2025 10:11:32 UTC" (day padded with a space)', () => {
    const d = dec('T-Date', '67f4f654');
    expect(d).toEqual(new Date('2025-04-08T10:11:32Z'));
    expect(formatDate(d as Date)).toBe('Apr  8 2025 10:11:32 UTC');
    expect(formatDate(new Date('2025-04-18T01:02:03Z'))).toBe('Apr 18 2025 01:02:03 UTC');
    expect(formatDate(new Date(0))).toBe('Jan  1 1970 00:00:00 UTC');
    expect(dec('T-Date', '67f4f6')).toBeUndefined();
  });

  it('encodes from a Date, epoch seconds, the FreeRADIUS text, or ISO 8601', () => {
    expect(enc('T-Date', new Date('2025-04-08T10:11:32Z'))).toBe('67f4f654');
    expect(enc('T-Date', 1744107092)).toBe('67f4f654');
    expect(enc('T-Date', 'Apr  8 2025 10:11:32 UTC')).toBe('67f4f654');
    expect(enc('T-Date', 'Apr 8 2025 10:11:32 UTC')).toBe('67f4f654');
    expect(enc('T-Date', '2025-04-08T10:11:32Z')).toBe('67f4f654');
    expect(enc('T-Date', '1744107092')).toBe('67f4f654');
    expect(enc('T-Date', 'Dec 31 2099 23:59:59 UTC')).toBe(
      (Date.UTC(2099, 11, 31, 23, 59, 59) / 1000).toString(16).padStart(8, '0'),
    );
    expectInvalid('T-Date', 'Foo  8 2025 10:11:32 UTC');
    expectInvalid('T-Date', -1);
    expectInvalid('T-Date', 2 ** 32);
  });

  it('parseDate and formatDate agree for every month', () => {
    for (let m = 0; m < 12; m++) {
      const d = new Date(Date.UTC(2024, m, m + 1, m, 2 * m, 3 * m));
      expect(parseDate(formatDate(d))).toBe(d.getTime());
    }
  });
});
