import type { Kysely, Selectable, Transaction } from 'kysely';
import { sql } from 'kysely';
import { recordAudit } from '../audit/audit.js';
import { DomainError } from '../errors.js';
import type { Database, IpPoolTable } from '../store/schema.js';
import type { AddressColumn, PoolDef, Purpose } from './pools.js';
import {
  isReserved,
  lowestFree,
  PURPOSE_RULES,
  purposesOf,
  reservedCount,
  reservedSlots,
  slotCount,
  slotOf,
  slotText,
} from './pools.js';
import type { Prefix } from './prefix.js';
import {
  formatPrefix,
  lastAddress,
  nthSubPrefix,
  parsePrefix,
  sortableHex,
  contains,
} from './prefix.js';

export type Db = Kysely<Database> | Transaction<Database>;
export type PoolRow = Selectable<IpPoolTable>;

/** The member an address goes to: its row id and its name (kept in the history). */
export interface Holder {
  id: number;
  username: string;
}

/** A pool row with its parsed definition. */
export interface LoadedPool {
  row: PoolRow;
  def: PoolDef;
}

export function poolDef(r: PoolRow): PoolDef {
  return {
    name: r.name,
    prefix: parsePrefix(r.prefix),
    purpose: r.purpose as Purpose,
    size: r.size,
    gateway: r.gateway ? parsePrefix(r.gateway) : null,
    reserved: (JSON.parse(r.reserved) as string[]).map((t) => parsePrefix(t)),
    quarantineSeconds: r.quarantine_seconds,
  };
}

export async function loadPools(db: Db, purposes?: readonly Purpose[]): Promise<LoadedPool[]> {
  let q = db.selectFrom('ip_pools').selectAll().orderBy('name');
  if (purposes) q = q.where('purpose', 'in', purposes);
  return (await q.execute()).map((row) => ({ row, def: poolDef(row) }));
}

/**
 * Inserting can lose to another instance only a bounded number of times in a row: each loss
 * means that instance took the slot. Past this, something is wrong (or the pool is stormed).
 */
const MAX_ATTEMPTS = 256;
/** After a lost race, try one of the next few free slots, not the one everybody wants. */
const SPREAD = 64;

/** The current (unreleased) assignment of a member for a column. */
export async function currentAssignment(db: Db, holder: Holder, column: AddressColumn) {
  return db
    .selectFrom('ip_assignments')
    .selectAll()
    .where('subscriber_id', '=', holder.id)
    .where('column_name', '=', column)
    .where('valid_to', 'is', null)
    .executeTakeFirst();
}

/**
 * The first slot at or after `from` that no row holds or quarantines: `from` itself, or just
 * after an occupied slot. One indexed query, whatever the size of the pool.
 */
function nextUnoccupied(db: Db, poolId: number, now: number) {
  return async (from: number): Promise<number> => {
    const r = await sql<{ s: number }>`
      select c.s from (
        select cast(${from} as bigint) as s
        union all
        select slot + 1 as s from ip_assignments
          where pool_id = ${poolId} and occupied = 1 and slot >= ${from}
            and (valid_to is null or reusable_at > ${now})
      ) c
      where not exists (
        select 1 from ip_assignments b
          where b.pool_id = ${poolId} and b.occupied = 1 and b.slot = c.s
            and (b.valid_to is null or b.reusable_at > ${now}))
      order by c.s
      limit 1`.execute(db);
    return Number(r.rows[0]?.s ?? from);
  };
}

/**
 * Takes one slot for a member, or returns false when another writer holds or quarantines it.
 * No read-then-write: an expired quarantine row is let go and the new row inserted with
 * ON CONFLICT DO NOTHING, so the unique index decides between racing instances.
 */
async function take(
  db: Db,
  pool: LoadedPool,
  slot: number,
  holder: Holder,
  origin: 'allocated' | 'static',
  now: number,
): Promise<string | false> {
  // A quarantined slot may go back to its own last holder (stickiness), to others once expired.
  await db
    .updateTable('ip_assignments')
    .set({ occupied: 0 })
    .where('pool_id', '=', pool.row.id)
    .where('slot', '=', slot)
    .where('occupied', '=', 1)
    .where('valid_to', 'is not', null)
    .where((eb) => eb.or([eb('reusable_at', '<=', now), eb('subscriber_id', '=', holder.id)]))
    .execute();
  const p: Prefix = nthSubPrefix(pool.def.prefix, pool.def.size, BigInt(slot));
  const address = slotText(pool.def, slot);
  const inserted = await db
    .insertInto('ip_assignments')
    .values({
      pool_id: pool.row.id,
      purpose: pool.def.purpose,
      column_name: PURPOSE_RULES[pool.def.purpose].column,
      family: p.family,
      slot,
      address,
      first_hex: sortableHex(p.family, p.first),
      last_hex: sortableHex(p.family, lastAddress(p)),
      subscriber_id: holder.id,
      username: holder.username,
      origin,
      valid_from: now,
      valid_to: null,
      reusable_at: null,
      occupied: 1,
    })
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted ? address : false;
}

function alreadyHolds(holder: Holder, column: AddressColumn, address: string): DomainError {
  return new DomainError(
    'ADDRESS_ALREADY_ASSIGNED',
    `${holder.username} already holds ${address} as its ${column}; release it first`,
    'conflict',
  );
}

/**
 * Gives the member the lowest free slot of the first pool of `purpose` that has one. A member
 * that already holds an address for this column keeps it (returned as is); one whose last
 * address is still in quarantine gets that one back.
 */
export async function allocateIn(
  db: Db,
  holder: Holder,
  purpose: Purpose,
  now: number,
  actor: string,
): Promise<string> {
  const column = PURPOSE_RULES[purpose].column;
  const current = await currentAssignment(db, holder, column);
  if (current) return current.address;
  const pools = await loadPools(db, [purpose]);
  if (pools.length === 0) {
    throw new DomainError(
      'NO_POOL',
      `no ${purpose} pool (add one with: ispkit pool add NAME --prefix P --purpose ${purpose})`,
      'not_found',
    );
  }
  const sticky = await db
    .selectFrom('ip_assignments')
    .select(['pool_id', 'slot'])
    .where('subscriber_id', '=', holder.id)
    .where('purpose', '=', purpose)
    .where('occupied', '=', 1)
    .where('valid_to', 'is not', null)
    .orderBy('valid_to', 'desc')
    .executeTakeFirst();
  const stickyPool = pools.find((p) => p.row.id === sticky?.pool_id);
  if (sticky && stickyPool) {
    const address = await take(db, stickyPool, Number(sticky.slot), holder, 'allocated', now);
    if (address) return audited(db, holder, stickyPool, address, now, actor);
  }
  for (const pool of pools) {
    const reserved = reservedSlots(pool.def);
    const total = slotCount(pool.def);
    const next = nextUnoccupied(db, pool.row.id, now);
    let from = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // Writers that lost see the same lowest gap (uncommitted rows are invisible): each
      // retry spreads wider, so that they stop queueing behind one another on one slot.
      const skip = attempt === 0 ? 0 : Math.floor(Math.random() * Math.min(2 ** attempt, SPREAD));
      const slot = await lowestFree(total, reserved, next, from, skip);
      if (slot === undefined) break;
      const address = await take(db, pool, slot, holder, 'allocated', now);
      if (address) return audited(db, holder, pool, address, now, actor);
      // Lost the slot to another instance, or the member got an address meanwhile.
      const mine = await currentAssignment(db, holder, column);
      if (mine) return mine.address;
      // Slots below this one were held when we looked, or just taken: look past it.
      from = skip === 0 ? slot + 1 : from;
      if (attempt === MAX_ATTEMPTS - 1) {
        throw new DomainError(
          'POOL_BUSY',
          `pool ${pool.def.name}: lost ${MAX_ATTEMPTS} slots in a row to other writers; try again`,
          'unavailable',
        );
      }
    }
  }
  throw await exhausted(db, pools, purpose, now);
}

async function audited(
  db: Db,
  holder: Holder,
  pool: LoadedPool,
  address: string,
  now: number,
  actor: string,
): Promise<string> {
  await recordAudit(
    db,
    {
      actor,
      action: 'ip.allocate',
      entity: 'ip',
      entityKey: address,
      new: { pool: pool.def.name, subscriber: holder.username, address },
    },
    now,
  );
  return address;
}

async function exhausted(
  db: Db,
  pools: LoadedPool[],
  purpose: Purpose,
  now: number,
): Promise<DomainError> {
  const parts: string[] = [];
  for (const p of pools) {
    const u = await usage(db, p, now);
    parts.push(
      `${p.def.name} ${formatPrefix(p.def.prefix)}: ${u.used} held, ${u.quarantined} in quarantine, ${u.reserved} reserved of ${u.total}`,
    );
  }
  return new DomainError(
    'POOL_EXHAUSTED',
    `no free ${purpose} address left (${parts.join('; ')})`,
    'conflict',
  );
}

export interface Usage {
  total: number;
  used: number;
  quarantined: number;
  reserved: number;
  free: number;
}

export async function usage(db: Db, pool: LoadedPool, now: number): Promise<Usage> {
  const r = await db
    .selectFrom('ip_assignments')
    .select((eb) => [
      eb.fn.countAll<number>().as('occupied'),
      eb.fn.count<number>('valid_to').as('released'),
    ])
    .where('pool_id', '=', pool.row.id)
    .where('occupied', '=', 1)
    .where((eb) => eb.or([eb('valid_to', 'is', null), eb('reusable_at', '>', now)]))
    .executeTakeFirstOrThrow();
  const total = slotCount(pool.def);
  const reserved = reservedCount(reservedSlots(pool.def));
  const quarantined = Number(r.released);
  const used = Number(r.occupied) - quarantined;
  return { total, used, quarantined, reserved, free: total - reserved - used - quarantined };
}

/**
 * Records an address given by hand. When pools exist for the column, it must be one slot of
 * one of them, not reserved, and not held or quarantined for someone else. With no pool for
 * the column, nothing is recorded (the address is the operator's business, as before IPAM).
 */
export async function claimIn(
  db: Db,
  holder: Holder,
  column: AddressColumn,
  text: string,
  now: number,
  actor: string,
): Promise<void> {
  const pools = await loadPools(db, purposesOf(column));
  if (pools.length === 0) return;
  const current = await currentAssignment(db, holder, column);
  if (current?.address === text) return;
  if (current) throw alreadyHolds(holder, column, current.address);
  const p = parsePrefix(text, column);
  const pool = pools.find((x) => contains(x.def.prefix, p) || contains(p, x.def.prefix));
  if (!pool) {
    const where = pools.map((x) => `${x.def.name} ${formatPrefix(x.def.prefix)}`).join(', ');
    throw new DomainError(
      'ADDRESS_OUTSIDE_POOLS',
      `${column} ${text} is outside every ${purposesOf(column).join('/')} pool (${where})`,
    );
  }
  const slot = slotOf(pool.def, p);
  if (slot === undefined) {
    throw new DomainError(
      'ADDRESS_SIZE_MISMATCH',
      `${column} ${text} is not one /${pool.def.size} of pool ${pool.def.name}, which hands out /${pool.def.size}s`,
    );
  }
  if (isReserved(reservedSlots(pool.def), slot)) {
    throw new DomainError(
      'ADDRESS_RESERVED',
      `${column} ${text} is reserved in pool ${pool.def.name} (network, broadcast, gateway or listed)`,
    );
  }
  const address = await take(db, pool, slot, holder, 'static', now);
  if (!address) {
    const other = await db
      .selectFrom('ip_assignments')
      .select(['username', 'valid_to', 'reusable_at'])
      .where('pool_id', '=', pool.row.id)
      .where('slot', '=', slot)
      .where('occupied', '=', 1)
      .executeTakeFirst();
    const why =
      other?.valid_to === null || other === undefined
        ? `is held by ${other?.username ?? 'another subscriber'}`
        : `is in quarantine until ${new Date(Number(other.reusable_at)).toISOString()} (released by ${other.username})`;
    throw new DomainError('ADDRESS_IN_USE', `${column} ${text} ${why}`, 'conflict');
  }
  await recordAudit(
    db,
    {
      actor,
      action: 'ip.assign',
      entity: 'ip',
      entityKey: address,
      new: { pool: pool.def.name, subscriber: holder.username, address },
    },
    now,
  );
}

/** Ends the member's current assignment for a column (into quarantine); the address, if any. */
export async function releaseIn(
  db: Db,
  holder: Holder,
  column: AddressColumn,
  now: number,
  actor: string,
): Promise<string | undefined> {
  const current = await currentAssignment(db, holder, column);
  if (!current) return undefined;
  const pool = current.pool_id
    ? await db
        .selectFrom('ip_pools')
        .select(['name', 'quarantine_seconds'])
        .where('id', '=', current.pool_id)
        .executeTakeFirst()
    : undefined;
  const quarantine = (pool?.quarantine_seconds ?? 0) * 1000;
  await db
    .updateTable('ip_assignments')
    .set({ valid_to: now, reusable_at: now + quarantine })
    .where('id', '=', current.id)
    .execute();
  await recordAudit(
    db,
    {
      actor,
      action: 'ip.release',
      entity: 'ip',
      entityKey: current.address,
      old: { pool: pool?.name ?? null, subscriber: holder.username, address: current.address },
      new: { reusable_at: new Date(now + quarantine).toISOString() },
    },
    now,
  );
  return current.address;
}
