import type { Kysely, Transaction } from 'kysely';
import { DomainError } from '../errors.js';
import type { Database } from '../store/schema.js';
import type { PrefixField, ServiceFields } from './validation.js';
import { describeHolder, heldPrefix, overlappingPrefixes } from './validation.js';

/**
 * Refuses an address another subscriber holds: the same IPv4 address, or an IPv6 prefix that
 * shares any address with one given to another subscriber (its own framed /64 may sit inside
 * its own delegated prefix, as in the seed exchange). Only the
 * fields in `changed` are checked, so an old overlap never blocks an unrelated edit. The IPAM
 * pools will take this over; until then it keeps one address from being given to two members.
 */
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
