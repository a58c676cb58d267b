import type { Packet } from '../radius/index.js';
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

function str(p: Packet, name: string): string | undefined {
  const v = p.get(name);
  return typeof v === 'string' ? v : undefined;
}

function int(p: Packet, name: string): number {
  const v = p.get(name);
  return typeof v === 'number' ? v : 0;
}

/** Octets as text when they are printable UTF-8 (circuit ids are), else as hex. */
function octetsText(p: Packet, name: string): string | undefined {
  const v = p.get(name);
  if (!Buffer.isBuffer(v)) return undefined;
  const text = v.toString('utf8');
  return /^[\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes('\ufffd')
    ? text
    : `0x${v.toString('hex')}`;
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
  const rawStatus = p.get('Acct-Status-Type');
  const status = typeof rawStatus === 'string' ? STATUS[rawStatus] : undefined;
  if (!status) return undefined;
  const ts = p.get('Event-Timestamp');
  const delay = int(p, 'Acct-Delay-Time');
  const at = (ts instanceof Date ? ts.getTime() : receivedAt) - delay * 1000;
  const acctSessionId = str(p, 'Acct-Session-Id') ?? '';
  const username = str(p, 'User-Name') ?? '';
  const cause = p.get('Acct-Terminate-Cause');
  const sessionTime = p.get('Acct-Session-Time');
  const interim = p.get('Acct-Interim-Interval');
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
    bytesIn: int(p, 'Acct-Input-Octets') + int(p, 'Acct-Input-Gigawords') * 2 ** 32,
    bytesOut: int(p, 'Acct-Output-Octets') + int(p, 'Acct-Output-Gigawords') * 2 ** 32,
    packetsIn: int(p, 'Acct-Input-Packets'),
    packetsOut: int(p, 'Acct-Output-Packets'),
    sessionTime: typeof sessionTime === 'number' ? sessionTime : undefined,
    terminateCause: cause === undefined ? undefined : String(cause),
    nasIdentifier: str(p, 'NAS-Identifier'),
    nasIp: str(p, 'NAS-IP-Address') ?? str(p, 'NAS-IPv6-Address'),
    nasPortId: str(p, 'NAS-Port-Id'),
    calledStationId: str(p, 'Called-Station-Id'),
    callingStationId: str(p, 'Calling-Station-Id'),
    circuitId: octetsText(p, 'ADSL-Agent-Circuit-Id'),
    framedIp: str(p, 'Framed-IP-Address'),
    framedIpv6Prefix: str(p, 'Framed-IPv6-Prefix'),
    delegatedPrefix: str(p, 'Delegated-IPv6-Prefix'),
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
