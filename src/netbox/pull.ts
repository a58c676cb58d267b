import { DomainError } from '../errors.js';
import type { PoolDef } from '../ipam/pools.js';
import { checkPool, reservedSlots } from '../ipam/pools.js';
import {
  formatPrefix,
  lastAddress,
  overlaps,
  parsePrefix,
  subPrefixIndex,
} from '../ipam/prefix.js';
import { NbIpAddress, NbPrefix, NbTag } from './client.js';
import type { PoolLink } from './links.js';
import {
  addReservationLink,
  linkPool,
  poolLinks,
  removeReservationLink,
  reservationLinks,
} from './links.js';
import type { Change, Conflict } from './plan.js';
import type { Plan, Step, SyncContext } from './sync-context.js';
import { stepsPlan } from './sync-context.js';

/**
 * `netbox pull`: NetBox's prefixes tagged `pool_tag` become ispkit pools (or are linked to the
 * pool that has the same prefix), and the objects inside them that ispkit does not own (tag
 * `owner_tag`) become reserved addresses, so that ispkit never hands them out. What NetBox no
 * longer has is undone: a reservation whose object is gone is lifted, a pool whose prefix lost
 * its tag is removed (refused while members hold its addresses).
 */

interface Target {
  netboxId: number;
  vrfId: number | null;
  name: string;
  def: PoolDef;
  /** Undefined for a pool this pull creates. */
  poolId?: number;
}

/** `80.67.191.0_24`, `2001-913-1d00--_48`: a pool name from a prefix (names allow . _ - only). */
export function poolNameFor(prefix: string): string {
  return prefix.replace(/:/g, '-').replace('/', '_');
}

function slotRange(def: PoolDef, text: string): [number, number] {
  const p = parsePrefix(text);
  return [
    Number(subPrefixIndex(def.prefix, def.size, p.first)),
    Number(subPrefixIndex(def.prefix, def.size, lastAddress(p))),
  ];
}

/** The canonical reserved form of a NetBox address (the host, whatever its mask). */
function hostOf(a: NbIpAddress): string {
  const bare = a.address.split('/')[0] ?? a.address;
  return formatPrefix(parsePrefix(bare, 'NetBox address', false));
}

export async function planPull(ctx: SyncContext): Promise<Plan> {
  const { client, settings, ipam, store } = ctx;
  const db = store.db;
  const tags = await client.list(
    'extras/tags',
    { slug: [settings.poolTag, settings.ownerTag] },
    NbTag,
  );
  if (!tags.some((t) => t.slug === settings.poolTag)) {
    throw new DomainError(
      'NETBOX_TAG_MISSING',
      `NetBox has no tag ${settings.poolTag}: create it and put it on the prefixes ispkit hands addresses out of`,
      'not_found',
    );
  }
  const prefixes = await client.list('ipam/prefixes', { tag: settings.poolTag }, NbPrefix);
  const pools = await ipam.loadPools(db);
  const links = await poolLinks(db);
  const linkByNetbox = new Map(links.map((l) => [l.netboxId, l]));
  const linkByPool = new Map(links.map((l) => [l.poolId, l]));
  const steps: Step[] = [];
  const conflicts: Conflict[] = [];
  const targets: Target[] = [];
  const names = new Set(pools.map((p) => p.def.name));
  const conflict = (p: NbPrefix, message: string) =>
    conflicts.push({ kind: 'pool', key: p.prefix, netboxId: p.id, message });

  for (const p of [...prefixes].sort((a, b) => a.id - b.id)) {
    const vrfId = p.vrf?.id ?? null;
    const slug = p.role?.slug;
    const purpose = slug === undefined ? undefined : settings.roles[slug];
    if (!purpose) {
      conflict(
        p,
        `role ${slug ?? '(none)'} is no pool purpose: give the prefix a role named after one, or map it in netbox.roles`,
      );
      continue;
    }
    const rawSize = p.custom_fields?.[settings.sizeField];
    let def: PoolDef;
    try {
      def = checkPool({
        name: poolNameFor(p.prefix),
        prefix: p.prefix,
        purpose,
        size: typeof rawSize === 'number' ? rawSize : undefined,
      });
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      conflict(p, e.message);
      continue;
    }
    const linked = linkByNetbox.get(p.id);
    const same = linked
      ? pools.find((x) => x.row.id === linked.poolId)
      : pools.find((x) => formatPrefix(x.def.prefix) === formatPrefix(def.prefix));
    if (same) {
      const d = same.def;
      if (
        formatPrefix(d.prefix) !== formatPrefix(def.prefix) ||
        d.purpose !== def.purpose ||
        d.size !== def.size
      ) {
        conflict(
          p,
          `pool ${d.name} is ${formatPrefix(d.prefix)} ${d.purpose} /${d.size}, NetBox says ${formatPrefix(def.prefix)} ${def.purpose} /${def.size}; ispkit does not change a pool: remove it (ispkit pool remove ${d.name}) and pull again`,
        );
        continue;
      }
      const other = linkByPool.get(same.row.id);
      if (other && other.netboxId !== p.id && !linked) {
        conflict(p, `pool ${d.name} is already linked to NetBox prefix #${other.netboxId}`);
        continue;
      }
      targets.push({ netboxId: p.id, vrfId, name: d.name, def: d, poolId: same.row.id });
      if (!linked || linked.vrfId !== vrfId) {
        steps.push({
          change: {
            op: 'update',
            kind: 'pool',
            key: d.name,
            netboxId: p.id,
            fields: linked
              ? { netbox_vrf: { from: linked.vrfId, to: vrfId } }
              : { netbox_prefix: { from: null, to: p.prefix } },
            note: linked ? undefined : 'link to the NetBox prefix',
          },
          apply: () => linkPool(db, same.row.id, p.id, vrfId, ipam.now()),
        });
      }
      continue;
    }
    const clash =
      pools.find((x) => overlaps(x.def.prefix, def.prefix)) ??
      targets.find((t) => overlaps(t.def.prefix, def.prefix));
    if (clash) {
      const what = 'row' in clash ? clash.def.name : `NetBox prefix #${clash.netboxId}`;
      conflict(p, `overlaps pool ${what} (${formatPrefix(clash.def.prefix)})`);
      continue;
    }
    let name = def.name;
    if (names.has(name)) name = `${name}-nb${p.id}`;
    names.add(name);
    const target: Target = { netboxId: p.id, vrfId, name, def: { ...def, name } };
    targets.push(target);
    steps.push({
      change: {
        op: 'create',
        kind: 'pool',
        key: name,
        netboxId: p.id,
        fields: { prefix: formatPrefix(def.prefix), purpose: def.purpose, size: def.size },
      },
      apply: async () => {
        const created = await ipam.addPool(
          { name, prefix: formatPrefix(def.prefix), purpose: def.purpose, size: def.size },
          ctx.actor,
        );
        const row = (await ipam.loadPools(db)).find((x) => x.def.name === created.name);
        if (!row) throw new DomainError('POOL_NOT_FOUND', `pool ${name} vanished`, 'not_found');
        target.poolId = row.row.id;
        await linkPool(db, row.row.id, p.id, vrfId, ipam.now());
      },
    });
  }

  // Prefixes gone from NetBox (or no longer tagged): their pools go too, when nobody holds one.
  const seen = new Set(prefixes.map((p) => p.id));
  for (const l of links.filter((x) => !seen.has(x.netboxId))) {
    steps.push(...(await removal(ctx, l, conflicts)));
  }

  const occupied = await ipam.occupiedAddresses(db);
  const tracked = await reservationLinks(db);
  for (const t of targets) {
    const vrf = t.vrfId ?? 'null';
    const within = formatPrefix(t.def.prefix);
    const wanted = new Map<string, { model: 'ipaddress' | 'prefix'; id: number }>();
    const owned = (tagsOf: { slug: string }[]) => tagsOf.some((x) => x.slug === settings.ownerTag);
    for (const a of await client.list(
      'ipam/ip-addresses',
      { parent: within, vrf_id: vrf },
      NbIpAddress,
    )) {
      if (!owned(a.tags)) wanted.set(hostOf(a), { model: 'ipaddress', id: a.id });
    }
    for (const c of await client.list('ipam/prefixes', { within, vrf_id: vrf }, NbPrefix)) {
      if (owned(c.tags) || c.tags.some((x) => x.slug === settings.poolTag)) continue;
      wanted.set(formatPrefix(parsePrefix(c.prefix, 'NetBox prefix', false)), {
        model: 'prefix',
        id: c.id,
      });
    }
    const mine = new Map(
      tracked
        .filter((r) => r.poolId === t.poolId && t.poolId !== undefined)
        .map((r) => [r.prefix, r]),
    );
    const implicit = reservedSlots(t.def);
    const held = occupied
      .filter((o) => o.poolId === t.poolId && t.poolId !== undefined)
      .map((o) => ({ o, range: slotRange(t.def, o.address) }));
    for (const [prefix, obj] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
      if (mine.has(prefix)) continue;
      const [a, b] = slotRange(t.def, prefix);
      if (implicit.some(([x, y]) => x <= a && b <= y)) continue;
      const holder = held.find(({ range: [x, y] }) => x <= b && a <= y);
      if (holder) {
        const how = holder.o.state === 'held' ? 'held by' : 'in quarantine for';
        conflicts.push({
          kind: 'reservation',
          key: prefix,
          netboxId: obj.id,
          message: `in NetBox without tag ${settings.ownerTag}, but ${holder.o.address} is ${how} ${holder.o.username} in ispkit; not reserved`,
        });
        continue;
      }
      steps.push({
        change: {
          op: 'create',
          kind: 'reservation',
          key: prefix,
          netboxId: obj.id,
          fields: { pool: t.name, netbox: obj.model === 'ipaddress' ? 'ip-address' : 'prefix' },
        },
        apply: () =>
          store.db.transaction().execute(async (trx) => {
            const poolId = t.poolId;
            if (poolId === undefined) throw new DomainError('POOL_NOT_FOUND', `no pool ${t.name}`);
            await ipam.reserveIn(trx, poolId, prefix, ctx.actor);
            await addReservationLink(
              trx,
              { poolId, prefix, netboxModel: obj.model, netboxId: obj.id },
              ipam.now(),
            );
          }),
      });
    }
    for (const r of mine.values()) {
      if (wanted.has(r.prefix)) continue;
      steps.push({
        change: {
          op: 'delete',
          kind: 'reservation',
          key: r.prefix,
          netboxId: r.netboxId,
          fields: { pool: t.name },
          note: 'gone from NetBox (or now owned by ispkit)',
        },
        apply: () =>
          store.db.transaction().execute(async (trx) => {
            await ipam.unreserveIn(trx, r.poolId, r.prefix, ctx.actor);
            await removeReservationLink(trx, r.poolId, r.prefix);
          }),
      });
    }
  }
  return stepsPlan(steps, conflicts);
}

async function removal(ctx: SyncContext, l: PoolLink, conflicts: Conflict[]): Promise<Step[]> {
  const pool = await ctx.ipam.showPool(l.pool);
  if (pool.used > 0) {
    conflicts.push({
      kind: 'pool',
      key: l.pool,
      netboxId: l.netboxId,
      message: `NetBox prefix #${l.netboxId} is gone or no longer tagged ${ctx.settings.poolTag}, but ${pool.used} address(es) are held; release them, then pull again`,
    });
    return [];
  }
  const change: Change = {
    op: 'delete',
    kind: 'pool',
    key: l.pool,
    netboxId: l.netboxId,
    fields: { prefix: l.prefix },
    note: `no longer tagged ${ctx.settings.poolTag} in NetBox`,
  };
  return [{ change, apply: () => ctx.ipam.removePool(l.pool, ctx.actor).then(() => undefined) }];
}
