import { recordAudit } from '../audit/audit.js';
import { DomainError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { Db, Holder, LoadedPool, Usage } from './allocator.js';
import {
  allocateIn,
  claimIn,
  currentAssignment,
  loadPools,
  poolDef,
  releaseIn,
  usage,
} from './allocator.js';
import type { AddressColumn, PoolDef, PoolInput, Purpose } from './pools.js';
import { checkPool, PURPOSE_RULES, slotCount } from './pools.js';
import { reserve, unreserve } from './reservations.js';
import { BITS, formatPrefix, lastAddress, overlaps, parsePrefix, sortableHex } from './prefix.js';

export type { Holder, LoadedPool } from './allocator.js';
export type { AddressColumn, PoolInput, Purpose } from './pools.js';
export { PURPOSES } from './pools.js';

/** A pool as people and scripts see it, with its utilisation now. */
export interface Pool extends Usage {
  name: string;
  prefix: string;
  purpose: Purpose;
  size: number;
  gateway: string | null;
  reservedList: string[];
  quarantineSeconds: number;
  createdAt: number;
}

/** One holding interval of an address or prefix. */
export interface Holding {
  address: string;
  pool: string | null;
  purpose: Purpose;
  username: string;
  origin: 'allocated' | 'static';
  from: number;
  /** Null while held. */
  to: number | null;
}

/** An address a pool keeps from others now (see IpamService.occupiedAddresses). */
export interface Occupied {
  address: string;
  poolId: number;
  pool: string;
  purpose: Purpose;
  /** The holder, or the last holder while in quarantine. */
  username: string;
  state: 'held' | 'quarantined';
  from: number;
  reusableAt: number | null;
}

export interface WhoHolds {
  query: string;
  /** The holdings at `at` (now when not given): usually one, none when free. */
  current: Holding[];
  /** Every holding that touches the address or prefix, newest first. */
  history: Holding[];
}

export function poolJson(p: Pool): Record<string, unknown> {
  return {
    name: p.name,
    prefix: p.prefix,
    purpose: p.purpose,
    size: p.size,
    gateway: p.gateway,
    reserved: p.reservedList,
    quarantine_seconds: p.quarantineSeconds,
    total: p.total,
    used: p.used,
    quarantined: p.quarantined,
    reserved_count: p.reserved,
    free: p.free,
    created_at: new Date(p.createdAt).toISOString(),
  };
}

export function holdingJson(h: Holding): Record<string, unknown> {
  return {
    address: h.address,
    pool: h.pool,
    purpose: h.purpose,
    username: h.username,
    origin: h.origin,
    valid_from: new Date(h.from).toISOString(),
    valid_to: h.to === null ? null : new Date(h.to).toISOString(),
  };
}

/** The shortest allocation per family: an assignment that contains an address starts here. */
const WIDEST: Record<4 | 6, number> = { 4: 32, 6: 48 };

/** Address pools, allocation and the history of who held what. */
export class IpamService {
  constructor(
    private readonly store: Store,
    /** Milliseconds since the epoch; tests pass a clock to step through quarantine. */
    private readonly clock: () => number = Date.now,
  ) {}

  now(): number {
    return this.clock();
  }

  async addPool(input: PoolInput, actor: string): Promise<Pool> {
    const def = checkPool(input);
    const now = this.clock();
    const pool = await this.store.db.transaction().execute(async (trx) => {
      const all = await loadPools(trx);
      const same = all.find((p) => p.def.name === def.name);
      if (same) {
        throw new DomainError('POOL_EXISTS', `pool ${def.name} already exists`, 'conflict');
      }
      const clash = all.find((p) => overlaps(p.def.prefix, def.prefix));
      if (clash) {
        throw new DomainError(
          'POOL_OVERLAP',
          `pool ${formatPrefix(def.prefix)} overlaps pool ${clash.def.name} (${formatPrefix(clash.def.prefix)})`,
          'conflict',
        );
      }
      const row = await trx
        .insertInto('ip_pools')
        .values({
          name: def.name,
          prefix: formatPrefix(def.prefix),
          family: def.prefix.family,
          purpose: def.purpose,
          size: def.size,
          gateway: def.gateway ? formatPrefix(def.gateway) : null,
          reserved: JSON.stringify(def.reserved.map(formatPrefix)),
          quarantine_seconds: def.quarantineSeconds,
          created_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const loaded: LoadedPool = { row, def: poolDef(row) };
      await this.adopt(trx, loaded, now, actor);
      await recordAudit(
        trx,
        { actor, action: 'pool.add', entity: 'pool', entityKey: def.name, new: describe(def) },
        now,
      );
      return loaded;
    });
    return this.withUsage(this.store.db, pool, now);
  }

  /**
   * Members given an address of the new pool's range by hand before the pool existed: record
   * them as static holders, so that the allocator never hands their address to someone else.
   * An address that is not one slot, or is reserved, refuses the pool (the operator decides).
   */
  private async adopt(trx: Db, pool: LoadedPool, now: number, actor: string): Promise<void> {
    const column = PURPOSE_RULES[pool.def.purpose].column;
    const rows = await trx
      .selectFrom('subscribers')
      .select(['id', 'username', column])
      .where(column, 'is not', null)
      .execute();
    for (const r of rows) {
      const text = r[column] as string;
      const p = parsePrefix(text, column);
      if (!overlaps(p, pool.def.prefix)) continue;
      try {
        await claimIn(trx, { id: r.id, username: r.username }, column, text, now, actor);
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        throw new DomainError(
          e.code,
          `${e.message}: subscriber ${r.username} holds it already; change that first`,
          e.kind,
        );
      }
    }
  }

  async listPools(): Promise<Pool[]> {
    const now = this.clock();
    const pools = await loadPools(this.store.db);
    return Promise.all(pools.map((p) => this.withUsage(this.store.db, p, now)));
  }

  async showPool(name: string): Promise<Pool> {
    return this.withUsage(this.store.db, await this.pool(this.store.db, name), this.clock());
  }

  /** Removes a pool nobody holds an address of; its history stays (without the pool's name). */
  async removePool(name: string, actor: string): Promise<Pool> {
    const now = this.clock();
    return this.store.db.transaction().execute(async (trx) => {
      const pool = await this.pool(trx, name);
      const before = await this.withUsage(trx, pool, now);
      if (before.used > 0) {
        throw new DomainError(
          'POOL_IN_USE',
          `pool ${name} is in use: ${before.used} held (release them first: ispkit subscriber set NAME --release)`,
          'conflict',
        );
      }
      await trx
        .updateTable('ip_assignments')
        .set({ occupied: 0 })
        .where('pool_id', '=', pool.row.id)
        .execute();
      await trx.deleteFrom('ip_pools').where('id', '=', pool.row.id).execute();
      await recordAudit(
        trx,
        { actor, action: 'pool.remove', entity: 'pool', entityKey: name, old: describe(pool.def) },
        now,
      );
      return before;
    });
  }

  /** The purposes a member gets with --allocate: each column that has a pool (CGNAT on ask). */
  async allocationPurposes(db: Db, cgnat: boolean): Promise<Purpose[]> {
    const have = new Set((await loadPools(db)).map((p) => p.def.purpose));
    const ipv4: Purpose = cgnat ? 'cgnat-ipv4' : 'ipv4';
    if (cgnat && !have.has('cgnat-ipv4')) {
      throw new DomainError('NO_POOL', 'no cgnat-ipv4 pool to allocate from', 'not_found');
    }
    const wanted: Purpose[] = [ipv4, 'framed-ipv6', 'delegated-ipv6'];
    const found = wanted.filter((p) => have.has(p));
    if (found.length === 0) {
      throw new DomainError(
        'NO_POOL',
        'no pool to allocate from (add one with: ispkit pool add NAME --prefix P --purpose …)',
        'not_found',
      );
    }
    return found;
  }

  /** In the caller's transaction (the subscriber's): see allocator.ts for the policy. */
  allocateIn(db: Db, holder: Holder, purpose: Purpose, actor: string): Promise<string> {
    return allocateIn(db, holder, purpose, this.clock(), actor);
  }

  claimIn(db: Db, holder: Holder, column: AddressColumn, text: string, actor: string) {
    return claimIn(db, holder, column, text, this.clock(), actor);
  }

  releaseIn(db: Db, holder: Holder, column: AddressColumn, actor: string) {
    return releaseIn(db, holder, column, this.clock(), actor);
  }

  async hasPools(db: Db = this.store.db): Promise<boolean> {
    return (await db.selectFrom('ip_pools').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  /** Whether the member's column value is tracked by a pool (so --release may clear it). */
  async isAssigned(db: Db, holder: Holder, column: AddressColumn): Promise<boolean> {
    return (await currentAssignment(db, holder, column)) !== undefined;
  }

  /**
   * Who holds an address or prefix now (or at `at`), and who held it before: every holding
   * that shares an address with it. The legal question "who held 80.67.191.6 on 2025-04-08
   * 10:11 UTC" is `whoHolds('80.67.191.6', Date.UTC(2025, 3, 8, 10, 11))`.
   */
  async whoHolds(text: string, at?: number): Promise<WhoHolds> {
    const q = parsePrefix(text, 'address', false);
    const bits = BigInt(BITS[q.family] - WIDEST[q.family]);
    const low = q.length >= WIDEST[q.family] ? (q.first >> bits) << bits : q.first;
    const rows = await this.store.db
      .selectFrom('ip_assignments')
      .leftJoin('ip_pools', 'ip_pools.id', 'ip_assignments.pool_id')
      .select([
        'ip_assignments.address',
        'ip_pools.name as pool',
        'ip_assignments.purpose',
        'ip_assignments.username',
        'ip_assignments.origin',
        'ip_assignments.valid_from',
        'ip_assignments.valid_to',
      ])
      .where('ip_assignments.family', '=', q.family)
      .where('ip_assignments.first_hex', '>=', sortableHex(q.family, low))
      .where('ip_assignments.first_hex', '<=', sortableHex(q.family, lastAddress(q)))
      .where('ip_assignments.last_hex', '>=', sortableHex(q.family, q.first))
      .orderBy('ip_assignments.valid_from', 'desc')
      .orderBy('ip_assignments.id', 'desc')
      .execute();
    const history: Holding[] = rows.map((r) => ({
      address: r.address,
      pool: r.pool,
      purpose: r.purpose as Purpose,
      username: r.username,
      origin: r.origin as Holding['origin'],
      from: Number(r.valid_from),
      to: r.valid_to === null ? null : Number(r.valid_to),
    }));
    const t = at ?? this.clock();
    const current = history.filter((h) => h.from <= t && (h.to === null || h.to > t));
    return { query: formatPrefix(q), current, history };
  }

  /** The pools with their row ids, in the caller's transaction (for the NetBox link). */
  loadPools(db: Db = this.store.db): Promise<LoadedPool[]> {
    return loadPools(db);
  }

  /**
   * Every address a pool keeps from others now: held (state `held`), or released and still in
   * quarantine (`quarantined`). What `netbox push` mirrors.
   */
  async occupiedAddresses(db: Db = this.store.db): Promise<Occupied[]> {
    const now = this.clock();
    const rows = await db
      .selectFrom('ip_assignments')
      .innerJoin('ip_pools', 'ip_pools.id', 'ip_assignments.pool_id')
      .select([
        'ip_assignments.address',
        'ip_assignments.pool_id',
        'ip_pools.name as pool',
        'ip_assignments.purpose',
        'ip_assignments.username',
        'ip_assignments.valid_from',
        'ip_assignments.valid_to',
        'ip_assignments.reusable_at',
      ])
      .where('ip_assignments.occupied', '=', 1)
      .where((eb) =>
        eb.or([
          eb('ip_assignments.valid_to', 'is', null),
          eb('ip_assignments.reusable_at', '>', now),
        ]),
      )
      .orderBy('ip_assignments.family')
      .orderBy('ip_assignments.first_hex')
      .execute();
    return rows.map((r) => ({
      address: r.address,
      poolId: Number(r.pool_id),
      pool: r.pool,
      purpose: r.purpose as Purpose,
      username: r.username,
      state: r.valid_to === null ? 'held' : 'quarantined',
      from: Number(r.valid_from),
      reusableAt: r.reusable_at === null ? null : Number(r.reusable_at),
    }));
  }

  /**
   * Adds an address or prefix to a pool's reserved list, in the caller's transaction (see
   * reservations.ts: refused outside the pool or on a held or quarantined slot).
   */
  reserveIn(db: Db, poolId: number, text: string, actor: string): Promise<void> {
    return reserve(db, poolId, text, actor, this.clock());
  }

  /** Takes an address or prefix off a pool's reserved list (no-op when it is not there). */
  unreserveIn(db: Db, poolId: number, text: string, actor: string): Promise<void> {
    return unreserve(db, poolId, text, actor, this.clock());
  }

  private async pool(db: Db, name: string): Promise<LoadedPool> {
    const row = await db
      .selectFrom('ip_pools')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new DomainError('POOL_NOT_FOUND', `no pool ${name}`, 'not_found');
    return { row, def: poolDef(row) };
  }

  private async withUsage(db: Db, p: LoadedPool, now: number): Promise<Pool> {
    return {
      name: p.def.name,
      prefix: formatPrefix(p.def.prefix),
      purpose: p.def.purpose,
      size: p.def.size,
      gateway: p.def.gateway ? formatPrefix(p.def.gateway) : null,
      reservedList: p.def.reserved.map(formatPrefix),
      quarantineSeconds: p.def.quarantineSeconds,
      createdAt: Number(p.row.created_at),
      ...(await usage(db, p, now)),
    };
  }
}

function describe(def: PoolDef): Record<string, unknown> {
  return {
    prefix: formatPrefix(def.prefix),
    purpose: def.purpose,
    size: def.size,
    slots: slotCount(def),
    gateway: def.gateway ? formatPrefix(def.gateway) : null,
    reserved: def.reserved.map(formatPrefix),
    quarantine_seconds: def.quarantineSeconds,
  };
}
