import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Stall } from '../../bench/lib/stall-monitor.js';
import { startStallMonitor, summarizeStalls } from '../../bench/lib/stall-monitor.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs `block` once the monitor ticks, waits for the ticks after it, returns the stalls logged. */
async function stallsAround(block: () => void): Promise<Stall[]> {
  const dir = mkdtempSync(join(tmpdir(), 'stalls-'));
  dirs.push(dir);
  const file = join(dir, 'stalls.jsonl');
  const stop = startStallMonitor({ file, thresholdMs: 20 });
  await new Promise((r) => setTimeout(r, 30));
  block();
  await new Promise((r) => setTimeout(r, 30));
  stop();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no stall logged
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Stall);
}

const onLinux = process.platform === 'linux';

describe('the bench stall monitor', () => {
  it('logs a stall spent computing as time on a CPU', async () => {
    const stalls = await stallsAround(() => {
      const until = performance.now() + 60;
      let x = 0;
      while (performance.now() < until) x += Math.sqrt(x + 1);
      expect(x).toBeGreaterThan(0);
    });
    const long = stalls.filter((s) => s.ms >= 55);
    expect(long).toHaveLength(1);
    expect(long[0]?.thread).toBe('main');
    if (onLinux) expect(long[0]?.cpuMs).toBeGreaterThanOrEqual(40);
  });

  it('logs a stall spent asleep as neither on a CPU nor waiting for one', async () => {
    const stalls = await stallsAround(() => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60);
    });
    const long = stalls.filter((s) => s.ms >= 55);
    expect(long).toHaveLength(1);
    if (onLinux) {
      expect(long[0]?.cpuMs).toBeLessThan(20);
      expect(long[0]?.runqueueMs).toBeLessThan(20);
    }
  });

  it('sums stalls per thread from a given time on', () => {
    const line = (s: Stall): string => JSON.stringify(s);
    const text = [
      line({ thread: 'main', at: 900, ms: 50, cpuMs: 40, runqueueMs: 5 }),
      line({ thread: 'main', at: 1000, ms: 10, cpuMs: 4, runqueueMs: 6 }),
      line({ thread: 'auth worker 2', at: 1001, ms: 30, cpuMs: 10, runqueueMs: 19 }),
      line({ thread: 'main', at: 1200, ms: 12, cpuMs: null, runqueueMs: null }),
      '',
    ].join('\n');
    const sum = summarizeStalls(text, 1000);
    expect([...sum.keys()]).toEqual(['main', 'auth worker 2']);
    expect(sum.get('main')).toEqual({ count: 2, ms: 22, maxMs: 12, cpuMs: 4, runqueueMs: 6 });
    expect(sum.get('auth worker 2')).toEqual({
      count: 1,
      ms: 30,
      maxMs: 30,
      cpuMs: 10,
      runqueueMs: 19,
    });
  });
});
