import type { Command } from 'commander';
import { openApp } from '../app.js';
import { dataPath, loadConfig } from '../config/config.js';
import { inspectSpool } from '../sessions/spool.js';
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
      const { segments, rejected } = await inspectSpool(dir);
      // Replay progress lives in the database, next to the records it applied.
      const done = new Map<string, number>();
      let progress: 'known' | 'unknown' = 'known';
      if (segments.length > 0) {
        try {
          const app = await openApp({ dataDir, configFile: g.config });
          try {
            const rows = await app.store.db
              .selectFrom('accounting_spool_progress')
              .select(['spool_id', 'records'])
              .where(
                'spool_id',
                'in',
                segments.map((s) => s.id),
              )
              .execute();
            for (const r of rows) done.set(r.spool_id, Number(r.records));
          } finally {
            await app.close();
          }
        } catch {
          progress = 'unknown';
        }
      }
      const now = Date.now();
      const rows = segments.map((s) => ({
        file: s.file,
        records: s.records,
        replayed: progress === 'known' ? (done.get(s.id) ?? 0) : null,
        waiting: s.records - (done.get(s.id) ?? 0),
        bytes: s.bytes,
        first_record_at: s.firstAt === undefined ? null : new Date(s.firstAt).toISOString(),
      }));
      const waiting = rows.reduce((a, r) => a + r.waiting, 0);
      const oldest = segments.find((s) => s.firstAt !== undefined)?.firstAt;
      const summary = {
        dir,
        waiting,
        oldest_age_s:
          waiting > 0 && oldest !== undefined ? Math.round((now - oldest) / 1000) : null,
        replay_progress: progress,
        rejected,
        segments: rows,
      };
      if (flags.json) return printJson(summary);
      if (segments.length === 0) {
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
