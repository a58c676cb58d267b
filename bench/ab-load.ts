/**
 * A/B runs by hand (docs/PERFORMANCE.md): one build of ispkit on a data dir kept by
 * `npm run bench -- --keep`, a 2 s warm-up under closed load, then radload for DURATION seconds
 * (closed load, or open load at RATE requests/s), and the CPU each thread of the server used
 * meanwhile (and each PostgreSQL process, for a PostgreSQL data dir).
 *
 *   node dist-bench/bench/ab-load.js [--stalls] DIST DATA_DIR MODE DURATION [RATE] [-- NODE_OPTIONS...]
 *
 *   DIST      a build of ispkit: dist/, or a copy of it (with node_modules beside it, e.g. a
 *             symlink) so that two builds can be run alternately
 *   DATA_DIR  e.g. /tmp/ispkit-bench-XXXX/ispkit-sqlite or …/ispkit-pg
 *   MODE      pap | chap | mschapv2 | acct (radload's modes)
 *   RATE      0 or absent: closed load (a window of 64)
 *
 * Prints radload's JSON line, the server's CPU (all its threads and those of its child
 * processes: cores, and µs a request answered), then "thread <tid> <cpu %>",
 * "process <pid> thread <tid> <cpu %>" and "postgres <pid> <cpu %>" for those above 0.5 %.
 * With --stalls, the server's threads watch their event loops (lib/stall-monitor.ts) and a
 * "stalls <thread> …" line per thread sums the stalls over 8 ms during the measured run: how
 * many, how long, and how much of it on a CPU or waiting for one. Needs bench/out/radload
 * (built by `npm run bench`). Traffic goes to 127.0.0.1 only; the server is stopped at the end,
 * also on a failure.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIspkit } from './lib/ispkit.js';
import { childPids, cpuMicros, killAll, pidsNamed, stop, threadCpuMicros } from './lib/procs.js';
import { runRadload } from './lib/radload.js';
import { summarizeStalls } from './lib/stall-monitor.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RADLOAD = join(ROOT, 'bench/out/radload');

function usage(message: string): never {
  process.stderr.write(
    `ab-load: ${message}\nusage: node dist-bench/bench/ab-load.js [--stalls] DIST DATA_DIR MODE DURATION [RATE] [-- NODE_OPTIONS...]\n`,
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const ours = dash < 0 ? argv : argv.slice(0, dash);
const stalls = ours.includes('--stalls');
const positional = ours.filter((a) => a !== '--stalls');
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
  for (const child of childPids(pid))
    for (const [tid, us] of threadCpuMicros(child)) out.set(`process ${child} thread ${tid}`, us);
  for (const p of pidsNamed('postgres')) out.set(`postgres ${p}`, cpuMicros(p));
  return out;
}

// Read through `| head`: what is cut off is not worth a crash that would leave the server up.
process.stdout.on('error', () => undefined);

const work = mkdtempSync(join(tmpdir(), 'ab-load-'));
const stallLog = join(work, 'stalls.jsonl');
const monitor = join(dirname(fileURLToPath(import.meta.url)), 'lib/stall-monitor.js');
const server = await startIspkit({
  cli,
  dataDir: resolve(dataDir),
  logFile: join(work, 'serve.log'),
  nodeArgs: ['--v8-pool-size=1', ...(stalls ? [`--import=${monitor}`] : []), ...nodeOptions],
  env: stalls ? { ISPKIT_STALL_LOG: stallLog } : {},
});
try {
  const port = mode.startsWith('acct') ? server.acctPort : server.authPort;
  const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  await runRadload(RADLOAD, { mode, port, duration: 2, sessionPrefix: `w${tag}` });
  const before = snapshot(server.pid);
  const measuredFrom = Date.now();
  const result = await runRadload(RADLOAD, {
    mode,
    port,
    duration,
    sessionPrefix: `r${tag}`,
    rate: rate > 0 ? rate : undefined,
  });
  const after = snapshot(server.pid);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  let serverUs = 0;
  for (const [key, us] of after)
    if (!key.startsWith('postgres')) serverUs += us - (before.get(key) ?? 0);
  if (result.ok > 0)
    process.stdout.write(
      `server cpu ${(serverUs / (duration * 1e6)).toFixed(2)} cores, ${(serverUs / result.ok).toFixed(1)} µs a request\n`,
    );
  for (const [key, us] of after) {
    const share = (100 * (us - (before.get(key) ?? 0))) / (duration * 1e6);
    if (share > 0.5) process.stdout.write(`${key} ${share.toFixed(1)}%\n`);
  }
  if (stalls) {
    const text = existsSync(stallLog) ? readFileSync(stallLog, 'utf8') : '';
    for (const [thread, s] of summarizeStalls(text, measuredFrom))
      process.stdout.write(
        `stalls ${thread}: ${s.count}, ${s.ms.toFixed(1)} ms in all (longest ${s.maxMs.toFixed(1)}), on a CPU ${s.cpuMs.toFixed(1)} ms, waiting for one ${s.runqueueMs.toFixed(1)} ms\n`,
      );
  }
} finally {
  await stop(server.child);
  killAll();
  rmSync(work, { recursive: true, force: true });
}
