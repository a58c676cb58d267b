/**
 * `npm run bench`: ispkit against Debian's FreeRADIUS 3.2 on this machine, in the same run
 * (issue 7). Sets up N members in ispkit (SQLite, and PostgreSQL when reachable) and in
 * FreeRADIUS (`files` + `detail`, and rlm_sql on PostgreSQL), then runs bench/load/radload
 * (a C load generator built here) against each server in turn, A B A B, per mode, and prints
 * rps, latency, server CPU per request, RSS and the ratio ispkit/FreeRADIUS.
 *
 *   npm run bench -- [--members 10000] [--duration 6] [--rounds 2] [--window 64]
 *                    [--modes pap,chap,mschapv2,acct] [--no-postgres] [--profile]  (profiles the first mode)
 *                    [--workers auto|N]   (ispkit's radius.workers: auth threads, 0 = none)
 *                    [--ispkit-node-args '--v8-pool-size=1']  (node options for ispkit serve)
 *                    [--latency-share 0.5]  (open-load latency at this share of the slower
 *                                            server's rate, offered to both; 0: skip)
 *                    [--keep]  (keep the work dir and the PostgreSQL schemas, for A/B runs by hand)
 *
 * Every process it starts is in its own process group and is killed at the end, even on a
 * failure or ^C. Traffic goes to 127.0.0.1 only.
 */
import { createSocket } from 'node:dgram';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { FreeradiusStore } from './lib/freeradius.js';
import { replyPairs, startFreeradius, writeFreeradiusConfig } from './lib/freeradius.js';
import { setupIspkit, startIspkit } from './lib/ispkit.js';
import { members as makeMembers, membersCsv, SECRET } from './lib/members.js';
import type { Member } from './lib/members.js';
import {
  cpuMicros,
  have,
  machineBusyMicros,
  killAll,
  pidsNamed,
  rssMb,
  run,
  stop,
  stopAll,
} from './lib/procs.js';
import { topSelfTime } from './lib/profile.js';
import type { RadloadResult } from './lib/radload.js';
import { radloadCcArgs, runRadload } from './lib/radload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const OUT = join(ROOT, 'bench/out');
const RADLOAD = join(OUT, 'radload');
const PG_URL = process.env.ISPKIT_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

type Mode = 'pap' | 'chap' | 'mschapv2' | 'acct';
const MODES: readonly Mode[] = ['pap', 'chap', 'mschapv2', 'acct'];

const { values: flags } = parseArgs({
  options: {
    members: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    window: { type: 'string', default: '64' },
    modes: { type: 'string', default: MODES.join(',') },
    'pg-modes': { type: 'string', default: 'pap,acct' },
    'no-postgres': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    workers: { type: 'string', default: 'auto' },
    // V8's GC helper threads compete with the server's two threads and the generator on a
    // 2-core machine: one helper is what docs/PERFORMANCE.md recommends there.
    'ispkit-node-args': { type: 'string', default: '--v8-pool-size=1' },
    // Latency under open load at this share of the slower server's rate (0: not measured).
    'latency-share': { type: 'string', default: '0.5' },
  },
  strict: true,
});

function intFlag(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be an integer in ${min}–${max}, got '${value}'`);
  return n;
}

function modesFlag(name: string, value: string | undefined): Mode[] {
  const list = (value ?? '').split(',').filter(Boolean);
  for (const m of list)
    if (!(MODES as readonly string[]).includes(m)) throw new Error(`--${name}: unknown mode ${m}`);
  return list as Mode[];
}

const N = intFlag('members', flags.members, 1, 999_999);
const DURATION = intFlag('duration', flags.duration, 1, 120);
const ROUNDS = intFlag('rounds', flags.rounds, 1, 10);
const WINDOW = intFlag('window', flags.window, 1, 200);
const RUN_MODES = modesFlag('modes', flags.modes);
const WORKERS = flags.workers === 'auto' ? 'auto' : intFlag('workers', flags.workers, 0, 16);
const ISPKIT_NODE_ARGS = (flags['ispkit-node-args'] ?? '').split(' ').filter(Boolean);
const PG_MODES = modesFlag('pg-modes', flags['pg-modes']).filter((m) => RUN_MODES.includes(m));
/** Open-load latency: this share of the slower server's measured rate, offered to both. */
const LATENCY_SHARE = Number(flags['latency-share']);
if (!(LATENCY_SHARE >= 0 && LATENCY_SHARE <= 1))
  throw new Error(`--latency-share must be in [0, 1], got '${flags['latency-share']}'`);
const LATENCY_SECONDS = Math.max(2, Math.ceil(DURATION / 2));

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ---- dependencies ----

/** apt-get install, as root or with sudo -n; false when that is not possible. */
function aptInstall(packages: readonly string[]): boolean {
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  if (sudo.length > 0 && !have('sudo')) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    const [cmd = 'apt-get', ...pre] = [...sudo, 'apt-get'];
    run(cmd, [...pre, 'update', '-qq'], { env, timeoutMs: 300_000 });
    run(cmd, [...pre, 'install', '-y', '-qq', '--no-install-recommends', ...packages], {
      env,
      timeoutMs: 600_000,
    });
    return true;
  } catch (e) {
    log(`apt-get install ${packages.join(' ')} failed: ${(e as Error).message.slice(0, 500)}`);
    return false;
  }
}

function ensureFreeradius(): void {
  if (have('freeradius') && existsSync('/etc/freeradius/3.0/radiusd.conf')) return;
  log('FreeRADIUS is missing: installing it (scripts/install-interop-deps.sh)');
  run('bash', [join(ROOT, 'scripts/install-interop-deps.sh')], { timeoutMs: 900_000 });
}

function buildRadload(): void {
  mkdirSync(OUT, { recursive: true });
  const build = (): void => {
    run('cc', radloadCcArgs(RADLOAD));
  };
  try {
    build();
  } catch (e) {
    if (!existsSync('/usr/include/openssl/md5.h') && aptInstall(['libssl-dev'])) build();
    else throw e;
  }
}

function pgReachable(): boolean {
  if (flags['no-postgres'] || !have('psql')) return false;
  try {
    run('psql', [PG_URL, '-Atc', 'select 1'], { timeoutMs: 5_000 });
    return true;
  } catch {
    return false;
  }
}

function rlmSqlPostgresAvailable(): boolean {
  const has = (): boolean =>
    readdirSync('/usr/lib/freeradius').some((f) => f === 'rlm_sql_postgresql.so');
  if (existsSync('/usr/lib/freeradius') && has()) return true;
  log('rlm_sql_postgresql is missing: installing freeradius-postgresql');
  return aptInstall(['freeradius-postgresql']) && has();
}

function psql(sql: string, input?: string): string {
  return run('psql', [PG_URL, '-v', 'ON_ERROR_STOP=1', '-Atq', '-c', sql], {
    input,
    timeoutMs: 300_000,
  });
}

/** Fills radcheck/radreply (FreeRADIUS's stock schema) in `schema` with the members. */
function setupRlmSql(schema: string, list: readonly Member[]): void {
  const schemaSql = '/etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql';
  run(
    'psql',
    [PG_URL, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `SET search_path TO ${schema}`, '-f', schemaSql],
    {
      timeoutMs: 60_000,
    },
  );
  const check = list.map((m) => `${m.username}\tCleartext-Password\t:=\t${m.password}`).join('\n');
  psql(`COPY ${schema}.radcheck (username, attribute, op, value) FROM STDIN`, `${check}\n`);
  const reply = list
    .flatMap((m) => replyPairs(m).map(([k, v]) => `${m.username}\t${k}\t=\t${v}`))
    .join('\n');
  psql(`COPY ${schema}.radreply (username, attribute, op, value) FROM STDIN`, `${reply}\n`);
  psql(`ANALYZE ${schema}.radcheck; ANALYZE ${schema}.radreply`);
}

/** Two free UDP ports on 127.0.0.1 (free now; FreeRADIUS binds them a moment later). */
async function freePorts(): Promise<[number, number]> {
  const probe = async (): Promise<number> => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  };
  const a = await probe();
  let b = await probe();
  while (b === a) b = await probe();
  return [a, b];
}

// ---- measuring ----

interface Target {
  server: 'ispkit' | 'FreeRADIUS';
  store: 'SQLite' | 'PostgreSQL' | 'files/detail' | 'rlm_sql';
  pid: number;
  authPort: number;
  acctPort: number;
  /** Count PostgreSQL's processes' CPU as the server's too. */
  withPostgres: boolean;
}

/** Latency under open load: both servers offered the same rate. */
interface LatencyRow {
  server: string;
  store: string;
  mode: Mode;
  rate: number;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  behind: number;
  /** Held back by a full window; the generator's own lateness p99; p99 from the send (ms). */
  windowWaits: number;
  lagP99: number;
  replyP99: number;
  timeouts: number;
}

interface Measured extends RadloadResult {
  store: string;
  round: number;
  /** Server CPU (PostgreSQL's included for the PostgreSQL stores), µs per answered request. */
  cpu_us_per_req: number;
  /** Cores the server used on average during the run. */
  server_cores: number;
  /** Cores used by everything else on the machine (not the server, not radload): noise. */
  other_cores: number;
  rss_mb: number;
}

function cpuSnapshot(t: Target): Map<number, number> {
  const m = new Map<number, number>([[t.pid, cpuMicros(t.pid)]]);
  if (t.withPostgres) for (const pid of pidsNamed('postgres')) m.set(pid, cpuMicros(pid));
  return m;
}

function cpuSince(t: Target, before: Map<number, number>): number {
  let total = 0;
  for (const [pid, after] of cpuSnapshot(t)) total += Math.max(0, after - (before.get(pid) ?? 0));
  return total;
}

let sessionRun = 0;

/** Runs radload against a target; `count` limits the number of requests (acct-start). */
async function load(
  t: Target,
  mode: Mode | 'acct-start',
  seconds: number,
  count?: number,
  rate?: number,
): Promise<RadloadResult> {
  const acct = mode === 'acct' || mode === 'acct-start';
  return runRadload(RADLOAD, {
    mode,
    port: acct ? t.acctPort : t.authPort,
    duration: seconds,
    sessionPrefix: `b${process.pid.toString(36)}r${(sessionRun++).toString(36)}`,
    users: N,
    window: WINDOW,
    server: `${t.server}/${t.store}`,
    count,
    rate,
  });
}

async function measure(t: Target, mode: Mode, seconds: number, round: number): Promise<Measured> {
  const before = cpuSnapshot(t);
  const busy0 = machineBusyMicros();
  const t0 = process.hrtime.bigint();
  const r = await load(t, mode, seconds);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSince(t, before);
  const busy = machineBusyMicros() - busy0;
  const genCpu = (r.gen_cpu_pct / 100) * wall * 1e6;
  const answered = r.ok + r.rejects;
  const m: Measured = {
    ...r,
    store: t.store,
    round,
    cpu_us_per_req: answered > 0 ? cpu / answered : 0,
    server_cores: cpu / 1e6 / wall,
    other_cores: Math.max(0, busy - cpu - genCpu) / 1e6 / wall,
    rss_mb: rssMb(t.pid),
  };
  log(
    `${t.server}/${t.store} ${mode} round ${round}: ${r.rps} rps, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ` +
      `${m.cpu_us_per_req.toFixed(1)} µs CPU/req (${m.server_cores.toFixed(2)} cores), ` +
      `RSS ${m.rss_mb.toFixed(0)} MB, gen ${r.gen_cpu_pct}% CPU, others ${m.other_cores.toFixed(2)} cores, bad ${r.bad}, timeouts ${r.timeouts}`,
  );
  return m;
}

interface Row {
  server: string;
  store: string;
  mode: Mode;
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number;
  cores: number;
  rss: number;
  gen: number;
  other: number;
  bad: number;
  timeouts: number;
  rounds: number;
  /** rps of each round, in round order (the ratio table pairs them). */
  roundRps: number[];
}

function summarise(list: readonly Measured[], server: string, store: string, mode: Mode): Row {
  const mine = list.filter((m) => m.server === `${server}/${store}` && m.mode === mode);
  const mean = (f: (m: Measured) => number): number =>
    mine.reduce((s, m) => s + f(m), 0) / Math.max(1, mine.length);
  return {
    server,
    store,
    mode,
    rps: mean((m) => m.rps),
    p50: mean((m) => m.p50_ms),
    p99: Math.max(...mine.map((m) => m.p99_ms)),
    cpuUs: mean((m) => m.cpu_us_per_req),
    cores: mean((m) => m.server_cores),
    rss: Math.max(...mine.map((m) => m.rss_mb)),
    gen: Math.max(...mine.map((m) => m.gen_cpu_pct)),
    other: mean((m) => m.other_cores),
    bad: mine.reduce((s, m) => s + m.bad, 0),
    timeouts: mine.reduce((s, m) => s + m.timeouts, 0),
    rounds: mine.length,
    roundRps: [...mine].sort((x, y) => x.round - y.round).map((m) => m.rps),
  };
}

/**
 * The ratio a / b of each round pair (round i of one server against round i of the other:
 * the machine's speed moves within a run, and the rounds alternate A B A B).
 */
function roundRatios(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (y > 0) out.push(x / y);
  }
  return out;
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(rows: readonly Row[]): string {
  const lines = [
    '| server | store | mode | rps | p50 ms | p99 ms | server CPU µs/req | server cores | RSS MB | generator CPU | other load, cores | bad / timeouts |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.server} | ${r.store} | ${r.mode} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ` +
        `${fmt(r.cpuUs, 1)} | ${fmt(r.cores, 2)} | ${fmt(r.rss)} | ${fmt(r.gen)} %${r.gen > 60 ? ' (bound?)' : ''} | ${fmt(r.other, 2)} | ${r.bad} / ${r.timeouts} |`,
    );
  return lines.join('\n');
}

/** Latency at the same offered rate for both servers of a pair. */
async function latencyAt(t: Target, mode: Mode, rate: number): Promise<LatencyRow> {
  const r = await load(t, mode, LATENCY_SECONDS, undefined, rate);
  log(
    `${t.server}/${t.store} ${mode} at ${rate} rps offered: ${r.rps} rps, p50 ${r.p50_ms} ms, ` +
      `p99 ${r.p99_ms} ms, p99.9 ${r.p999_ms} ms, behind ${r.behind} (held by the window ` +
      `${r.window_waits}, generator lag p99 ${r.lag_p99_ms} ms), ` +
      `reply p99 from the send ${r.reply_p99_ms} ms, timeouts ${r.timeouts}`,
  );
  return {
    server: t.server,
    store: t.store,
    mode,
    rate,
    rps: r.rps,
    p50: r.p50_ms,
    p99: r.p99_ms,
    p999: r.p999_ms,
    behind: r.behind,
    windowWaits: r.window_waits,
    lagP99: r.lag_p99_ms,
    replyP99: r.reply_p99_ms,
    timeouts: r.timeouts,
  };
}

function latencyTable(rows: readonly LatencyRow[]): string {
  const lines = [
    '| server | store | mode | offered rps | answered rps | p50 ms | p99 ms | p99.9 ms | sent > 1 ms late | held by a full window | generator lag p99 ms | p99 from the send ms | timeouts |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.server} | ${r.store} | ${r.mode} | ${fmt(r.rate)} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ` +
        `${fmt(r.p99, 2)} | ${fmt(r.p999, 2)} | ${fmt(r.behind)} | ${fmt(r.windowWaits)} | ` +
        `${fmt(r.lagP99, 2)} | ` +
        `${fmt(r.replyP99, 2)} | ${r.timeouts} |`,
    );
  return lines.join('\n');
}

function ratios(rows: readonly Row[], pairs: readonly [string, string][]): string {
  const lines = [
    '| mode | ispkit store vs FreeRADIUS store | rps ratio (ispkit/FreeRADIUS) | per round | CPU per request ratio (FreeRADIUS/ispkit) |',
    '| --- | --- | ---: | ---: | ---: |',
  ];
  for (const [ispStore, frStore] of pairs)
    for (const mode of MODES) {
      const a = rows.find((r) => r.server === 'ispkit' && r.store === ispStore && r.mode === mode);
      const b = rows.find(
        (r) => r.server === 'FreeRADIUS' && r.store === frStore && r.mode === mode,
      );
      if (!a || !b) continue;
      const perRound = roundRatios(a.roundRps, b.roundRps)
        .map((x) => `${fmt(x, 2)}×`)
        .join(', ');
      lines.push(
        `| ${mode} | ${ispStore} vs ${frStore} | ${fmt(a.rps / b.rps, 2)}× | ${perRound} | ${fmt(b.cpuUs / a.cpuUs, 2)}× |`,
      );
    }
  return lines.join('\n');
}

/** Issue 7's "done when" targets, each met or missed by how much. */
function targetCheck(rows: readonly Row[], latency: readonly LatencyRow[]): string {
  const get = (store: string, server: string, mode: Mode): Row | undefined =>
    rows.find((r) => r.server === server && r.store === store && r.mode === mode);
  const lines: string[] = [];
  const ratio = (label: string, a: Row | undefined, b: Row | undefined, want: number): void => {
    if (!a || !b) {
      lines.push(`- ${label} ≥ ${want}×: not measured in this run`);
      return;
    }
    const got = a.rps / b.rps;
    lines.push(
      `- ${label} ≥ ${want}×: ${fmt(got, 2)}× — ${got >= want ? 'met' : `MISSED (${fmt((100 * (want - got)) / want)} % short; ispkit needs ${fmt(want * b.rps)} rps, has ${fmt(a.rps)})`}`,
    );
  };
  for (const mode of ['pap', 'chap'] as const)
    ratio(
      `ispkit/SQLite vs FreeRADIUS/files, ${mode}`,
      get('SQLite', 'ispkit', mode),
      get('files/detail', 'FreeRADIUS', mode),
      1,
    );
  ratio(
    'ispkit/PostgreSQL vs FreeRADIUS/rlm_sql, pap',
    get('PostgreSQL', 'ispkit', 'pap'),
    get('rlm_sql', 'FreeRADIUS', 'pap'),
    5,
  );
  ratio(
    'ispkit/PostgreSQL vs FreeRADIUS/rlm_sql, durable accounting',
    get('PostgreSQL', 'ispkit', 'acct'),
    get('rlm_sql', 'FreeRADIUS', 'acct'),
    3,
  );
  ratio(
    'ispkit/SQLite durable accounting vs FreeRADIUS detail (not fsync-ed)',
    get('SQLite', 'ispkit', 'acct'),
    get('files/detail', 'FreeRADIUS', 'acct'),
    1,
  );
  const p99 = (label: string, list: readonly { server: string; p99: number }[]): void => {
    const mine = list.filter((r) => r.server === 'ispkit');
    if (mine.length === 0) return;
    const slow = mine.filter((r) => r.p99 >= 5);
    const verdict =
      slow.length === 0
        ? `met in every row (worst ${fmt(Math.max(...mine.map((r) => r.p99)), 2)} ms)`
        : `MISSED in ${slow.length} of ${mine.length} rows (worst ${fmt(Math.max(...slow.map((r) => r.p99)), 1)} ms)`;
    // FreeRADIUS's rows at the same load, in the same run: what the machine allowed a server.
    const theirs = list.filter((r) => r.server === 'FreeRADIUS');
    const reference =
      theirs.length === 0
        ? ''
        : `; FreeRADIUS in the same rows: under 5 ms in ${theirs.filter((r) => r.p99 < 5).length} of ${theirs.length}`;
    lines.push(`- ispkit p99 < 5 ms ${label}: ${verdict}${reference}`);
  };
  p99(`at the offered rate (${fmt(LATENCY_SHARE * 100)} % of the slower server's)`, latency);
  p99(`with the window of ${WINDOW} kept full (saturated)`, rows);
  return lines.join('\n');
}

// ---- the run ----

async function main(): Promise<void> {
  const began = Date.now();
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  const load0 = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  log(`${cpus().length} CPUs (${cpuModel}), load average ${load0}`);
  ensureFreeradius();
  buildRadload();
  const pg = pgReachable();
  const frSql = pg && rlmSqlPostgresAvailable();
  if (!pg) log('PostgreSQL is not reachable (or --no-postgres): SQLite and files only');
  else if (!frSql) log('rlm_sql_postgresql is not available: FreeRADIUS runs with files only');

  const work = mkdtempSync(join(tmpdir(), 'ispkit-bench-'));
  const schemaIspkit = `ispkit_bench_${process.pid}`;
  const schemaFr = `fr_bench_${process.pid}`;
  const results: Measured[] = [];
  const latency: LatencyRow[] = [];
  try {
    const list = makeMembers(N);
    const csv = join(work, 'members.csv');
    writeFileSync(csv, membersCsv(list));

    // ispkit on SQLite (and PostgreSQL).
    log(`ispkit: importing ${fmt(N)} members into SQLite`);
    const sqlite = setupIspkit({
      cli: CLI,
      dataDir: join(work, 'ispkit-sqlite'),
      database: undefined,
      secret: SECRET,
      csvFile: csv,
      workers: WORKERS,
    });
    log(`  import took ${sqlite.importSeconds.toFixed(1)} s`);
    const ispSqlite = await startIspkit({
      cli: CLI,
      dataDir: sqlite.dataDir,
      logFile: join(work, 'ispkit-sqlite.log'),
      nodeArgs: ISPKIT_NODE_ARGS,
    });
    const targets: Target[] = [
      {
        server: 'ispkit',
        store: 'SQLite',
        pid: ispSqlite.pid,
        authPort: ispSqlite.authPort,
        acctPort: ispSqlite.acctPort,
        withPostgres: false,
      },
    ];
    if (pg) {
      psql(`DROP SCHEMA IF EXISTS ${schemaIspkit} CASCADE; CREATE SCHEMA ${schemaIspkit}`);
      log(`ispkit: importing ${fmt(N)} members into PostgreSQL (schema ${schemaIspkit})`);
      const url = `${PG_URL}?options=-c%20search_path%3D${schemaIspkit}`;
      const setup = setupIspkit({
        cli: CLI,
        dataDir: join(work, 'ispkit-pg'),
        database: url,
        secret: SECRET,
        csvFile: csv,
        workers: WORKERS,
      });
      log(`  import took ${setup.importSeconds.toFixed(1)} s`);
      const isp = await startIspkit({
        cli: CLI,
        dataDir: setup.dataDir,
        logFile: join(work, 'ispkit-pg.log'),
        nodeArgs: ISPKIT_NODE_ARGS,
      });
      targets.push({
        server: 'ispkit',
        store: 'PostgreSQL',
        pid: isp.pid,
        authPort: isp.authPort,
        acctPort: isp.acctPort,
        withPostgres: true,
      });
    }

    // FreeRADIUS with files/detail (and rlm_sql).
    const startFr = async (name: string, store: FreeradiusStore): Promise<Target> => {
      for (let attempt = 0; ; attempt++) {
        const [authPort, acctPort] = await freePorts();
        const { raddb } = writeFreeradiusConfig({
          dir: join(work, name),
          authPort,
          acctPort,
          secret: SECRET,
          members: list,
          store,
        });
        try {
          const fr = await startFreeradius(raddb);
          return {
            server: 'FreeRADIUS',
            store: store.kind === 'files' ? 'files/detail' : 'rlm_sql',
            pid: fr.pid,
            authPort,
            acctPort,
            withPostgres: store.kind === 'sql',
          };
        } catch (e) {
          if (attempt === 2 || !String(e).includes('in use')) throw e;
        }
      }
    };
    log(`FreeRADIUS: ${fmt(N)} users in the files module`);
    targets.push(await startFr('fr-files', { kind: 'files' }));
    if (frSql) {
      log(`FreeRADIUS: ${fmt(N)} users in rlm_sql (PostgreSQL schema ${schemaFr})`);
      psql(`DROP SCHEMA IF EXISTS ${schemaFr} CASCADE; CREATE SCHEMA ${schemaFr}`);
      setupRlmSql(schemaFr, list);
      const u = new URL(PG_URL);
      const conninfo =
        `host=${u.hostname} port=${u.port || '5432'} dbname=${u.pathname.slice(1)} ` +
        `user=${decodeURIComponent(u.username)}` +
        (u.password ? ` password=${decodeURIComponent(u.password)}` : '') +
        ` options='-c search_path=${schemaFr}'`;
      targets.push(await startFr('fr-sql', { kind: 'sql', conninfo }));
    }
    log(`setup done in ${((Date.now() - began) / 1000).toFixed(0)} s`);

    const find = (server: string, store: string): Target | undefined =>
      targets.find((t) => t.server === server && t.store === store);
    const pairs: { a: Target; b: Target; modes: Mode[] }[] = [];
    const isqlite = find('ispkit', 'SQLite');
    const files = find('FreeRADIUS', 'files/detail');
    if (isqlite && files) pairs.push({ a: isqlite, b: files, modes: RUN_MODES });
    const ipg = find('ispkit', 'PostgreSQL');
    const rsql = find('FreeRADIUS', 'rlm_sql');
    if (ipg && rsql) pairs.push({ a: ipg, b: rsql, modes: PG_MODES });
    else if (ipg) log('ispkit on PostgreSQL runs without a FreeRADIUS rlm_sql to compare with');

    for (const { a, b, modes } of pairs)
      for (const mode of modes) {
        // A short warm-up each (the JIT, FreeRADIUS's thread pool, the database's caches).
        await load(a, mode, 1);
        await load(b, mode, 1);
        for (let round = 1; round <= ROUNDS; round++) {
          results.push(await measure(a, mode, DURATION, round));
          results.push(await measure(b, mode, DURATION, round));
        }
        // Latency where neither server is saturated: the same open load offered to both.
        if (LATENCY_SHARE > 0) {
          const mean = (t: Target): number => {
            const mine = results.filter(
              (m) => m.server === `${t.server}/${t.store}` && m.mode === mode,
            );
            return mine.reduce((sum, m) => sum + m.rps, 0) / Math.max(1, mine.length);
          };
          const rate = Math.max(
            100,
            Math.round((LATENCY_SHARE * Math.min(mean(a), mean(b))) / 100) * 100,
          );
          latency.push(await latencyAt(a, mode, rate));
          latency.push(await latencyAt(b, mode, rate));
        }
      }
    if (ipg && !rsql)
      for (const mode of PG_MODES)
        for (let round = 1; round <= ROUNDS; round++)
          results.push(await measure(ipg, mode, DURATION, round));

    // Memory: N open sessions on ispkit/SQLite (one Accounting-Start per member), then PAP.
    let memory = '';
    if (isqlite) {
      const before = rssMb(isqlite.pid);
      log(`memory: ${fmt(N)} Accounting-Starts to ispkit/SQLite (one open session per member)`);
      const starts = await load(isqlite, 'acct-start', 120, N);
      const after = rssMb(isqlite.pid);
      const pap = await measure(isqlite, 'pap', DURATION, 0);
      memory =
        `ispkit/SQLite with ${fmt(N)} members: RSS ${fmt(before)} MB after the comparison runs; ` +
        `${fmt(starts.ok)} of ${fmt(N)} Accounting-Starts acknowledged (${fmt(starts.rps)}/s, ` +
        `${starts.timeouts} timeouts); RSS ${fmt(after)} MB with those sessions open, ` +
        `${fmt(pap.rss_mb)} MB after a further ${DURATION} s of PAP ` +
        `(${fmt(pap.rps)} rps, ${fmt(pap.cpu_us_per_req, 1)} µs CPU/req with the sessions open).`;
      log(memory);
    }

    // A CPU profile of ispkit/SQLite under the first mode's load (--modes acct,… for accounting).
    let profile = '';
    const profiled = RUN_MODES[0] ?? 'pap';
    if (flags.profile && isqlite) {
      const dir = join(work, 'profile');
      mkdirSync(dir);
      await stop(ispSqlite.child, 10_000);
      const prof = await startIspkit({
        cli: CLI,
        dataDir: sqlite.dataDir,
        logFile: join(work, 'ispkit-sqlite-profile.log'),
        nodeArgs: [...ISPKIT_NODE_ARGS, '--cpu-prof', '--cpu-prof-dir', dir],
      });
      const pt: Target = {
        ...isqlite,
        pid: prof.pid,
        authPort: prof.authPort,
        acctPort: prof.acctPort,
      };
      await load(pt, profiled, 1);
      const m = await measure(pt, profiled, DURATION, 0);
      await stop(prof.child, 10_000);
      // One profile per thread: the main thread's first, then each worker's (auth, writer).
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort();
      mkdirSync(OUT, { recursive: true });
      const parts: string[] = [];
      files.forEach((file, i) => {
        const top = topSelfTime(join(dir, file), ROOT, 10);
        const name =
          i === 0 ? `ispkit-${profiled}.cpuprofile` : `ispkit-${profiled}-worker${i}.cpuprofile`;
        copyFileSync(join(dir, file), join(OUT, name));
        parts.push(
          [
            `${i === 0 ? 'Main thread' : `Worker thread ${i}`} (bench/out/${name}), top 10 self time:`,
            '',
            '| function | where | self ms | share |',
            '| --- | --- | ---: | ---: |',
            ...top.map((t) => `| ${t.fn} | ${t.where} | ${fmt(t.ms)} | ${fmt(t.pct, 1)} % |`),
          ].join('\n'),
        );
      });
      if (parts.length > 0)
        profile = [
          `CPU profile of ispkit/SQLite under ${profiled} (${fmt(m.rps)} rps with --cpu-prof):`,
          ...parts,
        ].join('\n\n');
    }

    // The report.
    const rows: Row[] = [];
    for (const t of targets)
      for (const mode of MODES)
        if (results.some((m) => m.server === `${t.server}/${t.store}` && m.mode === mode))
          rows.push(summarise(results, t.server, t.store, mode));
    const frVersion = run('freeradius', ['-v']).split('\n')[0] ?? '';
    const header = [
      `ispkit vs ${frVersion.replace(/^radiusd: /, '')}`,
      `${cpus().length} CPUs (${cpuModel}), node ${process.version}, ${fmt(N)} members, ` +
        `window ${WINDOW}, ispkit radius.workers ${WORKERS}, ispkit node options '${ISPKIT_NODE_ARGS.join(' ')}', ${ROUNDS} rounds of ${DURATION} s per server and mode (A B A B), ` +
        `generator bench/load/radload.c on the same machine; load average ${load0} at the start, ` +
        `${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')} at the end`,
      `rps and p50: mean of the rounds; p99: the worst round; server CPU: utime+stime from /proc ` +
        `(PostgreSQL's processes included for PostgreSQL and rlm_sql); RSS: the server process.`,
    ];
    const report = [
      ...header,
      '',
      table(rows),
      '',
      ratios(rows, [
        ['SQLite', 'files/detail'],
        ['PostgreSQL', 'rlm_sql'],
      ]),
      '',
      ...(latency.length > 0
        ? [
            `Latency under open load (${LATENCY_SECONDS} s each): requests leave on a schedule at ` +
              `${fmt(LATENCY_SHARE * 100)} % of the slower server's rate above, the same for both ` +
              `servers; latency counts from each request's scheduled time. The generator shares the ` +
              `machine: "held by a full window" counts requests that could not leave on time ` +
              `because ${fmt(WINDOW)} were outstanding (the server's slowness), "generator lag" is ` +
              `how late the others left (scheduled → sent: the generator's own lateness), and ` +
              `"p99 from the send" leaves that lag out (the server's share, kernel queues included).`,
            '',
            latencyTable(latency),
            '',
          ]
        : []),
      `Issue 7's targets (set for 10,000 members; this run: ${fmt(N)}):`,
      targetCheck(rows, latency),
      '',
      memory,
      profile ? `\n${profile}` : '',
      `\nwhole run: ${((Date.now() - began) / 1000).toFixed(0)} s`,
    ].join('\n');
    process.stdout.write(`${report}\n`);
    mkdirSync(OUT, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    writeFileSync(
      join(OUT, `bench-${stamp}.json`),
      JSON.stringify({ header, results, rows, latency, memory }, null, 2),
    );
    writeFileSync(join(OUT, `bench-${stamp}.md`), `${report}\n`);
  } finally {
    await stopAll();
    killAll();
    // --keep keeps the PostgreSQL schemas too: the kept data dirs' configurations name them.
    if (pg && flags.keep) log(`kept the PostgreSQL schemas ${schemaIspkit} and ${schemaFr}`);
    else if (pg) {
      try {
        psql(
          `DROP SCHEMA IF EXISTS ${schemaIspkit} CASCADE; DROP SCHEMA IF EXISTS ${schemaFr} CASCADE`,
        );
      } catch (e) {
        log(`could not drop the bench schemas: ${(e as Error).message}`);
      }
    }
    if (flags.keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });

main().catch((e: unknown) => {
  process.stderr.write(
    `bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exitCode = 1;
});
