import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accountingRecord } from '../../test/helpers/accounting-records.js';
import type { AccountingEvent } from './event.js';
import { AccountingSpool } from './spool.js';

function ev(i: number): AccountingEvent {
  return accountingRecord('interim', 'collecte', `s${i}`, `m${i}@R`, 1_700_000_000_000 + i, {
    uniqueId: `u${i}`,
    bytesIn: i,
    bytesOut: 2 * i,
    sessionTime: i,
    circuitId: 'é-line 7',
    interimInterval: 60,
  });
}

describe('the accounting spool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps records in order on disk, and reads them back from any offset', async () => {
    const spool = await AccountingSpool.open(dir);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => spool.append(ev(i), 5000 + i)));
    expect(spool.stats()).toMatchObject({ segments: 1, pending: 1000, oldestAt: 5000 });
    const seg = spool.list()[0];
    if (!seg) throw new Error('no segment');
    const first = await spool.read(seg, 0, 300);
    expect(first.records.map((r) => r.ev.uniqueId)).toEqual(
      Array.from({ length: 300 }, (_, i) => `u${i}`),
    );
    expect(first.records[7]?.ev).toEqual(ev(7));
    const rest = await spool.read(seg, first.ends.at(-1) as number, 10_000);
    expect(rest.records).toHaveLength(700);
    expect(rest.records[0]?.ev.uniqueId).toBe('u300');
    spool.markReplayed(seg, 300, rest.records[0]?.t);
    expect(spool.stats()).toMatchObject({ pending: 700, oldestAt: 5300 });
    await spool.close();
  });

  it('finds what an earlier run left, cutting a torn last line that was never acknowledged', async () => {
    const a = await AccountingSpool.open(dir);
    for (let i = 0; i < 5; i++) await a.append(ev(i));
    await a.close();
    const file = join(dir, readdirSync(dir).find((n) => n.endsWith('.spool')) as string);
    const good = readFileSync(file).length;
    appendFileSync(file, '{"t":1,"ev":{"status":"sto'); // killed mid-write
    const b = await AccountingSpool.open(dir);
    expect(b.stats().pending).toBe(5);
    expect(readFileSync(file).length).toBe(good);
    // New records go to a new segment, replayed after the old one.
    await b.append(ev(5));
    expect(b.list().map((s) => s.records)).toEqual([5, 1]);
    const all = await b.read(b.list()[0] as never, 0, 100);
    expect(all.records.map((r) => r.ev.uniqueId)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
    await b.close();
  });

  it('sets aside a file that is not a spool segment instead of replaying it', async () => {
    appendFileSync(join(dir, 'acct-000000000000001-0a.spool'), 'garbage\n');
    const spool = await AccountingSpool.open(dir);
    expect(spool.list()).toHaveLength(0);
    expect(readdirSync(dir)).toContain('acct-000000000000001-0a.spool.bad');
  });

  it('removes a replayed segment; the next record starts a new one', async () => {
    const spool = await AccountingSpool.open(dir);
    await spool.append(ev(1));
    const seg = spool.list()[0];
    if (!seg) throw new Error('no segment');
    await spool.remove(seg);
    expect(readdirSync(dir).filter((n) => n.endsWith('.spool'))).toHaveLength(0);
    await spool.append(ev(2));
    expect(spool.list()).toHaveLength(1);
    expect(spool.list()[0]?.id).not.toBe(seg.id);
    await spool.close();
  });
});
