// Debian's PgBouncer in transaction pooling mode, of the test's own, in front of a PostgreSQL
// database: a free port on 127.0.0.1, trust auth, a temp dir. PgBouncer refuses root: when we
// are root it runs as the postgres OS user.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, runAs, startWatchdog, sweep, tail, waitFor } from './processes.js';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface PgBouncer {
  readonly port: number;
  /** A URL through PgBouncer to the database alias `ispkit`. */
  readonly url: string;
  stop(): Promise<void>;
}

export function pgbouncerAvailable(): boolean {
  return existsSync(PGBOUNCER);
}

export async function startPgBouncer(target: {
  host: string;
  port: number;
  dbname: string;
  poolSize?: number;
}): Promise<PgBouncer> {
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'ispkit-pgbouncer-'));
  const user = runAs();
  if (user) chownSync(dir, user.uid, user.gid);
  startWatchdog(dir);
  const log = join(dir, 'pgbouncer.log');
  writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `ispkit = host=${target.host} port=${target.port} dbname=${target.dbname} user=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${target.poolSize ?? 6}`,
      'max_client_conn = 400',
      `logfile = ${log}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  for (const f of ['users.txt', 'pgbouncer.ini']) {
    if (user) chownSync(join(dir, f), user.uid, user.gid);
  }
  const out = openSync(join(dir, 'stdout.log'), 'a');
  const child: ChildProcess = spawn(PGBOUNCER, [join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', out, out],
    detached: true,
    ...(user ?? {}),
  });
  closeSync(out);
  await waitFor(
    `PgBouncer on 127.0.0.1:${port}`,
    15_000,
    () =>
      new Promise<true | undefined>((resolve) => {
        const s = connect(port as number, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(undefined));
      }),
    () => `${tail(log)}\n${tail(join(dir, 'stdout.log'))}`,
  );
  return {
    port: port as number,
    url: `postgres://postgres@127.0.0.1:${port}/ispkit`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      sweep(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
