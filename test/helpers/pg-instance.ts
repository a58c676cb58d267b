// A PostgreSQL server of the test's own (initdb in a temp dir, a free port on 127.0.0.1), that
// the test may stop in immediate mode and start again — never the machine's own server.
// PostgreSQL refuses root: when we are root it runs as the postgres OS user.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PG_BIN, freePorts, runAs, startWatchdog, sweep, tail } from './processes.js';

export interface PgInstance {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly dir: string;
  stop(mode: 'immediate' | 'fast'): void;
  start(): void;
  destroy(): void;
}

export function pgInstanceMissing(): string[] {
  return ['initdb', 'pg_ctl', 'postgres'].filter((b) => !existsSync(join(PG_BIN, b)));
}

function run(cmd: string, args: string[], log: string): void {
  const user = runAs();
  const r = spawnSync(join(PG_BIN, cmd), args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: `${PG_BIN}:/usr/bin:/bin`, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
    ...(user ?? {}),
  });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}\n${tail(log)}`);
  }
}

export async function startPgInstance(): Promise<PgInstance> {
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'ispkit-pg-'));
  const user = runAs();
  if (user) chownSync(dir, user.uid, user.gid);
  startWatchdog(dir);
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], log);
  const start = (): void =>
    run(
      'pg_ctl',
      [
        '-D',
        data,
        '-l',
        log,
        '-w',
        '-t',
        '30',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=100`,
        'start',
      ],
      log,
    );
  start();
  return {
    port: port as number,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    stop: (mode) => run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop'], log),
    start,
    destroy: () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '10', 'stop'], log);
      } catch {
        // not running
      }
      sweep(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
