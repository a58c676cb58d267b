import { DomainError } from '../errors.js';
import type { Family, Prefix } from './prefix.js';
import {
  contains,
  formatAssigned,
  formatPrefix,
  nthSubPrefix,
  parsePrefix,
  subPrefixCount,
  subPrefixIndex,
  lastAddress,
} from './prefix.js';

/** What a pool's addresses are for; each fills one of the subscriber's address columns. */
export const PURPOSES = ['ipv4', 'cgnat-ipv4', 'framed-ipv6', 'delegated-ipv6'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** The subscriber column (and RADIUS attribute) an assignment fills. */
export type AddressColumn = 'ipv4' | 'ipv6_prefix' | 'delegated_prefix';

interface PurposeRule {
  family: Family;
  column: AddressColumn;
  defaultSize: number;
  minSize: number;
  maxSize: number;
  why: string;
}

export const PURPOSE_RULES: Record<Purpose, PurposeRule> = {
  // Framed-IP-Address is one address.
  ipv4: { family: 4, column: 'ipv4', defaultSize: 32, minSize: 32, maxSize: 32, why: '' },
  'cgnat-ipv4': { family: 4, column: 'ipv4', defaultSize: 32, minSize: 32, maxSize: 32, why: '' },
  // SLAAC on the member's link needs a /64 (RFC 4862); longer ones serve point-to-point links.
  'framed-ipv6': {
    family: 6,
    column: 'ipv6_prefix',
    defaultSize: 64,
    minSize: 64,
    maxSize: 128,
    why: 'a framed prefix is a /64 (SLAAC) or longer',
  },
  // RIPE-690 advises a /48 or /56 per member; a delegated prefix longer than /64 cannot be split.
  'delegated-ipv6': {
    family: 6,
    column: 'delegated_prefix',
    defaultSize: 56,
    minSize: 48,
    maxSize: 64,
    why: 'a delegated prefix is a /48 to /64 (RIPE-690)',
  },
};

/** The purposes that fill a column: ipv4 comes from a public or a CGNAT pool. */
export function purposesOf(column: AddressColumn): Purpose[] {
  return PURPOSES.filter((p) => PURPOSE_RULES[p].column === column);
}

/** Slot numbers are stored as 64-bit integers and read as JS numbers: keep them exact. */
export const MAX_SLOTS = 2 ** 48;

/** A pool as the allocator sees it. */
export interface PoolDef {
  name: string;
  prefix: Prefix;
  purpose: Purpose;
  /** The allocation length: 32 for IPv4, 64 for a framed prefix, 56 or 60 delegated… */
  size: number;
  gateway: Prefix | null;
  reserved: Prefix[];
  quarantineSeconds: number;
}

/** What a person or script gives to add a pool (text as typed). */
export interface PoolInput {
  name: string;
  prefix: string;
  purpose: string;
  size?: number;
  gateway?: string | null;
  reserve?: string[];
  quarantineSeconds?: number;
}

/** A week: long enough that abuse reports and logs about an address reach its last holder. */
export const DEFAULT_QUARANTINE_SECONDS = 7 * 24 * 3600;

function invalid(code: string, message: string): never {
  throw new DomainError(code, message);
}

/** Checks a pool on its own (overlap with other pools is the service's job, it needs the DB). */
export function checkPool(input: PoolInput): PoolDef {
  const name = input.name.trim();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    invalid('POOL_NAME_INVALID', `pool name '${input.name}' must be 1–64 letters, digits, . _ -`);
  }
  if (!(PURPOSES as readonly string[]).includes(input.purpose)) {
    invalid(
      'POOL_PURPOSE_INVALID',
      `purpose '${input.purpose}' is not one of ${PURPOSES.join(', ')}`,
    );
  }
  const purpose = input.purpose as Purpose;
  const rule = PURPOSE_RULES[purpose];
  const prefix = parsePrefix(input.prefix, `pool prefix`);
  if (prefix.family !== rule.family) {
    invalid(
      'POOL_FAMILY_MISMATCH',
      `a ${purpose} pool needs an IPv${rule.family} prefix, not ${input.prefix}`,
    );
  }
  const size = input.size ?? rule.defaultSize;
  if (!Number.isInteger(size) || size < rule.minSize || size > rule.maxSize) {
    const allowed =
      rule.minSize === rule.maxSize ? `${rule.minSize}` : `${rule.minSize}–${rule.maxSize}`;
    invalid(
      'POOL_SIZE_INVALID',
      `size /${size} does not suit a ${purpose} pool (allowed: /${allowed}${rule.why ? `; ${rule.why}` : ''})`,
    );
  }
  if (size < prefix.length) {
    invalid(
      'POOL_SIZE_INVALID',
      `pool ${formatPrefix(prefix)} is smaller than one /${size}; give a shorter prefix or a longer size`,
    );
  }
  if (subPrefixCount(prefix, size) > BigInt(MAX_SLOTS)) {
    invalid(
      'POOL_TOO_LARGE',
      `pool ${formatPrefix(prefix)} holds 2^${size - prefix.length} /${size}s; at most 2^48 per pool`,
    );
  }
  const inside = (text: string, what: string): Prefix => {
    const p = parsePrefix(text, what);
    if (!contains(prefix, p)) {
      invalid(
        'POOL_RESERVED_OUTSIDE',
        `${what} ${text} is not inside the pool ${formatPrefix(prefix)}`,
      );
    }
    return p;
  };
  const gateway = input.gateway ? inside(input.gateway, 'gateway') : null;
  const reserved = (input.reserve ?? []).map((r) => inside(r, 'reserved'));
  const q = input.quarantineSeconds ?? DEFAULT_QUARANTINE_SECONDS;
  if (!Number.isInteger(q) || q < 0 || q > 10 * 365 * 24 * 3600) {
    invalid('POOL_QUARANTINE_INVALID', `quarantine ${q} s is outside 0 s – 10 years`);
  }
  return { name, prefix, purpose, size, gateway, reserved, quarantineSeconds: q };
}

/** Inclusive slot range. */
export type SlotRange = readonly [number, number];

export function slotCount(pool: PoolDef): number {
  return Number(subPrefixCount(pool.prefix, pool.size));
}

/**
 * The slots never handed out, sorted and merged: the network and broadcast addresses of an
 * IPv4 pool wider than /31 (RFC 3021 uses both of a /31), the gateway, and the listed ones
 * (a reserved prefix takes every slot it touches).
 */
export function reservedSlots(pool: PoolDef): SlotRange[] {
  const ranges: [number, number][] = [];
  const last = slotCount(pool) - 1;
  if (pool.prefix.family === 4 && pool.prefix.length < 31) ranges.push([0, 0], [last, last]);
  for (const r of [...(pool.gateway ? [pool.gateway] : []), ...pool.reserved]) {
    const a = Number(subPrefixIndex(pool.prefix, pool.size, r.first));
    const b = Number(subPrefixIndex(pool.prefix, pool.size, lastAddress(r)));
    ranges.push([a, b]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const top = merged[merged.length - 1];
    if (top && r[0] <= top[1] + 1) top[1] = Math.max(top[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

export function reservedCount(ranges: readonly SlotRange[]): number {
  return ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
}

export function isReserved(ranges: readonly SlotRange[], slot: number): boolean {
  return ranges.some(([a, b]) => slot >= a && slot <= b);
}

/** The slot's text as the subscriber column holds it. */
export function slotText(pool: PoolDef, slot: number): string {
  return formatAssigned(nthSubPrefix(pool.prefix, pool.size, BigInt(slot)));
}

/** The slot an address or prefix is, or why it is not one of this pool's slots. */
export function slotOf(pool: PoolDef, p: Prefix): number | undefined {
  if (!contains(pool.prefix, p) || p.length !== pool.size) return undefined;
  return Number(subPrefixIndex(pool.prefix, pool.size, p.first));
}

/**
 * The lowest slot at or after `from` that is not occupied (held or in quarantine); reserved
 * slots are not the store's business. May return `total` or more when everything is taken.
 */
export type NextUnoccupied = (from: number) => Promise<number>;

/**
 * The lowest slot at or after `from` that is neither reserved nor occupied, or undefined when
 * the pool is full. The store finds the next gap between occupied slots through its index, so
 * the cost never follows the size of the pool (a /32 of /56s is 16M slots). With `skip`, passes
 * over that many free slots first (racing writers spread out instead of all wanting the same
 * one); when fewer are free, the last free one is returned.
 */
export async function lowestFree(
  total: number,
  reserved: readonly SlotRange[],
  nextUnoccupied: NextUnoccupied,
  from = 0,
  skip = 0,
): Promise<number | undefined> {
  const skipReserved = (s: number): number => {
    for (const [a, b] of reserved) if (s >= a && s <= b) s = b + 1;
    return s;
  };
  let candidate = from;
  let found: number | undefined;
  for (;;) {
    candidate = skipReserved(candidate);
    if (candidate >= total) return found;
    const gap = await nextUnoccupied(candidate);
    if (gap !== candidate) {
      candidate = gap; // may land on a reserved slot: checked at the top
      continue;
    }
    found = candidate;
    if (skip-- <= 0) return found;
    candidate++;
  }
}
