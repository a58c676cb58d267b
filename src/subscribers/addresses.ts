import type { Kysely, Transaction } from 'kysely';
import { DomainError } from '../errors.js';
import type { AddressColumn, Holder, IpamService } from '../ipam/service.js';
import { PURPOSE_RULES } from '../ipam/pools.js';
import type { Database } from '../store/schema.js';
import type { PrefixField, ServiceFields } from './validation.js';
import { describeHolder, heldPrefix, overlappingPrefixes } from './validation.js';

/**
 * Refuses an address another subscriber holds: the same IPv4 address, or an IPv6 prefix that
 * shares any address with one given to another subscriber (its own framed /64 may sit inside
 * its own delegated prefix, as in the seed exchange). Only the
 * fields in `changed` are checked, so an old overlap never blocks an unrelated edit. Addresses
 * inside pools are also guarded by the IPAM's assignments; this covers those outside any pool.
 */
type Db = Kysely<Database> | Transaction<Database>;

export async function ensureAddressesFree(
  db: Kysely<Database> | Transaction<Database>,
  holder: string,
  f: ServiceFields,
  changed: ReadonlySet<keyof ServiceFields>,
  selfId?: number,
): Promise<void> {
  const others = () => {
    let q = db.selectFrom('subscribers');
    if (selfId !== undefined) q = q.where('id', '!=', selfId);
    return q;
  };
  if (f.ipv4 !== null && changed.has('ipv4')) {
    const other = await others().select('username').where('ipv4', '=', f.ipv4).executeTakeFirst();
    if (other) throw inUse(`ipv4 ${f.ipv4} is already held by ${other.username}`);
  }
  const mine: { field: PrefixField; key: 'ipv6Prefix' | 'delegatedPrefix' }[] = [
    { field: 'ipv6_prefix', key: 'ipv6Prefix' },
    { field: 'delegated_prefix', key: 'delegatedPrefix' },
  ];
  const candidates = mine.flatMap(({ field, key }) => {
    const p = f[key];
    return p === null ? [] : [{ held: heldPrefix(holder, field, p), changed: changed.has(key) }];
  });
  if (!candidates.some((c) => c.changed)) return;
  // Overlap is not an equality, so no index answers it: read the prefixes (a few columns of
  // the members that have one) and compare in memory.
  const rows = await others()
    .select(['username', 'ipv6_prefix', 'delegated_prefix'])
    .where((eb) =>
      eb.or([eb('ipv6_prefix', 'is not', null), eb('delegated_prefix', 'is not', null)]),
    )
    .execute();
  const held = rows.flatMap((r) => [
    ...(r.ipv6_prefix ? [heldPrefix(r.username, 'ipv6_prefix', r.ipv6_prefix)] : []),
    ...(r.delegated_prefix ? [heldPrefix(r.username, 'delegated_prefix', r.delegated_prefix)] : []),
  ]);
  const checked = new Set(candidates.filter((c) => c.changed).map((c) => c.held));
  for (const [a, b] of overlappingPrefixes([...held, ...candidates.map((c) => c.held)])) {
    // A member's framed /64 inside its own delegated prefix is the seed's layout, not a clash.
    if (a.holder === b.holder) continue;
    const [ours, theirs] = checked.has(b) ? [b, a] : checked.has(a) ? [a, b] : [];
    if (!ours || !theirs) continue;
    throw inUse(
      `${ours.field} ${ours.prefix} overlaps ${theirs.prefix} (${describeHolder(theirs, holder)})`,
    );
  }
}

function inUse(message: string): DomainError {
  return new DomainError('ADDRESS_IN_USE', message, 'conflict');
}

/** What `--allocate`, `--cgnat` and `--release` ask of the IPAM, beside the fields given. */
export interface AddressRequest {
  /** Fill each empty address column that has a pool (public IPv4 unless `cgnat`). */
  allocate?: boolean;
  cgnat?: boolean;
  /** Give back every address a pool tracks (into quarantine) and clear those columns. */
  release?: boolean;
}

type AddressKey = 'ipv4' | 'ipv6Prefix' | 'delegatedPrefix';
const ADDRESS_COLUMNS: readonly (readonly [AddressKey, AddressColumn])[] = [
  ['ipv4', 'ipv4'],
  ['ipv6Prefix', 'ipv6_prefix'],
  ['delegatedPrefix', 'delegated_prefix'],
];
const KEY_OF: Record<AddressColumn, AddressKey> = {
  ipv4: 'ipv4',
  ipv6_prefix: 'ipv6Prefix',
  delegated_prefix: 'delegatedPrefix',
};

/**
 * Keeps the IPAM's record in step with address fields set by hand: the old address goes to
 * quarantine, the new one must fit a pool when pools exist for it (see ipam claimIn).
 */
export async function recordStaticAddresses(
  db: Db,
  ipam: IpamService,
  holder: Holder,
  before: ServiceFields | null,
  after: ServiceFields,
  changed: ReadonlySet<keyof ServiceFields>,
  actor: string,
): Promise<void> {
  for (const [key, column] of ADDRESS_COLUMNS) {
    if (!changed.has(key)) continue;
    if (before?.[key]) await ipam.releaseIn(db, holder, column, actor);
    const value = after[key];
    if (value !== null) await ipam.claimIn(db, holder, column, value, actor);
  }
}

/** `--allocate`: an address for each empty column that has a pool; returns what was filled. */
export async function allocateAddresses(
  db: Db,
  ipam: IpamService,
  holder: Holder,
  f: ServiceFields,
  cgnat: boolean,
  actor: string,
): Promise<Partial<ServiceFields>> {
  const filled: Partial<ServiceFields> = {};
  for (const purpose of await ipam.allocationPurposes(db, cgnat)) {
    const key = KEY_OF[PURPOSE_RULES[purpose].column];
    if (f[key] !== null) continue; // a member keeps the address it has
    filled[key] = await ipam.allocateIn(db, holder, purpose, actor);
  }
  return filled;
}

/** `--release` and delete: every address a pool tracks goes to quarantine; returns the cleared. */
export async function releaseAddresses(
  db: Db,
  ipam: IpamService,
  holder: Holder,
  actor: string,
): Promise<Partial<ServiceFields>> {
  const cleared: Partial<ServiceFields> = {};
  for (const [key, column] of ADDRESS_COLUMNS) {
    if (await ipam.releaseIn(db, holder, column, actor)) cleared[key] = null;
  }
  return cleared;
}

/**
 * The import's hook: each row's addresses recorded as static holdings. Skipped entirely when
 * there is no pool, so that a big import costs what it did before IPAM.
 */
export function recordImportedAddresses(ipam: IpamService, actor: string) {
  let pools: boolean | undefined;
  return async (db: Db, rows: { id: number; s: ServiceFields & { username: string } }[]) => {
    pools ??= await ipam.hasPools(db);
    if (!pools) return;
    const all = new Set<keyof ServiceFields>(['ipv4', 'ipv6Prefix', 'delegatedPrefix']);
    for (const { id, s } of rows) {
      await recordStaticAddresses(db, ipam, { id, username: s.username }, null, s, all, actor);
    }
  };
}
