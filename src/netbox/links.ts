import type { Db } from '../ipam/allocator.js';

/** The queries on the NetBox link's own tables (netbox_pools, netbox_reservations). */

export interface PoolLink {
  poolId: number;
  pool: string;
  prefix: string;
  netboxId: number;
  vrfId: number | null;
}

export interface ReservationLink {
  poolId: number;
  prefix: string;
  netboxModel: string;
  netboxId: number;
}

export async function poolLinks(db: Db): Promise<PoolLink[]> {
  const rows = await db
    .selectFrom('netbox_pools')
    .innerJoin('ip_pools', 'ip_pools.id', 'netbox_pools.pool_id')
    .select([
      'netbox_pools.pool_id',
      'ip_pools.name',
      'ip_pools.prefix',
      'netbox_pools.netbox_id',
      'netbox_pools.vrf_id',
    ])
    .orderBy('ip_pools.name')
    .execute();
  return rows.map((r) => ({
    poolId: Number(r.pool_id),
    pool: r.name,
    prefix: r.prefix,
    netboxId: Number(r.netbox_id),
    vrfId: r.vrf_id === null ? null : Number(r.vrf_id),
  }));
}

export async function linkPool(
  db: Db,
  poolId: number,
  netboxId: number,
  vrfId: number | null,
  now: number,
): Promise<void> {
  await db
    .insertInto('netbox_pools')
    .values({ pool_id: poolId, netbox_id: netboxId, vrf_id: vrfId, linked_at: now })
    .onConflict((oc) =>
      oc.column('pool_id').doUpdateSet({ netbox_id: netboxId, vrf_id: vrfId, linked_at: now }),
    )
    .execute();
}

export async function reservationLinks(db: Db): Promise<ReservationLink[]> {
  const rows = await db
    .selectFrom('netbox_reservations')
    .select(['pool_id', 'prefix', 'netbox_model', 'netbox_id'])
    .execute();
  return rows.map((r) => ({
    poolId: Number(r.pool_id),
    prefix: r.prefix,
    netboxModel: r.netbox_model,
    netboxId: Number(r.netbox_id),
  }));
}

export async function addReservationLink(db: Db, r: ReservationLink, now: number): Promise<void> {
  await db
    .insertInto('netbox_reservations')
    .values({
      pool_id: r.poolId,
      prefix: r.prefix,
      netbox_model: r.netboxModel,
      netbox_id: r.netboxId,
      created_at: now,
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function removeReservationLink(db: Db, poolId: number, prefix: string) {
  await db
    .deleteFrom('netbox_reservations')
    .where('pool_id', '=', poolId)
    .where('prefix', '=', prefix)
    .execute();
}
