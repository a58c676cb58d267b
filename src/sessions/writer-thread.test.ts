import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/store.js';
import { accountingRecord } from '../../test/helpers/accounting-records.js';
import type { AccountingEvent } from './event.js';
import { WriterThread } from './writer-thread.js';
import { writerWorkerScript } from './writer-worker.js';

function start(i: number): AccountingEvent {
  return accountingRecord('start', 'n', `S${i}`, `m${i}@R`, 1_700_000_000_000);
}

describe('the accounting writer thread', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-writer-thread-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('commits in its own thread and answers each record', async () => {
    const store = await openStore('sqlite:ispkit.db', dir);
    await store.migrate();
    const writer = await WriterThread.start({
      ...writerWorkerScript(),
      workerData: {
        ispkitWriterWorker: true,
        url: 'sqlite:ispkit.db',
        dataDir: dir,
        store: {},
        apply: {},
      },
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) => writer.write(start(i))),
      );
      expect(results.every((r) => r === 'committed')).toBe(true);
      expect(writer.committed).toBe(300);
      await writer.flush();
      const n = await store.db
        .selectFrom('sessions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(n.n)).toBe(300);
    } finally {
      await writer.close();
      await store.close();
    }
  }, 30_000);

  it('answers `unavailable` for what it had, and for what comes after, when the thread dies', async () => {
    const exits: string[] = [];
    const writer = await WriterThread.start({
      // A thread that says it is ready, takes records and dies without answering.
      script: `const { parentPort } = require('node:worker_threads');
        parentPort.postMessage({ t: 'ready' });
        parentPort.on('message', (m) => { if (m.t === 'write') process.exit(3); });`,
      eval: true,
      workerData: {},
      onExit: (why) => exits.push(why),
    });
    const pending = writer.write(start(1));
    expect(await pending).toBe('unavailable');
    expect(await writer.write(start(2))).toBe('unavailable');
    expect(exits).toEqual(['exited with code 3']);
    await writer.close();
  });

  it('refuses to start when the thread cannot open its store', async () => {
    await expect(
      WriterThread.start({
        ...writerWorkerScript(),
        workerData: {
          ispkitWriterWorker: true,
          url: 'mysql://nope',
          dataDir: dir,
          store: {},
          apply: {},
        },
      }),
    ).rejects.toThrow(/accounting writer thread: database URL must be/);
  });
});
