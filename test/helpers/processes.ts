// Child processes for the interop tests: free ports, running as the postgres OS user when we
// are root (PostgreSQL and PgBouncer refuse root), bounded waits with log tails, and a watchdog
// that kills whatever still runs from a temp dir once the test process is gone.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const HOST = '127.0.0.1';

/** Free ports on loopback, all held open together so they are distinct. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, HOST, resolve);
      });
      const addr = s.address();
      if (addr === null || typeof addr === 'string') throw new Error('no port');
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** uid/gid to run as: postgres's when we are root (PostgreSQL refuses root), else our own. */
export function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('no postgres user in /etc/passwd');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The last lines of a log file, for error messages. */
export function tail(path: string, lines = 25): string {
  try {
    const all = readFileSync(path, 'utf8').trimEnd().split('\n');
    return `--- ${path} (last ${Math.min(lines, all.length)} lines) ---\n${all.slice(-lines).join('\n')}`;
  } catch (e) {
    return `--- ${path}: ${(e as Error).message}`;
  }
}

/** Polls `probe` until it returns a value; throws with `explain()` when `timeoutMs` is over. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  explain: () => string,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (true) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}\n${explain()}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** Sends `sig` to a process or its group; false when there is none. */
export function signal(pid: number | undefined, sig: NodeJS.Signals, group: boolean): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(group ? -pid : pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process runs (a zombie does not: in a container nobody may reap it). */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Resolves when all these children have exited, or after `ms`. */
export async function exited(children: ChildProcess[], ms: number): Promise<void> {
  const gone = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;
  await Promise.race([
    Promise.all(children.map((c) => (gone(c) ? undefined : new Promise((r) => c.once('exit', r))))),
    sleep(ms),
  ]);
}

/** SIGKILLs every process whose command line names `dir` (as the watchdog below does). */
export function sweep(dir: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) {
        signal(Number(entry), 'SIGKILL', false);
      }
    } catch {
      // gone meanwhile
    }
  }
}

// Runs detached, outside the test's process tree: when the test process is gone (ended, crashed
// or SIGKILLed), kills every process whose command line names the temp dir (etcd, Patroni,
// postmasters: -D DIR/…) with its process group, and removes the dir. DIR comes through the
// environment so that this shell's own command line does not match.
const WATCHDOG = `
while kill -0 "$PARENT" 2>/dev/null; do sleep 1; done
for round in 1 2 3; do
  for p in /proc/[0-9]*; do
    pid=\${p#/proc/}
    [ "$pid" = "$$" ] && continue
    if grep -qzF -- "$DIR" "$p/cmdline" 2>/dev/null; then
      kill -KILL -- "-$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
    fi
  done
  sleep 0.5
done
for try in 1 2 3 4 5; do rm -rf -- "$DIR" 2>/dev/null && break; sleep 1; done
`;

/** Starts the watchdog for `dir` (detached: it outlives a SIGKILLed test process). */
export function startWatchdog(dir: string): ChildProcess {
  const watchdog = spawn('sh', ['-c', WATCHDOG], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DIR: dir, PARENT: String(process.pid) },
  });
  watchdog.unref();
  return watchdog;
}
