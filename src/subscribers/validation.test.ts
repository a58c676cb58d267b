import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCsv, parseCsv } from './csv.js';
import { checkUsername, usernameKey } from './usernames.js';
import { checkIpv6Prefix, heldPrefix, overlappingPrefixes } from './validation.js';

describe('user names', () => {
  it('lower-cases the realm after the last @, and only the realm', () => {
    expect(usernameKey('p1f9bd1@NEUTRINET')).toBe('p1f9bd1@neutrinet');
    expect(usernameKey('Alice@Example.ORG')).toBe('Alice@example.org');
    expect(usernameKey('a@b@REALM')).toBe('a@b@realm');
    expect(usernameKey('NoRealm')).toBe('NoRealm');
  });

  it('takes up to 253 octets of UTF-8, without control characters', () => {
    expect(checkUsername('é'.repeat(126) + 'x')).toHaveLength(127); // 253 octets
    expect(() => checkUsername('é'.repeat(127))).toThrow('254 octets');
    expect(() => checkUsername('a\u0085b')).toThrow('control character'); // C1
    expect(() => checkUsername('a\u007fb')).toThrow('control character'); // DEL
    expect(() => checkUsername('a\ud800b')).toThrow('control character'); // lone surrogate
  });
});

describe('IPv6 prefixes', () => {
  it('stores RFC 5952 text', () => {
    expect(checkIpv6Prefix('ipv6_prefix', '2001:DB8:0000:0001::/64')).toBe('2001:db8:0:1::/64');
  });

  it('finds every overlap, nested or equal, and nothing between neighbours', () => {
    const held = [
      heldPrefix('a', 'delegated_prefix', '2001:db8:100::/56'),
      heldPrefix('b', 'ipv6_prefix', '2001:db8:100:ff::/64'),
      heldPrefix('c', 'ipv6_prefix', '2001:db8:101::/64'),
      heldPrefix('d', 'ipv6_prefix', '2001:db8:101::/64'),
    ];
    const pairs = overlappingPrefixes(held).map(([x, y]) => `${x.holder}-${y.holder}`);
    expect(pairs.sort()).toEqual(['a-b', 'c-d']);
  });
});

describe('CSV (RFC 4180)', () => {
  it('reads quotes, doubled quotes, line breaks inside quotes, CRLF and a BOM', () => {
    const text = '\ufeffa,b\r\n"x, y","say ""hi""\nthere"\r\n\r\nlast,\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"\nthere'] },
      { line: 5, fields: ['last', ''] },
    ]);
  });

  it('refuses a stray quote and names the line', () => {
    expect(() => parseCsv('a,b\nx,y"z\n')).toThrow('line 2: a quote inside an unquoted field');
    expect(() => parseCsv('a\n"x"y\n')).toThrow('line 2: text after a closing quote');
  });

  it('reads back whatever it writes', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r\n', ' ', 'é') });
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 2, maxLength: 4 }), { maxLength: 5 }),
        (rows) => {
          const parsed = parseCsv(formatCsv(rows)).map((r) => r.fields);
          expect(parsed).toEqual(rows);
        },
      ),
    );
  });
});
