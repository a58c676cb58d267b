import type { Command } from 'commander';
import { openApp } from '../app.js';
import { dataPath, loadConfig } from '../config/config.js';
import { replayProgress, spoolStatus } from '../sessions/spool-status.js';
import type { GlobalOptions } from './app-context.js';
import { table } from './app-context.js';
import { printJson } from './output.js';

/**
 * `ispkit spool status`: the accounting records waiting on this machine for the database
 * (the server replays them by itself when the database is back). Reads the folder only, so it
 * is safe while the server runs; how far replay went comes from the database when it answers.
 */
export function registerSpoolCommands(program: Command): void {
  const spool = program
    .command('spool')
    .description('the accounting spool: records waiting on disk while the database is away');
  spool
    .command('status')
    .description('records waiting in the spool, their age, and records set aside as rejected')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const { config, dataDir } = loadConfig({ dataDir: g.data, configFile: g.config });
      const dir = dataPath(dataDir, config.accounting.spool_dir);
      // Replay progress lives in the database, next to the records it applied.
      const summary = await spoolStatus(dir, async (ids) => {
        const app = await openApp({ dataDir, configFile: g.config });
        try {
          return await replayProgress(app.store.db, ids);
        } finally {
          await app.close();
        }
      });
      const { waiting, rejected } = summary;
      const progress = summary.replay_progress;
      const rows = summary.segments;
      if (flags.json) return printJson(summary);
      if (rows.length === 0) {
        process.stdout.write(`spool ${dir}: empty (accounting goes straight to the database)\n`);
      } else {
        process.stdout.write(
          `spool ${dir}: ${waiting} record(s) waiting${summary.oldest_age_s === null ? '' : `, the oldest ${summary.oldest_age_s} s old`}` +
            `${progress === 'unknown' ? ' (the database does not answer: replay progress unknown, all counted)' : ''}\n`,
        );
        process.stdout.write(
          table(
            ['FILE', 'RECORDS', 'REPLAYED', 'BYTES', 'FIRST RECORD'],
            rows.map((r) => [r.file, r.records, r.replayed, r.bytes, r.first_record_at]),
          ),
        );
      }
      if (rejected > 0) {
        process.stdout.write(
          `${rejected} record(s) refused by the database are kept in ${dir}/rejected.jsonl\n`,
        );
      }
    });
}
