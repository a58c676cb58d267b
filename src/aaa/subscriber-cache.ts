import type { AuthSubscriber, SubscriberLookup } from './ports.js';

/**
 * A read-through cache of subscribers for the authentication hot path: one store query (and one
 * AES-GCM open) per user name until anything changes. Emptied whenever the store's change
 * counter moves — a change made by this process, by the CLI or by another instance — so a new
 * or suspended subscriber takes effect on the next request. Unknown names are cached too
 * (a scan of made-up names costs one query each until the next change), within a size bound.
 */
export class SubscriberCache implements SubscriberLookup {
  private readonly entries = new Map<string, AuthSubscriber | null>();
  private seen: number;
  hits = 0;
  misses = 0;

  constructor(
    private readonly inner: SubscriberLookup,
    private readonly changeCounter: () => number,
    private readonly maxEntries = 200_000,
  ) {
    this.seen = changeCounter();
  }

  async findForAuth(userName: string): Promise<AuthSubscriber | undefined> {
    const now = this.changeCounter();
    if (now !== this.seen) {
      this.entries.clear();
      this.seen = now;
    }
    const cached = this.entries.get(userName);
    if (cached !== undefined) {
      this.hits++;
      return cached ?? undefined;
    }
    this.misses++;
    const sub = await this.inner.findForAuth(userName);
    // A change committed while we read may not be in `sub`: then do not keep it.
    if (this.changeCounter() === this.seen) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(userName, sub ?? null);
    }
    return sub;
  }

  get size(): number {
    return this.entries.size;
  }
}
