import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * NetBox's outgoing webhooks (an event rule with a webhook action). With a secret set on the
 * webhook, NetBox adds `X-Hook-Signature`: the hex HMAC-SHA512 of the request body, keyed with
 * the secret. The default body is `{event, timestamp, model, username, request_id, data,
 * snapshots}`, `event` one of created/updated/deleted, `model` the model name (`ipaddress`,
 * `prefix`).
 */

export function signature(secret: string, body: Buffer | string): string {
  return createHmac('sha512', secret).update(body).digest('hex');
}

/** Compares in constant time; false for a missing or malformed header. */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (header === undefined || !/^[0-9a-fA-F]{128}$/.test(header.trim())) return false;
  const expected = Buffer.from(signature(secret, body), 'hex');
  const given = Buffer.from(header.trim(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface NetboxEvent {
  event: string;
  /** Lower case, without the app label: `ipaddress`, `prefix`. */
  model: string;
  username: string | null;
  requestId: string | null;
  /** The object's id, when the body has one. */
  objectId: number | null;
}

/** The NetBox models whose changes ispkit imports: a pull follows. */
export const WATCHED_MODELS = new Set(['ipaddress', 'prefix']);

/** Reads NetBox's default webhook body; undefined when it is not one. */
export function parseEvent(body: unknown): NetboxEvent | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const o = body as Record<string, unknown>;
  if (typeof o.event !== 'string' || typeof o.model !== 'string') return undefined;
  const data = o.data as { id?: unknown } | null | undefined;
  return {
    event: o.event,
    // Accept `ipam.ipaddress` too (a body template may send the app label).
    model: o.model.toLowerCase().replace(/^ipam\./, ''),
    username: typeof o.username === 'string' ? o.username : null,
    requestId: typeof o.request_id === 'string' ? o.request_id : null,
    objectId: typeof data?.id === 'number' ? data.id : null,
  };
}

/**
 * Runs a job at most once at a time: a trigger while it runs asks for one more run after it
 * (a burst of NetBox events — a bulk edit sends one per object — costs two pulls, not N).
 */
export class Coalescer {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {}

  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once no run is in progress nor pending (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.job();
      } catch (e) {
        this.onError(e);
      }
    } while (this.again);
  }
}
