import { describe, expect, it } from 'vitest';
import type { AccountingEvent, EventSlot } from './event.js';
import { accountingRecord } from '../../test/helpers/accounting-records.js';
import { EVENT_SLOTS, packEvent, unpackEvent } from './event.js';

// Every field a distinct value, so that two fields swapped in the packing cannot pass.
const full: AccountingEvent = {
  status: 'interim',
  nas: 'nas-a',
  at: 1_764_000_000_123,
  uniqueId: 'u'.repeat(32),
  acctSessionId: '0A1B2C3D',
  username: 'p1f9bd1@NEUTRINET',
  bytesIn: 2 ** 40 + 1,
  bytesOut: 2 ** 33 + 7,
  packetsIn: 11,
  packetsOut: 13,
  sessionTime: 17,
  terminateCause: 'User-Request',
  nasIdentifier: 'lns-1',
  nasIp: '192.0.2.1',
  nasPortId: 'eth 1/1/04',
  calledStationId: 'called',
  callingStationId: 'calling',
  circuitId: 'F02GIL00007 eth 1/1/04/13/37/1/2:10',
  framedIp: '80.67.191.6',
  framedIpv6Prefix: '2001:913:1d00:600::/64',
  delegatedPrefix: '2001:913:1d00:600::/60',
  interimInterval: 300,
};

// Nothing optional sent (an Accounting-On): every optional slot undefined.
const sparse = accountingRecord('accounting-on', 'nas-b', '', '', 0, {
  uniqueId: '',
  sessionTime: undefined,
});

describe('packed accounting events (to the writer thread)', () => {
  it('unpacks what was packed, field for field, events one after the other', () => {
    const slots: EventSlot[] = [];
    packEvent(slots, full);
    packEvent(slots, sparse);
    packEvent(slots, { ...full, status: 'stop', bytesIn: 5 });
    expect(slots.length).toBe(3 * EVENT_SLOTS);
    expect(unpackEvent(slots, 0)).toStrictEqual(full);
    expect(unpackEvent(slots, EVENT_SLOTS)).toStrictEqual(sparse);
    expect(unpackEvent(slots, 2 * EVENT_SLOTS)).toStrictEqual({
      ...full,
      status: 'stop',
      bytesIn: 5,
    });
    // Every field of the type has a slot (a field added to the type and not packed fails here).
    expect(Object.keys(full).length).toBe(EVENT_SLOTS);
  });

  it('survives a structured clone (what postMessage does)', () => {
    const slots: EventSlot[] = [];
    packEvent(slots, full);
    packEvent(slots, sparse);
    const copy = structuredClone(slots);
    expect(unpackEvent(copy, 0)).toStrictEqual(full);
    expect(unpackEvent(copy, EVENT_SLOTS)).toStrictEqual(sparse);
  });
});
