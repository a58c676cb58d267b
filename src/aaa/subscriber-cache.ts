import type { AuthSubscriber, SubscriberLookup } from './ports.js';

export interface SubscriberCacheOptions {
  /** Entries kept at most; the oldest goes first. */
  maxEntries?: number;
  /**
   * While the store cannot be read, an entry confirmed at most this long ago still answers
   * (members keep connecting through a database outage). 0: never answer from a stale entry.
   */
  maxStaleMs?: number;
  now?: () => number;
  /** Told each time a stale entry answered because the store failed (for a rate-limited log). */
  onStale?: (userName: string, ageMs: number, err: unknown) => void;
}

interface Entry {
  readonly sub: AuthSubscriber | null;
  /** The change counter this entry was read under; another value means "read again". */
  readonly generation: number;
  /** When the store last confirmed it (read, or a hit while nothing had changed). */
  confirmedAt: number;
}

/**
 * A read-through cache of subscribers for the authentication hot path: one store query (and one
 * AES-GCM open) per user name until anything changes. When the store's change counter moves — a
 * change made by this process, by the CLI or by another instance — every entry is read again on
 * its next use, so a new or suspended subscriber takes effect on the next request. Unknown names
 * are cached too (a scan of made-up names costs one query each until the next change).
 *
 * During a database outage the read fails; the entry as last read then still answers, if the
 * store confirmed it within `maxStaleMs`: a member known before the outage can connect.
 */
export class SubscriberCache implements SubscriberLookup {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxStaleMs: number;
  private readonly now: () => number;
  hits = 0;
  misses = 0;
  /** Answers given from a stale entry because the store could not be read. */
  staleAnswers = 0;

  constructor(
    private readonly inner: SubscriberLookup,
    private readonly changeCounter: () => number,
    private readonly opts: SubscriberCacheOptions = {},
  ) {
    this.maxEntries = opts.maxEntries ?? 200_000;
    this.maxStaleMs = opts.maxStaleMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  async findForAuth(userName: string): Promise<AuthSubscriber | undefined> {
    const generation = this.changeCounter();
    const cached = this.entries.get(userName);
    if (cached !== undefined && cached.generation === generation) {
      this.hits++;
      cached.confirmedAt = this.now();
      return cached.sub ?? undefined;
    }
    this.misses++;
    let sub: AuthSubscriber | undefined;
    try {
      sub = await this.inner.findForAuth(userName);
    } catch (err) {
      const age = cached === undefined ? Infinity : this.now() - cached.confirmedAt;
      if (cached === undefined || age > this.maxStaleMs) throw err;
      this.staleAnswers++;
      this.opts.onStale?.(userName, age, err);
      return cached.sub ?? undefined;
    }
    // A change committed while we read may not be in `sub`: keep it (an outage may need it),
    // but under a generation that makes the next request read again.
    const fresh = this.changeCounter() === generation;
    this.entries.delete(userName);
    if (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(userName, {
      sub: sub ?? null,
      generation: fresh ? generation : Number.NaN,
      confirmedAt: this.now(),
    });
    return sub;
  }

  get size(): number {
    return this.entries.size;
  }
}
