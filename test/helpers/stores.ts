// The stores integration tests run on: SQLite always, PostgreSQL when one is reachable. Each
// test file gets its own PostgreSQL schema (through `options=-c search_path=…` in the URL,
// which node-postgres sends as a startup parameter), dropped when the file is done.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, it } from 'vitest';

export interface TestStore {
  readonly name: 'sqlite' | 'postgres';
  /**
   * A database URL for openStore or the config file. SQLite's is relative to the data dir, so
   * each test's own temporary dir gives it a fresh database; PostgreSQL's names this file's schema.
   */
  readonly url: string;
  /** Empties the store between tests (PostgreSQL: drops and re-creates the schema). */
  reset(): Promise<void>;
}

/** Where PostgreSQL is expected; ISPKIT_TEST_POSTGRES_URL points elsewhere. */
export const POSTGRES_URL =
  process.env.ISPKIT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const sqlite: TestStore = {
  name: 'sqlite',
  url: 'sqlite:ispkit.db',
  reset: () => Promise.resolve(),
};

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * Call at the top level of a test file (it registers the file's afterAll). When PostgreSQL is
 * unreachable its tests are skipped under a suite that says why; under CI=true that is a
 * failure instead, so a broken CI service cannot pass silently.
 */
export async function testStores(): Promise<TestStore[]> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  try {
    await adminQuery(`CREATE SCHEMA ${schema}`);
  } catch (e) {
    const why = `PostgreSQL at ${POSTGRES_URL} is not reachable (${(e as Error).message})`;
    if (process.env.CI === 'true') throw new Error(`${why}; under CI=true this is a failure`);
    process.stderr.write(`skipping the PostgreSQL tests: ${why}\n`);
    describe.skip(`PostgreSQL: skipped, ${why}`, () => {
      it('runs the same tests on PostgreSQL', () => undefined);
    });
    return [sqlite];
  }
  afterAll(() => adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const postgres: TestStore = {
    name: 'postgres',
    url: url.toString(),
    reset: () => adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`),
  };
  return [sqlite, postgres];
}
