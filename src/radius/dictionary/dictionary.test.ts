// Dictionary loading: the FreeRADIUS dictionary format (share/dictionary*, parser src/lib/dict.c
// in FreeRADIUS 3.2) and the bundled dictionaries the seed traffic needs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  SEED_ACCESS_ACCEPT,
  SEED_ACCESS_REQUEST,
  SEED_ACCOUNTING_REQUEST,
  lines,
} from '../../../test/fixtures/seed.js';
import { Dictionary, DictionaryError } from './dictionary.js';
import { bundledDictionary, loadDictionaries } from './load.js';
import type { DictionaryReader } from './parse.js';
import { loadDictionaryFile, loadDictionaryText } from './parse.js';
import type { AttributeDef } from './types.js';
import { Encrypt, attributeOid } from './types.js';

function load(text: string, files: Record<string, string> = {}, name = 'dict.test'): Dictionary {
  const d = new Dictionary();
  const read: DictionaryReader = (path) => files[path];
  loadDictionaryText(d, text, name, read);
  return d;
}

function must(d: Dictionary, name: string): AttributeDef {
  const a = d.attribute(name);
  if (!a) throw new Error(`${name} is not defined`);
  return a;
}

function loadError(text: string, files: Record<string, string> = {}, name = 'dict.test'): Error {
  try {
    load(text, files, name);
  } catch (e) {
    expect(e).toBeInstanceOf(DictionaryError);
    return e as Error;
  }
  throw new Error('expected a DictionaryError');
}

describe('loadDictionaryText', () => {
  it('ATTRIBUTE and VALUE (decimal and 0x numbers), names case-insensitive', () => {
    const d = load(`
# comment
ATTRIBUTE	User-Name	1	string
ATTRIBUTE	Service-Type	6	integer   # trailing comment
VALUE	Service-Type	Login-User	1
VALUE	Service-Type	Framed-User	0x2
`);
    const st = must(d, 'service-type');
    expect([st.name, st.code, st.vendor, st.type]).toEqual(['Service-Type', 6, 0, 'integer']);
    expect(st.values.get('framed-user')).toBe(2);
    expect(st.valueNames.get(1)).toBe('Login-User');
    expect(d.standard.get(1)?.name).toBe('User-Name');
  });

  it('forward-referenced VALUEs (VALUE before its ATTRIBUTE) are resolved', () => {
    const d = load(`
VALUE	Acct-Status-Type	Start		1
VALUE	Acct-Status-Type	Interim-Update	3
VALUE	Acct-Status-Type	Alive		3
ATTRIBUTE	Acct-Status-Type	40	integer
`);
    const a = must(d, 'Acct-Status-Type');
    expect(a.values.get('start')).toBe(1);
    expect(a.values.get('alive')).toBe(3);
    // the first name for a number is the one printed
    expect(a.valueNames.get(3)).toBe('Interim-Update');
  });

  it('VENDOR with default format, format=2,2 and format=4,0; old per-line vendor syntax', () => {
    const d = load(`
VENDOR	Microsoft	311
VENDOR	Starent		8164	format=2,2
VENDOR	Four		9999	format=4,0
VENDOR	USR		429	format=4,0
ATTRIBUTE	Old-Style	5	string	Microsoft
BEGIN-VENDOR	Starent
ATTRIBUTE	SN-VPN-Name	2	string
ATTRIBUTE	SN-Big		65535	integer
END-VENDOR	Starent
`);
    expect(d.vendor(311)).toMatchObject({ name: 'Microsoft', typeSize: 1, lengthSize: 1 });
    expect(d.vendor(8164)).toMatchObject({ typeSize: 2, lengthSize: 2 });
    expect(d.vendor(9999)).toMatchObject({ typeSize: 4, lengthSize: 0 });
    expect(d.vendorByName('starent')?.id).toBe(8164);
    const old = must(d, 'Old-Style');
    expect([old.vendor, old.code]).toEqual([311, 5]);
    const sn = must(d, 'SN-VPN-Name');
    expect([sn.vendor, sn.code, attributeOid(sn)]).toEqual([8164, 2, '26.8164.2']);
    expect(must(d, 'SN-Big').code).toBe(65535);
  });

  it('$INCLUDE (relative to the including file) and optional $INCLUDE- of a missing file', () => {
    const files = {
      '/d/dictionary':
        '$INCLUDE dictionary.a\n$INCLUDE- dictionary.missing\n$INCLUDE sub/dictionary.b\n',
      '/d/dictionary.a': 'ATTRIBUTE\tA-One\t1\tstring\n',
      '/d/sub/dictionary.b': 'ATTRIBUTE\tB-Two\t2\tinteger\nVALUE\tB-Two\tYes\t1\n',
    };
    const d = new Dictionary();
    loadDictionaryFile(d, '/d/dictionary', (p) => files[p as keyof typeof files]);
    expect(must(d, 'A-One').type).toBe('string');
    expect(must(d, 'B-Two').values.get('yes')).toBe(1);
  });

  it('$INCLUDE of a missing file is an error naming the line', () => {
    const e = loadError('ATTRIBUTE\tX\t1\tstring\n$INCLUDE nowhere\n', {}, '/d/top');
    expect(e.message).toMatch(/\/d\/top:2/);
    expect(e.message).toMatch(/nowhere/);
  });

  it('octets[N], has_tag, encrypt=1/2/3, concat, array, secret', () => {
    const d = load(`
ATTRIBUTE	Fixed		12	octets[24]	encrypt=1
ATTRIBUTE	Tunnel-Type	64	integer		has_tag
ATTRIBUTE	Tunnel-Password	69	string		has_tag,encrypt=2
ATTRIBUTE	Ascend-Secret	214	string		encrypt=3
ATTRIBUTE	EAP-Message	79	octets		concat
ATTRIBUTE	DNS		169	ipv6addr	array
ATTRIBUTE	Secret-Thing	200	octets		secret
`);
    const fixed = must(d, 'Fixed');
    expect([fixed.type, fixed.flags.length, fixed.flags.encrypt]).toEqual([
      'octets',
      24,
      Encrypt.UserPassword,
    ]);
    expect(fixed.flags.secret).toBe(true);
    const tp = must(d, 'Tunnel-Password');
    expect([tp.flags.hasTag, tp.flags.encrypt]).toEqual([true, Encrypt.Salt]);
    expect(must(d, 'Tunnel-Type').flags.hasTag).toBe(true);
    expect(must(d, 'Ascend-Secret').flags.encrypt).toBe(Encrypt.Ascend);
    expect(must(d, 'EAP-Message').flags.concat).toBe(true);
    expect(must(d, 'DNS').flags.array).toBe(true);
    expect(must(d, 'Secret-Thing').flags.secret).toBe(true);
  });

  it('tlv children with dotted numbers; extended 241.N; evs; BEGIN-TLV blocks', () => {
    const d = load(`
ATTRIBUTE	Extended-Attribute-1	241	extended
ATTRIBUTE	Extended-Attribute-5	245	long-extended
ATTRIBUTE	Extended-Vendor-Specific-1	241.26	evs
ATTRIBUTE	Frag-Status	241.1	integer
ATTRIBUTE	Unit-TLV	241.243	tlv
ATTRIBUTE	Unit-TLV-Integer	241.243.1	integer
ATTRIBUTE	Unit-TLV-Nested	241.243.2	tlv
ATTRIBUTE	Unit-TLV-Deep	241.243.2.7	string
ATTRIBUTE	Long-One	245.1	octets
VENDOR	WiMAX	24757
BEGIN-VENDOR	WiMAX
ATTRIBUTE	WiMAX-Capability	1	tlv
ATTRIBUTE	WiMAX-Release		1.1	string
BEGIN-TLV	WiMAX-Capability
ATTRIBUTE	WiMAX-Accounting-Capabilities	2	byte
END-TLV	WiMAX-Capability
END-VENDOR	WiMAX
`);
    const fs = must(d, 'Frag-Status');
    expect([fs.code, fs.parent?.name, attributeOid(fs)]).toEqual([
      1,
      'Extended-Attribute-1',
      '241.1',
    ]);
    const deep = must(d, 'Unit-TLV-Deep');
    expect(attributeOid(deep)).toBe('241.243.2.7');
    expect(deep.parent?.name).toBe('Unit-TLV-Nested');
    expect(must(d, 'Unit-TLV').children.get(1)?.name).toBe('Unit-TLV-Integer');
    expect(must(d, 'Long-One').parent?.type).toBe('long-extended');
    expect(must(d, 'Extended-Vendor-Specific-1').type).toBe('evs');
    const rel = must(d, 'WiMAX-Release');
    expect([rel.vendor, rel.parent?.name, attributeOid(rel)]).toEqual([
      24757,
      'WiMAX-Capability',
      '26.24757.1.1',
    ]);
    expect(must(d, 'WiMAX-Accounting-Capabilities').parent?.name).toBe('WiMAX-Capability');
    // names by number resolve to the definitions
    expect(d.attribute('Attr-241.1')?.name).toBe('Frag-Status');
    expect(d.attribute('Attr-241.200')?.unknown).toBe(true);
  });

  it('BEGIN-VENDOR … format=Extended-Vendor-Specific-1 puts the attributes inside 241.26', () => {
    const d = load(`
ATTRIBUTE	Extended-Attribute-1	241	extended
ATTRIBUTE	Extended-Vendor-Specific-1	241.26	evs
VENDOR	FreeRADIUS	11344
BEGIN-VENDOR	FreeRADIUS	format=Extended-Vendor-Specific-1
ATTRIBUTE	FreeRADIUS-EVS1-Test	1	integer
VALUE	FreeRADIUS-EVS1-Test	One	1
END-VENDOR	FreeRADIUS
BEGIN-VENDOR	FreeRADIUS
ATTRIBUTE	FreeRADIUS-Plain	1	string
END-VENDOR	FreeRADIUS
`);
    const evs = must(d, 'FreeRADIUS-EVS1-Test');
    expect([evs.vendor, evs.code, evs.parent?.name]).toEqual([
      11344,
      1,
      'Extended-Vendor-Specific-1',
    ]);
    expect(attributeOid(evs)).toBe('241.26.11344.1');
    expect(evs.values.get('one')).toBe(1);
    expect(d.attribute('Attr-241.26.11344.1')?.name).toBe('FreeRADIUS-EVS1-Test');
    // the same number as a plain VSA is a different attribute
    expect(attributeOid(must(d, 'FreeRADIUS-Plain'))).toBe('26.11344.1');
  });

  it('aliases: a second name for the same number and type; VALUEs are shared', () => {
    const d = load(`
VENDOR	Microsoft	311
BEGIN-VENDOR	Microsoft
ATTRIBUTE	MS-MPPE-Encryption-Types	8	integer
ATTRIBUTE	MS-MPPE-Encryption-Type		8	integer
VALUE	MS-MPPE-Encryption-Types	RC4-40bit-Allowed	1
END-VENDOR	Microsoft
`);
    const a = must(d, 'MS-MPPE-Encryption-Type');
    expect(a.name).toBe('MS-MPPE-Encryption-Types');
    expect(a.values.get('rc4-40bit-allowed')).toBe(1);
    expect(d.vendor(311)?.attributes.get(8)?.name).toBe('MS-MPPE-Encryption-Types');
  });

  it('the same ATTRIBUTE line twice is harmless', () => {
    const d = load('ATTRIBUTE\tUser-Name\t1\tstring\nATTRIBUTE\tUser-Name\t1\tstring\n');
    expect(must(d, 'User-Name').code).toBe(1);
  });

  describe('errors: DictionaryError naming file:line', () => {
    it.each([
      ['unknown keyword', 'ATTRIBUTE\tA\t1\tstring\nFROBNICATE\tX\n', 2],
      ['bad type', 'ATTRIBUTE\tA\t1\tstring\nATTRIBUTE\tB\t2\tstrang\n', 2],
      ['bad number', 'ATTRIBUTE\tA\t1x\tstring\n', 1],
      ['negative-looking number', 'ATTRIBUTE\tA\t-1\tstring\n', 1],
      ['number 0', '\nATTRIBUTE\tA\t0\tstring\n', 2],
      ['octets[0]', 'ATTRIBUTE\tA\t1\toctets[0]\n', 1],
      ['octets[254]', 'ATTRIBUTE\tA\t1\toctets[254]\n', 1],
      ['string[4]', 'ATTRIBUTE\tA\t1\tstring[4]\n', 1],
      ['unknown flag', 'ATTRIBUTE\tA\t1\tstring\tfrob\n', 1],
      ['has_tag on ipaddr', 'ATTRIBUTE\tA\t1\tstring\nATTRIBUTE\tB\t2\tipaddr\thas_tag\n', 2],
      ['concat on string', 'ATTRIBUTE\tA\t1\tstring\tconcat\n', 1],
      ['encrypt=2 on integer', 'ATTRIBUTE\tA\t1\tinteger\tencrypt=2\n', 1],
      [
        'duplicate name, different number',
        'ATTRIBUTE\tA\t1\tstring\n\nATTRIBUTE\tA\t2\tstring\n',
        3,
      ],
      ['duplicate name, different type', 'ATTRIBUTE\tA\t1\tstring\nATTRIBUTE\tA\t1\tinteger\n', 2],
      ['VENDOR bad format', 'VENDOR\tV\t99\tformat=3,1\n', 1],
      ['VENDOR bad number', 'VENDOR\tV\tabc\n', 1],
      ['BEGIN-VENDOR of an unknown vendor', 'BEGIN-VENDOR\tNope\n', 1],
      ['END-VENDOR without BEGIN-VENDOR', 'VENDOR\tV\t99\nEND-VENDOR\tV\n', 2],
      [
        'vendor type too big for format=1,1',
        'VENDOR\tV\t99\nBEGIN-VENDOR\tV\nATTRIBUTE\tA\t256\tstring\nEND-VENDOR\tV\n',
        3,
      ],
      ['child of an undefined parent', 'ATTRIBUTE\tA\t241.1\tinteger\n', 1],
      ['child of a non-container', 'ATTRIBUTE\tA\t1\tstring\nATTRIBUTE\tB\t1.1\tstring\n', 2],
      [
        'EVS block without 241.26 defined',
        'VENDOR\tV\t99\nBEGIN-VENDOR\tV\tformat=Extended-Vendor-Specific-1\n',
        2,
      ],
      ['VALUE of a non-integer attribute', 'ATTRIBUTE\tA\t1\tstring\nVALUE\tA\tX\t1\n', 2],
      ['VALUE with a bad number', 'ATTRIBUTE\tA\t1\tinteger\nVALUE\tA\tX\tone\n', 2],
      [
        'VALUE redefined with another number',
        'ATTRIBUTE\tA\t1\tinteger\nVALUE\tA\tX\t1\nVALUE\tA\tX\t2\n',
        3,
      ],
      ['VALUE for an unknown attribute', 'ATTRIBUTE\tA\t1\tinteger\n\nVALUE\tNope\tX\t1\n', 3],
      ['missing END-VENDOR', 'VENDOR\tV\t99\nBEGIN-VENDOR\tV\nATTRIBUTE\tA\t1\tstring\n', 2],
      ['ATTRIBUTE with too few fields', 'ATTRIBUTE\tA\t1\n', 1],
    ])('%s', (_, text, line) => {
      const e = loadError(text, {}, 'my.dict');
      expect(e.message).toMatch(new RegExp(`\\bmy\\.dict:${line}\\b`));
    });

    it('an error inside an $INCLUDEd file names that file and line', () => {
      const e = loadError(
        '$INCLUDE inner\n',
        { inner: 'ATTRIBUTE\tA\t1\tstring\nATTRIBUTE\tB\t2\tfoo\n' },
        'outer',
      );
      expect(e.message).toMatch(/\binner:2\b/);
    });

    it('the error has a stable code', () => {
      const e = loadError('FROBNICATE\n');
      expect((e as DictionaryError).code).toBe('DICTIONARY_INVALID');
    });
  });
});

describe('the bundled dictionaries', () => {
  const dict = loadDictionaries();

  it('load without error; bundledDictionary() is loaded once', () => {
    expect(dict.standard.size).toBeGreaterThan(100);
    expect(bundledDictionary()).toBe(bundledDictionary());
  });

  it('know every attribute of the seed traffic', () => {
    for (const block of [SEED_ACCESS_REQUEST, SEED_ACCESS_ACCEPT, SEED_ACCOUNTING_REQUEST]) {
      for (const line of lines(block)) {
        const name = line.split(' = ')[0] as string;
        expect(dict.attribute(name), name).toBeDefined();
        expect(dict.attribute(name)?.unknown, name).toBe(false);
      }
    }
  });

  it.each([
    // name, vendor, number, type, extra checks
    ['User-Name', 0, 1, 'string'],
    ['User-Password', 0, 2, 'string'],
    ['CHAP-Password', 0, 3, 'octets'],
    ['NAS-IP-Address', 0, 4, 'ipaddr'],
    ['NAS-Port', 0, 5, 'integer'],
    ['Service-Type', 0, 6, 'integer'],
    ['Framed-Protocol', 0, 7, 'integer'],
    ['Framed-IP-Address', 0, 8, 'ipaddr'],
    ['Framed-IP-Netmask', 0, 9, 'ipaddr'],
    ['Framed-MTU', 0, 12, 'integer'],
    ['Reply-Message', 0, 18, 'string'],
    ['State', 0, 24, 'octets'],
    ['Class', 0, 25, 'octets'],
    ['Vendor-Specific', 0, 26, 'vsa'],
    ['Session-Timeout', 0, 27, 'integer'],
    ['Idle-Timeout', 0, 28, 'integer'],
    ['Called-Station-Id', 0, 30, 'string'],
    ['Calling-Station-Id', 0, 31, 'string'],
    ['NAS-Identifier', 0, 32, 'string'],
    ['Proxy-State', 0, 33, 'octets'],
    ['Acct-Status-Type', 0, 40, 'integer'],
    ['Acct-Delay-Time', 0, 41, 'integer'],
    ['Acct-Input-Octets', 0, 42, 'integer'],
    ['Acct-Output-Octets', 0, 43, 'integer'],
    ['Acct-Session-Id', 0, 44, 'string'],
    ['Acct-Authentic', 0, 45, 'integer'],
    ['Acct-Session-Time', 0, 46, 'integer'],
    ['Acct-Input-Packets', 0, 47, 'integer'],
    ['Acct-Output-Packets', 0, 48, 'integer'],
    ['Acct-Terminate-Cause', 0, 49, 'integer'],
    ['Acct-Input-Gigawords', 0, 52, 'integer'],
    ['Acct-Output-Gigawords', 0, 53, 'integer'],
    ['Event-Timestamp', 0, 55, 'date'],
    ['NAS-Port-Type', 0, 61, 'integer'],
    ['Port-Limit', 0, 62, 'integer'],
    ['Tunnel-Type', 0, 64, 'integer'],
    ['Tunnel-Password', 0, 69, 'string'],
    ['EAP-Message', 0, 79, 'octets'],
    ['Message-Authenticator', 0, 80, 'octets'],
    ['Tunnel-Private-Group-Id', 0, 81, 'string'],
    ['Acct-Interim-Interval', 0, 85, 'integer'],
    ['NAS-Port-Id', 0, 87, 'string'],
    ['Framed-Pool', 0, 88, 'string'],
    ['Chargeable-User-Identity', 0, 89, 'octets'],
    ['NAS-IPv6-Address', 0, 95, 'ipv6addr'],
    ['Framed-Interface-Id', 0, 96, 'ifid'],
    ['Framed-IPv6-Prefix', 0, 97, 'ipv6prefix'],
    ['Framed-IPv6-Pool', 0, 100, 'string'],
    ['Error-Cause', 0, 101, 'integer'],
    ['Delegated-IPv6-Prefix', 0, 123, 'ipv6prefix'],
    ['Framed-IPv6-Address', 0, 168, 'ipv6addr'],
    ['DNS-Server-IPv6-Address', 0, 169, 'ipv6addr'],
    ['Delegated-IPv6-Prefix-Pool', 0, 171, 'string'],
    ['ADSL-Agent-Circuit-Id', 3561, 1, 'octets'],
    ['ADSL-Agent-Remote-Id', 3561, 2, 'octets'],
    ['MS-CHAP-Response', 311, 1, 'octets'],
    ['MS-CHAP-Error', 311, 2, 'string'],
    ['MS-MPPE-Encryption-Policy', 311, 7, 'integer'],
    ['MS-MPPE-Encryption-Types', 311, 8, 'integer'],
    ['MS-CHAP-Domain', 311, 10, 'string'],
    ['MS-CHAP-Challenge', 311, 11, 'octets'],
    ['MS-CHAP-MPPE-Keys', 311, 12, 'octets'],
    ['MS-MPPE-Send-Key', 311, 16, 'octets'],
    ['MS-MPPE-Recv-Key', 311, 17, 'octets'],
    ['MS-CHAP2-Response', 311, 25, 'octets'],
    ['MS-CHAP2-Success', 311, 26, 'octets'],
    ['MS-Primary-DNS-Server', 311, 28, 'ipaddr'],
    ['MS-Secondary-DNS-Server', 311, 29, 'ipaddr'],
    ['Mikrotik-Rate-Limit', 14988, 8, 'string'],
    ['Mikrotik-Realm', 14988, 9, 'string'],
    ['Frag-Status', 0, 1, 'integer'],
  ] as const)('%s is vendor %i, number %i, %s', (name, vendor, code, type) => {
    const a = must(dict, name);
    expect([a.vendor, a.code, a.type]).toEqual([vendor, code, type]);
    expect(a.internal).toBe(false);
  });

  it('the flags FreeRADIUS gives them', () => {
    const keys = must(dict, 'MS-CHAP-MPPE-Keys');
    expect([keys.flags.length, keys.flags.encrypt]).toEqual([24, Encrypt.UserPassword]);
    expect(must(dict, 'User-Password').flags.encrypt).toBe(Encrypt.UserPassword);
    expect(must(dict, 'MS-MPPE-Send-Key').flags.encrypt).toBe(Encrypt.Salt);
    expect(must(dict, 'MS-MPPE-Recv-Key').flags.encrypt).toBe(Encrypt.Salt);
    const tp = must(dict, 'Tunnel-Password');
    expect([tp.flags.hasTag, tp.flags.encrypt]).toEqual([true, Encrypt.Salt]);
    expect(must(dict, 'Tunnel-Type').flags.hasTag).toBe(true);
    expect(must(dict, 'Tunnel-Private-Group-Id').flags.hasTag).toBe(true);
    expect(must(dict, 'EAP-Message').flags.concat).toBe(true);
    expect(must(dict, 'Frag-Status').parent?.code).toBe(241);
    expect(must(dict, 'Extended-Attribute-5').type).toBe('long-extended');
    expect(must(dict, 'Extended-Vendor-Specific-1').type).toBe('evs');
  });

  it('the VALUE names the seed traffic uses', () => {
    const v = (attr: string, name: string): number | undefined =>
      must(dict, attr).values.get(name.toLowerCase());
    expect(v('Service-Type', 'Framed-User')).toBe(2);
    expect(v('Framed-Protocol', 'PPP')).toBe(1);
    expect(v('NAS-Port-Type', 'Ethernet')).toBe(15);
    expect(v('Acct-Authentic', 'RADIUS')).toBe(1);
    expect(v('Acct-Status-Type', 'Start')).toBe(1);
    expect(v('Acct-Status-Type', 'Stop')).toBe(2);
    expect(v('Acct-Status-Type', 'Interim-Update')).toBe(3);
    expect(v('Acct-Status-Type', 'Alive')).toBe(3);
    expect(v('Acct-Status-Type', 'Accounting-On')).toBe(7);
    expect(v('Acct-Status-Type', 'Accounting-Off')).toBe(8);
    expect(must(dict, 'Acct-Status-Type').valueNames.get(3)).toBe('Interim-Update');
    expect(v('MS-MPPE-Encryption-Policy', 'Encryption-Required')).toBe(2);
    expect(v('Tunnel-Type', 'L2TP')).toBe(3);
    expect(v('Tunnel-Type', 'VLAN')).toBe(13);
    expect(v('Tunnel-Medium-Type', 'IEEE-802')).toBe(6);
  });

  it('FreeRADIUS internal attributes are known but never on the wire', () => {
    for (const [name, code] of [
      ['Auth-Type', 1000],
      ['Simultaneous-Use', 1034],
      ['NT-Password', 1058],
      ['Cleartext-Password', 1100],
    ] as const) {
      const a = must(dict, name);
      expect(a.code, name).toBe(code);
      expect(a.internal, name).toBe(true);
    }
  });

  describe('loadDictionaries(extraDir) reads a folder of user dictionaries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ispkit-dict-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('adds vendors and attributes on top of the bundled ones, skipping dot files', () => {
      writeFileSync(
        join(dir, 'dictionary.roaringpenguin'),
        [
          'VENDOR\t\tRoaring-Penguin\t10055',
          'BEGIN-VENDOR\tRoaring-Penguin',
          'ATTRIBUTE\tRP-Upstream-Speed-Limit\t1\tinteger',
          'ATTRIBUTE\tRP-Downstream-Speed-Limit\t2\tinteger',
          'END-VENDOR\tRoaring-Penguin',
          // VALUEs for a bundled attribute work too
          'VALUE\tService-Type\tMy-Local-Service\t4000',
        ].join('\n'),
      );
      writeFileSync(join(dir, '.hidden'), 'THIS IS NOT A DICTIONARY\n');
      const d = loadDictionaries(dir);
      const rp = must(d, 'RP-Downstream-Speed-Limit');
      expect([rp.vendor, rp.code, rp.type]).toEqual([10055, 2, 'integer']);
      expect(must(d, 'Service-Type').values.get('my-local-service')).toBe(4000);
      expect(must(d, 'User-Name').code).toBe(1);
      // the bundled singleton is not touched
      expect(bundledDictionary().attribute('RP-Downstream-Speed-Limit')).toBeUndefined();
    });

    it('a broken user dictionary names its file and line', () => {
      const bad = mkdtempSync(join(tmpdir(), 'ispkit-dict-bad-'));
      try {
        writeFileSync(
          join(bad, 'dictionary.local'),
          'ATTRIBUTE\tLocal-Thing\t3000\tinteger\nOOPS\n',
        );
        expect(() => loadDictionaries(bad)).toThrow(DictionaryError);
        expect(() => loadDictionaries(bad)).toThrow(/dictionary\.local:2/);
      } finally {
        rmSync(bad, { recursive: true, force: true });
      }
    });
  });
});
