/**
 * Accounting records for tests: one with given fields (accountingRecord), and lists as NASes send
 * them, for the property tests that hold a recorder to the query-builder path
 * (sqlite-recorder.test.ts, pg-recorder.test.ts): a few lines (NAS + session
 * + user), mostly in order, some late, counters that may restart, across midnight, now and then
 * an Accounting-On; and the cutting of a list into batches.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import type { Store } from '../../src/store/store.js';
import type { AccountingEvent, AccountingStatus } from '../../src/sessions/event.js';
import { uniqueSessionId } from '../../src/sessions/event.js';

/** An hour before midnight (UTC): usage is split over two days. */
export const T0 = Date.parse('2025-04-08T23:00:00Z');

export interface Line {
  readonly nas: string;
  readonly sid: string;
  readonly user: string;
}

export const LINES: readonly Line[] = [
  { nas: 'collecte', sid: 'A1', user: 'alice@R' },
  { nas: 'collecte', sid: 'B1', user: 'bob@R' },
  { nas: 'vpn', sid: 'A1', user: 'alice@R' },
  { nas: 'vpn', sid: 'C7', user: 'carol@r' },
];

/**
 * A record with the given identity (its unique id derived as the server derives it, unless
 * given) and nothing else: counters 0, no optional attribute; `over` sets the rest.
 */
export function accountingRecord(
  status: AccountingStatus,
  nas: string,
  acctSessionId: string,
  username: string,
  at: number,
  over: Partial<AccountingEvent> = {},
): AccountingEvent {
  return {
    status,
    nas,
    at,
    uniqueId: uniqueSessionId(nas, acctSessionId, username),
    acctSessionId,
    username,
    bytesIn: 0,
    bytesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
    sessionTime: 0,
    terminateCause: undefined,
    nasIdentifier: undefined,
    nasIp: undefined,
    nasPortId: undefined,
    calledStationId: undefined,
    callingStationId: undefined,
    circuitId: undefined,
    framedIp: undefined,
    framedIpv6Prefix: undefined,
    delegatedPrefix: undefined,
    interimInterval: undefined,
    ...over,
  };
}

/**
 * One record of line `line`; `n` drives the counters and which optional attributes are sent;
 * `text`, when given, goes into NAS-Identifier and Calling-Station-Id.
 */
export function accountingEvent(
  status: AccountingStatus,
  line: number,
  at: number,
  n: number,
  withTime: boolean,
  opts: { lines?: readonly Line[]; text?: string } = {},
): AccountingEvent {
  const lines = opts.lines ?? LINES;
  const l = lines[line % lines.length] ?? LINES[0] ?? { nas: 'n', sid: 's', user: 'u' };
  const onOff = status === 'accounting-on';
  return {
    status,
    nas: l.nas,
    at,
    uniqueId: onOff ? '' : uniqueSessionId(l.nas, l.sid, l.user),
    acctSessionId: onOff ? '' : l.sid,
    username: onOff ? '' : l.user,
    bytesIn: n * 1000,
    bytesOut: n * 3001,
    packetsIn: n,
    packetsOut: 2 * n,
    sessionTime: withTime ? Math.round((at - T0) / 1000) : undefined,
    terminateCause: status === 'stop' ? 'User-Request' : undefined,
    nasIdentifier: opts.text ?? (n % 2 ? l.nas : undefined),
    nasIp: '192.0.2.1',
    nasPortId: n % 3 ? `port ${line}` : undefined,
    calledStationId: undefined,
    callingStationId: opts.text,
    circuitId: n % 4 ? undefined : 'F02GIL00007 eth 1/1/04/13/37/1/2:10',
    framedIp: status === 'start' ? undefined : `10.0.0.${line}`,
    framedIpv6Prefix: undefined,
    delegatedPrefix: undefined,
    interimInterval: n % 5 ? 300 : undefined,
  };
}

const STATUSES: AccountingStatus[] = ['start', 'interim', 'interim', 'interim', 'stop'];

/** Lists of records over `lines`; `text` gives the free-text values (none by default). */
export function recordsArb(
  opts: {
    lines?: readonly Line[];
    text?: fc.Arbitrary<string | undefined>;
    maxLength?: number;
  } = {},
): fc.Arbitrary<AccountingEvent[]> {
  const lines = opts.lines ?? LINES;
  return fc
    .array(
      fc.record({
        status: fc.oneof(
          { weight: 30, arbitrary: fc.constantFrom(...STATUSES) },
          { weight: 1, arbitrary: fc.constant<AccountingStatus>('accounting-on') },
        ),
        line: fc.nat({ max: lines.length - 1 }),
        step: fc.integer({ min: -120, max: 900 }), // seconds; negative: a late record
        count: fc.nat({ max: 5000 }),
        withTime: fc.boolean(),
        text: opts.text ?? fc.constant(undefined),
      }),
      { minLength: 1, maxLength: opts.maxLength ?? 60 },
    )
    .map((list) => {
      let at = T0;
      return list.map((r) => {
        at += r.step * 1000;
        return accountingEvent(r.status, r.line, at, r.count, r.withTime, {
          lines,
          text: r.text,
        });
      });
    });
}

/** Batch boundaries: the items cut into consecutive batches of the given sizes, in turn. */
export function cut<T>(items: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (let k = 0; i < items.length; k++) {
    const n = sizes[k % Math.max(1, sizes.length)] ?? 1;
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

/** The sessions (without their ids) and usage_daily tables, in key order, for comparisons. */
export async function accountingTables(store: Store): Promise<unknown> {
  const sessions = await sql`select * from sessions order by unique_id`.execute(store.db);
  const usage = await sql`select * from usage_daily order by username_key, day`.execute(store.db);
  return {
    sessions: sessions.rows.map((r) => ({ ...(r as object), id: undefined })),
    usage: usage.rows,
  };
}
