/**
 * Event-loop stalls of every thread of a server under load, and why each one stalled: running
 * (its own work, its garbage collector) or waiting for a CPU (the scheduler ran something else).
 * docs/PERFORMANCE.md explains the latency tail with it.
 *
 * Loaded with `node --import …/stall-monitor.js` (worker threads run the same `--import`), it
 * does nothing unless ISPKIT_STALL_LOG names a file. Each thread then runs a 1 ms timer; when
 * the gap between two ticks exceeds ISPKIT_STALL_MS (default 8), it appends one JSON line:
 * the thread, when, how long, and how much of that the thread was on a CPU and how much it
 * waited in the run queue (Linux's /proc/thread-self/schedstat; without it those two are null).
 * The timer costs each thread about a thousand wake-ups a second: compare runs that both
 * have it.
 *
 *   node dist-bench/bench/ab-load.js --stalls DIST DATA_DIR MODE SECONDS [RATE]
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { isMainThread, threadId, workerData } from 'node:worker_threads';

/** One stall, as written to the log (one JSON object per line). */
export interface Stall {
  /** `main`, `auth worker N`, `accounting writer N` or `thread N` (N: the threadId). */
  thread: string;
  /** When the stall ended, ms since the epoch. */
  at: number;
  /** Time between the two ticks around it, ms. */
  ms: number;
  /** Of which on a CPU, ms (null: no schedstat). */
  cpuMs: number | null;
  /** Of which runnable but waiting for a CPU, ms (null: no schedstat). */
  runqueueMs: number | null;
}

/** A thread's stalls summed: how many, their total and longest, and the two shares, ms. */
export interface StallSum {
  count: number;
  ms: number;
  maxMs: number;
  cpuMs: number;
  runqueueMs: number;
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** Nanoseconds on a CPU and waiting in the run queue, for the calling thread; null off Linux. */
function schedstat(): [number, number] | null {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return [Number(run), Number(wait)];
  } catch {
    return null;
  }
}

/** What an ispkit worker thread is, from its workerData (serve-worker.ts, writer-worker.ts). */
function threadKind(): string {
  const d: unknown = workerData;
  if (typeof d !== 'object' || d === null) return 'thread';
  if ('ispkitAuthWorker' in d) return 'auth worker';
  if ('ispkitWriterWorker' in d) return 'accounting writer';
  return 'thread';
}

/** Starts watching this thread's event loop; returns a function that stops it. */
export function startStallMonitor(opts: { file: string; thresholdMs?: number }): () => void {
  const threshold = opts.thresholdMs ?? 8;
  const thread = isMainThread ? 'main' : `${threadKind()} ${threadId}`;
  let last = performance.now();
  let lastStat = schedstat();
  const timer = setInterval(() => {
    const now = performance.now();
    const stat = schedstat();
    const gap = now - last;
    if (gap > threshold) {
      const stall: Stall = {
        thread,
        at: Math.round(performance.timeOrigin + now),
        ms: round(gap),
        cpuMs: stat && lastStat ? round((stat[0] - lastStat[0]) / 1e6) : null,
        runqueueMs: stat && lastStat ? round((stat[1] - lastStat[1]) / 1e6) : null,
      };
      appendFileSync(opts.file, `${JSON.stringify(stall)}\n`);
    }
    last = now;
    lastStat = stat;
  }, 1);
  timer.unref();
  return () => clearInterval(timer);
}

/** Per thread: how many stalls ended at or after `since` (ms since the epoch), and their sums. */
export function summarizeStalls(text: string, since: number): Map<string, StallSum> {
  const out = new Map<string, StallSum>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const s = JSON.parse(line) as Stall;
    if (s.at < since) continue;
    const t = out.get(s.thread) ?? { count: 0, ms: 0, maxMs: 0, cpuMs: 0, runqueueMs: 0 };
    t.count++;
    t.ms += s.ms;
    t.maxMs = Math.max(t.maxMs, s.ms);
    t.cpuMs += s.cpuMs ?? 0;
    t.runqueueMs += s.runqueueMs ?? 0;
    out.set(s.thread, t);
  }
  return out;
}

const file = process.env.ISPKIT_STALL_LOG;
if (file) {
  const threshold = Number(process.env.ISPKIT_STALL_MS ?? 8);
  startStallMonitor({ file, thresholdMs: Number.isFinite(threshold) ? threshold : 8 });
}
