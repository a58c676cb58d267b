/**
 * What one hand-over between two threads costs on this machine: the main thread posts a message
 * to a worker thread, which answers with one, N times in a row (each thread sleeps in between,
 * as the server's main thread and auth worker do at a moderate rate). Prints, per variant, the
 * wall time and the process's CPU time (both threads, kernel included) per round trip.
 * docs/PERFORMANCE.md explains the cost per request at half rate with it.
 *
 *   node dist-bench/bench/handover.js [ROUND_TRIPS]
 */
import { Worker } from 'node:worker_threads';
import { cpuMicros } from './lib/procs.js';

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

/** Sends one message of `variant` to `worker`. */
function send(worker: Worker, variant: Variant): void {
  if (variant === 'number') return worker.postMessage(1);
  // One 140-octet request with the batch header, as aaa/workers.ts packs it.
  const data = new Uint8Array(140);
  const transfer = variant === 'batch, transferred';
  const m = { t: 'batch', counter: 1, srcs: ['127.0.0.1:50000'], data, transfer };
  if (transfer) worker.postMessage(m, [data.buffer]);
  else worker.postMessage(m);
}

/** `n` round trips, each message sent when the previous answer is in. */
function roundTrips(worker: Worker, variant: Variant, n: number): Promise<void> {
  return new Promise((resolve) => {
    let left = n;
    const answered = (): void => {
      if (--left > 0) return send(worker, variant);
      worker.off('message', answered);
      resolve();
    };
    worker.on('message', answered);
    send(worker, variant);
  });
}

async function measure(variant: Variant, n: number): Promise<{ wallUs: number; cpuUs: number }> {
  const worker = new Worker(WORKER, { eval: true });
  await roundTrips(worker, variant, 1000); // both threads warmed up first
  const cpu0 = cpuMicros(process.pid);
  const t0 = performance.now();
  await roundTrips(worker, variant, n);
  const wallUs = ((performance.now() - t0) * 1000) / n;
  const cpuUs = (cpuMicros(process.pid) - cpu0) / n;
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
