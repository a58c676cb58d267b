import type { Command } from 'commander';
import type { Holding } from '../ipam/service.js';
import { holdingJson } from '../ipam/service.js';
import { table, withApp } from './app-context.js';
import { CliError, printJson } from './output.js';

/** A time as people type it for a legal request: ISO 8601, `Z` or an offset; UTC if neither. */
function parseTime(text: string): number {
  const t = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) {
    throw new CliError('TIME_INVALID', `--at '${text}' is not a time (e.g. 2025-04-08T10:11Z)`, 2);
  }
  return ms;
}

const iso = (ms: number | null) => (ms === null ? 'now' : new Date(ms).toISOString());

function rows(list: Holding[]): (string | null)[][] {
  return list.map((h) => [h.address, h.username, h.pool, h.origin, iso(h.from), iso(h.to)]);
}

/** `ispkit ip show ADDR|PREFIX`: who holds it, and who held it before. */
export function registerIpCommands(program: Command): void {
  const ip = program.command('ip').description('addresses: who holds what, and who held it');

  ip.command('show')
    .description('who holds an address or prefix now (or at --at), and who held it before')
    .argument('<address|prefix>', 'e.g. 80.67.191.6 or 2001:913:1d00:600::/60')
    .option('--at <time>', 'the holder at this time (UTC unless an offset is given)')
    .option('--json', 'print JSON')
    .action((text: string, flags: { at?: string; json?: boolean }, cmd: Command) => {
      const at = flags.at === undefined ? undefined : parseTime(flags.at);
      return withApp(cmd, async (app) => {
        const r = await app.ipam.whoHolds(text, at);
        if (flags.json) {
          return printJson({
            query: r.query,
            at: at === undefined ? null : new Date(at).toISOString(),
            current: r.current.map(holdingJson),
            history: r.history.map(holdingJson),
          });
        }
        const when = at === undefined ? 'now' : `at ${iso(at)}`;
        const holders = r.current.map((h) => `${h.username} (${h.address})`).join(', ');
        let out = `${r.query}: ${holders ? `held by ${holders}` : 'not held'} ${when}\n`;
        if (r.history.length > 0) {
          out += `\n${table(['ADDRESS', 'SUBSCRIBER', 'POOL', 'ORIGIN', 'FROM', 'TO'], rows(r.history))}`;
        }
        process.stdout.write(out);
      });
    });
}
