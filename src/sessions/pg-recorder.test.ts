import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { sql } from 'kysely';
import pg from 'pg';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  onTestFinished,
} from 'vitest';
import type { Store } from '../store/store.js';
import { openStore } from '../store/store.js';
import { POSTGRES_URL, testStores } from '../../test/helpers/stores.js';
import {
  accountingEvent,
  accountingTables as tables,
  cut,
  recordsArb,
  T0,
} from '../../test/helpers/accounting-records.js';
import type { AccountingEvent, AccountingStatus } from './event.js';
import { PgRecorder, PREPARE_STATEMENTS, sqlString, textArray } from './pg-recorder.js';
import { applyBatch } from './recorder.js';
import { AccountingWriter } from './writer.js';

/** Strings that quoting gets wrong first: quotes, backslashes, dollar tags, array syntax. */
const NASTY = [
  `o'brien@R`,
  'back\\slash@R',
  'dq"uote@R',
  '$i$tag$i0$@R',
  '{brace,comma}@R',
  'NULL',
  '',
  ' spaced ',
  'ünïcødé 😀@R',
  'ends with $i',
] as const;

const LINES = [
  { nas: 'collecte', sid: 'A1', user: 'alice@R' },
  { nas: 'collecte', sid: 'B1', user: 'bob@R' },
  { nas: 'vpn', sid: 'A1', user: `o'brien@R` },
  { nas: 'vpn', sid: 'C"7', user: 'back\\slash@R' },
] as const;

const event = (
  status: AccountingStatus,
  line: number,
  at: number,
  n: number,
  withTime: boolean,
  text: string | undefined,
): AccountingEvent => accountingEvent(status, line, at, n, withTime, { lines: LINES, text });

const records = recordsArb({
  lines: LINES,
  text: fc.option(fc.oneof(fc.constantFrom(...NASTY), fc.string({ unit: 'grapheme' })), {
    nil: undefined,
  }),
  maxLength: 40,
});

describe('quoting values into the text of a query', () => {
  it('dollar-quotes with a tag the string does not close early', () => {
    expect(sqlString('abc')).toBe('$i$abc$i$');
    expect(sqlString('a$i$b')).toBe('$i0$a$i$b$i0$');
    expect(sqlString('x$i')).toBe('$i0$x$i$i0$');
    expect(sqlString('$i$$i0$')).toBe('$i1$$i$$i0$$i1$');
  });

  it('writes array elements quoted, escapes quotes and backslashes, NULL unquoted', () => {
    expect(textArray(['a', null, 'NULL', '', 'q"b\\s', '{x,y}'])).toBe(
      '{"a",NULL,"NULL","","q\\"b\\\\s","{x,y}"}',
    );
  });
});

const postgres = (await testStores()).find((s) => s.name === 'postgres');

describe.runIf(postgres)('the PostgreSQL recorder (round trips, prepared statements)', () => {
  // Two schemas of this file's own: one written through the query builder, one directly.
  const suffix = randomBytes(5).toString('hex');
  const schemas = [`pgrec_builder_${suffix}`, `pgrec_direct_${suffix}`] as const;
  const admin = async (text: string): Promise<void> => {
    const c = new pg.Client({ connectionString: POSTGRES_URL });
    await c.connect();
    await c.query(text).finally(() => c.end());
  };
  const urlOf = (schema: string): string => {
    const u = new URL(POSTGRES_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    return u.toString();
  };
  let dir: string;
  let viaBuilder: Store;
  let viaDirect: Store;

  beforeAll(async () => {
    for (const s of schemas) await admin(`create schema ${s}`);
  });
  afterAll(async () => {
    for (const s of schemas) await admin(`drop schema if exists ${s} cascade`);
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-pg-recorder-'));
    viaBuilder = await openStore(urlOf(schemas[0]), dir);
    viaDirect = await openStore(urlOf(schemas[1]), dir);
    await viaBuilder.migrate();
    await viaDirect.migrate();
    await reset();
  });
  afterEach(async () => {
    await viaBuilder.close();
    await viaDirect.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Alice's session stopped at `bytes`, Bob's open at 0, and each one's day. */
  async function expectAliceStoppedBobOpen(bytes: number): Promise<void> {
    const t = (await tables(viaDirect)) as {
      sessions: { username: string; state: string; bytes_in: number }[];
      usage: { username: string; bytes_in: number; sessions: number }[];
    };
    expect(t.sessions.map((r) => [r.username, r.state, r.bytes_in]).sort()).toEqual([
      ['alice@R', 'stopped', bytes],
      ['bob@R', 'open', 0],
    ]);
    expect(t.usage.map((u) => [u.username, u.bytes_in, u.sessions]).sort()).toEqual([
      ['alice@R', bytes, 1],
      ['bob@R', 0, 1],
    ]);
  }

  async function reset(): Promise<void> {
    for (const s of [viaBuilder, viaDirect])
      await sql`truncate sessions, usage_daily`.execute(s.db);
  }

  it('stores exactly what the query-builder path stores, for any records and batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        records,
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (records, sizes, serialize) => {
          await reset();
          const recorder = new PgRecorder(viaDirect.db, { serialize });
          for (const batch of cut(records, sizes)) {
            const a = await viaBuilder.db
              .transaction()
              .execute((trx) => applyBatch(trx, batch, { serialize }));
            const b = await recorder.applyBatch(batch);
            expect(b).toEqual(a);
          }
          expect(await tables(viaDirect)).toEqual(await tables(viaBuilder));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('takes the sessions’ locks before it reads them (another instance waits, then sees the commit)', async () => {
    const recorder = new PgRecorder(viaDirect.db, { serialize: true });
    const other = new PgRecorder(viaDirect.db, { serialize: true });
    const start = event('start', 0, T0, 0, true, undefined);
    await recorder.applyBatch([start]);
    // Two instances given the same Interim-Update at once, again and again: it counts once.
    const interim = event('interim', 0, T0 + 60_000, 10, true, undefined);
    // A third connection holds the session's row meanwhile: both read it before either writes
    // unless the second waits for the first's lock before reading.
    const holder = new pg.Client({ connectionString: urlOf(schemas[1]) });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from sessions for update');
      const both = Promise.all([recorder.applyBatch([interim]), other.applyBatch([interim])]);
      await new Promise((r) => setTimeout(r, 300));
      await holder.query('commit');
      await both;
    } finally {
      await holder.end();
    }
    const usage = await sql<{
      bytes_in: number;
    }>`select bytes_in from usage_daily`.execute(viaDirect.db);
    expect(usage.rows.map((r) => Number(r.bytes_in))).toEqual([10_000]);
  });

  it('writes sessions it remembers in one round trip, and reads them again once another writer changed them', async () => {
    // Stores that prepare the statements on each new connection (as the server's writer does).
    const setup = { poolSize: 1, pgSessionSetup: PREPARE_STATEMENTS };
    const stores = [
      await openStore(urlOf(schemas[1]), dir, setup),
      await openStore(urlOf(schemas[1]), dir, setup),
    ] as const;
    onTestFinished(async () => {
      for (const s of stores) await s.close();
    });
    const one = new PgRecorder(stores[0].db, { serialize: true });
    const other = new PgRecorder(stores[1].db, { serialize: true });
    /** One record applied by `r`: what it did, and the round trips it took. */
    const apply = async (
      r: PgRecorder,
      status: AccountingStatus,
      line: number,
      seconds: number,
      n: number,
    ): Promise<[string | undefined, number]> => {
      const before = r.roundTrips;
      const done = await r.applyBatch([
        event(status, line, T0 + seconds * 1000, n, true, undefined),
      ]);
      return [done[0], r.roundTrips - before];
    };
    // A Start of a session it has not seen: one round trip (it presumes the session new).
    expect(await apply(one, 'start', 0, 0, 0)).toEqual(['created', 1]);
    // Its Interim: one round trip, from what it remembers.
    expect(await apply(one, 'interim', 0, 60, 10)).toEqual(['updated', 1]);
    // Another instance counts the next Interim (it reads the session: two round trips).
    expect(await apply(other, 'interim', 0, 120, 30)).toEqual(['updated', 2]);
    // The first one's remembered row is stale: its write finds out, writes nothing, and the
    // batch runs again from the table (1 + 2 round trips). Counted from 30,000, not 10,000.
    /** When the statements on the first store's connection were prepared, to the microsecond. */
    const preparedAt = async (): Promise<string[]> =>
      (
        await sql<{
          at: string;
        }>`select prepare_time::text as at from pg_prepared_statements order by name`.execute(
          stores[0].db,
        )
      ).rows.map((r) => r.at);
    const before = await preparedAt();
    expect(await apply(one, 'interim', 0, 180, 40)).toEqual(['updated', 3]);
    // …and without preparing its statements again (they were there all along).
    expect(await preparedAt()).toEqual(before);
    // A change by SQL of someone else's (an administrator closing the session by hand).
    await sql`update sessions set state = 'stopped', stopped_at = ${T0 + 200_000}`.execute(
      viaDirect.db,
    );
    expect(await apply(one, 'stop', 0, 240, 50)).toEqual(['updated', 3]);
    // A Start of a session that is in the table after all (the other instance's): read, too.
    await apply(other, 'start', 1, 0, 0);
    expect(await apply(one, 'start', 1, 0, 0)).toEqual(['updated', 3]);
    await expectAliceStoppedBobOpen(50_000);
  });

  it('forgets the session written the longest ago when its memory is full', async () => {
    const one = await openStore(urlOf(schemas[1]), dir, {
      poolSize: 1,
      pgSessionSetup: PREPARE_STATEMENTS,
    });
    onTestFinished(() => one.close());
    const recorder = new PgRecorder(one.db, { serialize: true }, 2);
    const trips = async (ev: AccountingEvent): Promise<number> => {
      const before = recorder.roundTrips;
      await recorder.applyBatch([ev]);
      return recorder.roundTrips - before;
    };
    expect(await trips(event('start', 0, T0, 0, true, undefined))).toBe(1);
    expect(await trips(event('start', 1, T0, 0, true, undefined))).toBe(1);
    // Line 0 written again: now line 1 is the oldest, and goes when line 2 comes.
    expect(await trips(event('interim', 0, T0 + 60_000, 1, true, undefined))).toBe(1);
    expect(await trips(event('start', 2, T0, 0, true, undefined))).toBe(1);
    expect(await trips(event('interim', 1, T0 + 60_000, 1, true, undefined))).toBe(2);
    // Line 1 read and written again pushed out line 0; line 2 is still there.
    expect(await trips(event('interim', 2, T0 + 60_000, 1, true, undefined))).toBe(1);
    expect(await trips(event('interim', 0, T0 + 120_000, 2, true, undefined))).toBe(2);
  });

  it('keeps looking sessions up by index once the table has grown from empty', async () => {
    const one = await openStore(urlOf(schemas[1]), dir, {
      poolSize: 1,
      pgSessionSetup: PREPARE_STATEMENTS,
    });
    onTestFinished(() => one.close());
    const recorder = new PgRecorder(one.db, { serialize: true });
    // More than five executions on a nearly empty table: PostgreSQL settles on a generic plan.
    for (let i = 0; i < 8; i++)
      await recorder.applyBatch([
        event(i === 0 ? 'start' : 'interim', 0, T0 + i * 1000, i, true, undefined),
      ]);
    await sql`insert into sessions (unique_id, nas, acct_session_id, username, username_key, state,
      started_at, updated_at, last_event_at)
      select 'u' || g, 'n', 's' || g, 'm@R', 'm@r', 'stopped', 0, 0, 0
      from generate_series(1, 20000) as g`.execute(one.db);
    const empty = Array.from({ length: 34 }, () => `'{}'`).join(', ');
    const plan = await sql
      .raw<{ 'QUERY PLAN': string }>(
        `explain execute ispkit_acct_write('{"u1"}', '{NULL}', ${empty})`,
      )
      .execute(one.db);
    const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index (Only )?Scan using sessions_unique_id_key/);
    expect(text).not.toMatch(/Seq Scan on sessions/);
  });

  it('has PostgreSQL refuse a value it cannot store, and rolls the batch back', async () => {
    const recorder = new PgRecorder(viaDirect.db, { serialize: true });
    const ok = event('start', 0, T0, 0, true, 'fine');
    const nul = event('start', 1, T0, 0, true, 'nul\u0000inside');
    const err = await recorder.applyBatch([ok, nul]).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toMatch(/^22/);
    expect(await tables(viaDirect)).toEqual({ sessions: [], usage: [] });
    // The connection is usable again (no transaction left open on it).
    expect(await recorder.applyBatch([ok])).toEqual(['created']);
  });

  /** The statements prepared on a store's connection (its pool holds one). */
  const prepared = async (store: Store): Promise<string[]> =>
    (
      await sql<{
        name: string;
      }>`select name from pg_prepared_statements order by name`.execute(store.db)
    ).rows.map((r) => r.name);
  const ALL_PREPARED = ['ispkit_acct_lock', 'ispkit_acct_write'];

  it('prepares its statements again when the connection lacks some, and survives a change of a column', async () => {
    const one = await openStore(urlOf(schemas[1]), dir, { poolSize: 1 });
    try {
      const recorder = new PgRecorder(one.db, { serialize: true });
      expect(await recorder.applyBatch([event('start', 0, T0, 0, true, undefined)])).toEqual([
        'created',
      ]);
      expect(await prepared(one)).toEqual(ALL_PREPARED);
      // Only some there (a server connection behind PgBouncer that another batch half prepared).
      await sql`deallocate ispkit_acct_write`.execute(one.db);
      expect(
        await recorder.applyBatch([event('interim', 0, T0 + 60_000, 10, true, undefined)]),
      ).toEqual(['updated']);
      // A column's type changed under the prepared upsert: PostgreSQL plans it again itself.
      await sql`alter table sessions alter column nas_port_id type varchar(253)`.execute(one.db);
      try {
        expect(
          await recorder.applyBatch([event('stop', 0, T0 + 120_000, 20, true, undefined)]),
        ).toEqual(['updated']);
      } finally {
        await sql`alter table sessions alter column nas_port_id type text`.execute(one.db);
      }
      expect(await prepared(one)).toEqual(ALL_PREPARED);
    } finally {
      await one.close();
    }
    const t = (await tables(viaDirect)) as { sessions: { state: string; bytes_in: number }[] };
    expect(t.sessions.map((s) => [s.state, s.bytes_in])).toEqual([['stopped', 20_000]]);
  });

  it('finds its statements prepared on a store that prepares them on each new connection', async () => {
    const one = await openStore(urlOf(schemas[1]), dir, {
      poolSize: 1,
      pgSessionSetup: PREPARE_STATEMENTS,
    });
    try {
      expect(await prepared(one)).toEqual(ALL_PREPARED);
      const recorder = new PgRecorder(one.db, { serialize: true });
      expect(await recorder.applyBatch([event('start', 0, T0, 0, true, undefined)])).toEqual([
        'created',
      ]);
    } finally {
      await one.close();
    }
  });

  describe('the writer, two batches in flight', () => {
    const sleep = (ms: number): Promise<'timeout'> =>
      new Promise((r) => setTimeout(() => r('timeout'), ms));
    let holder: pg.Client;
    beforeEach(async () => {
      holder = new pg.Client({ connectionString: urlOf(schemas[1]) });
      await holder.connect();
    });
    afterEach(async () => {
      await holder.end();
    });
    /** Another connection holds a session's row, so a batch writing it waits. */
    async function holdRow(line: number): Promise<void> {
      const id = event('start', line, T0, 0, true, undefined).uniqueId;
      await holder.query('begin');
      await holder.query('select 1 from sessions where unique_id = $1 for update', [id]);
    }

    it('commits other sessions while a batch waits, and a session’s records in order', async () => {
      const writer = new AccountingWriter(viaDirect.db, { apply: { serialize: true } });
      expect(await writer.write(event('start', 0, T0, 0, true, undefined))).toBe('committed');
      await holdRow(0);
      const blocked = writer.write(event('interim', 0, T0 + 60_000, 10, true, undefined));
      await sleep(200); // its batch holds the session's lock and waits for the row
      // Another session: its own batch, beside the blocked one.
      expect(
        await Promise.race([writer.write(event('start', 1, T0, 0, true, undefined)), sleep(3000)]),
      ).toBe('committed');
      // The same session again: waits for the first record's commit, then builds on it.
      const later = writer.write(event('stop', 0, T0 + 120_000, 20, true, undefined));
      expect(await Promise.race([blocked, later, sleep(300)])).toBe('timeout');
      await holder.query('commit');
      expect(await blocked).toBe('committed');
      expect(await later).toBe('committed');
      await expectAliceStoppedBobOpen(20_000);
    });

    it('applies records submitted all at once in arrival order, whatever the batches', async () => {
      await fc.assert(
        fc.asyncProperty(records, fc.integer({ min: 1, max: 4 }), async (records, maxBatch) => {
          await reset();
          await viaBuilder.db
            .transaction()
            .execute((trx) => applyBatch(trx, records, { serialize: true }));
          const writer = new AccountingWriter(viaDirect.db, {
            apply: { serialize: true },
            maxBatch,
          });
          const results = await Promise.all(records.map((r) => writer.write(r)));
          expect(results.filter((r) => r !== 'committed')).toEqual([]);
          expect(await tables(viaDirect)).toEqual(await tables(viaBuilder));
        }),
        { numRuns: 40 },
      );
    });

    it('runs an Accounting-On alone, after the batch in flight', async () => {
      const writer = new AccountingWriter(viaDirect.db, { apply: { serialize: true } });
      expect(await writer.write(event('start', 0, T0, 0, true, undefined))).toBe('committed');
      expect(await writer.write(event('start', 2, T0, 0, true, undefined))).toBe('committed');
      await holdRow(0);
      const blocked = writer.write(event('interim', 0, T0 + 60_000, 10, true, undefined));
      await sleep(200);
      // The reboot of another NAS touches no held row, yet waits: it closes sessions without
      // their locks, so nothing may run beside it.
      const reboot = writer.write(event('accounting-on', 2, T0 + 90_000, 0, false, undefined));
      expect(await Promise.race([reboot, sleep(500)])).toBe('timeout');
      await holder.query('commit');
      expect(await blocked).toBe('committed');
      expect(await reboot).toBe('committed');
      const t = (await tables(viaDirect)) as {
        sessions: { nas: string; state: string; bytes_in: number }[];
      };
      expect(t.sessions.map((r) => [r.nas, r.state, r.bytes_in]).sort()).toEqual([
        ['collecte', 'open', 10_000],
        ['vpn', 'stopped', 0],
      ]);
    });
  });

  it('is what the writer uses on PostgreSQL, refusals and all', async () => {
    const writer = new AccountingWriter(viaDirect.db, { apply: { serialize: true } });
    const results = await Promise.all([
      writer.write(event('start', 0, T0, 0, true, undefined)),
      writer.write(event('start', 1, T0, 0, true, 'nul\u0000inside')),
      writer.write(event('interim', 0, T0 + 60_000, 10, true, `it's "quoted"`)),
    ]);
    expect(results).toEqual(['committed', 'refused', 'committed']);
    const t = (await tables(viaDirect)) as {
      sessions: { username: string; bytes_in: number; calling_station_id: string }[];
    };
    expect(t.sessions.map((s) => [s.username, s.bytes_in, s.calling_station_id])).toEqual([
      ['alice@R', 10_000, `it's "quoted"`],
    ]);
  });
});
