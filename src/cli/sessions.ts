import type { Command } from 'commander';
import type { DailyUsage, SessionRecord } from '../sessions/queries.js';
import { SessionQueries } from '../sessions/queries.js';
import { fields, table, withApp } from './app-context.js';
import { CliError, printJson } from './output.js';

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

/** The JSON contract for a session (issue 4): snake_case, ISO times, bytes as numbers. */
export function sessionJson(s: SessionRecord): Record<string, unknown> {
  return {
    id: s.id,
    acct_session_id: s.acct_session_id,
    username: s.username,
    nas: s.nas,
    state: s.state,
    inferred: s.inferred === 1,
    started_at: iso(s.started_at),
    updated_at: iso(s.updated_at),
    stopped_at: iso(s.stopped_at),
    terminate_cause: s.terminate_cause,
    bytes_in: s.bytes_in,
    bytes_out: s.bytes_out,
    packets_in: s.packets_in,
    packets_out: s.packets_out,
    session_time: s.session_time,
    framed_ip: s.framed_ip,
    framed_ipv6_prefix: s.framed_ipv6_prefix,
    delegated_prefix: s.delegated_prefix,
    called_station_id: s.called_station_id,
    calling_station_id: s.calling_station_id,
    nas_port_id: s.nas_port_id,
    nas_identifier: s.nas_identifier,
    circuit_id: s.circuit_id,
  };
}

/** 1234567 → "1.2 MB" (decimal units, as operators read link speeds and volumes). */
export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${h}h${String(m).padStart(2, '0')}`;
}

function csv(rows: Record<string, unknown>[], header: string[]): string {
  return (
    [header.join(','), ...rows.map((r) => header.map((h) => String(r[h] ?? '')).join(','))].join(
      '\n',
    ) + '\n'
  );
}

interface ListFlags {
  active?: boolean;
  user?: string;
  limit: string;
  json?: boolean;
}

export function registerSessionCommands(program: Command): void {
  const session = program.command('session').description('accounting sessions');
  session
    .command('list')
    .description('sessions, newest first')
    .option('--active', 'only open sessions')
    .option('--user <name>', 'only this subscriber (the User-Name the NAS sends)')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (flags: ListFlags, cmd: Command) => {
      if (!/^\d+$/.test(flags.limit) || Number(flags.limit) < 1)
        throw new CliError(
          'LIMIT_INVALID',
          `--limit must be a positive number, got '${flags.limit}'`,
          2,
        );
      await withApp(cmd, async (app) => {
        const rows = await new SessionQueries(app.store.reader).list({
          active: flags.active,
          username: flags.user,
          limit: Number(flags.limit),
        });
        if (flags.json) return printJson(rows.map(sessionJson));
        process.stdout.write(
          table(
            ['ID', 'USER', 'NAS', 'STATE', 'STARTED (UTC)', 'TIME', 'IN', 'OUT', 'ADDRESS'],
            rows.map((s) => [
              s.id,
              s.username,
              s.nas,
              s.state,
              new Date(s.started_at).toISOString().slice(0, 19).replace('T', ' '),
              duration(s.session_time),
              bytes(s.bytes_in),
              bytes(s.bytes_out),
              s.framed_ip,
            ]),
          ),
        );
      });
    });
  session
    .command('show')
    .description('one session')
    .argument('<id>', 'the session id (from session list)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }, cmd: Command) => {
      if (!/^\d+$/.test(id))
        throw new CliError('ID_INVALID', `the session id is a number, got '${id}'`, 2);
      await withApp(cmd, async (app) => {
        const s = sessionJson(await new SessionQueries(app.store.reader).show(Number(id)));
        if (flags.json) return printJson(s);
        process.stdout.write(
          fields(Object.entries(s).map(([k, v]) => [k, v === null ? null : String(v)])),
        );
      });
    });
}

interface UsageFlags {
  from?: string;
  to?: string;
  month?: string;
  json?: boolean;
  csv?: boolean;
}

export function registerUsageCommand(program: Command): void {
  program
    .command('usage')
    .description(
      'usage per day for one subscriber (--from/--to), or per subscriber for a month (--month)',
    )
    .argument('[name]', 'the subscriber (User-Name)')
    .option('--from <date>', 'first day, YYYY-MM-DD (UTC)')
    .option('--to <date>', 'last day, YYYY-MM-DD (UTC)')
    .option('--month <month>', 'YYYY-MM: totals per subscriber')
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .action(async (name: string | undefined, flags: UsageFlags, cmd: Command) => {
      await withApp(cmd, async (app) => {
        const q = new SessionQueries(app.store.reader);
        if (flags.month !== undefined) {
          printUsage(await q.monthly(flags.month), 'username', 'USER', flags);
          return;
        }
        if (!name || !flags.from || !flags.to) {
          throw new CliError(
            'USAGE_ARGS',
            'give NAME --from YYYY-MM-DD --to YYYY-MM-DD, or --month YYYY-MM',
            2,
          );
        }
        printUsage(await q.daily(name, flags.from, flags.to), 'date', 'DATE', flags);
      });
    });
}

/** Usage rows (per day, or per subscriber for a month) as JSON, CSV or a table. */
function printUsage<K extends 'date' | 'username'>(
  rows: (Record<K, string> & Omit<DailyUsage, 'date'>)[],
  key: K,
  label: string,
  flags: UsageFlags,
): void {
  if (flags.json) return printJson(rows);
  const header = [key, 'bytes_in', 'bytes_out', 'seconds', 'sessions'];
  if (flags.csv) {
    process.stdout.write(csv(rows as unknown as Record<string, unknown>[], header));
    return;
  }
  process.stdout.write(
    table(
      [label, 'IN', 'OUT', 'TIME', 'SESSIONS'],
      rows.map((r) => [
        r[key],
        bytes(r.bytes_in),
        bytes(r.bytes_out),
        duration(r.seconds),
        r.sessions,
      ]),
    ),
  );
}
