/**
 * RFC 5080 §2.2.2 duplicate detection: a retransmission (same socket, source address and port,
 * Identifier and Request Authenticator, same octets) is answered from a cache of responses, not
 * evaluated again. A new request with the same key but another authenticator replaces the entry.
 * Bounded in time (the window) and in size (oldest entries go first).
 */
export interface DuplicateEntry {
  readonly request: Buffer;
  /** Undefined while the request is still being processed. */
  response: Buffer | undefined;
  readonly expires: number;
}

export type DuplicateCheck =
  | { kind: 'new' }
  /** A retransmission of a request already answered: send this again. */
  | { kind: 'answered'; response: Buffer }
  /** A retransmission of a request still being processed: ignore it. */
  | { kind: 'in-progress' };

export class DuplicateCache {
  private readonly entries = new Map<string, DuplicateEntry>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries = 65_536,
    private readonly now: () => number = Date.now,
  ) {}

  static key(port: number, address: string, srcPort: number, identifier: number): string {
    return `${port}|${address}|${srcPort}|${identifier}`;
  }

  check(key: string, request: Buffer): DuplicateCheck {
    const e = this.entries.get(key);
    if (!e) return { kind: 'new' };
    if (e.expires <= this.now() || !e.request.equals(request)) return { kind: 'new' };
    return e.response ? { kind: 'answered', response: e.response } : { kind: 'in-progress' };
  }

  /** Call only for a request that verified (an invalid one must not touch the cache). */
  begin(key: string, request: Buffer): DuplicateEntry {
    this.entries.delete(key); // re-insert so that Map order stays oldest-first
    const entry: DuplicateEntry = {
      request: Buffer.from(request),
      response: undefined,
      expires: this.now() + this.windowMs,
    };
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.evict();
    return entry;
  }

  /** Forget a request that produced no answer (dropped), so a retransmission is processed. */
  abandon(key: string, entry: DuplicateEntry): void {
    if (this.entries.get(key) === entry) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops expired entries, then the oldest ones beyond the size bound. */
  evict(): void {
    const now = this.now();
    for (const [k, e] of this.entries) {
      if (e.expires > now && this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
    }
  }
}
