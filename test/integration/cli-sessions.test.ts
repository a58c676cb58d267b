// `ispkit session …` and `ispkit usage …` as an operator runs them: the real CLI in a child
// process, on a data dir whose store was filled through the accounting recorder (SQLite).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountingEvent, AccountingStatus } from '../../src/sessions/event.js';
import { accountingRecord } from '../helpers/accounting-records.js';
import { applyEvent } from '../../src/sessions/recorder.js';
import { openStore } from '../../src/store/store.js';

const ROOT = resolve(import.meta.dirname, '../..');
// Each run starts Node with tsx; on a busy machine that alone takes seconds.
const SLOW = 120_000;
const t = (iso: string): number => Date.parse(iso);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ispkit(data: string, args: string[]): Promise<Run> {
  const env = { ...process.env, ISPKIT_DATA: undefined, ISPKIT_DATABASE_URL: undefined };
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', '--data', data, ...args],
      { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** A session's reports; each event carries its counters as the NAS reports them. */
function ev(
  status: AccountingStatus,
  at: string,
  s: { nas: string; id: string; user: string; start: string },
  over: Partial<AccountingEvent> = {},
): AccountingEvent {
  return accountingRecord(status, s.nas, s.id, s.user, t(at), {
    sessionTime: (t(at) - t(s.start)) / 1000,
    interimInterval: 60,
    ...over,
  });
}

// alice: a morning session, then one across midnight at a constant 10 B/s in, 100 B/s out,
// still open at 00:10. bob: open since 08:00 on the 9th. carol: across the month's end.
const ALICE1 = {
  nas: 'collecte',
  id: 'A1',
  user: 'alice@NEUTRINET',
  start: '2025-04-08T10:00:00Z',
};
const ALICE2 = {
  nas: 'collecte',
  id: 'A2',
  user: 'alice@NEUTRINET',
  start: '2025-04-08T23:50:00Z',
};
const BOB = { nas: 'collecte', id: 'B1', user: 'bob@NEUTRINET', start: '2025-04-09T08:00:00Z' };
const CAROL = { nas: 'vpn', id: 'C1', user: 'carol@OTHER', start: '2025-03-31T23:30:00Z' };
const LINE = {
  calledStationId: 'HYPERLINE-02GIL0-GPON',
  callingStationId: '08:55:31:FA:75:4E',
  nasPortId: 'XE02-VL164-02GIL0-P0BIS',
  nasIdentifier: 'agg01.pxmar.bra.be.verixi.net',
  circuitId: 'F02GIL00007 eth 1/1/04/13/37/1/2:10',
  framedIp: '100.126.255.5',
};
const rate = (at: string, start: string, perSecond: number) =>
  ((t(at) - t(start)) / 1000) * perSecond;

const EVENTS: AccountingEvent[] = [
  ev('start', ALICE1.start, ALICE1, LINE),
  ev('stop', '2025-04-08T10:30:00Z', ALICE1, {
    ...LINE,
    bytesIn: 1_000,
    bytesOut: 2_000,
    terminateCause: 'User-Request',
  }),
  ev('start', ALICE2.start, ALICE2, { framedIp: '100.126.255.6' }),
  ...['2025-04-08T23:59:00Z', '2025-04-09T00:01:00Z', '2025-04-09T00:10:00Z'].map((at) =>
    ev('interim', at, ALICE2, {
      bytesIn: rate(at, ALICE2.start, 10),
      bytesOut: rate(at, ALICE2.start, 100),
    }),
  ),
  ev('start', BOB.start, BOB, { framedIp: '100.126.255.7' }),
  ev('interim', '2025-04-09T08:05:00Z', BOB, { bytesIn: 3_000, bytesOut: 30_000 }),
  ev('start', CAROL.start, CAROL),
  ev('stop', '2025-04-01T00:30:00Z', CAROL, {
    bytesIn: 36_000,
    bytesOut: 72_000,
    terminateCause: 'Idle-Timeout',
  }),
];

/** The fields issue 4 makes a contract, for every session in JSON. */
const SESSION_FIELDS = [
  'id',
  'acct_session_id',
  'username',
  'nas',
  'started_at',
  'updated_at',
  'stopped_at',
  'terminate_cause',
  'bytes_in',
  'bytes_out',
  'framed_ip',
  'called_station_id',
  'circuit_id',
];
const USAGE_FIELDS = ['bytes_in', 'bytes_out', 'seconds', 'sessions'];

describe('ispkit session and usage', () => {
  let tmp: string;
  let data: string;
  const run = (...args: string[]) => ispkit(data, args);
  const json = async (...args: string[]): Promise<unknown> => {
    const r = await run(...args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as unknown;
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'ispkit-cli-sessions-'));
    data = join(tmp, 'data');
    mkdirSync(data);
    // The data dir's default store, filled as the accounting server would fill it.
    const store = await openStore('sqlite:ispkit.db', data);
    await store.migrate();
    for (const e of EVENTS) await applyEvent(store.db, e);
    await store.close();
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('lists sessions newest first, with the contract fields', { timeout: SLOW }, async () => {
    const rows = (await json('session', 'list', '--json')) as Record<string, unknown>[];
    expect(rows.map((r) => r.acct_session_id)).toEqual(['B1', 'A2', 'A1', 'C1']);
    for (const r of rows) expect(Object.keys(r)).toEqual(expect.arrayContaining(SESSION_FIELDS));
    expect(rows[2]).toMatchObject({
      acct_session_id: 'A1',
      username: 'alice@NEUTRINET',
      nas: 'collecte',
      started_at: '2025-04-08T10:00:00.000Z',
      updated_at: '2025-04-08T10:30:00.000Z',
      stopped_at: '2025-04-08T10:30:00.000Z',
      terminate_cause: 'User-Request',
      bytes_in: 1_000,
      bytes_out: 2_000,
      framed_ip: '100.126.255.5',
      called_station_id: 'HYPERLINE-02GIL0-GPON',
      circuit_id: 'F02GIL00007 eth 1/1/04/13/37/1/2:10',
    });
    expect(rows[0]).toMatchObject({ stopped_at: null, terminate_cause: null, bytes_in: 3_000 });
  });

  it('filters: --active, --user (realm in any case), --limit', { timeout: SLOW }, async () => {
    const [active, alice, one, table] = await Promise.all([
      json('session', 'list', '--active', '--json'),
      json('session', 'list', '--user', 'alice@neutrinet', '--json'),
      json('session', 'list', '--limit', '1', '--json'),
      run('session', 'list', '--user', 'bob@NEUTRINET'),
    ]);
    const ids = (v: unknown) => (v as { acct_session_id: string }[]).map((r) => r.acct_session_id);
    expect(ids(active)).toEqual(['B1', 'A2']);
    expect(ids(alice)).toEqual(['A2', 'A1']);
    expect(ids(one)).toEqual(['B1']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('bob@NEUTRINET');
    expect(table.stdout).toContain('100.126.255.7');
    expect(table.stdout).not.toContain('alice@NEUTRINET');
  });

  it('refuses a bad --limit with a clear line and exit code 2', { timeout: SLOW }, async () => {
    const r = await run('session', 'list', '--limit', '0');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^ispkit: --limit must be a positive number.*\[LIMIT_INVALID\]\n$/);
  });

  it('shows one session by id, and says so when there is none', { timeout: SLOW }, async () => {
    const list = (await json('session', 'list', '--json')) as { id: number }[];
    const a1 = list[2] as { id: number };
    const [shown, missing] = await Promise.all([
      json('session', 'show', String(a1.id), '--json'),
      run('session', 'show', '999999', '--json'),
    ]);
    expect(shown).toEqual(list[2]);
    expect(Object.keys(shown as object)).toEqual(expect.arrayContaining(SESSION_FIELDS));
    expect(shown).toMatchObject({
      calling_station_id: '08:55:31:FA:75:4E',
      nas_port_id: 'XE02-VL164-02GIL0-P0BIS',
      nas_identifier: 'agg01.pxmar.bra.be.verixi.net',
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('SESSION_NOT_FOUND');
  });

  it(
    'prints usage per day, the session across midnight split by time',
    { timeout: SLOW },
    async () => {
      // alice's second session: 600 s before midnight, 600 s after, at 10 B/s in and 100 B/s out.
      const day8 = {
        bytes_in: 1_000 + 600 * 10,
        bytes_out: 2_000 + 600 * 100,
        seconds: 1_800 + 600,
      };
      const day9 = { bytes_in: 600 * 10, bytes_out: 600 * 100, seconds: 600 };
      const [rows, csv] = await Promise.all([
        json('usage', 'alice@NEUTRINET', '--from', '2025-04-07', '--to', '2025-04-09', '--json'),
        run('usage', 'alice@NEUTRINET', '--from', '2025-04-08', '--to', '2025-04-09', '--csv'),
      ]);
      expect(rows).toEqual([
        { date: '2025-04-07', bytes_in: 0, bytes_out: 0, seconds: 0, sessions: 0 },
        { date: '2025-04-08', ...day8, sessions: 2 },
        { date: '2025-04-09', ...day9, sessions: 0 },
      ]);
      for (const r of rows as object[]) expect(Object.keys(r)).toEqual(['date', ...USAGE_FIELDS]);
      expect(csv.code).toBe(0);
      expect(csv.stdout).toBe(
        'date,bytes_in,bytes_out,seconds,sessions\n' +
          `2025-04-08,${day8.bytes_in},${day8.bytes_out},${day8.seconds},2\n` +
          `2025-04-09,${day9.bytes_in},${day9.bytes_out},${day9.seconds},0\n`,
      );
    },
  );

  it('prints a month per subscriber, as JSON and CSV', { timeout: SLOW }, async () => {
    const [april, march] = await Promise.all([
      json('usage', '--month', '2025-04', '--json'),
      run('usage', '--month', '2025-03', '--csv'),
    ]);
    expect(april).toEqual([
      {
        username: 'alice@NEUTRINET',
        bytes_in: 13_000,
        bytes_out: 122_000,
        seconds: 3_000,
        sessions: 2,
      },
      { username: 'bob@NEUTRINET', bytes_in: 3_000, bytes_out: 30_000, seconds: 300, sessions: 1 },
      // carol's session crossed into April: its second half, at the same rate as the first.
      { username: 'carol@OTHER', bytes_in: 18_000, bytes_out: 36_000, seconds: 1_800, sessions: 0 },
    ]);
    for (const r of april as object[]) {
      expect(Object.keys(r)).toEqual(['username', ...USAGE_FIELDS]);
    }
    expect(march.code).toBe(0);
    expect(march.stdout).toBe(
      'username,bytes_in,bytes_out,seconds,sessions\ncarol@OTHER,18000,36000,1800,1\n',
    );
  });

  it('refuses dates that are not dates', { timeout: SLOW }, async () => {
    const [from, month, missing] = await Promise.all([
      run('usage', 'alice@NEUTRINET', '--from', '2025-02-30', '--to', '2025-03-01', '--json'),
      run('usage', '--month', '2025-13'),
      run('usage', 'alice@NEUTRINET'),
    ]);
    expect(from.code).not.toBe(0);
    expect(from.stdout).toBe('');
    expect(JSON.parse(from.stderr)).toMatchObject({ error: { code: 'DATE_INVALID' } });
    expect(month.code).not.toBe(0);
    expect(month.stderr).toContain('DATE_INVALID');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('USAGE_ARGS');
  });
});
