/**
 * A/B runs by hand (docs/PERFORMANCE.md): one build of ispkit on a data dir kept by
 * `npm run bench -- --keep`, a 2 s warm-up under closed load, then radload for DURATION seconds
 * (closed load, or open load at RATE requests/s), and the CPU each thread of the server used
 * meanwhile (and each PostgreSQL process, for a PostgreSQL data dir).
 *
 *   node dist-bench/bench/ab-load.js DIST DATA_DIR MODE DURATION [RATE] [-- NODE_OPTIONS...]
 *
 *   DIST      a build of ispkit: dist/, or a copy of it (with node_modules beside it, e.g. a
 *             symlink) so that two builds can be run alternately
 *   DATA_DIR  e.g. /tmp/ispkit-bench-XXXX/ispkit-sqlite or …/ispkit-pg
 *   MODE      pap | chap | mschapv2 | acct (radload's modes)
 *   RATE      0 or absent: closed load (a window of 64)
 *
 * Prints radload's JSON line, then "thread <tid> <cpu %>" and "postgres <pid> <cpu %>" for
 * those above 0.5 %. Needs bench/out/radload (built by `npm run bench`). Traffic goes to
 * 127.0.0.1 only; the server is stopped at the end, also on a failure.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIspkit } from './lib/ispkit.js';
import { cpuMicros, killAll, pidsNamed, stop, threadCpuMicros } from './lib/procs.js';
import { runRadload } from './lib/radload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RADLOAD = join(ROOT, 'bench/out/radload');

function usage(message: string): never {
  process.stderr.write(
    `ab-load: ${message}\nusage: node dist-bench/bench/ab-load.js DIST DATA_DIR MODE DURATION [RATE] [-- NODE_OPTIONS...]\n`,
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const positional = dash < 0 ? argv : argv.slice(0, dash);
const nodeOptions = dash < 0 ? [] : argv.slice(dash + 1);
const [dist, dataDir, mode, durationArg, rateArg = '0'] = positional;
if (!dist || !dataDir || !mode || !durationArg || positional.length > 5)
  usage('DIST, DATA_DIR, MODE and DURATION are required');
const duration = Number(durationArg);
const rate = Number(rateArg);
if (!Number.isInteger(duration) || duration < 1 || duration > 120) usage('DURATION: 1–120 seconds');
if (!Number.isInteger(rate) || rate < 0) usage('RATE: requests per second, 0 for closed load');
const cli = join(resolve(dist), 'cli/main.js');
if (!existsSync(cli)) usage(`no ${cli}`);
if (!existsSync(join(dataDir, 'ispkit.yaml')))
  usage(`${dataDir} is not a data dir kept by npm run bench -- --keep`);
if (!existsSync(RADLOAD)) usage(`${RADLOAD} missing: run npm run bench once`);

/** CPU time of the server's threads and of PostgreSQL's processes, by "thread tid" / "postgres pid". */
function snapshot(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [tid, us] of threadCpuMicros(pid)) out.set(`thread ${tid}`, us);
  for (const p of pidsNamed('postgres')) out.set(`postgres ${p}`, cpuMicros(p));
  return out;
}

// Read through `| head`: what is cut off is not worth a crash that would leave the server up.
process.stdout.on('error', () => undefined);

const work = mkdtempSync(join(tmpdir(), 'ab-load-'));
const server = await startIspkit({
  cli,
  dataDir: resolve(dataDir),
  logFile: join(work, 'serve.log'),
  nodeArgs: ['--v8-pool-size=1', ...nodeOptions],
});
try {
  const port = mode.startsWith('acct') ? server.acctPort : server.authPort;
  const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  await runRadload(RADLOAD, { mode, port, duration: 2, sessionPrefix: `w${tag}` });
  const before = snapshot(server.pid);
  const result = await runRadload(RADLOAD, {
    mode,
    port,
    duration,
    sessionPrefix: `r${tag}`,
    rate: rate > 0 ? rate : undefined,
  });
  const after = snapshot(server.pid);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  for (const [key, us] of after) {
    const share = (100 * (us - (before.get(key) ?? 0))) / (duration * 1e6);
    if (share > 0.5) process.stdout.write(`${key} ${share.toFixed(1)}%\n`);
  }
} finally {
  await stop(server.child);
  killAll();
  rmSync(work, { recursive: true, force: true });
}
