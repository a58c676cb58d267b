import { z } from 'zod';
import { DomainError } from '../errors.js';

/**
 * A small client for the part of NetBox's REST API the sync uses (NetBox 4.x: /api/ipam/…,
 * /api/extras/tags/, /api/tenancy/tenants/). Lists follow NetBox's limit/offset pagination
 * (`{count, next, previous, results}`); writes use the bulk forms of the list endpoints (a list
 * of objects, all-or-none on NetBox's side). The token is sent, never logged nor put in errors.
 */

/** The page size asked for: NetBox's default MAX_PAGE_SIZE (a smaller cap is followed too). */
const PAGE = 1000;
/** Objects per bulk write: one request stays small, a failure names a small batch. */
const BULK = 100;

const ref = z.object({ id: z.number() }).loose();
const slugRef = z.object({ id: z.number(), slug: z.string() }).loose();
const choice = z.object({ value: z.string() }).loose();

export const NbTag = z.object({ id: z.number(), name: z.string(), slug: z.string() }).loose();
export type NbTag = z.infer<typeof NbTag>;

export const NbTenant = z.object({ id: z.number(), name: z.string(), slug: z.string() }).loose();
export type NbTenant = z.infer<typeof NbTenant>;

export const NbIpAddress = z
  .object({
    id: z.number(),
    address: z.string(),
    vrf: ref.nullable(),
    tenant: slugRef.nullable(),
    status: choice,
    dns_name: z.string(),
    description: z.string(),
    tags: z.array(slugRef),
  })
  .loose();
export type NbIpAddress = z.infer<typeof NbIpAddress>;

export const NbPrefix = z
  .object({
    id: z.number(),
    prefix: z.string(),
    vrf: ref.nullable(),
    tenant: slugRef.nullable(),
    status: choice,
    role: slugRef.nullable(),
    description: z.string(),
    tags: z.array(slugRef),
    custom_fields: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
export type NbPrefix = z.infer<typeof NbPrefix>;

const Page = z.object({
  count: z.number(),
  next: z.string().nullable(),
  previous: z.string().nullable().optional(),
  results: z.array(z.unknown()),
});

/** The endpoints the sync reads and writes, relative to /api/. */
export type Endpoint = 'ipam/ip-addresses' | 'ipam/prefixes' | 'extras/tags' | 'tenancy/tenants';

export type Filters = Record<string, string | number | (string | number)[]>;

export interface ClientOptions {
  /** NetBox's base URL (the API is at URL/api/). */
  url: string;
  token: string;
  /** Per request, milliseconds. */
  timeoutMs: number;
  /** Tests may count or fail requests; Node's global fetch otherwise. */
  fetch?: typeof fetch;
}

/**
 * The Authorization header: NetBox 4.5's v2 tokens (`nbt_<key>.<secret>`) go as `Bearer`,
 * the v1 tokens of NetBox ≤ 4.4 (40 hex digits) as `Token`.
 */
export function authorization(token: string): string {
  return token.startsWith('nbt_') ? `Bearer ${token}` : `Token ${token}`;
}

/** NetBox's error body: `{"detail": "…"}`, or field errors `{"address": ["…"]}` (a list in bulk). */
export function describeError(body: unknown): string {
  if (body === null || body === undefined || body === '') return '';
  if (typeof body === 'string') return body.slice(0, 300);
  if (Array.isArray(body)) {
    return body
      .map(describeError)
      .filter((s) => s !== '')
      .join('; ');
  }
  if (typeof body === 'object') {
    const o = body as Record<string, unknown>;
    if (typeof o.detail === 'string') return o.detail;
    return Object.entries(o)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.map(String).join(' ') : describeError(v)}`)
      .join('; ')
      .slice(0, 500);
  }
  return String(body);
}

export class NetboxClient {
  private readonly base: URL;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Where this client talks to, for plans and logs (no credentials). */
  get origin(): string {
    return `${this.base.origin}${this.base.pathname.replace(/\/$/, '')}`;
  }

  /** Every object of a list endpoint that matches the filters, across pages. */
  async list<T>(endpoint: Endpoint, filters: Filters, schema: z.ZodType<T>): Promise<T[]> {
    const first = this.url(endpoint);
    for (const [k, v] of Object.entries(filters)) {
      for (const one of Array.isArray(v) ? v : [v]) first.searchParams.append(k, String(one));
    }
    first.searchParams.set('limit', String(PAGE));
    const out: T[] = [];
    let next: URL | null = first;
    for (let pages = 0; next !== null; pages++) {
      if (pages > 100_000) throw apiError('GET', endpoint, 0, 'pagination does not end');
      const raw = await this.request('GET', next, endpoint);
      const page = Page.safeParse(raw);
      if (!page.success) throw apiError('GET', endpoint, 200, 'not a NetBox list response');
      for (const item of page.data.results) {
        const parsed = schema.safeParse(item);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw apiError('GET', endpoint, 200, `unexpected object: ${issue?.path.join('.')}`);
        }
        out.push(parsed.data);
      }
      // NetBox builds `next` from the Host it saw; behind a proxy that may be another scheme or
      // name, so only its path and query are kept, on the configured base URL.
      next = page.data.next === null ? null : this.rebase(page.data.next);
    }
    return out;
  }

  async create(endpoint: Endpoint, objects: Record<string, unknown>[]): Promise<unknown[]> {
    const out: unknown[] = [];
    for (let i = 0; i < objects.length; i += BULK) {
      const r = await this.request(
        'POST',
        this.url(endpoint),
        endpoint,
        objects.slice(i, i + BULK),
      );
      if (Array.isArray(r)) out.push(...(r as unknown[]));
    }
    return out;
  }

  /** PATCH: each object carries its `id` and only the fields to change. */
  async update(endpoint: Endpoint, patches: ({ id: number } & Record<string, unknown>)[]) {
    for (let i = 0; i < patches.length; i += BULK) {
      await this.request('PATCH', this.url(endpoint), endpoint, patches.slice(i, i + BULK));
    }
  }

  async delete(endpoint: Endpoint, ids: number[]): Promise<void> {
    for (let i = 0; i < ids.length; i += BULK) {
      const batch = ids.slice(i, i + BULK).map((id) => ({ id }));
      await this.request('DELETE', this.url(endpoint), endpoint, batch);
    }
  }

  private url(endpoint: Endpoint): URL {
    return new URL(`api/${endpoint}/`, this.base);
  }

  private rebase(next: string): URL {
    let u: URL;
    try {
      u = new URL(next, this.base);
    } catch {
      throw apiError('GET', 'pagination', 200, `bad next link ${next}`);
    }
    const apiAt = u.pathname.indexOf('/api/');
    const path = apiAt >= 0 ? u.pathname.slice(apiAt + 1) : u.pathname.replace(/^\//, '');
    return new URL(`${path}${u.search}`, this.base);
  }

  private async request(method: string, url: URL, what: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetch(url, {
        method,
        headers: {
          Authorization: authorization(this.options.token),
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why =
        err.name === 'TimeoutError'
          ? `no answer within ${this.options.timeoutMs / 1000} s`
          : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new DomainError(
        'NETBOX_UNREACHABLE',
        `NetBox at ${this.origin} is unreachable (${method} /api/${what}/: ${why})`,
        'unavailable',
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = text;
      }
    }
    if (res.status === 401 || res.status === 403) {
      throw new DomainError(
        'NETBOX_AUTH',
        `NetBox refused the token (HTTP ${res.status} on ${method} /api/${what}/: ${describeError(parsed) || res.statusText}); check netbox.token and its permissions`,
        'unavailable',
      );
    }
    if (!res.ok) throw apiError(method, what, res.status, describeError(parsed) || res.statusText);
    if (res.status !== 204 && typeof parsed === 'string' && text !== '') {
      throw apiError(method, what, res.status, 'the answer is not JSON (is the URL NetBox?)');
    }
    return parsed;
  }
}

function apiError(method: string, what: string, status: number, detail: string): DomainError {
  return new DomainError(
    'NETBOX_API',
    `NetBox answered HTTP ${status} to ${method} /api/${what}/: ${detail}`,
    'unavailable',
  );
}
