// The FreeRADIUS text form of attributes: what `radiusd -X`, radclient and the unit-test files
// print and read. Expected strings follow FreeRADIUS 3.2 (fr_prints / vp_prints_value, and the
// `attribute` vectors of src/tests/unit/rfc.txt).
import { describe, expect, it } from 'vitest';
import { SEED_ACCESS_ACCEPT, SEED_ACCOUNTING_REQUEST, lines } from '../../test/fixtures/seed.js';
import { decodePacket } from './decode.js';
import { bundledDictionary } from './dictionary/load.js';
import { encodePacket } from './encode.js';
import { RadiusError } from './errors.js';
import { Packet } from './packet.js';
import { escapeString, formatAttributes, formatPacket, parseAttributes } from './text.js';

const dict = bundledDictionary();
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function wrap(attrs: Buffer, code = 1): Buffer {
  const head = Buffer.alloc(20);
  head[0] = code;
  head[1] = 42;
  head.writeUInt16BE(20 + attrs.length, 2);
  return Buffer.concat([head, attrs]);
}

function attr(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
}

const decodeLines = (attrs: Buffer): string[] =>
  formatAttributes(decodePacket(wrap(attrs), dict).attributes);

/** text → wire → text */
function wireRoundTrip(text: string): string[] {
  const p = new Packet(dict, 4, 1, Buffer.alloc(16), parseAttributes(dict, text));
  return formatAttributes(decodePacket(encodePacket(p), dict).attributes);
}

/** The octets a text line encodes to (attribute value only). */
function valueOctetsOf(text: string): Buffer {
  const p = new Packet(dict, 4, 1, Buffer.alloc(16), parseAttributes(dict, text));
  const wire = encodePacket(p);
  return wire.subarray(22, 20 + (wire[21] as number));
}

function textError(fn: () => unknown): RadiusError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RadiusError);
    return e as RadiusError;
  }
  throw new Error('expected an error');
}

describe('printing strings with FreeRADIUS escapes', () => {
  it('\\" \\\\ \\n \\r \\t, other controls and DEL as \\ooo', () => {
    const value = Buffer.from('a"b\\c\nd\re\tf\x01g\x7fh\x00i', 'latin1');
    expect(decodeLines(attr(1, value))).toEqual([
      'User-Name = "a\\"b\\\\c\\nd\\re\\tf\\001g\\177h\\000i"',
    ]);
  });

  it('valid UTF-8 prints as is; invalid octets (lone 0xff, overlong, surrogate, truncated) as \\ooo', () => {
    expect(decodeLines(attr(1, Buffer.from('Zoë €', 'utf8')))).toEqual(['User-Name = "Zoë €"']);
    expect(decodeLines(attr(1, hex('61 ff 62')))).toEqual(['User-Name = "a\\377b"']);
    expect(decodeLines(attr(1, hex('c0 80')))).toEqual(['User-Name = "\\300\\200"']);
    expect(decodeLines(attr(1, hex('ed a0 80')))).toEqual(['User-Name = "\\355\\240\\200"']);
    expect(decodeLines(attr(1, hex('61 e2 82')))).toEqual(['User-Name = "a\\342\\202"']);
    expect(decodeLines(attr(1, hex('f0 9f 98 80')))).toEqual(['User-Name = "😀"']);
    expect(escapeString(hex('c2'))).toBe('\\302');
  });

  it('parseAttributes reads every printed form back to the same octets', () => {
    const samples = [
      Buffer.from('a"b\\c\nd\re\tf\x01g\x7fh\x00i', 'latin1'),
      hex('61 ff 62 c0 80 ed a0 80 e2 82'),
      Buffer.from('Zoë € 😀', 'utf8'),
      Buffer.from(' leading and trailing spaces ', 'utf8'),
      Buffer.from("it's # not a comment, nor a separator", 'utf8'),
      Buffer.alloc(0),
    ];
    for (const value of samples) {
      const [line] = decodeLines(attr(1, value));
      expect(line).toBeDefined();
      expect(valueOctetsOf(line as string).toString('hex'), line).toBe(value.toString('hex'));
      expect(wireRoundTrip(line as string)).toEqual([line]);
    }
  });

  it('reads \\x41 hex escapes and single-quoted strings', () => {
    expect(valueOctetsOf('User-Name = "\\x41\\x42"').toString()).toBe('AB');
    expect(valueOctetsOf("User-Name = 'bob'").toString()).toBe('bob');
    expect(valueOctetsOf('User-Name = "caf\\303\\251"').toString('utf8')).toBe('café');
  });
});

describe('printing other types', () => {
  it('octets as 0x…, empty as 0x', () => {
    expect(decodeLines(attr(25, hex('00ff10')))).toEqual(['Class = 0x00ff10']);
    expect(decodeLines(attr(89, Buffer.alloc(0)))).toEqual(['Chargeable-User-Identity = 0x']);
  });

  it('integers by VALUE name, or as numbers', () => {
    expect(decodeLines(attr(6, hex('00000002')))).toEqual(['Service-Type = Framed-User']);
    expect(decodeLines(attr(6, hex('000003e8')))).toEqual(['Service-Type = 1000']);
    expect(decodeLines(attr(5, hex('ffffffff')))).toEqual(['NAS-Port = 4294967295']);
  });

  it('dates as "Mon dd yyyy hh:mm:ss UTC" in quotes, the day padded with a space', () => {
    expect(decodeLines(attr(55, hex('67f4f654')))).toEqual([
      'Event-Timestamp = "Apr  8 2025 10:11:32 UTC"',
    ]);
    expect(decodeLines(attr(55, hex('6801a48b')))).toEqual([
      'Event-Timestamp = "Apr 18 2025 01:02:03 UTC"',
    ]);
  });

  it('Framed-Interface-Id (ifid) as FreeRADIUS prints it: %x:%x:%x:%x', () => {
    expect(decodeLines(attr(96, hex('021122fffe334455')))).toEqual([
      'Framed-Interface-Id = 211:22ff:fe33:4455',
    ]);
    expect(wireRoundTrip('Framed-Interface-Id = 211:22ff:fe33:4455')).toEqual([
      'Framed-Interface-Id = 211:22ff:fe33:4455',
    ]);
  });

  it('IPv6 addresses and prefixes', () => {
    expect(decodeLines(attr(95, hex('20010db8000000000000000000000001')))).toEqual([
      'NAS-IPv6-Address = 2001:db8::1',
    ]);
    expect(decodeLines(attr(97, hex('003c20010913100005000000000000000000')))).toEqual([
      'Framed-IPv6-Prefix = 2001:913:1000:500::/60',
    ]);
  });

  it('tags as Name:tag; tag 0 is not shown', () => {
    expect(decodeLines(attr(81, hex('01 66 6f 6f')))).toEqual([
      'Tunnel-Private-Group-Id:1 = "foo"',
    ]);
    expect(decodeLines(attr(64, hex('00 00 00 03')))).toEqual(['Tunnel-Type = L2TP']);
    expect(decodeLines(attr(64, hex('1f 00 00 0d')))).toEqual(['Tunnel-Type:31 = VLAN']);
  });

  it('formatPacket: header line, then indented attributes', () => {
    const p = decodePacket(wrap(attr(1, Buffer.from('bob'))), dict);
    expect(formatPacket(p)).toBe('Access-Request Id 42 length 25\n  User-Name = "bob"');
  });
});

describe('what FreeRADIUS prints for a parsed value (rfc.txt `attribute` vectors)', () => {
  // radiusd prints values as they will be sent, whether they came off the wire or from a
  // users file / SQL row; `attribute` checks parse + print without a wire trip.
  it.each([
    ['Framed-IP-Address = 127.0.0.1/32', 'Framed-IP-Address = 127.0.0.1'],
    ['Framed-IPv6-Prefix = ::1', 'Framed-IPv6-Prefix = ::1/128'],
    [
      'Framed-IPv6-Prefix = 11:22:33:44:55:66:77:88/128',
      'Framed-IPv6-Prefix = 11:22:33:44:55:66:77:88/128',
    ],
    ['Service-Type = 2', 'Service-Type = Framed-User'],
    ['Acct-Status-Type = Alive', 'Acct-Status-Type = Interim-Update'],
    ['Event-Timestamp = 1744107092', 'Event-Timestamp = "Apr  8 2025 10:11:32 UTC"'],
  ])('%s → %s', (input, printed) => {
    expect(formatAttributes(parseAttributes(dict, input))).toEqual([printed]);
    expect(wireRoundTrip(input)).toEqual([printed]);
  });
});

describe('parseAttributes', () => {
  it('reads = := += == operators, several items per line, and # comments', () => {
    const attrs = parseAttributes(
      dict,
      [
        '# a comment line',
        'User-Name = "bob", NAS-Port := 3',
        '  Reply-Message += "hi"   # trailing comment',
        '',
        'Service-Type == Framed-User',
      ].join('\n'),
    );
    expect(formatAttributes(attrs)).toEqual([
      'User-Name = "bob"',
      'NAS-Port = 3',
      'Reply-Message = "hi"',
      'Service-Type = Framed-User',
    ]);
  });

  it('accepts names by number: Attr-26.311.11 is MS-CHAP-Challenge; Attr-4 is NAS-IP-Address', () => {
    const [a] = parseAttributes(dict, 'Attr-26.311.11 = 0x0102030405060708');
    expect(a?.def.name).toBe('MS-CHAP-Challenge');
    const [b] = parseAttributes(dict, 'Attr-4 = 192.0.2.1');
    expect(b?.def.name).toBe('NAS-IP-Address');
  });

  it('reads the seed traffic back unchanged through the wire', () => {
    for (const block of [SEED_ACCOUNTING_REQUEST, SEED_ACCESS_ACCEPT]) {
      const secret = Buffer.from('s');
      const p = new Packet(dict, 4, 1, Buffer.alloc(16), parseAttributes(dict, block));
      const back = decodePacket(encodePacket(p, { secret }), dict, {
        secret,
        requestAuthenticator: Buffer.alloc(16),
      });
      expect(formatAttributes(back.attributes)).toEqual(lines(block));
    }
  });

  it('every error is TEXT_INVALID and names the line', () => {
    const cases: [string, RegExp][] = [
      ['User-Name = "bob"\nNo-Such-Attribute = 1', /line 2/],
      ['User-Name = "unterminated', /line 1/],
      ['User-Name "bob"', /line 1/],
      ['User-Name =', /line 1/],
      ['\n\nNAS-Port = lots', /line 3/],
      ['NAS-IP-Address = 1.2.3.400', /line 1/],
      ['User-Name = "a" "b"', /line 1/],
    ];
    for (const [text, where] of cases) {
      const e = textError(() => {
        const attrs = parseAttributes(dict, text);
        // values are checked when encoded, at the latest
        encodePacket(new Packet(dict, 4, 1, Buffer.alloc(16), attrs));
      });
      expect(e.code, text).toMatch(/^(TEXT_INVALID|VALUE_INVALID|ATTRIBUTE_UNKNOWN)$/);
      if (e.code === 'TEXT_INVALID') expect(e.message, text).toMatch(where);
    }
    // the parser itself reports unknown names and bad syntax with the line
    expect(textError(() => parseAttributes(dict, 'User-Name = "x"\nNope = 1')).message).toMatch(
      /line 2/,
    );
    expect(textError(() => parseAttributes(dict, 'User-Name = "x"\nNope = 1')).code).toBe(
      'TEXT_INVALID',
    );
  });

  it('a tag on an attribute without has_tag is refused', () => {
    expect(textError(() => parseAttributes(dict, 'User-Name:1 = "x"')).code).toBe('TEXT_INVALID');
  });
});
