import type { Command } from 'commander';
import { RECOMMENDED_SECRET_OCTETS, nasJson } from '../aaa/nas-clients.js';
import { cliActor } from '../audit/audit.js';
import { fields, table, withApp } from './app-context.js';
import { printJson } from './output.js';

interface AddFlags {
  address: string;
  secret: string;
  requireMessageAuthenticator?: boolean;
  json?: boolean;
}

/** `ispkit nas add|list|show|remove`: the NAS clients allowed to send us RADIUS. */
export function registerNasCommands(program: Command): void {
  const nas = program
    .command('nas')
    .description('the NAS clients (and proxies) that may send RADIUS');

  nas
    .command('add')
    .description('allow a NAS (or a whole prefix of them) with its shared secret')
    .argument('<name>', 'a name for logs: letters, digits, dots, dashes, underscores (1–64)')
    .requiredOption('--address <ip|cidr>', 'its source address, or a prefix (longest prefix wins)')
    .requiredOption(
      '--secret <secret>',
      'the RADIUS shared secret (1–128 octets; 16 or more advised)',
    )
    .option(
      '--require-message-authenticator',
      'drop Access-Requests without a valid Message-Authenticator (BlastRADIUS, CVE-2024-3596)',
    )
    .option('--json', 'print the NAS as JSON')
    .action((name: string, flags: AddFlags, cmd: Command) =>
      withApp(
        cmd,
        async (app) => {
          const added = await app.nas.add(
            name,
            flags.address,
            flags.secret,
            flags.requireMessageAuthenticator === true,
            cliActor(),
          );
          const octets = Buffer.byteLength(flags.secret, 'utf8');
          if (octets < RECOMMENDED_SECRET_OCTETS) {
            process.stderr.write(
              `ispkit: warning: the secret is ${octets} octets; RFC 2865 advises at least ${RECOMMENDED_SECRET_OCTETS}\n`,
            );
          }
          if (flags.json) printJson(nasJson(added));
          else process.stdout.write(`added NAS ${added.name} (${added.address})\n`);
        },
        { create: true },
      ),
    );

  nas
    .command('list')
    .description('list the NAS clients')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const all = await app.nas.list();
        if (flags.json) return printJson(all.map(nasJson));
        if (all.length === 0) {
          process.stdout.write('no NAS yet: ispkit nas add NAME --address IP --secret SECRET\n');
          return;
        }
        process.stdout.write(
          table(
            ['NAME', 'ADDRESS', 'MESSAGE-AUTHENTICATOR', 'ADDED'],
            all.map((n) => [
              n.name,
              n.address,
              n.requireMessageAuthenticator ? 'required' : 'optional',
              new Date(n.createdAt).toISOString(),
            ]),
          ),
        );
      }),
    );

  nas
    .command('show')
    .description('show one NAS (never its secret)')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action((name: string, flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const n = await app.nas.show(name);
        if (flags.json) return printJson(nasJson(n));
        process.stdout.write(
          fields([
            ['name', n.name],
            ['address', n.address],
            ['secret', '(set)'],
            ['message_authenticator', n.requireMessageAuthenticator ? 'required' : 'optional'],
            ['created_at', new Date(n.createdAt).toISOString()],
            ['updated_at', new Date(n.updatedAt).toISOString()],
          ]),
        );
      }),
    );

  nas
    .command('remove')
    .description('stop accepting RADIUS from a NAS (takes effect on its next packet)')
    .argument('<name>')
    .option('--json', 'print the removed NAS as JSON')
    .action((name: string, flags: { json?: boolean }, cmd: Command) =>
      withApp(cmd, async (app) => {
        const n = await app.nas.remove(name, cliActor());
        if (flags.json) printJson(nasJson(n));
        else process.stdout.write(`removed NAS ${n.name} (${n.address})\n`);
      }),
    );
}
