import ipaddr from 'ipaddr.js';
import { DomainError } from '../errors.js';

/**
 * IPv4 and IPv6 prefixes as numbers: a prefix is its first address (a BigInt) and a length.
 * ipaddr.js reads and writes the text forms; every computation is on BigInt, so a /32 of /56s
 * (16M slots) costs the same as a /24 of /32s.
 */
export type Family = 4 | 6;

export interface Prefix {
  readonly family: Family;
  /** The network address, as a number (no bits set beyond `length`). */
  readonly first: bigint;
  readonly length: number;
}

export const BITS: Record<Family, number> = { 4: 32, 6: 128 };

export function addressToBigInt(addr: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  let n = 0n;
  if (addr.kind() === 'ipv4') {
    for (const o of (addr as ipaddr.IPv4).octets) n = (n << 8n) | BigInt(o);
  } else {
    for (const p of (addr as ipaddr.IPv6).parts) n = (n << 16n) | BigInt(p);
  }
  return n;
}

/** The address in its usual text form (RFC 5952 for IPv6, as the subscriber columns hold it). */
export function formatAddress(family: Family, n: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn)).join('.');
  }
  const parts: number[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) parts.push(Number((n >> s) & 0xffffn));
  return new ipaddr.IPv6(parts).toString();
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.family, p.first)}/${p.length}`;
}

/** How a slot is written in the subscriber columns: an IPv4 /32 as a bare address. */
export function formatAssigned(p: Prefix): string {
  return p.family === 4 && p.length === 32 ? formatAddress(4, p.first) : formatPrefix(p);
}

/** The number of addresses in the prefix. */
export function size(p: Prefix): bigint {
  return 1n << BigInt(BITS[p.family] - p.length);
}

export function lastAddress(p: Prefix): bigint {
  return p.first + size(p) - 1n;
}

export function isAligned(family: Family, first: bigint, length: number): boolean {
  return (first & ((1n << BigInt(BITS[family] - length)) - 1n)) === 0n;
}

export function contains(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.family === inner.family &&
    inner.length >= outer.length &&
    inner.first >= outer.first &&
    lastAddress(inner) <= lastAddress(outer)
  );
}

/** Prefixes are nested or disjoint, so sharing one address means one contains the other. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  return contains(a, b) || contains(b, a);
}

/** How many /`length` sub-prefixes `p` holds. */
export function subPrefixCount(p: Prefix, length: number): bigint {
  return 1n << BigInt(length - p.length);
}

/** The `n`th /`length` sub-prefix of `p` (n from 0). */
export function nthSubPrefix(p: Prefix, length: number, n: bigint): Prefix {
  return { family: p.family, first: p.first + (n << BigInt(BITS[p.family] - length)), length };
}

/** Which /`length` sub-prefix of `p` holds the address `a`. */
export function subPrefixIndex(p: Prefix, length: number, a: bigint): bigint {
  return (a - p.first) >> BigInt(BITS[p.family] - length);
}

/** Fixed-width hex, so that text order is number order (for range queries in SQL). */
export function sortableHex(family: Family, n: bigint): string {
  return n.toString(16).padStart(BITS[family] / 4, '0');
}

function invalid(code: string, message: string): never {
  throw new DomainError(code, message);
}

/**
 * `80.67.191.0/24`, `2001:913::/32`, or a bare address (a /32 or /128). With `strict`, bits set
 * beyond the length are refused (a pool's prefix); without, they are cleared (an address typed
 * with its subnet, `80.67.191.6/24`, looked up as what it is in).
 */
export function parsePrefix(text: string, what = 'prefix', strict = true): Prefix {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addrText = slash < 0 ? t : t.slice(0, slash);
  const lenText = slash < 0 ? undefined : t.slice(slash + 1);
  let family: Family;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(addrText)) {
    family = 4;
    addr = ipaddr.IPv4.parse(addrText);
  } else if (!addrText.includes('%') && ipaddr.IPv6.isValid(addrText)) {
    family = 6;
    addr = ipaddr.IPv6.parse(addrText);
  } else {
    return invalid('PREFIX_INVALID', `${what} '${text}' is not an IPv4 or IPv6 address or prefix`);
  }
  const bits = BITS[family];
  if (lenText !== undefined && (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits)) {
    invalid('PREFIX_INVALID', `${what} '${text}' has a length outside 0–${bits}`);
  }
  const length = lenText === undefined ? bits : Number(lenText);
  const n = addressToBigInt(addr);
  const mask = (1n << BigInt(bits - length)) - 1n;
  const first = n & ~mask;
  if (strict && first !== n) {
    const p = formatPrefix({ family, first, length });
    invalid(
      'PREFIX_NOT_ALIGNED',
      `${what} '${text}' has bits set beyond /${length} (did you mean ${p}?)`,
    );
  }
  return { family, first, length };
}
