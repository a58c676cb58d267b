// A Patroni cluster on loopback for the interop tests (issue 5): one etcd (v3 API) and N
// Patroni nodes, each with its own PostgreSQL 15, all on free high ports of 127.0.0.1, in one
// temp dir. PostgreSQL refuses to run as root, so when we are root everything runs as the
// `postgres` OS user. Nothing here touches the machine's own PostgreSQL or Debian's services.
//
// Patroni starts each postmaster in a session of its own (so that PostgreSQL survives a Patroni
// crash), and PostgreSQL's children each call setsid too: killing Patroni's process group does
// not stop PostgreSQL. Hence stop() shuts the postmasters down by their pid files, an exit
// handler does the same, and a watchdog process sweeps whatever still runs from the temp dir
// once the test process is gone, however it died (SIGKILL included).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { stringify } from 'yaml';
import { describe, it } from 'vitest';
import {
  PG_BIN,
  exited,
  freePorts,
  running,
  runAs,
  signal,
  startWatchdog,
  sweep,
  tail,
  waitFor,
} from './processes.js';
export { PG_BIN, tail } from './processes.js';
const HOST = '127.0.0.1';

export interface PatroniMember {
  readonly name: string;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  /** Patroni's REST API, e.g. http://127.0.0.1:PORT */
  readonly apiUrl: string;
}

export interface SwitchoverResult {
  readonly from: string;
  readonly to: string;
  /** From the switchover request until the new primary committed a write. */
  readonly ms: number;
  /** From the switchover request until the old primary streamed again from the new one. */
  readonly rejoinMs: number;
}

export interface PatroniCluster {
  /** One URL per node, in member order (pg0, pg1, …). */
  readonly urls: string[];
  /** libpq multi-host URL of all nodes with target_session_attrs=read-write. */
  readonly multiHostUrl: string;
  readonly members: readonly PatroniMember[];
  /** Milliseconds from the call until a leader and streaming replicas. */
  readonly startMs: number;
  /** Milliseconds from the call until etcd answered, and until Patroni reported a leader. */
  readonly startPhases: { readonly etcdMs: number; readonly leaderMs: number };
  readonly dir: string;
  /** The leader's member name, as Patroni's REST API reports it. */
  leader(): Promise<string>;
  urlOf(member: string): string;
  /**
   * Switches over from the current leader to a streaming replica (Patroni's POST /switchover)
   * and resolves once the new primary accepts writes and the old one streams from it.
   */
  switchover(opts?: { timeoutMs?: number }): Promise<SwitchoverResult>;
  stop(): Promise<void>;
}

const NEEDED = [
  '/usr/bin/patroni',
  '/usr/bin/etcd',
  ...['postgres', 'initdb', 'pg_ctl', 'pg_basebackup'].map((b) => join(PG_BIN, b)),
];

/** The binaries this helper needs that are absent. */
export function patroniMissing(): string[] {
  return NEEDED.filter((p) => !existsSync(p));
}

export function patroniAvailable(): boolean {
  return patroniMissing().length === 0;
}

/**
 * Call at the top level of a test file: true when the cluster can run. Otherwise registers a
 * skipped suite saying why, or, under CI=true, a failing test: a CI without the Debian packages
 * must not pass silently (the rule of test/helpers/stores.ts).
 */
export function patroniGate(suite: string): boolean {
  const missing = patroniMissing();
  if (missing.length === 0) return true;
  const why = `${missing.join(', ')} missing: run scripts/install-interop-deps.sh`;
  if (process.env.CI === 'true') {
    describe(suite, () => {
      it('needs patroni, etcd-server and postgresql-15 under CI=true', () => {
        throw new Error(why);
      });
    });
  } else {
    process.stderr.write(`skipping ${suite}: ${why}\n`);
    describe.skip(`${suite}: skipped, ${why}`, () => {
      it('runs against a Patroni cluster', () => undefined);
    });
  }
  return false;
}

async function query<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 2000,
    query_timeout: 3000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Assigns a transaction id, which only a primary can: null (not an error) on a standby. */
const WRITE_PROBE =
  'SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE txid_current()::text END AS x';

interface ClusterJson {
  members: { name: string; role: string; state: string; timeline?: number }[];
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch((e: Error) => {
    // undici's "fetch failed" hides the reason (ECONNREFUSED…) in `cause`.
    throw new Error(`GET ${url}: ${e.cause instanceof Error ? e.cause.message : e.message}`);
  });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export async function startPatroniCluster(
  opts: { nodes?: number; timeoutMs?: number } = {},
): Promise<PatroniCluster> {
  const t0 = performance.now();
  const nodes = opts.nodes ?? 2;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const remaining = (): number => Math.max(0, deadline - Date.now());
  const missing = patroniMissing();
  if (missing.length > 0) throw new Error(`cannot start Patroni: missing ${missing.join(', ')}`);

  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'ispkit-patroni-'));
  const scope = `ispkit-${dir.slice(-6).toLowerCase()}`;
  const owned = (path: string): string => {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    if (user) chownSync(path, user.uid, user.gid);
    return path;
  };
  owned(dir);

  const watchdog = startWatchdog(dir);

  const children: ChildProcess[] = [];
  const env = {
    PATH: `${PG_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`,
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    HOME: dir,
  };
  const launch = (name: string, cmd: string, args: string[], log: string): ChildProcess => {
    const fd = openSync(log, 'a', 0o644);
    if (user) chownSync(log, user.uid, user.gid);
    // detached: a process group of its own, so that one kill reaches its helpers too.
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env,
      cwd: dir,
      ...(user ?? {}),
    });
    closeSync(fd);
    child.on('error', (e) => writeFileSync(log, `spawn ${name}: ${e.message}\n`, { flag: 'a' }));
    children.push(child);
    return child;
  };

  const dataDirs: string[] = [];
  /** Running postmasters: their pid files, checked against /proc (a pid may be reused). */
  const postmasters = (): number[] =>
    dataDirs.flatMap((d) => {
      try {
        const pid = Number(readFileSync(join(d, 'postmaster.pid'), 'utf8').split('\n')[0]);
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(d) ? [pid] : [];
      } catch {
        return [];
      }
    });
  /**
   * Synchronous, for process exit: Patroni first so that it restarts nothing; a postmaster
   * told SIGQUIT (immediate shutdown) ends its children itself, even after we are gone.
   */
  const killAll = (): void => {
    for (const c of children) signal(c.pid, 'SIGKILL', true);
    for (const pid of postmasters()) signal(pid, 'SIGQUIT', false);
  };
  const onExit = (): void => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const [etcd, ...patronis] = children;
    for (const c of patronis) signal(c.pid, 'SIGKILL', true);
    await exited(patronis, 5000);
    const pms = postmasters();
    for (const pid of pms) signal(pid, 'SIGQUIT', false);
    const until = Date.now() + 10_000;
    while (pms.some(running) && Date.now() < until) await sleep(50);
    for (const pid of pms) signal(pid, 'SIGKILL', false);
    signal(etcd?.pid, 'SIGKILL', true);
    await exited(children, 5000);
    sweep(dir); // e.g. a postmaster started as we killed its Patroni, before its pid file
    signal(watchdog.pid, 'SIGKILL', false);
    process.off('exit', onExit);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  };

  try {
    const ports = await freePorts(2 + 2 * nodes);
    const [etcdClient, etcdPeer] = ports as [number, number];
    const etcdLog = join(dir, 'etcd.log');
    const etcdUrl = `http://${HOST}:${etcdClient}`;
    launch(
      'etcd',
      '/usr/bin/etcd',
      [
        '--name=etcd0',
        `--data-dir=${owned(join(dir, 'etcd'))}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://${HOST}:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://${HOST}:${etcdPeer}`,
        `--initial-cluster=etcd0=http://${HOST}:${etcdPeer}`,
        `--initial-cluster-token=${scope}`,
        '--initial-cluster-state=new',
      ],
      etcdLog,
    );
    await waitFor(
      `etcd on ${etcdUrl}`,
      remaining(),
      async () =>
        (await getJson<{ health: string }>(`${etcdUrl}/health`)).health === 'true'
          ? true
          : undefined,
      () => tail(etcdLog),
    );

    const etcdMs = performance.now() - t0;
    let leaderMs: number | undefined;

    const members: (PatroniMember & { log: string; pgPort: number })[] = [];
    for (let i = 0; i < nodes; i++) {
      const name = `pg${i}`;
      const pgPort = ports[2 + 2 * i] as number;
      const apiPort = ports[3 + 2 * i] as number;
      const nodeDir = owned(join(dir, name));
      const dataDir = join(nodeDir, 'data');
      dataDirs.push(dataDir);
      const config = {
        scope,
        namespace: '/ispkit-test/',
        name,
        log: { level: 'INFO' },
        restapi: { listen: `${HOST}:${apiPort}`, connect_address: `${HOST}:${apiPort}` },
        // Patroni's etcd3 client speaks etcd's v3 JSON gateway: no --enable-v2 needed.
        etcd3: { hosts: [`${HOST}:${etcdClient}`] },
        bootstrap: {
          // Short timings so that a switchover and failure detection take seconds.
          // Patroni wants ttl >= loop_wait + 2 * retry_timeout.
          dcs: {
            ttl: 10,
            loop_wait: 1,
            retry_timeout: 3,
            maximum_lag_on_failover: 1048576,
            postgresql: {
              use_pg_rewind: true,
              use_slots: true,
              parameters: {
                max_connections: 100,
                max_wal_senders: 10,
                max_replication_slots: 10,
                wal_keep_size: '64MB',
                hot_standby: 'on',
              },
            },
          },
          // A throw-away cluster: initdb need not fsync.
          initdb: [{ encoding: 'UTF8' }, { locale: 'C.UTF-8' }, 'no-sync'],
        },
        postgresql: {
          listen: `${HOST}:${pgPort}`,
          connect_address: `${HOST}:${pgPort}`,
          data_dir: dataDir,
          bin_dir: PG_BIN,
          pgpass: join(nodeDir, 'pgpass'),
          // A fast checkpoint on the primary instead of a spread one: the replica is cloned in
          // a second less.
          basebackup: [{ checkpoint: 'fast' }],
          authentication: {
            superuser: { username: 'postgres', password: 'postgres' },
            replication: { username: 'replicator', password: 'replicator' },
            rewind: { username: 'rewinder', password: 'rewinder' },
          },
          // A test cluster on loopback only: trust, so that any client connects without a password.
          pg_hba: [
            'local all all trust',
            `host all all ${HOST}/32 trust`,
            `host replication all ${HOST}/32 trust`,
          ],
          parameters: {
            unix_socket_directories: nodeDir,
            shared_buffers: '32MB',
          },
        },
      };
      const configPath = join(nodeDir, 'patroni.yml');
      writeFileSync(configPath, stringify(config));
      if (user) chownSync(configPath, user.uid, user.gid);
      const log = join(nodeDir, 'patroni.log');
      launch(name, '/usr/bin/patroni', [configPath], log);
      members.push({
        name,
        url: `postgres://postgres@${HOST}:${pgPort}/postgres`,
        apiUrl: `http://${HOST}:${apiPort}`,
        log,
        pgPort,
      });
    }

    const logs = (): string => [...members.map((m) => tail(m.log)), tail(etcdLog, 10)].join('\n');
    const byName = (name: string): (typeof members)[number] => {
      const m = members.find((x) => x.name === name);
      if (!m) throw new Error(`no member ${name}`);
      return m;
    };

    /** /cluster from the first node that answers. */
    const clusterJson = async (): Promise<ClusterJson> => {
      let err: unknown;
      for (const m of members) {
        try {
          return await getJson<ClusterJson>(`${m.apiUrl}/cluster`);
        } catch (e) {
          err = e;
        }
      }
      throw err instanceof Error ? err : new Error('no Patroni REST API answers');
    };
    const currentLeader = async (): Promise<string | undefined> =>
      (await clusterJson()).members.find((m) => m.role === 'leader' && m.state === 'running')?.name;
    const leader = async (): Promise<string> => {
      const name = await currentLeader();
      if (name === undefined) throw new Error(`the cluster has no running leader\n${logs()}`);
      return name;
    };
    /** Names of the members streaming from `primary`, per its pg_stat_replication. */
    const streaming = async (primary: string): Promise<string[]> =>
      (
        await query<{ application_name: string }>(
          byName(primary).url,
          "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'",
        )
      ).map((r) => r.application_name);
    /** The leader, once it accepts writes and every other member streams from it. */
    const healthy = async (): Promise<string | undefined> => {
      const { members: seen } = await clusterJson();
      const name = seen.find((m) => m.role === 'leader' && m.state === 'running')?.name;
      if (name === undefined) return undefined;
      leaderMs ??= performance.now() - t0;
      // Patroni must see its replicas as up too ('streaming' from Patroni 3.0.4 on, 'running'
      // before), or it refuses a switchover; pg_stat_replication alone is ahead of it.
      const up = (n: string): boolean =>
        seen.some((m) => m.name === n && (m.state === 'running' || m.state === 'streaming'));
      if (!members.every((m) => up(m.name))) return undefined;
      const [row] = await query<{ x: string | null }>(byName(name).url, WRITE_PROBE);
      if (row?.x == null) return undefined;
      const s = await streaming(name);
      return members.every((m) => m.name === name || s.includes(m.name)) ? name : undefined;
    };

    await waitFor(
      `a leader and ${nodes - 1} streaming replica(s)`,
      remaining(),
      healthy,
      logs,
      200,
    );

    const switchover = async (o: { timeoutMs?: number } = {}): Promise<SwitchoverResult> => {
      const limit = o.timeoutMs ?? 30_000;
      const from = await leader();
      const candidates = await streaming(from);
      const to = members.find((m) => candidates.includes(m.name))?.name;
      if (to === undefined) throw new Error(`no streaming replica to switch over to\n${logs()}`);
      const started = performance.now();
      // Patroni answers once it sees the new leader in the DCS, polling once a second: measure
      // on PostgreSQL itself, concurrently.
      const request = fetch(`${byName(from).apiUrl}/switchover`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ leader: from, candidate: to }),
        signal: AbortSignal.timeout(limit),
      }).then(async (res) => {
        const body = await res.text();
        if (res.status !== 200) throw new Error(`POST /switchover: HTTP ${res.status}: ${body}`);
        return body;
      });
      request.catch(() => undefined);
      await waitFor(
        `${to} to accept writes after a switchover from ${from}`,
        limit,
        async () => {
          const [row] = await query<{ x: string | null }>(byName(to).url, WRITE_PROBE);
          return row?.x ?? undefined;
        },
        logs,
        50,
      );
      const ms = performance.now() - started;
      const answer = await request.catch((e: Error) => {
        throw new Error(`${e.message}\n${logs()}`);
      });
      if (!answer.includes(to)) throw new Error(`unexpected switchover answer: ${answer}`);
      await waitFor(
        `${from} to stream from ${to}`,
        Math.max(0, limit - (performance.now() - started)),
        async () =>
          (await currentLeader()) === to && (await streaming(to)).includes(from) ? true : undefined,
        logs,
        100,
      );
      return { from, to, ms, rejoinMs: performance.now() - started };
    };

    const urls = members.map((m) => m.url);
    return {
      urls,
      multiHostUrl: `postgres://postgres@${members.map((m) => `${HOST}:${m.pgPort}`).join(',')}/postgres?target_session_attrs=read-write`,
      members: members.map(({ name, url, apiUrl }) => ({ name, url, apiUrl })),
      startMs: performance.now() - t0,
      startPhases: { etcdMs, leaderMs: leaderMs ?? Number.NaN },
      dir,
      leader,
      urlOf: (name) => byName(name).url,
      switchover,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
