/**
 * What one hand-over between two threads costs on this machine: the main thread posts a message
 * to a worker thread, which answers with one, N times in a row (each thread sleeps in between,
 * as the server's main thread and auth worker do at a moderate rate). Prints, per variant, the
 * wall time and the process's CPU time (both threads, kernel included) per round trip.
 * docs/PERFORMANCE.md explains the cost per request at half rate with it.
 *
 *   node dist-bench/bench/handover.js [ROUND_TRIPS]
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** The process's CPU time (utime + stime, all threads), ms. */
function processCpuMs(): number {
  const fields = (readFileSync('/proc/self/stat', 'utf8').split(') ')[1] ?? '').split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** The worker: answers every message as the auth worker does a batch (or echoes a number). */
const WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  if (typeof m === 'number') return parentPort.postMessage(m);
  const out = new Uint8Array(48);
  out[0] = m.data[0];
  if (m.transfer) parentPort.postMessage({ t: 'done', data: out }, [out.buffer]);
  else parentPort.postMessage({ t: 'done', data: out });
});`;

type Variant = 'number' | 'batch, transferred' | 'batch, copied';

async function measure(variant: Variant, n: number): Promise<{ wallUs: number; cpuUs: number }> {
  const worker = new Worker(WORKER, { eval: true });
  const send = (): void => {
    if (variant === 'number') return worker.postMessage(1);
    // One 140-octet request with the batch header, as aaa/workers.ts packs it.
    const data = new Uint8Array(140);
    const m = { t: 'batch', counter: 1, srcs: ['127.0.0.1:50000'], data, transfer: false };
    if (variant === 'batch, copied') worker.postMessage(m);
    else worker.postMessage({ ...m, transfer: true }, [data.buffer]);
  };
  // Warm up both threads first.
  await new Promise<void>((resolve) => {
    let left = 1000;
    worker.on('message', () => (--left > 0 ? send() : resolve()));
    send();
  });
  worker.removeAllListeners('message');
  const cpu0 = processCpuMs();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let left = n;
    worker.on('message', () => (--left > 0 ? send() : resolve()));
    send();
  });
  const wallUs = ((performance.now() - t0) * 1000) / n;
  const cpuUs = ((processCpuMs() - cpu0) * 1000) / n;
  await worker.terminate();
  return { wallUs, cpuUs };
}

const n = Number(process.argv[2] ?? 30_000);
if (!Number.isInteger(n) || n < 1000 || n > 1_000_000) {
  process.stderr.write('usage: node dist-bench/bench/handover.js [ROUND_TRIPS: 1000–1000000]\n');
  process.exit(2);
}
process.stdout.write(`${n} round trips each, main thread ⇄ worker thread, one message each way\n`);
for (let round = 1; round <= 2; round++)
  for (const v of ['number', 'batch, transferred', 'batch, copied'] as const) {
    const r = await measure(v, n);
    process.stdout.write(
      `round ${round}, ${v}: ${r.wallUs.toFixed(1)} µs a round trip, ${r.cpuUs.toFixed(1)} µs of CPU\n`,
    );
  }
