// An accounting load as NASes send it: sessions Start → Interim… → Stop with growing
// cumulative counters, each record sent after the previous one of its session was answered,
// many sessions at a time. A record without an answer (after the client's retransmissions) is
// sent again — as a NAS keeps a record until some server answers — until a deadline. What was
// acknowledged is recorded, so a test can compare it with the database.
import type { Dictionary } from '../../src/radius/index.js';
import { createPacket } from '../../src/radius/index.js';
import type { RadiusClient } from '../../src/radius/index.js';

export interface AcctLoadOptions {
  dictionary: Dictionary;
  /**
   * Where each record goes: a client per server, chosen per record (failover), or several at
   * once (a NAS that gave up on a slow server while it was still working: the same record on
   * two instances at the same moment). Answered when any of them answers.
   */
  pick: (session: number, record: number) => RadiusClient | RadiusClient[];
  sessions: number;
  /** Interim-Updates per session between Start and Stop. */
  interims: number;
  /** Sessions in progress at once. */
  concurrency: number;
  /** No record may stay unanswered past this (ms since the load began). */
  deadlineMs: number;
  /** Session start, seconds since the epoch (records are 60 s apart). */
  t0: number;
  userOf?: (session: number) => string;
  /** Pause between two records of a session (ms), to spread the load over time. */
  pauseMs?: number;
  /** Called after each acknowledged record (a test's progress, or its fault schedule). */
  onAck?: (acked: number) => void;
}

export interface AcctLoadResult {
  /** Records acknowledged (one per record, whatever the retransmissions). */
  acked: number;
  /** Sends of a record after a send gave up (the client's own retransmissions not counted). */
  resends: number;
  /** Records given up at the deadline (the test fails on any). */
  unanswered: number;
  ms: number;
  /** The counters of the last acknowledged record of each session (what the DB must hold). */
  final: {
    username: string;
    acctSessionId: string;
    bytesIn: number;
    bytesOut: number;
    stopped: boolean;
  }[];
}

export function bytesOf(session: number, record: number): number {
  return record * 100_000 + session;
}

export async function runAcctLoad(o: AcctLoadOptions): Promise<AcctLoadResult> {
  const started = Date.now();
  const userOf = o.userOf ?? ((i: number) => `load${i}@R`);
  const result: AcctLoadResult = { acked: 0, resends: 0, unanswered: 0, ms: 0, final: [] };
  const records = o.interims + 2;
  let next = 0;

  const one = async (i: number): Promise<void> => {
    const username = userOf(i);
    const acctSessionId = `L${i}`;
    const final = { username, acctSessionId, bytesIn: 0, bytesOut: 0, stopped: false };
    result.final[i] = final;
    for (let k = 0; k < records; k++) {
      const status = k === 0 ? 'Start' : k === records - 1 ? 'Stop' : 'Interim-Update';
      const bytes = k === 0 ? 0 : bytesOf(i, k);
      const attrs = {
        'User-Name': username,
        'Acct-Session-Id': acctSessionId,
        'NAS-IP-Address': '127.0.0.1',
        'Acct-Status-Type': status,
        'Event-Timestamp': o.t0 + 60 * k,
        'Acct-Session-Time': 60 * k,
        'Acct-Input-Octets': bytes,
        'Acct-Output-Octets': 2 * bytes,
      } as const;
      for (let attempt = 0; ; attempt++) {
        if (Date.now() - started > o.deadlineMs) {
          result.unanswered++;
          return;
        }
        if (attempt > 0) result.resends++;
        const to = o.pick(i, k);
        const answers = await Promise.all(
          (Array.isArray(to) ? to : [to]).map((c) =>
            c.send(createPacket(o.dictionary, 'Accounting-Request', attrs)).then(
              (reply) => reply.codeName === 'Accounting-Response',
              () => false, // no answer after the client's retransmissions: send again
            ),
          ),
        );
        if (answers.includes(true)) break;
      }
      result.acked++;
      final.bytesIn = bytes;
      final.bytesOut = 2 * bytes;
      final.stopped = status === 'Stop';
      o.onAck?.(result.acked);
      if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
    }
  };

  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, o.sessions) }, async () => {
      while (next < o.sessions) await one(next++);
    }),
  );
  result.ms = Date.now() - started;
  return result;
}

/** Sessions and the bytes counted in them and in daily usage (see databaseTotals). */
export interface AccountingTotals {
  sessions: number;
  stopped: number;
  bytesIn: number;
  bytesOut: number;
  usageBytesIn: number;
  usageBytesOut: number;
  usageSessions: number;
}

/**
 * What the database must hold after the load: one stopped session each, and every byte counted
 * once in the sessions and once in daily usage.
 */
export function expectedTotals(r: AcctLoadResult): AccountingTotals {
  const bytesIn = r.final.reduce((a, f) => a + f.bytesIn, 0);
  const bytesOut = r.final.reduce((a, f) => a + f.bytesOut, 0);
  return {
    sessions: r.final.length,
    stopped: r.final.filter((f) => f.stopped).length,
    bytesIn,
    bytesOut,
    usageBytesIn: bytesIn,
    usageBytesOut: bytesOut,
    usageSessions: r.final.length,
  };
}

/**
 * What the database holds (PostgreSQL, read directly): sessions, and the bytes counted in the
 * sessions and in daily usage (equal when every record was counted once).
 */
export async function databaseTotals(url: string): Promise<AccountingTotals> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const s = await c.query<Record<string, string | null>>(
      "select count(*) as n, count(*) filter (where state = 'stopped') as stopped, sum(bytes_in) as i, sum(bytes_out) as o from sessions",
    );
    const u = await c.query<Record<string, string | null>>(
      'select sum(bytes_in) as i, sum(bytes_out) as o, sum(sessions) as n from usage_daily',
    );
    const n = (v: string | null | undefined): number => Number(v ?? 0);
    return {
      sessions: n(s.rows[0]?.n),
      stopped: n(s.rows[0]?.stopped),
      bytesIn: n(s.rows[0]?.i),
      bytesOut: n(s.rows[0]?.o),
      usageBytesIn: n(u.rows[0]?.i),
      usageBytesOut: n(u.rows[0]?.o),
      usageSessions: n(u.rows[0]?.n),
    };
  } finally {
    await c.end();
  }
}
