import type { Command } from 'commander';
import { cliActor } from '../audit/audit.js';
import { formatOutcome, formatPlan, resultJson } from '../netbox/plan.js';
import type { SyncResult } from '../netbox/plan.js';
import { requireNetboxSettings } from '../netbox/settings.js';
import { NetboxSync } from '../netbox/sync.js';
import { withApp } from './app-context.js';
import { printJson } from './output.js';

interface Flags {
  dryRun?: boolean;
  json?: boolean;
}

function print(r: SyncResult, flags: Flags): void {
  if (flags.json) printJson(resultJson(r));
  else process.stdout.write(formatOutcome(r));
  // Some changes were refused: say so to scripts (the plan and the errors are printed).
  if (r.failed.length > 0) process.exitCode = 1;
}

/** `ispkit netbox pull|push [--dry-run] [--json]`: the NetBox link (docs/netbox.md). */
export function registerNetboxCommands(program: Command): void {
  const netbox = program
    .command('netbox')
    .description('sync with NetBox: pull prefixes as pools, push the addresses members hold');

  const verb = (name: 'pull' | 'push', description: string) =>
    netbox
      .command(name)
      .description(description)
      .option('--dry-run', 'print the plan, change nothing')
      .option('--json', 'print the plan and its outcome as JSON')
      .action((flags: Flags, cmd: Command) =>
        withApp(cmd, async (app) => {
          const settings = requireNetboxSettings(app.config, app.dataDir);
          const sync = new NetboxSync({ store: app.store, ipam: app.ipam, settings });
          const options = {
            dryRun: flags.dryRun ?? false,
            actor: cliActor(),
            onPlan: (plan: SyncResult) => {
              if (!flags.json) process.stdout.write(formatPlan(plan));
            },
          };
          print(await (name === 'pull' ? sync.pull(options) : sync.push(options)), flags);
        }),
      );

  verb(
    'pull',
    'import the prefixes tagged netbox.pool_tag as pools, and the objects in them as reservations',
  );
  verb(
    'push',
    "make NetBox's ip-addresses and prefixes match the addresses members hold (tag netbox.owner_tag)",
  );
}
