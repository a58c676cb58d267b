/**
 * The bench's child processes: each in its own process group, all killed at the end (even on a
 * failure or ^C), and their CPU time and memory read from /proc.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const started: ChildProcess[] = [];

/** Starts a process in a new process group; `stopAll` ends it. */
export function launch(
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): ChildProcess {
  const child = spawn(cmd, args, { ...opts, detached: true });
  started.push(child);
  child.on('error', () => undefined); // reported by whoever waits for it
  return child;
}

function alive(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!alive(child) || child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Asks a process group to stop (SIGTERM), then kills it after `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Kills every process group the bench started that is still running (synchronous). */
export function killAll(): void {
  for (const child of started) killGroup(child, 'SIGKILL');
}

/** Stops every process the bench started, politely first. */
export async function stopAll(): Promise<void> {
  await Promise.all(started.map((c) => stop(c, 3_000)));
}

let ticksPerSecond = 0;
function clockTicks(): number {
  if (ticksPerSecond === 0) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim();
    ticksPerSecond = /^\d+$/.test(out) ? Number(out) : 100;
  }
  return ticksPerSecond;
}

/**
 * The fields of a /proc stat file after the command name (which may hold spaces): [0] is field
 * 3 (state), [1] field 4 (ppid), [11] and [12] fields 14 and 15 (utime, stime). Throws when the
 * process is gone.
 */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU time from a /proc stat file, in microseconds; 0 when it is gone. */
function statCpuMicros(path: string): number {
  try {
    const fields = statFields(path);
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1e6) / clockTicks();
  } catch {
    return 0;
  }
}

/** User + system CPU time of a process (all its threads), in microseconds; 0 when it is gone. */
export function cpuMicros(pid: number): number {
  return statCpuMicros(`/proc/${pid}/stat`);
}

/** The same, per thread of the process (by thread id). */
export function threadCpuMicros(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`))
      out.set(Number(tid), statCpuMicros(`/proc/${pid}/task/${tid}/stat`));
  } catch {
    // gone
  }
  return out;
}

/** Busy CPU time of the whole machine (all cores, idle and iowait excluded), in microseconds. */
export function machineBusyMicros(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return ((total - idle) * 1e6) / clockTicks();
}

/** The pids of every process with this command name (e.g. all of PostgreSQL's). */
export function pidsNamed(comm: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The pids of the processes whose parent is `pid` (a server's own child processes). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(`/proc/${entry}/stat`)[1]) === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Resident set size in MB (VmRSS), 0 when the process is gone. */
export function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs a command to completion, failing with its output when it fails. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): string {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    env: opts.env,
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Whether a command is on the PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}
