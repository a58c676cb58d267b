import { DomainError } from '../errors.js';
import type { Occupied } from '../ipam/service.js';
import { BITS, formatAddress, formatPrefix, parsePrefix } from '../ipam/prefix.js';
import type { Endpoint } from './client.js';
import { NbIpAddress, NbPrefix, NbTag, NbTenant } from './client.js';
import type { PoolLink } from './links.js';
import { poolLinks } from './links.js';
import { description, dnsName } from './naming.js';
import type { Change, Conflict, FieldValue } from './plan.js';
import type { Plan, SyncContext } from './sync-context.js';

/**
 * `netbox push`: NetBox's objects mirror what ispkit's linked pools keep from others.
 *
 * - an address slot (an IPv4 /32, an IPv6 /128) is an ip-address, a larger slot (a member's
 *   framed /64, its delegated /60) a prefix — the way NetBox models them;
 * - held → status `active`; released and in quarantine → `deprecated` (its last holder stays
 *   in the description, the PTR name goes); quarantine over → the object is deleted;
 * - every object ispkit creates carries the tag `owner_tag`; objects without it are never
 *   changed nor deleted (one at an address ispkit assigns is reported as a conflict).
 */

type Model = 'ip-address' | 'prefix';
const ENDPOINT: Record<Model, Endpoint> = {
  'ip-address': 'ipam/ip-addresses',
  prefix: 'ipam/prefixes',
};

/** The fields ispkit sets, as written (ids) and as shown (slugs). */
interface Desired {
  model: Model;
  key: string;
  /** `80.67.191.6/32` or `2001:913:1d00:600::/60`. */
  value: string;
  status: 'active' | 'deprecated';
  dnsName: string | null;
  description: string;
  vrf: number | null;
}

interface Existing {
  model: Model;
  id: number;
  key: string;
  value: string;
  status: string;
  dnsName: string | null;
  description: string;
  tenant: { id: number; slug: string } | null;
  vrf: number | null;
  owned: boolean;
}

interface Write {
  change: Change;
  model: Model;
  body: Record<string, unknown>;
}

/** An address slot (/32, /128) is an ip-address; a larger slot a prefix. */
function slotOf(text: string): { key: string; host: boolean } {
  const p = parsePrefix(text, 'address');
  return { key: formatPrefix(p), host: p.length === BITS[p.family] };
}

/** An ip-address is keyed by its host: NetBox may hold it with its subnet's mask (`/24`). */
function ipKey(address: string): { key: string; value: string } {
  const [addr = address, len] = address.split('/');
  const h = parsePrefix(addr, 'NetBox address', false);
  return {
    key: formatPrefix(h),
    value: `${formatAddress(h.family, h.first)}/${len ?? BITS[h.family]}`,
  };
}

function desiredOf(o: Occupied, link: PoolLink, ctx: SyncContext): Desired {
  const c = slotOf(o.address);
  const vars = { username: o.username, address: o.address, pool: o.pool };
  const active = o.state === 'held';
  return {
    model: c.host ? 'ip-address' : 'prefix',
    key: c.key,
    value: c.key,
    status: active ? 'active' : 'deprecated',
    dnsName: c.host ? (active ? dnsName(ctx.settings.dnsName, vars) : '') : null,
    description: description(ctx.settings.description, vars),
    vrf: link.vrfId,
  };
}

function fromIp(a: NbIpAddress, ownerTag: string): Existing {
  const c = ipKey(a.address);
  return {
    model: 'ip-address',
    id: a.id,
    key: c.key,
    value: c.value,
    status: a.status.value,
    dnsName: a.dns_name,
    description: a.description,
    tenant: a.tenant,
    vrf: a.vrf?.id ?? null,
    owned: a.tags.some((t) => t.slug === ownerTag),
  };
}

function fromPrefix(p: NbPrefix, ownerTag: string): Existing {
  const key = formatPrefix(parsePrefix(p.prefix, 'prefix', false));
  return {
    model: 'prefix',
    id: p.id,
    key,
    value: key,
    status: p.status.value,
    dnsName: null,
    description: p.description,
    tenant: p.tenant,
    vrf: p.vrf?.id ?? null,
    owned: p.tags.some((t) => t.slug === ownerTag),
  };
}

export async function planPush(ctx: SyncContext): Promise<Plan> {
  const { client, settings, ipam, store } = ctx;
  const tag = (await client.list('extras/tags', { slug: settings.ownerTag }, NbTag))[0];
  let tenant: { id: number; slug: string } | null = null;
  if (settings.tenant) {
    const t = (await client.list('tenancy/tenants', { slug: settings.tenant }, NbTenant))[0];
    if (!t) {
      throw new DomainError(
        'NETBOX_TENANT_MISSING',
        `NetBox has no tenant ${settings.tenant} (netbox.tenant): create it first`,
        'not_found',
      );
    }
    tenant = { id: t.id, slug: t.slug };
  }
  const links = await poolLinks(store.db);
  const linkOf = new Map(links.map((l) => [l.poolId, l]));

  const desired = new Map<string, Desired>();
  for (const o of await ipam.occupiedAddresses(store.db)) {
    const link = linkOf.get(o.poolId);
    if (link) desired.set(`${link.vrfId}|${slotOf(o.address).key}`, desiredOf(o, link, ctx));
  }

  // Everything ispkit owns, wherever it is, and whatever else sits in the linked pools.
  const existing = new Map<string, Existing>();
  const add = (e: Existing) => existing.set(`${e.model}#${e.id}`, e);
  if (tag) {
    for (const a of await client.list('ipam/ip-addresses', { tag: tag.slug }, NbIpAddress)) {
      add(fromIp(a, settings.ownerTag));
    }
    for (const p of await client.list('ipam/prefixes', { tag: tag.slug }, NbPrefix)) {
      add(fromPrefix(p, settings.ownerTag));
    }
  }
  const pools = await ipam.loadPools(store.db);
  for (const l of links) {
    const vrf = l.vrfId ?? 'null';
    const pool = pools.find((p) => p.row.id === l.poolId);
    if (!pool) continue;
    if (pool.def.size === BITS[pool.def.prefix.family]) {
      for (const a of await client.list(
        'ipam/ip-addresses',
        { parent: l.prefix, vrf_id: vrf },
        NbIpAddress,
      )) {
        add(fromIp(a, settings.ownerTag));
      }
    } else {
      for (const p of await client.list(
        'ipam/prefixes',
        { within: l.prefix, vrf_id: vrf },
        NbPrefix,
      )) {
        if (!p.tags.some((t) => t.slug === settings.poolTag)) add(fromPrefix(p, settings.ownerTag));
      }
    }
  }

  const creates: Write[] = [];
  const updates: Write[] = [];
  const deletes: Write[] = [];
  const conflicts: Conflict[] = [];
  const matched = new Set<string>();
  const byKey = new Map<string, Existing[]>();
  for (const e of [...existing.values()].sort((a, b) => a.id - b.id)) {
    const k = `${e.vrf}|${e.key}`;
    byKey.set(k, [...(byKey.get(k) ?? []), e]);
  }

  for (const [k, d] of desired) {
    const here = (byKey.get(k) ?? []).filter((e) => e.model === d.model);
    const mine = here.find((e) => e.owned);
    if (!mine) {
      const other = here[0];
      if (other) {
        conflicts.push({
          kind: d.model,
          key: d.key,
          netboxId: other.id,
          message: `exists in NetBox without tag ${settings.ownerTag}; not touched (tag it to let ispkit manage it)`,
        });
        continue;
      }
      const fields: Record<string, FieldValue> = { status: d.status };
      if (d.dnsName !== null) fields.dns_name = d.dnsName;
      fields.description = d.description;
      if (tenant) fields.tenant = tenant.slug;
      if (d.vrf !== null) fields.vrf = d.vrf;
      creates.push({
        change: { op: 'create', kind: d.model, key: d.key, fields },
        model: d.model,
        body: {
          [d.model === 'ip-address' ? 'address' : 'prefix']: d.value,
          status: d.status,
          ...(d.dnsName === null ? {} : { dns_name: d.dnsName }),
          description: d.description,
          tenant: tenant?.id ?? null,
          vrf: d.vrf,
          // The tag's id once it exists; a create plan may have to make it first (see apply).
          tags: tag ? [tag.id] : [],
        },
      });
      continue;
    }
    matched.add(`${mine.model}#${mine.id}`);
    const fields: Change['fields'] = {};
    const body: Record<string, unknown> = {};
    const diff = (name: string, from: FieldValue, to: FieldValue, write: unknown = to) => {
      if (from === to) return;
      fields[name] = { from, to };
      body[name] = write;
    };
    if (d.model === 'ip-address') diff('address', mine.value, d.value);
    diff('status', mine.status, d.status);
    if (d.dnsName !== null) diff('dns_name', mine.dnsName, d.dnsName);
    diff('description', mine.description, d.description);
    if ((mine.tenant?.id ?? null) !== (tenant?.id ?? null)) {
      fields.tenant = { from: mine.tenant?.slug ?? null, to: tenant?.slug ?? null };
      body.tenant = tenant?.id ?? null;
    }
    if (Object.keys(body).length > 0) {
      updates.push({
        change: { op: 'update', kind: d.model, key: d.key, netboxId: mine.id, fields },
        model: d.model,
        body: { id: mine.id, ...body },
      });
    }
  }

  for (const e of existing.values()) {
    if (!e.owned || matched.has(`${e.model}#${e.id}`)) continue;
    const twin = desired.get(`${e.vrf}|${e.key}`);
    deletes.push({
      change: {
        op: 'delete',
        kind: e.model,
        key: e.key,
        netboxId: e.id,
        fields: {},
        note: twin ? 'duplicate of another object ispkit owns' : 'no longer assigned by ispkit',
      },
      model: e.model,
      body: { id: e.id },
    });
  }

  const tagStep: Change[] =
    !tag && creates.length > 0
      ? [{ op: 'create', kind: 'tag', key: settings.ownerTag, fields: { slug: settings.ownerTag } }]
      : [];
  const order = (a: Write, b: Write) =>
    a.change.key.localeCompare(b.change.key, 'en', { numeric: true });
  creates.sort(order);
  updates.sort(order);
  deletes.sort(order);
  return {
    changes: [...tagStep, ...[...deletes, ...updates, ...creates].map((w) => w.change)],
    conflicts,
    apply: async () => {
      let applied = 0;
      const failed: Conflict[] = [];
      let tagId = tag?.id;
      if (tagStep.length > 0) {
        try {
          const made = await client.create('extras/tags', [
            { name: settings.ownerTag, slug: settings.ownerTag, description: 'managed by ispkit' },
          ]);
          tagId = NbTag.parse(made[0]).id;
          applied++;
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          failed.push({ kind: 'tag', key: settings.ownerTag, message: e.message });
          for (const w of creates)
            failed.push({ kind: w.change.kind, key: w.change.key, message: 'no owner tag' });
          creates.length = 0;
        }
      }
      for (const w of creates) w.body.tags = [tagId];
      const run = async (
        writes: Write[],
        call: (ep: Endpoint, bodies: Record<string, unknown>[]) => Promise<unknown>,
      ) => {
        for (const model of ['ip-address', 'prefix'] as const) {
          const mine = writes.filter((w) => w.model === model);
          if (mine.length === 0) continue;
          try {
            await call(
              ENDPOINT[model],
              mine.map((w) => w.body),
            );
            applied += mine.length;
          } catch (e) {
            if (!(e instanceof DomainError)) throw e;
            for (const w of mine)
              failed.push({ kind: w.change.kind, key: w.change.key, message: e.message });
          }
        }
      };
      await run(deletes, (ep, bodies) =>
        client.delete(
          ep,
          bodies.map((b) => b.id as number),
        ),
      );
      await run(updates, (ep, bodies) =>
        client.update(ep, bodies as ({ id: number } & Record<string, unknown>)[]),
      );
      await run(creates, (ep, bodies) => client.create(ep, bodies));
      return { applied, failed };
    },
  };
}
