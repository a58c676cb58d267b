// The partial indexes of migration 0009 hold only the sessions not over yet. A planner uses one
// only when it can prove the query's WHERE implies the index's, which a bound parameter in place
// of the literal state defeats: these tests run the real queries, capture the SQL they sent, and
// ask each database for its plan.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledQuery } from 'kysely';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { testStores } from '../../test/helpers/stores.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { openStore } from '../store/store.js';
import { SessionQueries } from './queries.js';
import { reapStaleSessions } from './recorder.js';
import { closeNasSessions } from './session-rows.js';
import { SqliteRecorder } from './sqlite-recorder.js';

const stores = await testStores();

/**
 * Each query a piece of code sends, and the index its plan must use (where two would do, either:
 * on empty tables PostgreSQL picks by its default estimates).
 */
const CASES: {
  what: string;
  index: RegExp;
  run: (db: Kysely<Database>) => Promise<unknown>;
}[] = [
  {
    what: 'open sessions of a subscriber (simultaneous use)',
    index: /sessions_open_by_user/,
    run: (db) => new SessionQueries(db).openCount('m1@isp.example'),
  },
  {
    what: 'the oldest open session of a subscriber (accept-mark-oldest)',
    index: /sessions_open_by_user/,
    run: (db) => new SessionQueries(db).markOldestLost('m1@isp.example', 1),
  },
  {
    what: 'Accounting-On/Off: the sessions of a NAS',
    index: /sessions_open_by_nas|sessions_open\b/,
    run: (db) => closeNasSessions(db, 'nas-1', 1),
  },
  {
    what: 'the stale-session reaper',
    index: /sessions_open\b/,
    run: (db) => reapStaleSessions(db, 1, 60),
  },
];

for (const s of stores) {
  describe(`the open-session indexes are used (${s.name})`, () => {
    let dir: string;
    let store: Store;
    let pool: pg.Pool | undefined;
    let sent: CompiledQuery[];
    let db: Kysely<Database>;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ispkit-session-indexes-'));
      store = await openStore(s.url, dir);
      await store.migrate();
      sent = [];
      const log = (e: { query: CompiledQuery }): void => void sent.push(e.query);
      if (store.sqlite) {
        db = new Kysely<Database>({ dialect: new SqliteDialect({ database: store.sqlite }), log });
      } else {
        // One connection: the session setting below applies to every query.
        pool = new pg.Pool({ connectionString: s.url, max: 1 });
        // Tiny tables: without this PostgreSQL reads them whole whatever the indexes allow.
        pool.on('connect', (c) => void c.query('set enable_seqscan = off'));
        db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
      }
    });
    afterEach(async () => {
      await db.destroy();
      pool = undefined;
      await store.close();
      await s.reset();
      rmSync(dir, { recursive: true, force: true });
    });

    async function plan(q: CompiledQuery): Promise<string> {
      if (store.sqlite) {
        const rows = store.sqlite
          .prepare(`explain query plan ${q.sql}`)
          .all(...(q.parameters as unknown[])) as { detail: string }[];
        return rows.map((r) => r.detail).join('\n');
      }
      const r = await db.executeQuery<{ 'QUERY PLAN': string }>({
        ...q,
        sql: `explain ${q.sql}`,
      });
      return r.rows.map((row) => row['QUERY PLAN']).join('\n');
    }

    for (const c of CASES) {
      it(`${c.what}: ${c.index.source}`, async () => {
        await c.run(db);
        const searches = sent.filter((q) => /\b(from|update) "?sessions"?\s/i.test(q.sql));
        expect(searches.length).toBeGreaterThan(0);
        const first = searches[0] as CompiledQuery;
        expect(await plan(first)).toMatch(c.index);
      });
    }

    // The SQLite recorder's own statement (PostgreSQL's writer uses closeNasSessions, above).
    if (s.name === 'sqlite')
      it('Accounting-On/Off in the SQLite recorder: sessions_open_by_nas', () => {
        const raw = store.sqlite as NonNullable<Store['sqlite']>;
        const prepare = vi.spyOn(raw, 'prepare');
        new SqliteRecorder(raw);
        const texts = prepare.mock.calls.map((c) => c[0]);
        prepare.mockRestore();
        const closeNas = texts.find((t) => t.includes('NAS-Reboot')) as string;
        const rows = raw.prepare(`explain query plan ${closeNas}`).all({ nas: 'nas-1', at: 1 }) as {
          detail: string;
        }[];
        expect(rows.map((r) => r.detail).join('\n')).toMatch(
          /sessions_open_by_nas|sessions_open\b/,
        );
      });
  });
}
