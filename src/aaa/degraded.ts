import type { Logger } from '../logging.js';
import type { SessionLookup, SubscriberLookup } from './ports.js';
import { SubscriberCache } from './subscriber-cache.js';

/**
 * Port-Limit checks while the database is away: the open-session count cannot be read, and a
 * member must not be locked out for it. The check is skipped (counted as no open session) and
 * the error reported; the member gets in, as with FreeRADIUS's `simul_count_query` failing open.
 */
export function failOpenSessions(
  inner: SessionLookup,
  onError: (err: unknown, what: 'openCount' | 'markOldestLost') => void,
): SessionLookup {
  return {
    openCount: (userName) =>
      inner.openCount(userName).catch((err: unknown) => {
        onError(err, 'openCount');
        return 0;
      }),
    markOldestLost: (userName, now) =>
      inner.markOldestLost(userName, now).catch((err: unknown) => {
        onError(err, 'markOldestLost');
      }),
  };
}

/**
 * The subscriber cache and the Port-Limit lookups as the server uses them, on the main thread
 * or in an auth worker: stale answers within `maxStaleMs` and a fail-open Port-Limit while the
 * database is away, each logged once a minute.
 */
export function outageTolerant(o: {
  subscribers: SubscriberLookup;
  sessions: SessionLookup;
  changeCounter: () => number;
  maxStaleMs: number;
  logger: Logger;
  logOnce: (key: string, log: () => void) => void;
}): { subscribers: SubscriberCache; sessions: SessionLookup } {
  const sessions = failOpenSessions(o.sessions, (err, what) =>
    o.logOnce(`sessions-${what}`, () =>
      o.logger.warn({ err }, `Port-Limit check skipped: the database is unavailable (${what})`),
    ),
  );
  const subscribers = new SubscriberCache(o.subscribers, o.changeCounter, {
    maxStaleMs: o.maxStaleMs,
    onStale: (user, ageMs, err) =>
      o.logOnce('stale', () =>
        o.logger.warn(
          { user, age_s: Math.round(ageMs / 1000), err },
          'database unavailable: authenticating from the cache (logged once a minute)',
        ),
      ),
  });
  return { subscribers, sessions };
}
