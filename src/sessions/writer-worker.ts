/**
 * The accounting writer thread's own side (see writer-thread.ts): opens the store, runs an
 * AccountingWriter, and answers each record's result in batches.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { StoreOptions } from '../store/store.js';
import { openStore } from '../store/store.js';
import { PREPARE_STATEMENTS } from './pg-recorder.js';
import { EVENT_SLOTS, unpackEvent } from './event.js';
import type { ApplyOptions } from './recorder.js';
import type { FromWriter, ToWriter } from './writer-thread.js';
import type { WriteResult } from './writer.js';
import { AccountingWriter } from './writer.js';

/**
 * The writer's SQLite page cache, in KiB: SQLite's default size, not the server's 64 MiB. A
 * b-tree balance gives a page the number of the pending-byte page (1 GiB) for a moment
 * (balance_nonroot sorting its new pages with sqlite3PagerRekey), and the commit after it then
 * walks every slot of the page cache's hash table (pcache1TruncateUnsafe), whose size follows
 * the pages cached: with 64 MiB that walk was 12 % of the writer thread's time in `perf record`
 * (10,000 members, accounting at ~20,000 records/s, ~25 per commit), more than the cache saved.
 * The pages a batch misses come from the operating system's cache. Measured in
 * docs/PERFORMANCE.md.
 */
export const SQLITE_WRITER_CACHE_KIB = 2048;

export interface WriterWorkerData {
  ispkitWriterWorker: true;
  url: string;
  dataDir: string;
  store: StoreOptions;
  apply: ApplyOptions;
}

/** The worker's script, for the compiled code and for tsx (tests, `npm run ispkit`). */
export function writerWorkerScript(): { script: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith('.ts'))
    return { script: new URL('./writer-worker.js', import.meta.url), eval: false };
  const source = JSON.stringify(new URL('./writer-worker.ts', import.meta.url).href);
  return {
    script: `import('tsx/esm/api').then((t) => { t.register(); return import(${source}); });`,
    eval: true,
  };
}

function isWriterData(d: unknown): d is WriterWorkerData {
  return typeof d === 'object' && d !== null && (d as WriterWorkerData).ispkitWriterWorker;
}

if (!isMainThread && parentPort && isWriterData(workerData)) {
  const port = parentPort;
  const data = workerData;
  const post = (m: FromWriter): void => port.postMessage(m);
  try {
    // Its own connection, without change notifications (nothing here caches).
    const store = await openStore(data.url, data.dataDir, {
      ...data.store,
      changes: 'poll',
      pollIntervalMs: 3_600_000,
      poolSize: 2,
      pgSessionSetup: PREPARE_STATEMENTS,
      sqliteCacheKiB: SQLITE_WRITER_CACHE_KIB,
    });
    const writer = new AccountingWriter(store.db, {
      apply: data.apply,
      sqlite: store.sqlite,
      onError: (err, records) => post({ t: 'error', message: (err as Error).message, records }),
    });
    let ids: number[] = [];
    let results: WriteResult[] = [];
    let scheduled = false;
    const flushResults = (): void => {
      scheduled = false;
      post({ t: 'done', ids, results });
      ids = [];
      results = [];
    };
    port.on('message', (m: ToWriter) => {
      if (m.t === 'write') {
        for (let k = 0; k < m.ids.length; k++) {
          const id = m.ids[k] as number;
          void writer.write(unpackEvent(m.slots, k * EVENT_SLOTS)).then((r) => {
            ids.push(id);
            results.push(r);
            if (!scheduled) {
              scheduled = true;
              setImmediate(flushResults);
            }
          });
        }
      } else if (m.t === 'flush') {
        void writer.flush().then(() => setImmediate(() => post({ t: 'flushed', seq: m.seq })));
      } else if (m.t === 'stop') {
        void writer
          .flush()
          .then(() => store.close())
          .then(() => setImmediate(() => post({ t: 'stopped' })));
      }
    });
    post({ t: 'ready' });
  } catch (e) {
    post({ t: 'failed', message: (e as Error).message });
  }
}
