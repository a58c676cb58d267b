import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { cliActor } from '../audit/audit.js';
import type {
  AddressRequest,
  Subscriber,
  SubscriberChanges,
  SubscriberInput,
} from '../subscribers/service.js';
import { subscriberJson } from '../subscribers/service.js';
import { parseWholeNumber } from '../subscribers/validation.js';
import { fields, table, withApp } from './app-context.js';
import { CliError, printJson } from './output.js';

/** Option values as commander gives them: `false` comes from `--no-…` (set only). */
interface ServiceFlags {
  ipv4?: string | false;
  ipv6Prefix?: string | false;
  delegatedPrefix?: string | false;
  mtu?: string | false;
  portLimit?: string | false;
  interim?: string | false;
  password?: string;
  json?: boolean;
  allocate?: boolean;
  release?: boolean;
  cgnat?: boolean;
}

/** The IPAM part of the flags. */
function addressRequest(flags: ServiceFlags): AddressRequest {
  return { allocate: flags.allocate, release: flags.release, cgnat: flags.cgnat };
}

const SERVICE_OPTIONS = [
  ['--ipv4 <address>', 'Framed-IP-Address, e.g. 80.67.191.6', 'ipv4'],
  ['--ipv6-prefix <prefix>', 'Framed-IPv6-Prefix, e.g. 2001:db8:1:2::/64', 'ipv6 prefix'],
  [
    '--delegated-prefix <prefix>',
    'Delegated-IPv6-Prefix, e.g. 2001:db8:100::/56',
    'delegated prefix',
  ],
  ['--mtu <n>', 'Framed-MTU, 576–9000 (1280 or more with IPv6)', 'mtu'],
  ['--port-limit <n>', 'Port-Limit: sessions at once, 1 or more', 'port limit'],
  ['--interim <seconds>', 'Acct-Interim-Interval (default: the server setting)', 'interim'],
] as const;

function serviceOptions(cmd: Command, clearable: boolean): Command {
  for (const [flag, help, what] of SERVICE_OPTIONS) {
    cmd.option(flag, help);
    if (clearable) cmd.option(`--no-${flag.slice(2).split(' ')[0]}`, `clear the ${what}`);
  }
  return cmd.option('--json', 'print the subscriber as JSON');
}

/** The flags given, as service changes: a value sets, `--no-…` clears (null), absent keeps. */
function changesFrom(flags: ServiceFlags): SubscriberChanges {
  const text = (v: string | false | undefined) => (v === false ? null : v);
  const number = (field: string, v: string | false | undefined) =>
    v === undefined ? undefined : v === false ? null : parseWholeNumber(field, v);
  const c: SubscriberChanges = {
    ipv4: text(flags.ipv4),
    ipv6Prefix: text(flags.ipv6Prefix),
    delegatedPrefix: text(flags.delegatedPrefix),
    mtu: number('mtu', flags.mtu),
    portLimit: number('port_limit', flags.portLimit),
    interim: number('interim', flags.interim),
    password: flags.password,
  };
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function showText(s: Subscriber): string {
  return fields([
    ['username', s.username],
    ['status', s.status],
    ['password', '(set)'],
    ['ipv4', s.ipv4],
    ['ipv6_prefix', s.ipv6Prefix],
    ['delegated_prefix', s.delegatedPrefix],
    ['mtu', s.mtu],
    ['port_limit', s.portLimit],
    ['interim', s.interim ?? '- (server default)'],
    ['created_at', iso(s.createdAt)],
    ['updated_at', iso(s.updatedAt)],
  ]);
}

function print(s: Subscriber, json: boolean | undefined, text: string): void {
  if (json) printJson(subscriberJson(s));
  else process.stdout.write(text);
}

const count = (n: number) => n.toLocaleString('en-US');

/** `\r[#####-----] 5,000/10,000` on a terminal; nothing when stderr is a file or a pipe. */
function progressBar(): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const width = 30;
  return (done, total) => {
    const filled = total === 0 ? width : Math.round((width * done) / total);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    process.stderr.write(`\r[${bar}] ${count(done)}/${count(total)}${done >= total ? '\n' : ''}`);
  };
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new CliError('FILE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, 2);
  }
}

/** `ispkit subscriber …`: members' accounts. */
export function registerSubscriberCommands(program: Command): void {
  const sub = program
    .command('subscriber')
    .description("members' accounts: credentials, status, addresses");

  serviceOptions(
    sub
      .command('add')
      .description('add a subscriber (active at once)')
      .argument('<user-name>', 'the User-Name the NAS sends, e.g. p1f9bd1@NEUTRINET')
      .requiredOption('--password <password>', 'the password (stored encrypted)')
      .option('--allocate', 'take addresses from the pools (each kind that has a pool)')
      .option('--cgnat', 'with --allocate: a shared CGNAT IPv4 address instead of a public one'),
    false,
  ).action((username: string, flags: ServiceFlags, cmd: Command) =>
    withApp(
      cmd,
      async (app) => {
        const input: SubscriberInput = {
          ...changesFrom(flags),
          username,
          password: flags.password ?? '',
        };
        const s = await app.subscribers.add(input, cliActor(), addressRequest(flags));
        print(s, flags.json, `added subscriber ${s.username}\n`);
      },
      { create: true },
    ),
  );

  serviceOptions(
    sub
      .command('set')
      .description('change a subscriber; --no-ipv4, --no-mtu … clear a value')
      .argument('<user-name>')
      .option('--password <password>', 'a new password')
      .option('--allocate', 'take addresses from the pools for each empty kind')
      .option('--cgnat', 'with --allocate: a shared CGNAT IPv4 address instead of a public one')
      .option('--release', 'give the pool addresses back (they wait in quarantine)'),
    true,
  ).action((username: string, flags: ServiceFlags, cmd: Command) =>
    withApp(cmd, async (app) => {
      const changes = changesFrom(flags);
      const s = await app.subscribers.update(username, changes, cliActor(), addressRequest(flags));
      print(s, flags.json, showText(s));
    }),
  );

  sub
    .command('show')
    .description('show a subscriber (never the password)')
    .argument('<user-name>', 'the realm may be typed in any case')
    .option('--json', 'print JSON')
    .action((username: string, flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const s = await app.subscribers.show(username);
        print(s, flags.json, showText(s));
      }),
    );

  sub
    .command('list')
    .description('list every subscriber')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const all = await app.subscribers.list();
        if (flags.json) return printJson(all.map(subscriberJson));
        if (all.length === 0) {
          process.stdout.write(
            'no subscriber yet: ispkit subscriber add USER-NAME --password PW\n',
          );
          return;
        }
        process.stdout.write(
          table(
            [
              'USERNAME',
              'STATUS',
              'IPV4',
              'IPV6-PREFIX',
              'DELEGATED-PREFIX',
              'MTU',
              'PORT-LIMIT',
              'INTERIM',
            ],
            all.map((s) => [
              s.username,
              s.status,
              s.ipv4,
              s.ipv6Prefix,
              s.delegatedPrefix,
              s.mtu,
              s.portLimit,
              s.interim,
            ]),
          ),
        );
      }),
    );

  for (const [verb, done, description] of [
    ['suspend', 'suspended', 'refuse access from the next request on (history kept)'],
    ['resume', 'active', 'allow access again'],
  ] as const) {
    sub
      .command(verb)
      .description(description)
      .argument('<user-name>')
      .option('--json', 'print the subscriber as JSON')
      .action((username: string, flags: { json?: boolean }, cmd: Command) =>
        withApp(cmd, async (app) => {
          const r = await app.subscribers[verb](username, cliActor());
          const name = r.subscriber.username;
          const text = r.changed ? `${name} is now ${done}\n` : `${name} was already ${done}\n`;
          print(r.subscriber, flags.json, text);
        }),
      );
  }

  sub
    .command('delete')
    .description('remove a subscriber (the audit log keeps what it was)')
    .argument('<user-name>')
    .option('--json', 'print the deleted subscriber as JSON')
    .action((username: string, flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const s = await app.subscribers.delete(username, cliActor());
        print(s, flags.json, `deleted subscriber ${s.username}\n`);
      }),
    );

  sub
    .command('import')
    .description(
      'add subscribers from CSV (header: username,password,ipv4,ipv6_prefix,delegated_prefix,' +
        'mtu,port_limit; empty cell = none); all or nothing',
    )
    .argument('<file>', "the CSV file, or '-' for standard input")
    .option('--json', 'print the result as JSON')
    .action((file: string, flags: { json?: boolean }, cmd: Command) => {
      const text = readInput(file);
      return withApp(
        cmd,
        async (app) => {
          const started = performance.now();
          const onProgress = flags.json ? undefined : progressBar();
          const { imported } = await app.subscribers.importCsv(text, cliActor(), { onProgress });
          const seconds = (performance.now() - started) / 1000;
          if (flags.json) return printJson({ imported, seconds: Number(seconds.toFixed(3)) });
          const rate = seconds > 0 ? `, ${count(Math.round(imported / seconds))}/s` : '';
          process.stdout.write(
            `imported ${count(imported)} subscriber${imported === 1 ? '' : 's'} in ${seconds.toFixed(1)} s${rate}\n`,
          );
        },
        { create: true },
      );
    });

  sub
    .command('export')
    .description('write every subscriber as CSV, passwords in clear (a backup import reads)')
    .option('--output <file>', 'write to this file (mode 0600) instead of standard output')
    .action((flags: { output?: string }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const csv = await app.subscribers.export();
        const where = flags.output ?? 'this output';
        process.stderr.write(
          `ispkit: warning: the export holds members' passwords in clear; keep ${where} safe\n`,
        );
        if (!flags.output) return void process.stdout.write(csv);
        writeFileSync(flags.output, csv, { mode: 0o600 });
        chmodSync(flags.output, 0o600); // an existing file keeps its mode otherwise
      }),
    );
}
