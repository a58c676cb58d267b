import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LogSink } from './log-stream.js';
import { LogStream } from './log-stream.js';

/** A sink that plays a reader: takes all, part, or refuses (an error code) each write. */
class PlayedSink implements LogSink {
  out = '';
  writes = 0;
  /** What the next writes do, in order; then each takes everything. */
  plan: (number | string)[] = [];
  writeSync(buf: Buffer): number {
    this.writes++;
    const step = this.plan.shift();
    if (typeof step === 'string') throw Object.assign(new Error(step), { code: step });
    const n = Math.min(step ?? buf.length, buf.length);
    this.out += buf.subarray(0, n).toString();
    return n;
  }
}

const line = (i: number): string => `{"n":${i},"msg":"${'x'.repeat(44 - String(i).length)}"}\n`; // all one length
const lines = (from: number, to: number): string =>
  Array.from({ length: to - from }, (_, k) => line(from + k)).join('');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the log stream', () => {
  it('writes a lone line soon (a quiet server), not when a batch is full', async () => {
    const sink = new PlayedSink();
    const s = new LogStream(sink, { flushMs: 20 });
    s.write(line(1));
    expect(sink.writes).toBe(0);
    await sleep(80);
    expect(sink.writes).toBe(1);
    expect(sink.out).toBe(line(1));
    s.end();
  });

  it('writes a full batch at once, in one write', () => {
    const sink = new PlayedSink();
    const s = new LogStream(sink, { flushMs: 10_000, batchChars: 1000 });
    const n = Math.ceil(1000 / line(0).length);
    for (let i = 0; i < n - 1; i++) s.write(line(i));
    expect(sink.writes).toBe(0);
    s.write(line(n - 1));
    expect(sink.writes).toBe(1);
    expect(sink.out).toBe(lines(0, n));
    expect(s.waitingChars).toBe(0);
    s.end();
  });

  it('writes the rest of a partial write at once, in order', () => {
    const sink = new PlayedSink();
    const s = new LogStream(sink, { flushMs: 10_000, batchChars: 100 });
    sink.plan = [37, 11];
    s.write(lines(0, 5));
    expect(sink.writes).toBe(3);
    s.write(lines(5, 10));
    expect(sink.out).toBe(lines(0, 10));
    s.end();
  });

  it('keeps what a full pipe refused (EAGAIN) and writes it first after a while, losing nothing', async () => {
    const sink = new PlayedSink();
    const s = new LogStream(sink, { flushMs: 20, batchChars: 100 });
    sink.plan = [60, 'EAGAIN'];
    s.write(lines(0, 5));
    expect(sink.out).toBe(lines(0, 5).slice(0, 60));
    // While the pipe is full, lines wait even past a batch.
    s.write(lines(5, 10));
    expect(sink.writes).toBe(2);
    await sleep(80);
    expect(sink.out).toBe(lines(0, 10));
    expect(s.lost).toBe(0);
    s.end();
  });

  it('counts the lines a broken reader lost and goes on with the next ones', () => {
    const sink = new PlayedSink();
    const s = new LogStream(sink, { flushMs: 10_000, batchChars: 100 });
    sink.plan = ['EPIPE'];
    s.write(lines(0, 5));
    expect(s.lost).toBe(5);
    s.write(lines(5, 10));
    expect(sink.out).toBe(lines(5, 10));
    s.end();
  });

  it('drops lines beyond its bound while the pipe stays full, then says how many', async () => {
    const sink = new PlayedSink();
    const per = line(0).length;
    const s = new LogStream(sink, {
      flushMs: 20,
      batchChars: 10 * per,
      maxPendingChars: 100 * per,
      now: () => Date.UTC(2026, 11, 7, 8, 0, 0),
    });
    sink.plan = Array<string>(1000).fill('EAGAIN');
    for (let i = 0; i < 10; i++) s.write(line(i));
    // The first batch met a full pipe: 100 lines wait in all, the 160 after them are dropped.
    for (let i = 10; i < 260; i++) s.write(line(i));
    expect(s.droppedLines).toBe(160);
    expect(s.waitingChars).toBe(100 * per);
    sink.plan = [];
    await sleep(80);
    const out = sink.out.split('\n').filter(Boolean);
    expect(out.slice(0, 100)).toEqual(lines(0, 100).split('\n').filter(Boolean));
    expect(out).toHaveLength(101);
    const note = JSON.parse(out[100] ?? '') as Record<string, unknown>;
    expect(note).toMatchObject({
      level: 40,
      time: '2026-12-07T08:00:00.000Z',
      dropped: 160,
      msg: "log lines dropped: the log's reader did not keep up",
    });
    expect(s.droppedLines).toBe(0);
    s.end();
  });

  it('writes what waits on flush, then calls back', async () => {
    const sink = new PlayedSink();
    const s = new LogStream(sink, { flushMs: 10_000 });
    s.write(line(1));
    const flushed = new Promise<void>((r) => s.flush(() => r()));
    expect(sink.out).toBe(line(1));
    await flushed;
    s.end();
  });

  it('shows a logged line on stdout while the process runs, and the rest when it exits', async () => {
    const here = fileURLToPath(new URL('.', import.meta.url));
    const code = `
      const { createLogger } = await import(${JSON.stringify(`${here}logging.ts`)});
      const logger = createLogger('info');
      logger.info({ n: 1 }, 'first');
      process.stdin.once('data', () => {
        for (let i = 2; i <= 1000; i++) logger.info({ n: i }, 'more');
        process.exit(0);
      });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    const deadline = Date.now() + 10_000;
    while (!out.includes('"first"') && Date.now() < deadline) await sleep(20);
    // The first line is there while the process still runs (it waits for its input).
    if (!out.includes('"first"')) child.kill();
    expect(child.exitCode).toBeNull();
    expect(out).toContain('"msg":"first"');
    child.stdin.write('go\n');
    const code2 = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    await sleep(50);
    expect(code2).toBe(0);
    const got = out
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { n: number }).n);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });
});
