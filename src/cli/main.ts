#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { reportError } from './output.js';

type Register = (program: Command) => void;

/**
 * Command groups, loaded only when used: `ispkit radius decode` should not pay for the
 * database drivers and the HTTP server. With no group named (--help), all are loaded.
 */
const GROUPS: Record<string, () => Promise<Register[]>> = {
  serve: async () => [(await import('./serve.js')).registerServeCommand],
  radius: async () => {
    const [{ registerRadiusCommands }, { bundledDictionary }] = await Promise.all([
      import('./radius.js'),
      import('../radius/index.js'),
    ]);
    return [(p) => registerRadiusCommands(p, bundledDictionary)];
  },
  nas: async () => [(await import('./nas.js')).registerNasCommands],
  subscriber: async () => [(await import('./subscriber.js')).registerSubscriberCommands],
  pool: async () => [(await import('./pool.js')).registerPoolCommands],
  ip: async () => [(await import('./ip.js')).registerIpCommands],
  netbox: async () => [(await import('./netbox.js')).registerNetboxCommands],
  session: async () => [(await import('./sessions.js')).registerSessionCommands],
  usage: async () => [(await import('./sessions.js')).registerUsageCommand],
  radtest: async () => [(await import('./radtest.js')).registerRadtestCommand],
  spool: async () => [(await import('./spool.js')).registerSpoolCommands],
  init: async () => [(await import('./admin.js')).registerAdminCommands],
  migrate: async () => [(await import('./admin.js')).registerAdminCommands],
};

/** The first word that is not an option (nor the value of --data/--config). */
function groupOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--data' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

const program = new Command();
program
  .name('ispkit')
  .description('the subscriber platform of a member-run ISP: RADIUS, accounting, addresses')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')
  // Read by every command group (withApp in app-context.ts), before or after the verb.
  .addOption(new Option('--data <dir>', 'the data directory (default ./data)').env('ISPKIT_DATA'))
  .option('--config <file>', 'the config file (default DIR/ispkit.yaml)');

// `ispkit … | head` closes stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const json = process.argv.includes('--json');
try {
  const wanted = groupOf(process.argv.slice(2));
  const names = wanted !== undefined && wanted in GROUPS ? [wanted] : Object.keys(GROUPS);
  const registered = new Set<Register>(); // one module may serve two groups (init, migrate)
  for (const name of names) {
    for (const register of await (GROUPS[name] as () => Promise<Register[]>)()) {
      if (!registered.has(register)) register(program);
      registered.add(register);
    }
  }
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportError(e, json);
  }
}
