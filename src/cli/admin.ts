import type { Command } from 'commander';
import { openApp } from '../app.js';
import type { GlobalOptions } from './app-context.js';
import { printJson } from './output.js';

/** `ispkit init` and `ispkit migrate`: prepare a data dir and a database without serving. */
export function registerAdminCommands(program: Command): void {
  program
    .command('init')
    .description('create the data dir, its config, the key that seals secrets and the database')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const app = await openApp({ dataDir: g.data, configFile: g.config, create: true });
      try {
        const out = { data_dir: app.dataDir, database: app.store.description };
        if (flags.json) printJson(out);
        else process.stdout.write(`ready: ${out.data_dir} (${out.database})\n`);
      } finally {
        await app.close();
      }
    });
  program
    .command('migrate')
    .description('apply pending database migrations (serve does it on start too)')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      // openApp migrates; ask the store again to report what is left (nothing).
      const app = await openApp({ dataDir: g.data, configFile: g.config, create: false });
      try {
        const applied = app.migrationsApplied;
        if (flags.json) printJson({ database: app.store.description, applied });
        else if (applied.length === 0)
          process.stdout.write(`${app.store.description}: up to date\n`);
        else process.stdout.write(`${app.store.description}: applied ${applied.join(', ')}\n`);
      } finally {
        await app.close();
      }
    });
}
