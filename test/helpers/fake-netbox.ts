// A fake NetBox for the sync's tests, written from NetBox's published REST API as of
// NetBox 4.4 (docs/integrations/rest-api.md, the OpenAPI schema at /api/schema/, and the
// webhook documentation), for the part ispkit uses:
//
// - auth: `Authorization: Token <40 hex>` (v1 tokens); also NetBox 4.5's v2 `Bearer nbt_…`
//   when the fake is given one. No or a wrong token → 403 {"detail": …}, as NetBox answers.
// - lists: {count, next, previous, results}; `limit` (default PAGINATE_COUNT 50, 0 = the
//   MAX_PAGE_SIZE 1000, capped there) and `offset`; `next`/`previous` are absolute URLs.
// - filters: id, tag (slug, repeated = all of them; an unknown slug → 400 like NetBox's
//   choice filter), vrf_id (an id or `null`), status; ip-addresses: address, parent, dns_name;
//   prefixes: prefix, within, within_include, role; tags and tenants: slug, name.
//   Real NetBox ignores a filter it does not know; the fake answers 400 instead, so that a test
//   fails when ispkit starts to depend on a filter the fake does not implement.
// - writes on ip-addresses and prefixes: POST/PATCH/DELETE on the detail endpoint and the bulk
//   forms on the list endpoint (a list; all-or-none), related objects by id or by {slug}/{name},
//   ENFORCE_GLOBAL_UNIQUE (duplicate address or prefix in a VRF → 400), NetBox's dns_name check.
//   POST on extras/tags.
// - webhooks: after each change, NetBox's default body ({event, timestamp, model, username,
//   request_id, data, snapshots}) with X-Hook-Signature = hex HMAC-SHA512 of the body.
import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import ipaddr from 'ipaddr.js';

export const FAKE_NETBOX_VERSION = '4.4';

type Json = Record<string, unknown>;

interface Row {
  id: number;
  [field: string]: unknown;
}

interface Named {
  id: number;
  name: string;
  slug: string;
}

export interface FakeNetboxOptions {
  /** The v1 token (40 hex digits); a random one by default. */
  token?: string;
  /** A v2 token (`nbt_<key>.<secret>`, NetBox 4.5) accepted as `Bearer`. */
  v2Token?: string;
  /** PAGINATE_COUNT (NetBox: 50); tests use a small one to exercise pagination. */
  pageSize?: number;
  /** MAX_PAGE_SIZE (NetBox: 1000). */
  maxPageSize?: number;
  /** Builds next/previous links on this origin (a NetBox behind a proxy that rewrites). */
  publicUrl?: string;
  /** Where to send webhooks, with the webhook's secret. */
  webhook?: { url: string; secret?: string };
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
}

const IP_STATUS = ['active', 'reserved', 'deprecated', 'dhcp', 'slaac'];
const PREFIX_STATUS = ['container', 'active', 'reserved', 'deprecated'];
const DNS_NAME = /^([0-9A-Za-z_-]+|\*)(\.[0-9A-Za-z_-]+)*\.?$/;
const STATUS_LABEL = (v: string) => v.toUpperCase().slice(0, 1) + v.slice(1);

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

function cidr(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  return ipaddr.parseCIDR(text);
}

function addrText(a: ipaddr.IPv4 | ipaddr.IPv6): string {
  return a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toRFC5952String() : a.toString();
}

/** NetBox keeps an address as typed (host and mask), in its canonical text. */
function normaliseAddress(text: string): string {
  if (!text.includes('/')) throw new HttpError(400, { address: ['Address must include a mask'] });
  try {
    const [a, len] = cidr(text);
    return `${addrText(a)}/${len}`;
  } catch {
    throw new HttpError(400, { address: [`Invalid IP address format: ${text}`] });
  }
}

/** A prefix is kept as its network (NetBox clears the host bits). */
function normalisePrefix(text: string): string {
  try {
    const [a, len] = cidr(text);
    const net =
      a.kind() === 'ipv6'
        ? ipaddr.IPv6.networkAddressFromCIDR(text)
        : ipaddr.IPv4.networkAddressFromCIDR(text);
    return `${addrText(net)}/${len}`;
  } catch {
    throw new HttpError(400, { prefix: [`Invalid IP prefix format: ${text}`] });
  }
}

/** The host of an address with its mask, as a /32 or /128. */
function hostOf(address: string): string {
  const [a] = cidr(address);
  return `${addrText(a)}/${a.kind() === 'ipv6' ? 128 : 32}`;
}

function inside(inner: string, outer: string, allowEqual: boolean): boolean {
  const [ia, il] = cidr(inner);
  const [oa, ol] = cidr(outer);
  if (ia.kind() !== oa.kind()) return false;
  if (allowEqual ? il < ol : il <= ol) return false;
  return ia.match([oa, ol]);
}

export class FakeNetbox {
  readonly token: string;
  readonly requests: LoggedRequest[] = [];
  /** Webhook deliveries: the body sent and the receiver's status. */
  readonly webhooks: { body: Json; status: number }[] = [];
  private server: Server | undefined;
  private origin = '';
  private nextId = 1;
  private readonly tags = new Map<number, Named & { color: string; description: string }>();
  private readonly tenants = new Map<number, Named>();
  private readonly roles = new Map<number, Named>();
  private readonly vrfs = new Map<number, { id: number; name: string }>();
  private readonly ips = new Map<number, Row>();
  private readonly prefixRows = new Map<number, Row>();
  private pending: Promise<void>[] = [];

  constructor(private options: FakeNetboxOptions = {}) {
    this.token = options.token ?? randomUUID().replace(/-/g, '').padEnd(40, '0').slice(0, 40);
  }

  get url(): string {
    return this.origin;
  }

  /** Requests that change something (POST, PATCH, PUT, DELETE). */
  get writes(): LoggedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((done) => this.server?.listen(0, '127.0.0.1', done));
    const { port } = this.server.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    await this.flushWebhooks();
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
  }

  /** Sends webhooks from now on (the receiver may start after the fake). */
  setWebhook(webhook: { url: string; secret?: string }): void {
    this.options = { ...this.options, webhook };
  }

  /** Waits for the webhooks sent so far to be answered. */
  async flushWebhooks(): Promise<void> {
    while (this.pending.length) await Promise.all(this.pending.splice(0));
  }

  // --- what a person does in NetBox's UI (not logged as API requests) ---

  addTag(slug: string, name = slug): number {
    const id = this.nextId++;
    this.tags.set(id, { id, name, slug, color: '9e9e9e', description: '' });
    return id;
  }

  addTenant(slug: string, name = slug): number {
    const id = this.nextId++;
    this.tenants.set(id, { id, name, slug });
    return id;
  }

  addRole(slug: string, name = slug): number {
    const id = this.nextId++;
    this.roles.set(id, { id, name, slug });
    return id;
  }

  addVrf(name: string): number {
    const id = this.nextId++;
    this.vrfs.set(id, { id, name });
    return id;
  }

  addPrefix(fields: Json): number {
    return this.write('prefix', null, fields, 'ui').id;
  }

  addIpAddress(fields: Json): number {
    return this.write('ipaddress', null, fields, 'ui').id;
  }

  /** Changes an object as a person would (a webhook follows, when configured). */
  edit(model: 'ipaddress' | 'prefix', id: number, fields: Json): void {
    this.write(model, id, fields, 'ui');
  }

  remove(model: 'ipaddress' | 'prefix', id: number): void {
    this.destroy(model, [id], 'ui');
  }

  /** The objects as the API shows them. */
  ipAddresses(): Json[] {
    return [...this.ips.values()].map((r) => this.showIp(r));
  }

  prefixes(): Json[] {
    return [...this.prefixRows.values()].map((r) => this.showPrefix(r));
  }

  // --- the HTTP side ---

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: url.search });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let status = 200;
    let body: unknown;
    try {
      this.authenticate(req.headers.authorization);
      const data: unknown = raw === '' ? undefined : this.parseJson(raw);
      [status, body] = this.route(method, url, data);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      status = e.status;
      body = e.body;
    }
    res.statusCode = status;
    res.setHeader('API-Version', FAKE_NETBOX_VERSION);
    res.setHeader('X-Request-ID', randomUUID());
    if (status === 204) {
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(body));
  }

  private parseJson(raw: string): unknown {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new HttpError(400, { detail: 'JSON parse error' });
    }
  }

  private authenticate(header: string | undefined): void {
    if (!header) {
      throw new HttpError(403, { detail: 'Authentication credentials were not provided.' });
    }
    const [scheme, value] = header.split(' ', 2);
    const ok =
      (scheme === 'Token' && value === this.token) ||
      (scheme === 'Bearer' && this.options.v2Token !== undefined && value === this.options.v2Token);
    if (!ok) throw new HttpError(403, { detail: 'Invalid token' });
  }

  private route(method: string, url: URL, data: unknown): [number, unknown] {
    const m =
      /^\/api\/(ipam\/ip-addresses|ipam\/prefixes|extras\/tags|tenancy\/tenants)\/(?:(\d+)\/)?$/.exec(
        url.pathname,
      );
    if (!m) throw new HttpError(404, { detail: 'Not found.' });
    const endpoint = m[1] as string;
    const id = m[2] === undefined ? undefined : Number(m[2]);
    if (endpoint === 'extras/tags' || endpoint === 'tenancy/tenants') {
      const table = endpoint === 'extras/tags' ? this.tags : this.tenants;
      if (method === 'GET' && id === undefined) {
        const rows = [...table.values()].filter((r) =>
          this.matchSimple(url.searchParams, r as unknown as Json),
        );
        return [
          200,
          this.page(
            url,
            rows.map((r) => this.showNamed(endpoint, r)),
          ),
        ];
      }
      if (method === 'POST' && endpoint === 'extras/tags' && id === undefined) {
        const list = Array.isArray(data) ? (data as Json[]) : [data as Json];
        const made = list.map((d) => {
          if (typeof d?.name !== 'string' || typeof d.slug !== 'string') {
            throw new HttpError(400, { name: ['This field is required.'] });
          }
          if ([...this.tags.values()].some((t) => t.slug === d.slug)) {
            throw new HttpError(400, { slug: ['tag with this slug already exists.'] });
          }
          return this.showNamed(endpoint, this.tags.get(this.addTag(d.slug, d.name)) as Named);
        });
        return [201, Array.isArray(data) ? made : made[0]];
      }
      throw new HttpError(405, { detail: `Method "${method}" not allowed.` });
    }
    const model = endpoint === 'ipam/prefixes' ? 'prefix' : 'ipaddress';
    const table = model === 'prefix' ? this.prefixRows : this.ips;
    const show = (r: Row) => (model === 'prefix' ? this.showPrefix(r) : this.showIp(r));
    if (id !== undefined) {
      const row = table.get(id);
      if (!row) throw new HttpError(404, { detail: 'No object matches the given query.' });
      if (method === 'GET') return [200, show(row)];
      if (method === 'PATCH' || method === 'PUT') {
        return [200, show(this.write(model, id, data as Json, 'api'))];
      }
      if (method === 'DELETE') {
        this.destroy(model, [id], 'api');
        return [204, undefined];
      }
      throw new HttpError(405, { detail: `Method "${method}" not allowed.` });
    }
    if (method === 'GET') {
      const rows = [...table.values()].filter((r) => this.matches(model, r, url.searchParams));
      return [200, this.page(url, rows.map(show))];
    }
    if (method === 'POST') {
      const list = Array.isArray(data) ? (data as Json[]) : [data as Json];
      this.checkAll(
        model,
        list.map((d) => [null, d]),
      );
      const made = list.map((d) => show(this.write(model, null, d, 'api')));
      return [201, Array.isArray(data) ? made : made[0]];
    }
    if (method === 'PATCH' || method === 'PUT') {
      if (!Array.isArray(data)) throw new HttpError(400, { detail: 'Expected a list of items.' });
      const list = data as Json[];
      const pairs = list.map((d): [number, Json] => {
        const rowId = typeof d.id === 'number' ? d.id : NaN;
        if (!table.has(rowId))
          throw new HttpError(400, { detail: `Object with ID ${d.id} not found` });
        return [rowId, d];
      });
      this.checkAll(model, pairs);
      return [200, pairs.map(([rowId, d]) => show(this.write(model, rowId, d, 'api')))];
    }
    if (method === 'DELETE') {
      if (!Array.isArray(data)) throw new HttpError(400, { detail: 'Expected a list of items.' });
      const ids = (data as Json[]).map((d) => Number(d.id));
      for (const i of ids) {
        if (!table.has(i)) throw new HttpError(400, { detail: `Object with ID ${i} not found` });
      }
      this.destroy(model, ids, 'api');
      return [204, undefined];
    }
    throw new HttpError(405, { detail: `Method "${method}" not allowed.` });
  }

  private page(url: URL, all: Json[]): Json {
    const q = url.searchParams;
    const max = this.options.maxPageSize ?? 1000;
    const asked = q.has('limit') ? Number(q.get('limit')) : (this.options.pageSize ?? 50);
    const limit = asked === 0 || asked > max ? max : asked;
    const offset = Number(q.get('offset') ?? 0);
    if (!Number.isInteger(limit) || limit < 0 || !Number.isInteger(offset) || offset < 0) {
      throw new HttpError(400, { detail: 'Invalid limit or offset' });
    }
    const link = (o: number) => {
      const u = new URL(url.pathname + url.search, this.options.publicUrl ?? this.origin);
      u.searchParams.set('limit', String(limit));
      u.searchParams.set('offset', String(o));
      return u.toString();
    };
    return {
      count: all.length,
      next: offset + limit < all.length ? link(offset + limit) : null,
      previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
      results: all.slice(offset, offset + limit),
    };
  }

  private matchSimple(q: URLSearchParams, r: Json): boolean {
    for (const key of new Set(q.keys())) {
      if (key === 'limit' || key === 'offset') continue;
      if (key !== 'slug' && key !== 'name' && key !== 'id') {
        throw new HttpError(400, { detail: `fake NetBox: unsupported filter ${key}` });
      }
      if (!q.getAll(key).includes(String(r[key]))) return false;
    }
    return true;
  }

  private tagIds(slugs: string[]): number[] {
    return slugs.map((s) => {
      const t = [...this.tags.values()].find((x) => x.slug === s);
      if (!t) {
        throw new HttpError(400, {
          tag: [`Select a valid choice. ${s} is not one of the available choices.`],
        });
      }
      return t.id;
    });
  }

  private matches(model: 'ipaddress' | 'prefix', r: Row, q: URLSearchParams): boolean {
    const field = model === 'prefix' ? 'prefix' : 'address';
    const value = r[field] as string;
    for (const key of new Set(q.keys())) {
      const vals = q.getAll(key);
      switch (key) {
        case 'limit':
        case 'offset':
          break;
        case 'id':
          if (!vals.includes(String(r.id))) return false;
          break;
        case 'tag':
          for (const t of this.tagIds(vals)) if (!(r.tags as number[]).includes(t)) return false;
          break;
        case 'vrf_id':
          if (!vals.some((v) => (v === 'null' ? r.vrf === null : Number(v) === r.vrf)))
            return false;
          break;
        case 'status':
          if (!vals.includes(r.status as string)) return false;
          break;
        case 'address':
          if (model !== 'ipaddress') throw this.unsupported(key);
          if (
            !vals.some(
              (v) => addrText(cidr(value)[0]) === addrText(ipaddr.parse(v.split('/')[0] ?? v)),
            )
          )
            return false;
          break;
        case 'parent':
          if (model !== 'ipaddress') throw this.unsupported(key);
          if (!vals.some((v) => inside(hostOf(value), v, true))) return false;
          break;
        case 'dns_name':
          if (model !== 'ipaddress') throw this.unsupported(key);
          if (!vals.includes(r.dns_name as string)) return false;
          break;
        case 'prefix':
          if (model !== 'prefix') throw this.unsupported(key);
          if (!vals.some((v) => normalisePrefix(v) === value)) return false;
          break;
        case 'within':
        case 'within_include':
          if (model !== 'prefix') throw this.unsupported(key);
          if (!vals.some((v) => inside(value, v, key === 'within_include'))) return false;
          break;
        case 'role': {
          if (model !== 'prefix') throw this.unsupported(key);
          const role = r.role === null ? undefined : this.roles.get(r.role as number);
          if (!role || !vals.includes(role.slug)) return false;
          break;
        }
        default:
          throw this.unsupported(key);
      }
    }
    return true;
  }

  private unsupported(key: string): HttpError {
    return new HttpError(400, { detail: `fake NetBox: unsupported filter ${key}` });
  }

  /** Resolves a related object given by id, by {slug}/{name}, or null. */
  private related<T extends { id: number }>(
    field: string,
    value: unknown,
    table: Map<number, T>,
  ): number | null {
    if (value === null) return null;
    if (typeof value === 'number') {
      if (!table.has(value)) {
        throw new HttpError(400, {
          [field]: [`Related object not found using the provided numeric ID: ${value}`],
        });
      }
      return value;
    }
    if (typeof value === 'object' && !Array.isArray(value)) {
      const want = value as Json;
      const found = [...table.values()].filter((r) =>
        Object.entries(want).every(([k, v]) => (r as unknown as Json)[k] === v),
      );
      if (found.length === 1) return (found[0] as T).id;
      throw new HttpError(400, {
        [field]: [
          `Related object not found using the provided attributes: ${JSON.stringify(want)}`,
        ],
      });
    }
    throw new HttpError(400, { [field]: ['Incorrect type.'] });
  }

  /** Validates a row's new values; returns the full row it would become. */
  private build(model: 'ipaddress' | 'prefix', id: number | null, d: Json, ui = false): Row {
    if (typeof d !== 'object' || d === null) throw new HttpError(400, { detail: 'Invalid data.' });
    const table = model === 'prefix' ? this.prefixRows : this.ips;
    const before: Row | undefined = id === null ? undefined : table.get(id);
    const now = new Date().toISOString();
    const row: Row = before
      ? { ...before }
      : {
          id: 0,
          vrf: null,
          tenant: null,
          status: 'active',
          description: '',
          comments: '',
          tags: [],
          custom_fields: {},
          created: now,
          ...(model === 'prefix' ? { prefix: '', role: null } : { address: '', dns_name: '' }),
        };
    const field = model === 'prefix' ? 'prefix' : 'address';
    if (d[field] !== undefined) {
      row[field] =
        model === 'prefix' ? normalisePrefix(String(d[field])) : normaliseAddress(String(d[field]));
    } else if (!before) {
      throw new HttpError(400, { [field]: ['This field is required.'] });
    }
    if (d.status !== undefined) {
      const choices = model === 'prefix' ? PREFIX_STATUS : IP_STATUS;
      if (!choices.includes(String(d.status))) {
        throw new HttpError(400, { status: [`"${String(d.status)}" is not a valid choice.`] });
      }
      row.status = d.status;
    }
    for (const text of ['description', 'comments'] as const) {
      if (d[text] !== undefined) {
        if (typeof d[text] !== 'string' || (text === 'description' && d[text].length > 200)) {
          throw new HttpError(400, {
            [text]: ['Ensure this field has no more than 200 characters.'],
          });
        }
        row[text] = d[text];
      }
    }
    if (model === 'ipaddress' && d.dns_name !== undefined) {
      const name = String(d.dns_name);
      if (name !== '' && !DNS_NAME.test(name)) {
        throw new HttpError(400, {
          dns_name: [
            'Only alphanumeric characters, asterisks, hyphens, periods, and underscores are allowed in DNS names',
          ],
        });
      }
      row.dns_name = name;
    }
    if (d.tenant !== undefined) row.tenant = this.related('tenant', d.tenant, this.tenants);
    if (d.vrf !== undefined) row.vrf = this.related('vrf', d.vrf, this.vrfs);
    if (model === 'prefix' && d.role !== undefined)
      row.role = this.related('role', d.role, this.roles);
    if (d.tags !== undefined) {
      if (!Array.isArray(d.tags)) throw new HttpError(400, { tags: ['Expected a list of items.'] });
      row.tags = d.tags.map((t: unknown) =>
        // The UI picks tags by name; the API wants ids or {slug}/{name}.
        ui && typeof t === 'string'
          ? (this.tagIds([t])[0] as number)
          : (this.related('tags', t, this.tags) as number),
      );
    }
    if (d.custom_fields !== undefined)
      row.custom_fields = { ...(row.custom_fields as Json), ...(d.custom_fields as Json) };
    // ENFORCE_GLOBAL_UNIQUE: one address (or prefix) per VRF.
    const key = (r: Row) =>
      model === 'prefix' ? (r.prefix as string) : addrText(cidr(r.address as string)[0]);
    const dup = [...table.values()].find(
      (r) => r.id !== id && r.vrf === row.vrf && key(r) === key(row),
    );
    if (dup) {
      const where = row.vrf === null ? 'global table' : `VRF ${String(row.vrf)}`;
      throw new HttpError(400, {
        [field]: [
          `Duplicate ${model === 'prefix' ? 'prefix' : 'IP address'} found in ${where}: ${String(dup[field])}`,
        ],
      });
    }
    row.last_updated = now;
    return row;
  }

  /** Bulk writes are all-or-none: everything is checked before anything changes. */
  private checkAll(model: 'ipaddress' | 'prefix', list: [number | null, Json][]): void {
    const table = model === 'prefix' ? this.prefixRows : this.ips;
    const saved = new Map(table);
    try {
      let fakeId = -1;
      for (const [id, d] of list) {
        const row = this.build(model, id, d);
        table.set(id ?? fakeId, { ...row, id: id ?? fakeId });
        fakeId--;
      }
    } catch (e) {
      if (e instanceof HttpError && list.length > 1) throw new HttpError(e.status, [e.body]);
      throw e;
    } finally {
      table.clear();
      for (const [k, v] of saved) table.set(k, v);
    }
  }

  private write(model: 'ipaddress' | 'prefix', id: number | null, d: Json, by: string): Row {
    const table = model === 'prefix' ? this.prefixRows : this.ips;
    const before = id === null ? undefined : table.get(id);
    const row = this.build(model, id, d, by === 'ui');
    if (id === null) row.id = this.nextId++;
    table.set(row.id, row);
    this.notify(id === null ? 'created' : 'updated', model, row, before, by);
    return row;
  }

  private destroy(model: 'ipaddress' | 'prefix', ids: number[], by: string): void {
    const table = model === 'prefix' ? this.prefixRows : this.ips;
    for (const id of ids) {
      const row = table.get(id);
      if (!row) continue;
      table.delete(id);
      this.notify('deleted', model, row, row, by);
    }
  }

  private notify(event: string, model: string, row: Row, before: Row | undefined, by: string) {
    const hook = this.options.webhook;
    if (!hook) return;
    const data = model === 'prefix' ? this.showPrefix(row) : this.showIp(row);
    const body = JSON.stringify({
      event,
      timestamp: new Date().toISOString().replace('T', ' ').replace('Z', '+00:00'),
      model,
      username: by === 'ui' ? 'admin' : 'ispkit',
      request_id: randomUUID(),
      data,
      snapshots: { prechange: before ?? null, postchange: event === 'deleted' ? null : row },
    });
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (hook.secret) {
      headers['X-Hook-Signature'] = createHmac('sha512', hook.secret).update(body).digest('hex');
    }
    this.pending.push(
      fetch(hook.url, { method: 'POST', headers, body }).then(
        async (r) => {
          await r.text();
          this.webhooks.push({ body: JSON.parse(body) as Json, status: r.status });
        },
        () => {
          this.webhooks.push({ body: JSON.parse(body) as Json, status: 0 });
        },
      ),
    );
  }

  // --- NetBox 4.4's representations ---

  private link(path: string, id: number): string {
    return `${this.options.publicUrl ?? this.origin}/api/${path}/${id}/`;
  }

  private showNamed(endpoint: string, r: Named): Json {
    return {
      id: r.id,
      url: this.link(endpoint, r.id),
      display: r.name,
      name: r.name,
      slug: r.slug,
      ...(endpoint === 'extras/tags' ? { color: '9e9e9e' } : {}),
      description: '',
    };
  }

  private nested(kind: 'tenant' | 'vrf' | 'role', id: unknown): Json | null {
    if (id === null || id === undefined) return null;
    if (kind === 'vrf') {
      const v = this.vrfs.get(id as number);
      return v
        ? {
            id: v.id,
            url: this.link('ipam/vrfs', v.id),
            display: v.name,
            name: v.name,
            rd: null,
            description: '',
          }
        : null;
    }
    const table = kind === 'tenant' ? this.tenants : this.roles;
    const r = table.get(id as number);
    const path = kind === 'tenant' ? 'tenancy/tenants' : 'ipam/roles';
    return r
      ? {
          id: r.id,
          url: this.link(path, r.id),
          display: r.name,
          name: r.name,
          slug: r.slug,
          description: '',
        }
      : null;
  }

  private common(r: Row, path: string, display: string): Json {
    const [a] = cidr(display);
    return {
      id: r.id,
      url: this.link(path, r.id),
      display_url: `${this.options.publicUrl ?? this.origin}/${path}/${r.id}/`,
      display,
      family: a.kind() === 'ipv6' ? { value: 6, label: 'IPv6' } : { value: 4, label: 'IPv4' },
    };
  }

  private tagList(r: Row): Json[] {
    return (r.tags as number[]).map((id) => {
      const t = this.tags.get(id);
      return {
        id,
        url: this.link('extras/tags', id),
        display: t?.name,
        name: t?.name,
        slug: t?.slug,
        color: t?.color,
      };
    });
  }

  private showIp(r: Row): Json {
    return {
      ...this.common(r, 'ipam/ip-addresses', r.address as string),
      address: r.address,
      vrf: this.nested('vrf', r.vrf),
      tenant: this.nested('tenant', r.tenant),
      status: { value: r.status, label: STATUS_LABEL(r.status as string) },
      role: null,
      assigned_object_type: null,
      assigned_object_id: null,
      assigned_object: null,
      nat_inside: null,
      nat_outside: [],
      dns_name: r.dns_name,
      description: r.description,
      comments: r.comments,
      tags: this.tagList(r),
      custom_fields: r.custom_fields,
      created: r.created,
      last_updated: r.last_updated,
    };
  }

  private showPrefix(r: Row): Json {
    return {
      ...this.common(r, 'ipam/prefixes', r.prefix as string),
      prefix: r.prefix,
      vrf: this.nested('vrf', r.vrf),
      scope_type: null,
      scope_id: null,
      scope: null,
      tenant: this.nested('tenant', r.tenant),
      vlan: null,
      status: { value: r.status, label: STATUS_LABEL(r.status as string) },
      role: this.nested('role', r.role),
      is_pool: false,
      mark_utilized: false,
      description: r.description,
      comments: r.comments,
      tags: this.tagList(r),
      custom_fields: r.custom_fields,
      created: r.created,
      last_updated: r.last_updated,
      children: 0,
      _depth: 0,
    };
  }
}
