import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { DomainError } from '../errors.js';
import type { Database, SessionTable } from '../store/schema.js';
import { usernameKey } from '../subscribers/usernames.js';
import { OPEN } from './session-rows.js';

export type SessionRecord = Omit<SessionTable, 'id'> & { id: number };

export interface SessionFilter {
  active?: boolean;
  username?: string;
  limit?: number;
}

export interface DailyUsage {
  date: string;
  bytes_in: number;
  bytes_out: number;
  seconds: number;
  sessions: number;
}

export interface MonthlyUsage {
  username: string;
  bytes_in: number;
  bytes_out: number;
  seconds: number;
  sessions: number;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

function checkDay(day: string, what: string): void {
  // Date.parse rolls 2025-02-30 over to March 2nd: a real day reads back the same.
  const t = Date.parse(`${day}T00:00:00Z`);
  if (!DAY_RE.test(day) || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== day) {
    throw new DomainError('DATE_INVALID', `${what} must be a date YYYY-MM-DD, got '${day}'`);
  }
}

/** Reads sessions and usage (the CLI's `session` and `usage`, the API later). */
export class SessionQueries {
  constructor(private readonly db: Kysely<Database>) {}

  /** Newest first. */
  async list(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    let q = this.db.selectFrom('sessions').selectAll();
    if (filter.active) q = q.where(OPEN);
    if (filter.username) q = q.where('username_key', '=', usernameKey(filter.username));
    return (await q
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit ?? 100)
      .execute()) as SessionRecord[];
  }

  async show(id: number): Promise<SessionRecord> {
    const row = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new DomainError('SESSION_NOT_FOUND', `no session with id ${id}`, 'not_found');
    return row as SessionRecord;
  }

  /** Open sessions of a subscriber (simultaneous use). */
  async openCount(userName: string): Promise<number> {
    const r = await this.db
      .selectFrom('sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('username_key', '=', usernameKey(userName))
      .where(OPEN)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Marks the oldest open session of a subscriber lost (for the accept-and-mark policy). */
  async markOldestLost(userName: string, now: number): Promise<void> {
    const oldest = await this.db
      .selectFrom('sessions')
      .select(['id', 'updated_at'])
      .where('username_key', '=', usernameKey(userName))
      .where(OPEN)
      .orderBy('started_at', 'asc')
      .limit(1)
      .executeTakeFirst();
    if (!oldest) return;
    await this.db
      .updateTable('sessions')
      .set({
        state: 'lost',
        inferred: 1,
        stopped_at: Math.min(now, oldest.updated_at),
        terminate_cause: 'Port-Preempted',
      })
      .where('id', '=', oldest.id)
      .where(OPEN)
      .execute();
  }

  /** One row per day from `from` to `to` (inclusive), zeros for days without usage. */
  async daily(userName: string, from: string, to: string): Promise<DailyUsage[]> {
    checkDay(from, '--from');
    checkDay(to, '--to');
    if (from > to) throw new DomainError('DATE_INVALID', `--from ${from} is after --to ${to}`);
    const rows = await this.db
      .selectFrom('usage_daily')
      .select(['day', 'bytes_in', 'bytes_out', 'seconds', 'sessions'])
      .where('username_key', '=', usernameKey(userName))
      .where('day', '>=', from)
      .where('day', '<=', to)
      .execute();
    const byDay = new Map(rows.map((r) => [r.day, r]));
    const out: DailyUsage[] = [];
    for (
      let t = Date.parse(`${from}T00:00:00Z`);
      t <= Date.parse(`${to}T00:00:00Z`);
      t += 86_400_000
    ) {
      const day = new Date(t).toISOString().slice(0, 10);
      const r = byDay.get(day);
      out.push({
        date: day,
        bytes_in: Number(r?.bytes_in ?? 0),
        bytes_out: Number(r?.bytes_out ?? 0),
        seconds: Number(r?.seconds ?? 0),
        sessions: Number(r?.sessions ?? 0),
      });
    }
    return out;
  }

  /** Totals per subscriber for a month (YYYY-MM), by user name. */
  async monthly(month: string): Promise<MonthlyUsage[]> {
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) {
      throw new DomainError('DATE_INVALID', `--month must be YYYY-MM, got '${month}'`);
    }
    const rows = await this.db
      .selectFrom('usage_daily')
      .select((eb) => [
        eb.fn.min('username').as('username'),
        sql<number>`sum(bytes_in)`.as('bytes_in'),
        sql<number>`sum(bytes_out)`.as('bytes_out'),
        sql<number>`sum(seconds)`.as('seconds'),
        sql<number>`sum(sessions)`.as('sessions'),
      ])
      .where('day', '>=', `${month}-01`)
      .where('day', '<=', `${month}-31`)
      .groupBy('username_key')
      .orderBy('username_key')
      .execute();
    return rows.map((r) => ({
      username: String(r.username),
      bytes_in: Number(r.bytes_in),
      bytes_out: Number(r.bytes_out),
      seconds: Number(r.seconds),
      sessions: Number(r.sessions),
    }));
  }
}
