// How the store reaches PostgreSQL: libpq-style multi-host URLs (a dead host is skipped, the
// server must match target_session_attrs), a fast failure with backoff while nothing answers,
// and a read replica DSN used for reports only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/store.js';
import { freePorts } from '../helpers/processes.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { POSTGRES_URL, testStores } from '../helpers/stores.js';

const pgStore = (await testStores()).find((s) => s.name === 'postgres');
const dir = mkdtempSync(join(tmpdir(), 'ispkit-conn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The test database's URL with other hosts in front (and the schema of this file). */
async function withHosts(hosts: string[], attrs: string): Promise<string> {
  const u = new URL(pgStore?.url ?? POSTGRES_URL);
  const rest = `${u.pathname}?${u.searchParams.toString()}&target_session_attrs=${attrs}`;
  return `postgres://${u.username}@${[...hosts, u.host].join(',')}${rest}`;
}

describe.skipIf(!pgStore)('reaching PostgreSQL', () => {
  it('skips a host that does not answer and uses the next one', async () => {
    const [dead] = await freePorts(1);
    const store = await openStore(await withHosts([`127.0.0.1:${dead}`], 'read-write'), dir);
    try {
      await store.migrate();
      expect(store.health()).toMatchObject({ state: 'up' });
      expect(store.health().endpoint).not.toBe(`127.0.0.1:${dead}`);
    } finally {
      await store.close();
    }
  });

  it('refuses a server that does not match target_session_attrs, saying why', async () => {
    await expect(openStore(await withHosts([], 'standby'), dir)).rejects.toThrow(
      /a primary, not standby/,
    );
  });

  it('fails fast while nothing answers, then connects when the server is back', async () => {
    const target = new URL(POSTGRES_URL);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const u = new URL(pgStore?.url ?? POSTGRES_URL);
    u.host = `127.0.0.1:${proxy.port}`;
    const store = await openStore(u.toString(), dir, { maxBackoffMs: 400, connectTimeoutMs: 1000 });
    try {
      proxy.down();
      await expect(store.ping()).rejects.toThrow(); // the connection is cut
      await expect(store.ping()).rejects.toThrow(/no usable PostgreSQL server/); // a round fails
      // While waiting for the next attempt, a request fails at once (no connect timeout).
      const t = Date.now();
      await expect(store.ping()).rejects.toThrow(/unavailable/);
      expect(Date.now() - t).toBeLessThan(100);
      expect(store.health()).toMatchObject({ state: 'down' });
      proxy.up();
      const until = Date.now() + 5000;
      let ok = false;
      while (!ok && Date.now() < until) {
        ok = await store.ping().then(
          () => true,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 50));
      }
      expect(ok).toBe(true);
      expect(store.health()).toMatchObject({ state: 'up' });
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('sends reports to the replica DSN and everything else to the primary', async () => {
    const target = new URL(POSTGRES_URL);
    const replica = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const r = new URL(pgStore?.url ?? POSTGRES_URL);
    r.host = `127.0.0.1:${replica.port}`;
    const store = await openStore(pgStore?.url ?? '', dir, { replicaUrl: r.toString() });
    try {
      await sql`select 1`.execute(store.db);
      expect(replica.connections).toBe(0);
      await sql`select 1`.execute(store.reader);
      expect(replica.connections).toBeGreaterThan(0);
    } finally {
      await store.close();
      await replica.close();
    }
  });
});
