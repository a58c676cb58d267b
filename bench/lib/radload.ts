/**
 * bench/load/radload.c, the bench's load generator: how it is built, and the JSON line it
 * prints (one per run). Shared by the bench (bench/run.ts) and radload's own test.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
