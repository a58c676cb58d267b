import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readAccounting } from '../aaa/accounting.js';
import { bundledDictionary, createPacket, Packet, parseAttributes } from '../radius/index.js';
import type { Store } from '../store/store.js';
import { openStore } from '../store/store.js';
import { SEED_ACCOUNTING_REQUEST } from '../../test/fixtures/seed.js';
import { testStores } from '../../test/helpers/stores.js';
import { accountingRecord } from '../../test/helpers/accounting-records.js';
import type { AccountingEvent, AccountingStatus } from './event.js';
import { uniqueSessionId } from './event.js';
import type { SessionRecord } from './queries.js';
import { applyEvent, reapStaleSessions } from './recorder.js';

const stores = await testStores();
const dict = bundledDictionary();
const t = (iso: string): number => Date.parse(iso);
const T0 = t('2025-04-08T10:00:00Z');
const USER = 'p61b8df@NEUTRINET';

/** An event as readAccounting would make it; `sessionTime` defaults to the time since T0. */
function ev(
  status: AccountingStatus,
  at: number,
  over: Partial<AccountingEvent> = {},
): AccountingEvent {
  const nas = over.nas ?? 'collecte';
  const acctSessionId = over.acctSessionId ?? '81004567';
  const username = over.username ?? USER;
  const onOff = status === 'accounting-on' || status === 'accounting-off';
  if (onOff)
    return accountingRecord(status, nas, '', '', at, {
      uniqueId: '',
      sessionTime: undefined,
      ...over,
    });
  return accountingRecord(status, nas, acctSessionId, username, at, {
    sessionTime: Math.round((at - T0) / 1000),
    ...over,
  });
}

/** The seed's Interim-Update as the server decodes it. */
function seedPacket(): Packet {
  return new Packet(
    dict,
    4,
    0x36,
    Buffer.alloc(16),
    parseAttributes(dict, SEED_ACCOUNTING_REQUEST),
  );
}

describe.each(stores)('recording accounting ($name)', (ts) => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-recorder-'));
    store = await openStore(ts.url, dir);
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    await ts.reset();
    rmSync(dir, { recursive: true, force: true });
  });

  const apply = (e: AccountingEvent) => applyEvent(store.db, e);

  async function session(acctSessionId = '81004567', nas = 'collecte'): Promise<SessionRecord> {
    const row = await store.db
      .selectFrom('sessions')
      .selectAll()
      .where('unique_id', '=', uniqueSessionId(nas, acctSessionId, USER))
      .executeTakeFirstOrThrow();
    return row as SessionRecord;
  }

  /** usage_daily of USER by day, as plain numbers. */
  async function usage(): Promise<
    Record<string, { bytes_in: number; bytes_out: number; seconds: number; sessions: number }>
  > {
    const rows = await store.db
      .selectFrom('usage_daily')
      .selectAll()
      .where('username', '=', USER)
      .orderBy('day')
      .execute();
    return Object.fromEntries(
      rows.map((r) => [
        r.day,
        {
          bytes_in: Number(r.bytes_in),
          bytes_out: Number(r.bytes_out),
          seconds: Number(r.seconds),
          sessions: Number(r.sessions),
        },
      ]),
    );
  }

  it('sums Start, Interim-Update and Stop into one session and one day', async () => {
    expect(await apply(ev('start', T0))).toBe('created');
    expect(await apply(ev('interim', T0 + 60_000, { bytesIn: 1_000, bytesOut: 5_000 }))).toBe(
      'updated',
    );
    await apply(
      ev('stop', T0 + 90_000, { bytesIn: 1_500, bytesOut: 8_000, terminateCause: 'User-Request' }),
    );
    expect(await usage()).toEqual({
      '2025-04-08': { bytes_in: 1_500, bytes_out: 8_000, seconds: 90, sessions: 1 },
    });
    const s = await session();
    expect(s).toMatchObject({
      state: 'stopped',
      started_at: T0,
      updated_at: T0 + 90_000,
      stopped_at: T0 + 90_000,
      terminate_cause: 'User-Request',
      bytes_in: 1_500,
      bytes_out: 8_000,
      session_time: 90,
      inferred: 0,
    });
  });

  it('reads 64-bit counters: Acct-*-Octets + 2^32 × Acct-*-Gigawords', async () => {
    const interim = createPacket(dict, 'Accounting-Request', {
      'Acct-Status-Type': 'Interim-Update',
      'User-Name': USER,
      'Acct-Session-Id': '81004567',
      'Acct-Session-Time': 600,
      'Acct-Input-Octets': 7,
      'Acct-Input-Gigawords': 5,
      'Acct-Output-Octets': 2 ** 32 - 1,
      'Acct-Output-Gigawords': 3,
      'Event-Timestamp': new Date(T0 + 600_000),
    });
    const e = readAccounting(interim, 'collecte', T0 + 600_000);
    expect(e?.bytesIn).toBe(5 * 2 ** 32 + 7);
    expect(e?.bytesOut).toBe(4 * 2 ** 32 - 1);
    await apply(ev('start', T0));
    await apply(e as AccountingEvent);
    expect(await session()).toMatchObject({ bytes_in: 21_474_836_487, bytes_out: 17_179_869_183 });
    expect((await usage())['2025-04-08']).toMatchObject({
      bytes_in: 21_474_836_487,
      bytes_out: 17_179_869_183,
      seconds: 600,
    });
  });

  it('takes the event time as Event-Timestamp minus Acct-Delay-Time (or arrival minus delay)', () => {
    const p = createPacket(dict, 'Accounting-Request', {
      'Acct-Status-Type': 'Interim-Update',
      'User-Name': USER,
      'Acct-Session-Id': '81004567',
      'Event-Timestamp': new Date(t('2025-04-08T10:12:09Z')),
      'Acct-Delay-Time': 9,
    });
    const arrival = t('2025-04-08T10:13:00Z');
    expect(readAccounting(p, 'collecte', arrival)?.at).toBe(t('2025-04-08T10:12:00Z'));
    p.delete('Event-Timestamp');
    expect(readAccounting(p, 'collecte', arrival)?.at).toBe(t('2025-04-08T10:12:51Z'));
  });

  it('keeps the line on the session: the seed Interim-Update', async () => {
    const at = t('2025-04-08T10:12:09Z');
    const e = readAccounting(seedPacket(), 'collecte', at + 5_000);
    expect(e).toBeDefined();
    expect(await apply(e as AccountingEvent)).toBe('created');
    const s = await session();
    expect(s).toMatchObject({
      nas: 'collecte',
      acct_session_id: '81004567',
      username: USER,
      state: 'open',
      started_at: at - 36_721_000,
      updated_at: at,
      stopped_at: null,
      bytes_in: 184_624_542,
      bytes_out: 766_528_680,
      packets_in: 771_960,
      packets_out: 1_048_178,
      session_time: 36_721,
      called_station_id: 'HYPERLINE-02GIL0-GPON',
      calling_station_id: '08:55:31:FA:75:4E',
      nas_port_id: 'XE02-VL164-02GIL0-P0BIS',
      nas_identifier: 'agg01.pxmar.bra.be.verixi.net',
      nas_ip: '100.64.57.40',
      circuit_id: 'F02GIL00007 eth 1/1/04/13/37/1/2:10',
      framed_ip: '100.126.255.5',
      framed_ipv6_prefix: '2001:913:1000:500::/60',
    });
    // An update without the line's details keeps them.
    await apply(ev('interim', at + 60_000, { bytesIn: 184_700_000, sessionTime: 36_781 }));
    expect(await session()).toMatchObject({
      called_station_id: 'HYPERLINE-02GIL0-GPON',
      circuit_id: 'F02GIL00007 eth 1/1/04/13/37/1/2:10',
      framed_ip: '100.126.255.5',
      bytes_in: 184_700_000,
    });
  });

  it('creates the session from an Interim-Update that came before its Start', async () => {
    const at = T0 + 600_000;
    await apply(ev('interim', at, { bytesIn: 6_000, bytesOut: 60_000, sessionTime: 600 }));
    expect(await session()).toMatchObject({ state: 'open', started_at: T0, session_time: 600 });
    expect(await usage()).toEqual({
      '2025-04-08': { bytes_in: 6_000, bytes_out: 60_000, seconds: 600, sessions: 1 },
    });
    // The Start, delivered late, counts nothing more: not a second session either.
    expect(await apply(ev('start', T0))).toBe('ignored-old');
    await apply(ev('stop', at + 60_000, { bytesIn: 6_100, bytesOut: 61_000, sessionTime: 660 }));
    expect(await usage()).toEqual({
      '2025-04-08': { bytes_in: 6_100, bytes_out: 61_000, seconds: 660, sessions: 1 },
    });
  });

  it('records a Stop without Start', async () => {
    const at = T0 + 3_600_000;
    expect(
      await apply(
        ev('stop', at, {
          bytesIn: 1_234,
          bytesOut: 5_678,
          sessionTime: 3_600,
          terminateCause: 'Lost-Carrier',
        }),
      ),
    ).toBe('created');
    expect(await session()).toMatchObject({
      state: 'stopped',
      started_at: T0,
      stopped_at: at,
      terminate_cause: 'Lost-Carrier',
      bytes_in: 1_234,
    });
    expect(await usage()).toEqual({
      '2025-04-08': { bytes_in: 1_234, bytes_out: 5_678, seconds: 3_600, sessions: 1 },
    });
  });

  it('never counts negative usage when a counter goes backwards (NAS reset)', async () => {
    await apply(ev('start', T0));
    await apply(ev('interim', T0 + 60_000, { bytesIn: 10_000, bytesOut: 20_000 }));
    // The NAS restarted its counters (and its session clock): what it reports is new usage.
    await apply(ev('interim', T0 + 120_000, { bytesIn: 300, bytesOut: 400, sessionTime: 5 }));
    await apply(ev('interim', T0 + 180_000, { bytesIn: 500, bytesOut: 900, sessionTime: 65 }));
    expect(await usage()).toEqual({
      '2025-04-08': { bytes_in: 10_500, bytes_out: 20_900, seconds: 60 + 5 + 60, sessions: 1 },
    });
    const days = Object.values(await usage());
    for (const d of days) expect(d.bytes_in).toBeGreaterThanOrEqual(0);
  });

  it('does not count again an update older than the last one applied', async () => {
    await apply(ev('start', T0));
    const first = ev('interim', T0 + 60_000, { bytesIn: 1_000, bytesOut: 2_000 });
    const second = ev('interim', T0 + 120_000, { bytesIn: 3_000, bytesOut: 4_000 });
    await apply(second);
    expect(await apply(first)).toBe('ignored-old');
    // The same update again (a retransmission the duplicate cache no longer held).
    await apply(second);
    expect(await usage()).toEqual({
      '2025-04-08': { bytes_in: 3_000, bytes_out: 4_000, seconds: 120, sessions: 1 },
    });
    expect(await session()).toMatchObject({ bytes_in: 3_000, updated_at: T0 + 120_000 });
  });

  it('does not double-count a session seen again after its Stop', async () => {
    await apply(ev('start', T0));
    await apply(ev('interim', T0 + 60_000, { bytesIn: 1_000, bytesOut: 2_000 }));
    const stop = ev('stop', T0 + 90_000, {
      bytesIn: 1_500,
      bytesOut: 2_500,
      terminateCause: 'User-Request',
    });
    await apply(stop);
    const once = await usage();
    // The Stop again, the same one with a larger Acct-Delay-Time (an earlier event time), and
    // the Interim-Update before it arriving late.
    await apply(stop);
    expect(await apply({ ...stop, at: stop.at - 4_000 })).toBe('ignored-old');
    expect(await apply(ev('interim', T0 + 60_000, { bytesIn: 1_000, bytesOut: 2_000 }))).toBe(
      'ignored-old',
    );
    // …and the Start once more.
    expect(await apply(ev('start', T0))).toBe('ignored-old');
    expect(await usage()).toEqual(once);
    expect(once['2025-04-08']).toEqual({
      bytes_in: 1_500,
      bytes_out: 2_500,
      seconds: 90,
      sessions: 1,
    });
    expect(await session()).toMatchObject({
      state: 'stopped',
      stopped_at: T0 + 90_000,
      terminate_cause: 'User-Request',
    });
  });

  it("closes the NAS's open sessions on Accounting-On, and no other NAS's", async () => {
    await apply(ev('start', T0, { acctSessionId: 'a1' }));
    await apply(ev('start', T0, { acctSessionId: 'a2' }));
    await apply(ev('interim', T0 + 60_000, { acctSessionId: 'a2', bytesIn: 100 }));
    await apply(ev('start', T0, { acctSessionId: 'b1', nas: 'other' }));
    const reboot = T0 + 300_000;
    // A session that started after the reboot, delivered before the Accounting-On.
    await apply(ev('start', reboot + 10_000, { acctSessionId: 'a3', sessionTime: 0 }));
    expect(await apply(ev('accounting-on', reboot))).toBe('nas-reset');
    for (const id of ['a1', 'a2']) {
      expect(await session(id)).toMatchObject({
        state: 'stopped',
        stopped_at: reboot,
        terminate_cause: 'NAS-Reboot',
      });
    }
    expect(await session('b1', 'other')).toMatchObject({ state: 'open', stopped_at: null });
    expect(await session('a3')).toMatchObject({ state: 'open', stopped_at: null });
    // An update the NAS had measured before its reboot, delivered after: counted, not reopened.
    await apply(ev('interim', T0 + 120_000, { acctSessionId: 'a2', bytesIn: 400 }));
    expect(await session('a2')).toMatchObject({
      state: 'stopped',
      stopped_at: reboot,
      terminate_cause: 'NAS-Reboot',
      bytes_in: 400,
    });
    expect((await usage())['2025-04-08']).toMatchObject({ bytes_in: 400, sessions: 4 });
  });

  it('closes a session without update for 3 × its interim interval as lost; a later update reopens it', async () => {
    await apply(ev('start', T0, { interimInterval: 60 }));
    await apply(ev('interim', T0 + 60_000, { bytesIn: 1_000, bytesOut: 1_000 }));
    // Its own interim interval (300 s) gives a session more time.
    await apply(ev('start', T0, { acctSessionId: 'slow', interimInterval: 300 }));
    const last = T0 + 60_000;
    expect(await reapStaleSessions(store.db, last + 180_000, 60)).toBe(0);
    expect(await reapStaleSessions(store.db, last + 180_001, 60)).toBe(1);
    expect(await session()).toMatchObject({
      state: 'lost',
      inferred: 1,
      stopped_at: last,
      terminate_cause: 'Lost-Carrier',
    });
    expect(await session('slow')).toMatchObject({ state: 'open' });
    // The NAS was only silent: its next Interim-Update reopens the session, counting the delta.
    await apply(ev('interim', T0 + 600_000, { bytesIn: 5_000, bytesOut: 3_000 }));
    expect(await session()).toMatchObject({
      state: 'open',
      inferred: 0,
      stopped_at: null,
      terminate_cause: null,
      bytes_in: 5_000,
    });
    expect((await usage())['2025-04-08']).toEqual({
      bytes_in: 5_000,
      bytes_out: 3_000,
      seconds: 600,
      sessions: 2,
    });
  });

  it('splits a delta across midnight in proportion to time, and counts the session on its first day', async () => {
    const start = t('2025-04-08T23:59:00Z');
    const s = (at: number) => Math.round((at - start) / 1000);
    await apply(ev('start', start, { sessionTime: 0 }));
    // 23:59:00 → 00:00:30: 60 s of the 90 before midnight, 30 after.
    const i1 = t('2025-04-09T00:00:30Z');
    await apply(ev('interim', i1, { bytesIn: 9_000, bytesOut: 900, sessionTime: s(i1) }));
    expect(await usage()).toEqual({
      '2025-04-08': { bytes_in: 6_000, bytes_out: 600, seconds: 60, sessions: 1 },
      '2025-04-09': { bytes_in: 3_000, bytes_out: 300, seconds: 30, sessions: 0 },
    });
    const end = t('2025-04-09T00:01:30Z');
    await apply(ev('stop', end, { bytesIn: 15_000, bytesOut: 1_500, sessionTime: s(end) }));
    expect(await usage()).toEqual({
      '2025-04-08': { bytes_in: 6_000, bytes_out: 600, seconds: 60, sessions: 1 },
      '2025-04-09': { bytes_in: 9_000, bytes_out: 900, seconds: 90, sessions: 0 },
    });
  });

  it('counts an Interim-Update without Acct-Session-Time by the clock, and the next one by its delta', async () => {
    await apply(ev('start', T0));
    await apply(ev('interim', T0 + 60_000, { sessionTime: undefined, bytesIn: 10 }));
    await apply(ev('interim', T0 + 120_000, { sessionTime: 120, bytesIn: 20 }));
    expect((await usage())['2025-04-08']).toMatchObject({ seconds: 120, bytes_in: 20 });
  });
});
