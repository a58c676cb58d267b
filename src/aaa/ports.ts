/**
 * What the RADIUS server needs from the rest of ispkit. The server depends on these shapes
 * only; app.ts hands it the real services (and tests hand it whatever they like).
 */

export interface NasClient {
  /** The name given with `ispkit nas add NAME`. */
  readonly name: string;
  /** The RADIUS shared secret, in clear (it is sealed at rest). */
  readonly secret: Buffer;
  /** Drop Access-Requests without a valid Message-Authenticator (BlastRADIUS). */
  readonly requireMessageAuthenticator: boolean;
}

export interface NasLookup {
  /**
   * The NAS a packet from this source address belongs to (exact address first, then the
   * longest matching prefix). Changes made by another process are seen on the next call.
   */
  lookup(address: string): Promise<NasClient | undefined>;
  /**
   * The same answer at once when nothing has to be loaded first: the NAS, or null when none
   * has this address; undefined when only `lookup` can tell. Lets the server take a packet
   * without a promise and a turn of the microtask queue.
   */
  lookupNow?(address: string): NasClient | null | undefined;
}

export type SubscriberStatus = 'active' | 'suspended' | 'terminated';

/** A subscriber as authentication sees it: with the password in clear. */
export interface AuthSubscriber {
  readonly username: string;
  readonly status: SubscriberStatus;
  readonly password: string;
  readonly ipv4: string | null;
  readonly ipv6Prefix: string | null;
  readonly delegatedPrefix: string | null;
  readonly mtu: number | null;
  readonly portLimit: number | null;
  readonly interim: number | null;
}

export interface SubscriberLookup {
  /** By the User-Name the NAS sent; the realm after `@` matches case-insensitively. */
  findForAuth(userName: string): Promise<AuthSubscriber | undefined>;
}

export interface SessionLookup {
  /** Open sessions of a subscriber (simultaneous use, Port-Limit). */
  openCount(userName: string): Promise<number>;
  /** Marks the oldest open session lost, making room for a new one. */
  markOldestLost(userName: string, now: number): Promise<void>;
}
