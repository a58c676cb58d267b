import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQLITE_WRITER_CACHE_KIB } from '../sessions/writer-worker.js';
import { openStore } from './store.js';

describe('the SQLite page cache of a connection', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-sqlite-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cacheSize = async (kib?: number): Promise<unknown> => {
    const store = await openStore('sqlite:ispkit.db', dir, { sqliteCacheKiB: kib });
    try {
      return store.sqlite?.pragma('cache_size', { simple: true });
    } finally {
      await store.close();
    }
  };

  it('is 64 MiB for the server and what the accounting writer asks for on its own', async () => {
    expect(await cacheSize()).toBe(-65_536);
    expect(SQLITE_WRITER_CACHE_KIB).toBeLessThan(65_536);
    expect(await cacheSize(SQLITE_WRITER_CACHE_KIB)).toBe(-SQLITE_WRITER_CACHE_KIB);
  });
});
