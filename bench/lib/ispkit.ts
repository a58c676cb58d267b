/**
 * ispkit for the bench: a data dir filled with the CLI (`nas add`, `subscriber import`), then
 * `ispkit serve` on 127.0.0.1 with ports the kernel picks, read back from its banner.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, run } from './procs.js';

export interface IspkitSetup {
  dataDir: string;
  /** Seconds `subscriber import` took. */
  importSeconds: number;
}

/** Creates a data dir with one NAS (127.0.0.1) and the members; `database` as in ispkit.yaml. */
export function setupIspkit(opts: {
  cli: string;
  dataDir: string;
  database: string | undefined;
  secret: string;
  csvFile: string;
  /** `radius.workers` (default `auto`). */
  workers?: number | 'auto';
}): IspkitSetup {
  const { cli, dataDir } = opts;
  mkdirSync(dataDir, { recursive: true });
  const lines = ['# written by npm run bench'];
  if (opts.database) lines.push(`database: '${opts.database}'`);
  // Access-Requests on worker threads (one per core beyond the first), as recommended.
  lines.push(`radius: { workers: ${opts.workers ?? 'auto'} }`);
  writeFileSync(join(dataDir, 'ispkit.yaml'), `${lines.join('\n')}\n`);
  const base = [cli, '--data', dataDir];
  run('node', [
    ...base,
    'nas',
    'add',
    'bench',
    '--address',
    '127.0.0.1',
    '--secret',
    opts.secret,
    '--require-message-authenticator',
  ]);
  const t0 = process.hrtime.bigint();
  run('node', [...base, 'subscriber', 'import', opts.csvFile], { timeoutMs: 600_000 });
  return { dataDir, importSeconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

export interface RunningIspkit {
  child: ChildProcess;
  pid: number;
  authPort: number;
  acctPort: number;
}

/**
 * Starts `node dist/cli/main.js serve` (its JSON log to `logFile`, as under a service manager),
 * resolving with the ports from its banner (30 s at most). `nodeArgs` such as `--cpu-prof`.
 */
export function startIspkit(opts: {
  cli: string;
  dataDir: string;
  logFile: string;
  nodeArgs?: readonly string[];
  /** Added to this process's environment. */
  env?: Readonly<Record<string, string>>;
}): Promise<RunningIspkit> {
  const log = openSync(opts.logFile, 'a');
  const child = launch(
    'node',
    [
      ...(opts.nodeArgs ?? []),
      opts.cli,
      '--data',
      opts.dataDir,
      'serve',
      '--listen',
      '127.0.0.1',
      '--auth-port',
      '0',
      '--acct-port',
      '0',
      '--http-port',
      '0',
    ],
    { stdio: ['ignore', log, 'pipe'], env: { ...process.env, ...opts.env } },
  );
  closeSync(log);
  let err = '';
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (msg: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${msg}\n--- ispkit stderr ---\n${err.slice(-4000)}`));
    };
    const timer = setTimeout(() => fail('ispkit was not ready within 30 s'), 30_000);
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 1_000_000) err += d.toString();
      const m = /RADIUS: auth 127\.0\.0\.1:(\d+), acct 127\.0\.0\.1:(\d+)/.exec(err);
      if (!done && m && child.pid !== undefined) {
        done = true;
        clearTimeout(timer);
        resolve({ child, pid: child.pid, authPort: Number(m[1]), acctPort: Number(m[2]) });
      }
    });
    child.on('error', (e) => fail(`cannot run ispkit: ${e.message}`));
    child.on('exit', (code) => fail(`ispkit exited with ${code}`));
  });
}
