import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LogSink } from './log-stream.js';
import { LogStream } from './log-stream.js';

type Done = (err: NodeJS.ErrnoException | null, written: number) => void;

/** A sink that answers each write when the test says so, and keeps what it was given. */
class HeldSink implements LogSink {
  calls: { buf: Buffer; done: Done }[] = [];
  out = '';
  write(buf: Buffer, done: Done): void {
    this.calls.push({ buf, done });
  }
  writeSync(buf: Buffer): number {
    this.out += buf.toString();
    return buf.length;
  }
  /** Completes the oldest write, taking `take` bytes of it (all by default). */
  complete(take?: number): void {
    const call = this.calls.shift();
    if (!call) throw new Error('no write in flight');
    const n = take ?? call.buf.length;
    this.out += call.buf.subarray(0, n).toString();
    call.done(null, n);
  }
  fail(code: string): void {
    const call = this.calls.shift();
    if (!call) throw new Error('no write in flight');
    call.done(Object.assign(new Error(code), { code }), 0);
  }
}

const line = (i: number): string => `{"n":${i},"msg":"${'x'.repeat(44 - String(i).length)}"}\n`; // all one length
const lines = (from: number, to: number): string =>
  Array.from({ length: to - from }, (_, k) => line(from + k)).join('');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the log stream', () => {
  it('writes a lone line soon (a quiet server), not when a batch is full', async () => {
    const sink = new HeldSink();
    const s = new LogStream(sink, { flushMs: 20 });
    s.write(line(1));
    expect(sink.calls).toHaveLength(0);
    await sleep(80);
    expect(sink.calls).toHaveLength(1);
    sink.complete();
    expect(sink.out).toBe(line(1));
    s.end();
  });

  it('writes at once when a batch is full, and a backlog whole in the next write', () => {
    const sink = new HeldSink();
    const s = new LogStream(sink, { flushMs: 10_000, batchChars: 1000 });
    const n = Math.ceil(1000 / line(0).length);
    for (let i = 0; i < n; i++) s.write(line(i));
    expect(sink.calls).toHaveLength(1);
    // While that write is in flight, fifty batches' worth arrive: one write takes them all.
    for (let i = n; i < 51 * n; i++) s.write(line(i));
    expect(sink.calls).toHaveLength(1);
    sink.complete();
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]?.buf.length).toBe(lines(n, 51 * n).length);
    sink.complete();
    expect(sink.out).toBe(lines(0, 51 * n));
    expect(s.waitingChars).toBe(0);
    s.end();
  });

  it('writes the rest of a partial write first, in order', () => {
    const sink = new HeldSink();
    const s = new LogStream(sink, { flushMs: 10_000, batchChars: 100 });
    s.write(lines(0, 5));
    s.write(lines(5, 10));
    sink.complete(37);
    // The rest and the lines that waited go together, the rest first.
    expect(sink.calls).toHaveLength(1);
    sink.complete();
    expect(sink.out).toBe(lines(0, 10));
    s.end();
  });

  it('retries a write the reader refused (EAGAIN) after a while, losing nothing', async () => {
    const sink = new HeldSink();
    const s = new LogStream(sink, { flushMs: 20, batchChars: 100 });
    s.write(lines(0, 5));
    sink.fail('EAGAIN');
    expect(sink.calls).toHaveLength(0);
    s.write(line(5));
    await sleep(80);
    expect(sink.calls).toHaveLength(1);
    sink.complete();
    expect(sink.out).toBe(lines(0, 6));
    expect(s.lost).toBe(0);
    s.end();
  });

  it('counts the lines a broken reader lost and goes on with the next ones', async () => {
    const sink = new HeldSink();
    const s = new LogStream(sink, { flushMs: 10, batchChars: 100 });
    s.write(lines(0, 5));
    sink.fail('EPIPE');
    expect(s.lost).toBe(5);
    s.write(line(5));
    await sleep(60);
    sink.complete();
    expect(sink.out).toBe(line(5));
    s.end();
  });

  it('drops lines beyond its bound while the reader is stuck, then says how many', () => {
    const sink = new HeldSink();
    const per = line(0).length;
    const s = new LogStream(sink, {
      flushMs: 10_000,
      batchChars: 10 * per,
      maxPendingChars: 100 * per,
      now: () => Date.UTC(2026, 11, 7, 8, 0, 0),
    });
    for (let i = 0; i < 10; i++) s.write(line(i));
    expect(sink.calls).toHaveLength(1);
    // Stuck: 100 lines fit, the 150 after them are dropped.
    for (let i = 10; i < 260; i++) s.write(line(i));
    expect(s.droppedLines).toBe(150);
    expect(s.waitingChars).toBe(100 * per);
    sink.complete();
    sink.complete();
    const out = sink.out.split('\n').filter(Boolean);
    expect(out.slice(0, 110)).toEqual(lines(0, 110).split('\n').filter(Boolean));
    expect(out).toHaveLength(111);
    const note = JSON.parse(out[110] ?? '') as Record<string, unknown>;
    expect(note).toMatchObject({
      level: 40,
      time: '2026-12-07T08:00:00.000Z',
      dropped: 150,
      msg: "log lines dropped: the log's reader did not keep up",
    });
    expect(s.droppedLines).toBe(0);
    s.end();
  });

  it('calls flush back once what waited was written', async () => {
    const sink = new HeldSink();
    const s = new LogStream(sink, { flushMs: 10_000 });
    s.write(line(1));
    let flushed = false;
    s.flush(() => (flushed = true));
    expect(sink.calls).toHaveLength(1);
    await sleep(5);
    expect(flushed).toBe(false);
    sink.complete();
    expect(flushed).toBe(true);
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
