import ipaddr from 'ipaddr.js';
import type { Selectable, Transaction } from 'kysely';
import { recordAudit } from '../audit/audit.js';
import { DomainError } from '../errors.js';
import type { SecretBox } from '../secrets/box.js';
import type { Database, NasTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { NasClient, NasLookup } from './ports.js';

/** RFC 2865 §3 asks for secrets of at least 16 octets; shorter ones work but are guessable. */
export const RECOMMENDED_SECRET_OCTETS = 16;
const MAX_SECRET_OCTETS = 128;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** A NAS as people see it: everything but the secret. */
export interface Nas {
  name: string;
  /** An address (`192.0.2.1`) or a prefix (`192.0.2.0/24`) in canonical form. */
  address: string;
  requireMessageAuthenticator: boolean;
  createdAt: number;
  updatedAt: number;
}

/** The stable snake_case form used by `--json`, the API and the audit log. */
export function nasJson(n: Nas): Record<string, string | boolean> {
  return {
    name: n.name,
    address: n.address,
    require_message_authenticator: n.requireMessageAuthenticator,
    created_at: new Date(n.createdAt).toISOString(),
    updated_at: new Date(n.updatedAt).toISOString(),
  };
}

function toNas(r: Selectable<NasTable>): Nas {
  return {
    name: r.name,
    address: r.address,
    requireMessageAuthenticator: r.require_message_authenticator === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Packets from `::ffff:192.0.2.1` (a dual-stack socket) come from the IPv4 NAS 192.0.2.1. */
function unmapped(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()
    ? (ip as ipaddr.IPv6).toIPv4Address()
    : ip;
}

function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes('%') && ipaddr.IPv6.isValid(text)) return unmapped(ipaddr.IPv6.parse(text));
  return undefined;
}

/**
 * An address or CIDR prefix in canonical form: IPv6 as RFC 5952, IPv4-mapped as IPv4, and a
 * full-length prefix (/32, /128) as the plain address, so that one source has one spelling.
 */
export function normalizeNasAddress(text: string): string {
  const fail = (why: string): never => {
    throw new DomainError('NAS_ADDRESS_INVALID', `address '${text}' ${why}`);
  };
  const slash = text.indexOf('/');
  if (slash < 0) {
    const ip =
      parseAddress(text) ?? fail('is not an IP address or prefix (e.g. 192.0.2.1, 2001:db8::/64)');
    return ip.toString();
  }
  const ip = parseAddress(text.slice(0, slash)) ?? fail('is not an IP address or prefix');
  const lenText = text.slice(slash + 1);
  const max = ip.kind() === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max)
    fail(`has a prefix length outside 0–${max}`);
  if (ip.kind() === 'ipv4' && text.slice(0, slash).includes(':')) {
    fail('is an IPv4-mapped prefix; write it as IPv4');
  }
  const len = Number(lenText);
  if (len === max) return ip.toString();
  const network =
    ip.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${ip.toString()}/${len}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${ip.toString()}/${len}`);
  if (network.toString() !== ip.toString()) {
    fail(`has bits set beyond /${len} (did you mean ${network.toString()}/${len}?)`);
  }
  return `${ip.toString()}/${len}`;
}

export function checkNasName(name: string): string {
  if (!NAME.test(name)) {
    throw new DomainError(
      'NAS_NAME_INVALID',
      `NAS name '${name}' must be 1–64 letters, digits, dots, dashes or underscores`,
    );
  }
  return name;
}

export function checkNasSecret(secret: string): string {
  const octets = Buffer.byteLength(secret, 'utf8');
  if (octets < 1 || octets > MAX_SECRET_OCTETS) {
    throw new DomainError(
      'NAS_SECRET_INVALID',
      `the shared secret must be 1–${MAX_SECRET_OCTETS} octets, got ${octets}`,
    );
  }
  return secret;
}

/** Adds, lists and removes the NAS clients allowed to send us RADIUS. */
export class NasService {
  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly clock: () => number = Date.now,
  ) {}

  async add(
    name: string,
    address: string,
    secret: string,
    requireMessageAuthenticator: boolean,
    actor: string,
  ): Promise<Nas> {
    checkNasName(name);
    const canonical = normalizeNasAddress(address);
    const sealed = this.box.seal(checkNasSecret(secret));
    const now = this.clock();
    const added = await this.write(async (trx) => {
      const sameName = await trx
        .selectFrom('nas')
        .select('name')
        .where('name', '=', name)
        .executeTakeFirst();
      if (sameName)
        throw new DomainError('NAS_EXISTS', `a NAS named ${name} already exists`, 'conflict');
      const sameAddress = await trx
        .selectFrom('nas')
        .select('name')
        .where('address', '=', canonical)
        .executeTakeFirst();
      if (sameAddress) {
        throw new DomainError(
          'NAS_ADDRESS_IN_USE',
          `address ${canonical} already belongs to NAS ${sameAddress.name}`,
          'conflict',
        );
      }
      const row = await trx
        .insertInto('nas')
        .values({
          name,
          address: canonical,
          secret_sealed: sealed,
          require_message_authenticator: requireMessageAuthenticator ? 1 : 0,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const nas = toNas(row);
      await recordAudit(
        trx,
        {
          actor,
          action: 'nas.add',
          entity: 'nas',
          entityKey: name,
          new: { ...nasJson(nas), secret: '(set)' },
        },
        now,
      );
      return nas;
    });
    return added;
  }

  async remove(name: string, actor: string): Promise<Nas> {
    const now = this.clock();
    return this.write(async (trx) => {
      const row = await trx
        .selectFrom('nas')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      if (!row) throw notFound(name);
      await trx.deleteFrom('nas').where('id', '=', row.id).execute();
      const nas = toNas(row);
      await recordAudit(
        trx,
        { actor, action: 'nas.remove', entity: 'nas', entityKey: name, old: nasJson(nas) },
        now,
      );
      return nas;
    });
  }

  async show(name: string): Promise<Nas> {
    const row = await this.store.db
      .selectFrom('nas')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(name);
    return toNas(row);
  }

  async list(): Promise<Nas[]> {
    const rows = await this.store.db.selectFrom('nas').selectAll().orderBy('name').execute();
    return rows.map(toNas);
  }

  /** One transaction for the change and its audit entry; then tell every process. */
  private async write<T>(change: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await this.store.db.transaction().execute(change);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505') {
        throw new DomainError(
          'NAS_CONFLICT',
          'another change took this NAS name or address at the same moment; nothing was written',
          'conflict',
        );
      }
      throw e;
    }
    await this.store.announceChange();
    return result;
  }
}

function notFound(name: string): DomainError {
  return new DomainError('NAS_NOT_FOUND', `no NAS named ${name}`, 'not_found');
}

interface PrefixEntry {
  range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  kind: 'ipv4' | 'ipv6';
  client: NasClient;
}

/** Unknown sources are remembered too (a scan should not cost a parse per packet), up to this. */
const MEMO_LIMIT = 4096;

/**
 * The NAS clients as the RADIUS server needs them: every row in memory with its secret opened,
 * reloaded when the store says something changed (another process's `nas add` included).
 */
export class NasDirectory implements NasLookup {
  private hosts = new Map<string, NasClient>();
  /** Longest prefix first, so the first match is the most specific one. */
  private prefixes: PrefixEntry[] = [];
  private memo = new Map<string, NasClient | null>();
  private loadedAt: number | undefined;
  private stale = true;
  private loading: Promise<void> | undefined;

  /** When the store last confirmed the list (a load, or a lookup with nothing changed). */
  private confirmedAt = 0;

  /**
   * `maxStaleMs`: while the store cannot be read, the list as last loaded keeps answering if
   * the store confirmed it at most this long ago (auth.max_staleness).
   */
  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly maxStaleMs = Number.POSITIVE_INFINITY,
    private readonly now: () => number = Date.now,
  ) {}

  /** Forces a reload on the next lookup (SQLite does not count this process's own commits). */
  invalidate(): void {
    this.stale = true;
  }

  lookupNow(address: string): NasClient | null | undefined {
    if (this.needsReload()) return undefined;
    this.confirmedAt = this.now();
    return this.match(address) ?? null;
  }

  async lookup(address: string): Promise<NasClient | undefined> {
    if (!this.needsReload()) {
      this.confirmedAt = this.now();
      return this.match(address);
    }
    // Twice at most: a load already running when the change landed may have missed it.
    for (let i = 0; i < 2 && this.needsReload(); i++) {
      try {
        await this.reload();
      } catch (e) {
        // The database blipped: keep answering from what we have (within the staleness
        // bound), and retry on the next packet.
        if (this.loadedAt === undefined || this.now() - this.confirmedAt > this.maxStaleMs) {
          throw e;
        }
        this.stale = true;
        break;
      }
    }
    return this.match(address);
  }

  private needsReload(): boolean {
    return this.stale || this.loadedAt !== this.store.changeCounter();
  }

  private reload(): Promise<void> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    // Read the counter first: a change committed during the query bumps it again.
    const counter = this.store.changeCounter();
    this.stale = false;
    const rows = await this.store.db.selectFrom('nas').selectAll().execute();
    const hosts = new Map<string, NasClient>();
    const prefixes: PrefixEntry[] = [];
    for (const r of rows) {
      const client: NasClient = {
        name: r.name,
        secret: Buffer.from(this.box.open(r.secret_sealed), 'utf8'),
        requireMessageAuthenticator: r.require_message_authenticator === 1,
      };
      if (r.address.includes('/')) {
        const range = ipaddr.parseCIDR(r.address);
        prefixes.push({ range, kind: range[0].kind(), client });
      } else {
        hosts.set(r.address, client);
      }
    }
    prefixes.sort((a, b) => b.range[1] - a.range[1]);
    this.hosts = hosts;
    this.prefixes = prefixes;
    this.memo = new Map();
    this.loadedAt = counter;
    this.confirmedAt = this.now();
  }

  private match(address: string): NasClient | undefined {
    const known = this.memo.get(address);
    if (known !== undefined) return known ?? undefined;
    let client = this.hosts.get(address);
    if (!client) {
      const ip = parseAddress(address.split('%')[0] ?? '');
      if (ip) {
        client = this.hosts.get(ip.toString());
        for (const p of this.prefixes) {
          if (client) break;
          if (p.kind === ip.kind() && ip.match(p.range)) client = p.client;
        }
      }
    }
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(address, client ?? null);
    return client;
  }
}
