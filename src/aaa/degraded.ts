import type { SessionLookup } from './ports.js';

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
