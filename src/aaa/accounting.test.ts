import { describe, expect, it } from 'vitest';
import type { Packet } from '../radius/index.js';
import {
  bundledDictionary,
  createPacket,
  decodePacket,
  encodePacket,
  parseAttributes,
  Packet as PacketClass,
} from '../radius/index.js';
import { SEED_ACCOUNTING_REQUEST } from '../../test/fixtures/seed.js';
import { readAccounting } from './accounting.js';

const dict = bundledDictionary();

/** The reading by name, one Packet.get per attribute: what readAccounting's single pass must equal. */
function byName(p: Packet): Record<string, unknown> {
  const names = [
    'Acct-Status-Type',
    'Event-Timestamp',
    'Acct-Delay-Time',
    'Acct-Session-Id',
    'User-Name',
    'Acct-Terminate-Cause',
    'Acct-Session-Time',
    'Acct-Interim-Interval',
    'Acct-Input-Octets',
    'Acct-Input-Gigawords',
    'Acct-Output-Octets',
    'Acct-Output-Gigawords',
    'NAS-Identifier',
    'NAS-IP-Address',
    'NAS-Port-Id',
    'Framed-IP-Address',
    'ADSL-Agent-Circuit-Id',
  ];
  return Object.fromEntries(names.map((n) => [n, p.get(n)]));
}

describe('readAccounting', () => {
  it("reads the seed's Interim-Update field by field", () => {
    const p = new PacketClass(
      dict,
      4,
      1,
      Buffer.alloc(16),
      parseAttributes(dict, SEED_ACCOUNTING_REQUEST),
    );
    const named = byName(p);
    const ev = readAccounting(p, 'collecte', 0);
    expect(ev?.status).toBe('interim');
    expect(ev?.acctSessionId).toBe(named['Acct-Session-Id']);
    expect(ev?.username).toBe(named['User-Name']);
    expect(ev?.bytesIn).toBe(
      (named['Acct-Input-Octets'] as number) +
        ((named['Acct-Input-Gigawords'] as number) ?? 0) * 2 ** 32,
    );
    expect(ev?.nasIdentifier).toBe(named['NAS-Identifier']);
    expect(ev?.nasIp).toBe(named['NAS-IP-Address']);
    expect(ev?.nasPortId).toBe(named['NAS-Port-Id']);
    expect(ev?.framedIp).toBe(named['Framed-IP-Address']);
    expect(ev?.circuitId).toBe((named['ADSL-Agent-Circuit-Id'] as Buffer).toString('utf8'));
    const delay = (named['Acct-Delay-Time'] as number | undefined) ?? 0;
    expect(ev?.at).toBe((named['Event-Timestamp'] as Date).getTime() - delay * 1000);
  });

  it('takes the first of a repeated attribute, adds Gigawords, and ignores a malformed one', () => {
    const p = createPacket(dict, 'Accounting-Request', {
      'Acct-Status-Type': 'Stop',
      'User-Name': ['first@R', 'second@R'],
      'Acct-Session-Id': 'S1',
      'Acct-Input-Octets': 5,
      'Acct-Input-Gigawords': 2,
      'Acct-Output-Octets': 7,
      'Acct-Terminate-Cause': 'Lost-Carrier',
      'Acct-Delay-Time': 3,
    });
    // A 2-octet Acct-Session-Time (an integer needs 4): decoded as unknown octets, not a time.
    const wire = encodePacket(p, { secret: Buffer.from('s') });
    const bad = Buffer.concat([wire, Buffer.from([46, 4, 0, 9])]);
    bad.writeUInt16BE(bad.length, 2);
    const decoded = decodePacket(bad, dict);
    const ev = readAccounting(decoded, 'collecte', 1_000_000);
    expect(ev).toMatchObject({
      status: 'stop',
      username: 'first@R',
      bytesIn: 5 + 2 * 2 ** 32,
      bytesOut: 7,
      terminateCause: 'Lost-Carrier',
      sessionTime: undefined,
      at: 1_000_000 - 3000,
    });
    expect(decoded.get('Acct-Session-Time')).toEqual(Buffer.from([0, 9]));
  });

  it('acknowledges a status it does not record without reading it', () => {
    const p = createPacket(dict, 'Accounting-Request', { 'Acct-Status-Type': 'Failed' });
    expect(readAccounting(p, 'collecte', 0)).toBeUndefined();
  });
});
