/**
 * bench/load/radload.c, the bench's load generator: how it is built, and the JSON line it
 * prints (one per run). Shared by the bench (bench/run.ts) and radload's own test.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PASS_FMT, SECRET, USER_FMT } from './members.js';
import { launch, stop } from './procs.js';

/**
 * The C source, found upwards from this module: it runs from bench/lib (tsx, the tests) and
 * from dist-bench/bench/lib (the compiled bench).
 */
function radloadSource(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const source = join(dir, 'bench/load/radload.c');
    if (existsSync(source)) return source;
    if (dirname(dir) === dir) throw new Error('bench/load/radload.c not found above bench/lib');
  }
}

/** The C compiler's arguments that build radload into `out` (it needs libcrypto). */
export function radloadCcArgs(out: string): string[] {
  return ['-O2', '-Wall', '-Wno-deprecated-declarations', '-o', out, radloadSource(), '-lcrypto'];
}

/** radload's result line. */
export interface RadloadResult {
  server: string;
  mode: string;
  window: number;
  duration_s: number;
  sent: number;
  ok: number;
  rejects: number;
  bad: number;
  timeouts: number;
  late: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  /** The offered rate under open load (0: closed loop, the window kept full). */
  rate: number;
  /** Requests that left over 1 ms after their scheduled time (open load). */
  behind: number;
  /** Open load: requests a full window held back past their time (the server's slowness). */
  window_waits: number;
  /** Open load: the generator's own lateness, scheduled time → sent, the others (ms). */
  lag_p50_ms: number;
  lag_p99_ms: number;
  /** Open load: actual send → reply (ms), the server's share without the generator's lag. */
  reply_p50_ms: number;
  reply_p99_ms: number;
  gen_cpu_pct: number;
}

/** One run of radload against a server of the bench's members (see radload.c's usage). */
export interface RadloadRun {
  mode: string;
  port: number;
  duration: number;
  /** Every run its own, so that no Acct-Session-Id of an earlier run is met again. */
  sessionPrefix: string;
  users?: number;
  window?: number;
  server?: string;
  /** Stop after this many requests (acct-start). */
  count?: number;
  /** Open load at this many requests per second (absent: closed load). */
  rate?: number;
}

/** Runs radload (built at `binary`) and returns its result line; fails with its output. */
export async function runRadload(binary: string, r: RadloadRun): Promise<RadloadResult> {
  const args = [
    '--mode',
    r.mode,
    '--port',
    String(r.port),
    '--secret',
    SECRET,
    '--user-fmt',
    USER_FMT,
    '--pass-fmt',
    PASS_FMT,
    '--duration',
    String(r.duration),
    '--timeout-ms',
    '2000',
    '--session-prefix',
    r.sessionPrefix,
  ];
  if (r.users !== undefined) args.push('--users', String(r.users));
  if (r.window !== undefined) args.push('--window', String(r.window));
  if (r.server !== undefined) args.push('--server', r.server);
  if (r.count !== undefined) args.push('--count', String(r.count));
  if (r.rate !== undefined) args.push('--rate', String(r.rate));
  const child = launch(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const guard = setTimeout(() => void stop(child, 1_000), (r.duration + 15) * 1000);
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  clearTimeout(guard);
  if (code !== 0) throw new Error(`radload exited with ${code}: ${err}${out}`);
  return JSON.parse(out.trim()) as RadloadResult;
}
