import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { openStore } from '../store/store.js';
import {
  accountingEvent,
  accountingTables as tables,
  cut,
  recordsArb,
  T0,
} from '../../test/helpers/accounting-records.js';
import type { AccountingEvent, AccountingStatus } from './event.js';
import { applyBatch } from './recorder.js';
import { SqliteRecorder } from './sqlite-recorder.js';
import { AccountingWriter } from './writer.js';

const event = (status: AccountingStatus, line: number, at: number, n: number, withTime: boolean) =>
  accountingEvent(status, line, at, n, withTime);

describe('the SQLite recorder (synchronous, prepared statements, session cache)', () => {
  let dir: string;
  let viaBuilder: Store;
  let viaSqlite: Store;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-sqlite-recorder-'));
    viaBuilder = await openStore('sqlite:builder.db', dir);
    viaSqlite = await openStore('sqlite:direct.db', dir);
    await viaBuilder.migrate();
    await viaSqlite.migrate();
  });
  afterEach(async () => {
    await viaBuilder.close();
    await viaSqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const builderApply = (events: readonly AccountingEvent[]) =>
    viaBuilder.db.transaction().execute((trx) => applyBatch(trx, events));

  async function reset(): Promise<void> {
    for (const s of [viaBuilder, viaSqlite]) {
      await sql`delete from sessions`.execute(s.db);
      await sql`delete from usage_daily`.execute(s.db);
    }
  }

  it('stores exactly what the query-builder path stores, for any records and batches', async () => {
    const rawDb = viaSqlite.sqlite;
    if (!rawDb) throw new Error('no SQLite connection');
    await fc.assert(
      fc.asyncProperty(
        recordsArb(),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
        async (records, sizes) => {
          await reset();
          const recorder = new SqliteRecorder(rawDb);
          for (const batch of cut(records, sizes)) {
            const a = await builderApply(batch);
            const b = recorder.applyBatch(batch);
            expect(b).toEqual(a);
          }
          expect(await tables(viaSqlite)).toEqual(await tables(viaBuilder));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('sees a change by another connection between two batches (the cache is dropped)', async () => {
    const rawDb = viaSqlite.sqlite;
    if (!rawDb) throw new Error('no SQLite connection');
    const recorder = new SqliteRecorder(rawDb);
    const start = [event('start', 0, T0, 0, true)];
    recorder.applyBatch(start);
    await builderApply(start);
    // Another process (the reaper, the CLI) closes the session as lost.
    const other = new BetterSqlite3(join(dir, 'direct.db'));
    const lost = `update sessions set state = 'lost', inferred = 1, stopped_at = ${T0 + 1000}, terminate_cause = 'Lost-Carrier'`;
    other.exec(lost);
    other.close();
    await sql.raw(lost).execute(viaBuilder.db);
    // An update measured before the close brings bytes but must not reopen it.
    const late = [event('interim', 0, T0 + 500, 7, true)];
    recorder.applyBatch(late);
    await builderApply(late);
    const t = (await tables(viaSqlite)) as { sessions: { state: string }[] };
    expect(t.sessions[0]?.state).toBe('lost');
    expect(t).toEqual(await tables(viaBuilder));
  });

  it('sees a change made on its own connection outside its batches', async () => {
    const rawDb = viaSqlite.sqlite;
    if (!rawDb) throw new Error('no SQLite connection');
    const recorder = new SqliteRecorder(rawDb);
    const start = [event('start', 1, T0, 0, true)];
    recorder.applyBatch(start);
    await builderApply(start);
    const lost = sql`update sessions set state = 'lost', inferred = 1, stopped_at = ${T0 + 1000}`;
    await lost.execute(viaSqlite.db); // the same connection, through the query builder
    await lost.execute(viaBuilder.db);
    const late = [event('interim', 1, T0 + 500, 9, true)];
    recorder.applyBatch(late);
    await builderApply(late);
    const t = (await tables(viaSqlite)) as { sessions: { state: string }[] };
    expect(t.sessions[0]?.state).toBe('lost');
    expect(t).toEqual(await tables(viaBuilder));
  });

  it('refuses one record without losing the rest of its batch, and forgets what rolled back', async () => {
    const rawDb = viaSqlite.sqlite;
    if (!rawDb) throw new Error('no SQLite connection');
    // The database refuses Bob's sessions (a constraint of the operator's own).
    rawDb.exec(`create trigger refuse_bob before insert on sessions when new.username = 'bob@R'
      begin select raise(abort, 'bob is refused'); end`);
    const writer = new AccountingWriter(viaSqlite.db, { sqlite: rawDb });
    const results = await Promise.all([
      writer.write(event('start', 0, T0, 0, true)),
      writer.write(event('start', 1, T0, 0, true)),
      writer.write(event('interim', 0, T0 + 60_000, 10, true)),
    ]);
    expect(results).toEqual(['committed', 'refused', 'committed']);
    await writer.write(event('interim', 0, T0 + 120_000, 30, true));
    const t = (await tables(viaSqlite)) as {
      sessions: { username: string; bytes_in: number }[];
      usage: { bytes_in: number }[];
    };
    expect(t.sessions.map((s) => [s.username, s.bytes_in])).toEqual([['alice@R', 30_000]]);
    expect(t.usage.map((u) => u.bytes_in)).toEqual([30_000]);
  });
});
