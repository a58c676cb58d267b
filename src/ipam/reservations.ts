/**
 * A pool's reserved addresses, changed after the pool exists (the NetBox link reserves what
 * NetBox holds in a pool): never over a held or quarantined slot, audited.
 */
import { recordAudit } from '../audit/audit.js';
import { DomainError } from '../errors.js';
import type { Db, LoadedPool } from './allocator.js';
import { poolDef } from './allocator.js';
import { checkPool } from './pools.js';
import type { Prefix } from './prefix.js';
import { BITS, formatPrefix, lastAddress, parsePrefix } from './prefix.js';

/**
 * Adds an address or prefix to a pool's reserved list, in the caller's transaction. Refused
 * when it is outside the pool (POOL_RESERVED_OUTSIDE) or a slot it touches is held or in
 * quarantine (ADDRESS_IN_USE): the holder comes first, the operator decides.
 */
export async function reserve(
  db: Db,
  poolId: number,
  text: string,
  actor: string,
  now: number,
): Promise<void> {
  const pool = await poolById(db, poolId);
  const p = parsePrefix(text, 'reserved');
  const def = checkPool({
    name: pool.def.name,
    prefix: formatPrefix(pool.def.prefix),
    purpose: pool.def.purpose,
    size: pool.def.size,
    gateway: pool.def.gateway ? formatPrefix(pool.def.gateway) : null,
    reserve: [...pool.def.reserved.map(formatPrefix), formatPrefix(p)],
    quarantineSeconds: pool.def.quarantineSeconds,
  });
  if (pool.def.reserved.some((r) => formatPrefix(r) === formatPrefix(p))) return;
  const bits = BigInt(BITS[p.family] - def.size);
  const a = Number((p.first - def.prefix.first) >> bits);
  const b = Number((lastAddress(p) - def.prefix.first) >> bits);
  const taken = await db
    .selectFrom('ip_assignments')
    .select(['address', 'username', 'valid_to'])
    .where('pool_id', '=', poolId)
    .where('occupied', '=', 1)
    .where('slot', '>=', a)
    .where('slot', '<=', b)
    .where((eb) => eb.or([eb('valid_to', 'is', null), eb('reusable_at', '>', now)]))
    .executeTakeFirst();
  if (taken) {
    const how = taken.valid_to === null ? 'held by' : 'in quarantine for';
    throw new DomainError(
      'ADDRESS_IN_USE',
      `cannot reserve ${formatPrefix(p)} in pool ${def.name}: ${taken.address} is ${how} ${taken.username}`,
      'conflict',
    );
  }
  await writeReserved(db, pool, def.reserved, actor, now);
}

/** Takes an address or prefix off a pool's reserved list (no-op when it is not there). */
export async function unreserve(
  db: Db,
  poolId: number,
  text: string,
  actor: string,
  now: number,
): Promise<void> {
  const pool = await poolById(db, poolId);
  const key = formatPrefix(parsePrefix(text, 'reserved'));
  const kept = pool.def.reserved.filter((r) => formatPrefix(r) !== key);
  if (kept.length === pool.def.reserved.length) return;
  await writeReserved(db, pool, kept, actor, now);
}

async function writeReserved(
  db: Db,
  pool: LoadedPool,
  reserved: Prefix[],
  actor: string,
  now: number,
): Promise<void> {
  const before = pool.def.reserved.map(formatPrefix);
  const after = reserved.map(formatPrefix);
  await db
    .updateTable('ip_pools')
    .set({ reserved: JSON.stringify(after) })
    .where('id', '=', pool.row.id)
    .execute();
  await recordAudit(
    db,
    {
      actor,
      action: 'pool.reserve',
      entity: 'pool',
      entityKey: pool.def.name,
      old: { reserved: before },
      new: { reserved: after },
    },
    now,
  );
}

async function poolById(db: Db, id: number): Promise<LoadedPool> {
  const row = await db.selectFrom('ip_pools').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new DomainError('POOL_NOT_FOUND', `no pool with id ${id}`, 'not_found');
  return { row, def: poolDef(row) };
}
