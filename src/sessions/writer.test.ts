import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { openStore } from '../store/store.js';
import { testStores } from '../../test/helpers/stores.js';
import { accountingRecord } from '../../test/helpers/accounting-records.js';
import type { AccountingEvent } from './event.js';
import { AccountingWriter } from './writer.js';

const stores = await testStores();
const T0 = Date.parse('2025-04-08T10:00:00Z');

function start(username: string, acctSessionId: string): AccountingEvent {
  return accountingRecord('start', 'collecte', acctSessionId, username, T0);
}

/** A database that refuses one member's sessions (as it would refuse a value it cannot store). */
async function refuse(store: Store, username: string): Promise<void> {
  if (store.dialect === 'sqlite') {
    await sql
      .raw(
        `CREATE TRIGGER refuse_one BEFORE INSERT ON sessions WHEN NEW.username = '${username}'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
      )
      .execute(store.db);
    return;
  }
  await sql
    .raw(
      `CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN IF NEW.username = '${username}' THEN RAISE EXCEPTION 'refused by the test'; END IF;
       RETURN NEW; END $$`,
    )
    .execute(store.db);
  await sql
    .raw(
      `CREATE TRIGGER refuse_one BEFORE INSERT ON sessions
       FOR EACH ROW EXECUTE FUNCTION refuse_one()`,
    )
    .execute(store.db);
}

describe.each(stores)('the accounting writer ($name)', (ts) => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-writer-'));
    store = await openStore(ts.url, dir);
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    await ts.reset();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits a group and reports each record durable', async () => {
    const writer = new AccountingWriter(store.db, { maxDelayMs: 20 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => writer.submit(start(`m${i}@NEUTRINET`, `s${i}`))),
    );
    expect(results.every((r) => r)).toBe(true);
    expect(writer.committed).toBe(50);
    const n = await store.db
      .selectFrom('sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(50);
  });

  it('does not let one record the database refuses hold back the rest of its group', async () => {
    await refuse(store, 'poison@NEUTRINET');
    const errors: unknown[] = [];
    const writer = new AccountingWriter(store.db, {
      maxDelayMs: 20,
      onError: (e) => errors.push(e),
    });
    const names = ['a@NEUTRINET', 'poison@NEUTRINET', 'b@NEUTRINET', 'c@NEUTRINET'];
    const results = await Promise.all(names.map((u, i) => writer.submit(start(u, `s${i}`))));
    expect(results).toEqual([true, false, true, true]);
    expect(errors.length).toBeGreaterThan(0);
    const rows = await store.db.selectFrom('sessions').select('username').orderBy('id').execute();
    expect(rows.map((r) => r.username)).toEqual(['a@NEUTRINET', 'b@NEUTRINET', 'c@NEUTRINET']);
    // Their day counts three sessions, not the refused one.
    const usage = await store.db.selectFrom('usage_daily').select('username').execute();
    expect(usage.map((r) => r.username).sort()).toEqual([
      'a@NEUTRINET',
      'b@NEUTRINET',
      'c@NEUTRINET',
    ]);
  });

  it('reports nothing durable when the database is away', async () => {
    const writer = new AccountingWriter(store.db, { maxDelayMs: 5 });
    await store.db.destroy();
    const results = await Promise.all([
      writer.submit(start('a@NEUTRINET', 's1')),
      writer.submit(start('b@NEUTRINET', 's2')),
    ]);
    expect(results).toEqual([false, false]);
    expect(writer.failed).toBe(2);
    // Reopened for afterEach.
    store = await openStore(ts.url, dir);
  });
});
