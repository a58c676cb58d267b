import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { inspectSpool } from './spool.js';

/** How far replay went in each segment (by spool id), as the database keeps it. */
export async function replayProgress(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Map<string, { offset: number; records: number }>> {
  const out = new Map<string, { offset: number; records: number }>();
  if (ids.length === 0) return out;
  const rows = await db
    .selectFrom('accounting_spool_progress')
    .select(['spool_id', 'byte_offset', 'records'])
    .where('spool_id', 'in', [...ids])
    .execute();
  for (const r of rows) {
    out.set(r.spool_id, { offset: Number(r.byte_offset), records: Number(r.records) });
  }
  return out;
}

/** What `ispkit spool status` shows (snake_case: it is also its --json). */
export interface SpoolStatus {
  dir: string;
  waiting: number;
  oldest_age_s: number | null;
  /** `unknown` when the database did not answer: every record is counted as waiting. */
  replay_progress: 'known' | 'unknown';
  rejected: number;
  segments: {
    file: string;
    records: number;
    replayed: number | null;
    waiting: number;
    bytes: number;
    first_record_at: string | null;
  }[];
}

/**
 * The spool folder as it is on disk (read only: safe while a server appends), with how far
 * replay went when `progress` can read it from the database (it throws when it cannot).
 */
export async function spoolStatus(
  dir: string,
  progress: (ids: readonly string[]) => Promise<Map<string, { records: number }>>,
  now = Date.now(),
): Promise<SpoolStatus> {
  const { segments, rejected } = await inspectSpool(dir);
  let done = new Map<string, { records: number }>();
  let known = true;
  if (segments.length > 0) {
    try {
      done = await progress(segments.map((s) => s.id));
    } catch {
      known = false;
    }
  }
  const rows = segments.map((s) => {
    const replayed = done.get(s.id)?.records ?? 0;
    return {
      file: s.file,
      records: s.records,
      replayed: known ? replayed : null,
      waiting: s.records - replayed,
      bytes: s.bytes,
      first_record_at: s.firstAt === undefined ? null : new Date(s.firstAt).toISOString(),
    };
  });
  const waiting = rows.reduce((a, r) => a + r.waiting, 0);
  const oldest = segments.find((s) => s.firstAt !== undefined)?.firstAt;
  return {
    dir,
    waiting,
    oldest_age_s: waiting > 0 && oldest !== undefined ? Math.round((now - oldest) / 1000) : null,
    replay_progress: known ? 'known' : 'unknown',
    rejected,
    segments: rows,
  };
}
