import type { AttributeValue } from '../radius/attribute.js';
import type { Dictionary } from '../radius/dictionary/dictionary.js';
import type { AttributeDef } from '../radius/dictionary/types.js';
import type { Packet } from '../radius/index.js';
import { sameAttribute } from '../radius/packet.js';
import type { AccountingHandler } from './server.js';
import type { AccountingEvent, AccountingStatus } from '../sessions/event.js';
import { uniqueSessionId } from '../sessions/event.js';

const STATUS: Record<string, AccountingStatus> = {
  Start: 'start',
  Stop: 'stop',
  'Interim-Update': 'interim',
  'Accounting-On': 'accounting-on',
  'Accounting-Off': 'accounting-off',
};

/** The attributes an Accounting-Request is read for, in slot order. */
const READ = [
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
  'Acct-Input-Packets',
  'Acct-Output-Packets',
  'NAS-Identifier',
  'NAS-IP-Address',
  'NAS-IPv6-Address',
  'NAS-Port-Id',
  'Called-Station-Id',
  'Calling-Station-Id',
  'ADSL-Agent-Circuit-Id',
  'Framed-IP-Address',
  'Framed-IPv6-Prefix',
  'Delegated-IPv6-Prefix',
] as const;
type Slot = (typeof READ)[number];
const SLOT = new Map<Slot, number>(READ.map((name, i) => [name, i]));

/**
 * Which slot (index in READ) an attribute definition fills, per dictionary: worked out once
 * per definition (aliases included, as Packet.get matches them), so that a request is read in
 * one pass over its attributes instead of one search per attribute wanted.
 */
const slotsByDictionary = new WeakMap<Dictionary, Map<AttributeDef, number>>();

function slotOf(dictionary: Dictionary, def: AttributeDef): number {
  let slots = slotsByDictionary.get(dictionary);
  if (!slots) {
    slots = new Map();
    slotsByDictionary.set(dictionary, slots);
  }
  let slot = slots.get(def);
  if (slot === undefined) {
    slot = -1;
    for (let i = 0; i < READ.length; i++) {
      const wanted = dictionary.attribute(READ[i] as Slot);
      if (wanted && sameAttribute(def, wanted)) {
        slot = i;
        break;
      }
    }
    // Made-up definitions (unknown or malformed attributes) are new objects each time: not kept.
    if (!def.unknown) slots.set(def, slot);
  }
  return slot;
}

/** The first value of each attribute read, by slot. */
class Fields {
  private readonly values: (AttributeValue | undefined)[] = new Array(READ.length);

  constructor(p: Packet) {
    for (const a of p.attributes) {
      const slot = slotOf(p.dictionary, a.def);
      if (slot >= 0 && this.values[slot] === undefined) this.values[slot] = a.value;
    }
  }

  get(name: Slot): AttributeValue | undefined {
    return this.values[SLOT.get(name) ?? -1];
  }

  str(name: Slot): string | undefined {
    const v = this.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  int(name: Slot): number {
    const v = this.get(name);
    return typeof v === 'number' ? v : 0;
  }

  /** Octets as text when they are printable UTF-8 (circuit ids are), else as hex. */
  octetsText(name: Slot): string | undefined {
    const v = this.get(name);
    if (!Buffer.isBuffer(v)) return undefined;
    const text = v.toString('utf8');
    return /^[\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes('\ufffd')
      ? text
      : `0x${v.toString('hex')}`;
  }
}

/**
 * Reads an Accounting-Request; undefined for a status we do not record (Failed, tunnel
 * statuses…), which is still acknowledged.
 */
export function readAccounting(
  p: Packet,
  nas: string,
  receivedAt: number,
): AccountingEvent | undefined {
  const f = new Fields(p);
  const rawStatus = f.get('Acct-Status-Type');
  const status = typeof rawStatus === 'string' ? STATUS[rawStatus] : undefined;
  if (!status) return undefined;
  const ts = f.get('Event-Timestamp');
  const delay = f.int('Acct-Delay-Time');
  const at = (ts instanceof Date ? ts.getTime() : receivedAt) - delay * 1000;
  const acctSessionId = f.str('Acct-Session-Id') ?? '';
  const username = f.str('User-Name') ?? '';
  const cause = f.get('Acct-Terminate-Cause');
  const sessionTime = f.get('Acct-Session-Time');
  const interim = f.get('Acct-Interim-Interval');
  return {
    status,
    nas,
    at,
    uniqueId:
      status === 'accounting-on' || status === 'accounting-off'
        ? ''
        : uniqueSessionId(nas, acctSessionId, username),
    acctSessionId,
    username,
    bytesIn: f.int('Acct-Input-Octets') + f.int('Acct-Input-Gigawords') * 2 ** 32,
    bytesOut: f.int('Acct-Output-Octets') + f.int('Acct-Output-Gigawords') * 2 ** 32,
    packetsIn: f.int('Acct-Input-Packets'),
    packetsOut: f.int('Acct-Output-Packets'),
    sessionTime: typeof sessionTime === 'number' ? sessionTime : undefined,
    terminateCause: cause === undefined ? undefined : String(cause),
    nasIdentifier: f.str('NAS-Identifier'),
    nasIp: f.str('NAS-IP-Address') ?? f.str('NAS-IPv6-Address'),
    nasPortId: f.str('NAS-Port-Id'),
    calledStationId: f.str('Called-Station-Id'),
    callingStationId: f.str('Calling-Station-Id'),
    circuitId: f.octetsText('ADSL-Agent-Circuit-Id'),
    framedIp: f.str('Framed-IP-Address'),
    framedIpv6Prefix: f.str('Framed-IPv6-Prefix'),
    delegatedPrefix: f.str('Delegated-IPv6-Prefix'),
    interimInterval: typeof interim === 'number' ? interim : undefined,
  };
}

/** Where accounting events go (the sessions writer), seen from the RADIUS side. */
export interface AccountingSink {
  submit(ev: AccountingEvent): Promise<boolean>;
}

/** The server's AccountingHandler: read the request, hand it to the writer, answer when durable. */
export function accountingHandler(sink: AccountingSink): AccountingHandler {
  return {
    record: (req, nas, receivedAt) => {
      const ev = readAccounting(req, nas.name, receivedAt);
      // Statuses we do not record (Failed, tunnel statuses) are acknowledged all the same.
      return ev ? sink.submit(ev) : Promise.resolve(true);
    },
  };
}
