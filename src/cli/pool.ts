import type { Command } from 'commander';
import { cliActor } from '../audit/audit.js';
import type { Pool } from '../ipam/service.js';
import { poolJson, PURPOSES } from '../ipam/service.js';
import { parseWholeNumber } from '../subscribers/validation.js';
import { fields, table, withApp } from './app-context.js';
import { printJson } from './output.js';

interface AddFlags {
  prefix: string;
  purpose: string;
  size?: string;
  gateway?: string;
  reserve?: string[];
  quarantine?: string;
  json?: boolean;
}

const count = (n: number) => n.toLocaleString('en-US');

function showText(p: Pool): string {
  return fields([
    ['name', p.name],
    ['prefix', p.prefix],
    ['purpose', p.purpose],
    ['size', `/${p.size}`],
    ['gateway', p.gateway],
    ['reserved', p.reservedList.length ? p.reservedList.join(', ') : null],
    ['quarantine', `${p.quarantineSeconds} s`],
    ['total', count(p.total)],
    ['used', count(p.used)],
    ['quarantined', count(p.quarantined)],
    ['reserved_count', count(p.reserved)],
    ['free', count(p.free)],
    ['created_at', new Date(p.createdAt).toISOString()],
  ]);
}

/** `ispkit pool add|list|show|remove`: the address pools members' addresses come from. */
export function registerPoolCommands(program: Command): void {
  const pool = program.command('pool').description('address pools: IPv4, CGNAT, IPv6 prefixes');

  pool
    .command('add')
    .description('add a pool (refused if it overlaps another)')
    .argument('<name>', 'a name: letters, digits, dots, dashes, underscores (1–64)')
    .requiredOption('--prefix <prefix>', 'the pool, e.g. 80.67.191.0/24 or 2001:913:1000::/40')
    .requiredOption('--purpose <purpose>', PURPOSES.join(' | '))
    .option('--size <n>', 'allocation length: 32 (IPv4), 64 (framed), 56 or 60 (delegated)')
    .option('--gateway <address>', 'the gateway address, never handed out')
    .option('--reserve <address...>', 'addresses or prefixes never handed out')
    .option('--quarantine <seconds>', 'time a released address waits before reuse (default 7 days)')
    .option('--json', 'print the pool as JSON')
    .action((name: string, flags: AddFlags, cmd: Command) =>
      withApp(
        cmd,
        async (app) => {
          const p = await app.ipam.addPool(
            {
              name,
              prefix: flags.prefix,
              purpose: flags.purpose,
              size: flags.size === undefined ? undefined : parseWholeNumber('size', flags.size),
              gateway: flags.gateway ?? null,
              reserve: flags.reserve ?? [],
              quarantineSeconds:
                flags.quarantine === undefined
                  ? undefined
                  : parseWholeNumber('quarantine', flags.quarantine),
            },
            cliActor(),
          );
          if (flags.json) return printJson(poolJson(p));
          process.stdout.write(
            `added pool ${p.name} ${p.prefix} (${p.purpose}, ${count(p.free)} free /${p.size}s)\n`,
          );
        },
        { create: true },
      ),
    );

  pool
    .command('list')
    .description('list the pools with their use')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const all = await app.ipam.listPools();
        if (flags.json) return printJson(all.map(poolJson));
        if (all.length === 0) {
          process.stdout.write('no pool yet: ispkit pool add NAME --prefix P --purpose ipv4\n');
          return;
        }
        process.stdout.write(
          table(
            ['NAME', 'PREFIX', 'PURPOSE', 'SIZE', 'USED', 'QUARANTINED', 'RESERVED', 'FREE'],
            all.map((p) => [
              p.name,
              p.prefix,
              p.purpose,
              `/${p.size}`,
              count(p.used),
              count(p.quarantined),
              count(p.reserved),
              count(p.free),
            ]),
          ),
        );
      }),
    );

  pool
    .command('show')
    .description('show one pool and its use')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action((name: string, flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const p = await app.ipam.showPool(name);
        if (flags.json) printJson(poolJson(p));
        else process.stdout.write(showText(p));
      }),
    );

  pool
    .command('remove')
    .description('remove a pool nobody holds an address of (the history stays)')
    .argument('<name>')
    .option('--json', 'print the removed pool as JSON')
    .action((name: string, flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const p = await app.ipam.removePool(name, cliActor());
        if (flags.json) printJson(poolJson(p));
        else process.stdout.write(`removed pool ${p.name} (${p.prefix})\n`);
      }),
    );
}
