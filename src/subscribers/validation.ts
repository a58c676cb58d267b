import ipaddr from 'ipaddr.js';
import { DomainError } from '../errors.js';
import { checkUsername, usernameKey } from './usernames.js';

/** RFC 2865 §5.2: User-Password carries at most 128 octets, so a longer one could never work. */
const MAX_PASSWORD_OCTETS = 128;
/** 576: the datagram every IPv4 host must accept (RFC 791); 9000: the usual jumbo frame. */
export const MTU_MIN = 576;
export const MTU_MAX = 9000;
/** RFC 8200 §5: a link that carries IPv6 must have an MTU of at least 1280. */
const IPV6_MTU_MIN = 1280;
/** The columns are 32-bit signed integers on PostgreSQL. */
const INT_MAX = 2_147_483_647;

/** The service parameters of a subscriber, as stored (addresses in canonical text form). */
export interface ServiceFields {
  ipv4: string | null;
  ipv6Prefix: string | null;
  delegatedPrefix: string | null;
  mtu: number | null;
  portLimit: number | null;
  interim: number | null;
}

/** A subscriber ready to be written: every field checked and put in canonical form. */
export interface CheckedSubscriber extends ServiceFields {
  username: string;
  usernameKey: string;
  password: string;
}

export function checkPassword(password: string): string {
  const octets = Buffer.byteLength(password, 'utf8');
  if (octets === 0) throw new DomainError('PASSWORD_INVALID', 'password is empty');
  if (octets > MAX_PASSWORD_OCTETS) {
    throw new DomainError(
      'PASSWORD_INVALID',
      `password is ${octets} octets long; RADIUS carries at most ${MAX_PASSWORD_OCTETS}`,
    );
  }
  return password;
}

/** A member's Framed-IP-Address: a dotted quad that a host can hold. */
export function checkIpv4(value: string): string {
  if (!ipaddr.IPv4.isValidFourPartDecimal(value)) {
    throw new DomainError('IPV4_INVALID', `ipv4 '${value}' is not an IPv4 address`);
  }
  const first = ipaddr.IPv4.parse(value).octets[0] ?? 0;
  // 0/8, loopback, multicast and 240/4 (which holds 255.255.255.254 and .255, the RADIUS values
  // for "the NAS chooses" and "the user chooses") can never be a member's own address.
  if (first === 0 || first === 127 || first >= 224) {
    throw new DomainError('IPV4_INVALID', `ipv4 '${value}' is not an address a member can hold`);
  }
  return value;
}

export type PrefixField = 'ipv6_prefix' | 'delegated_prefix';

/** An IPv6 prefix as `addr/len` with no bits set beyond len; returned in RFC 5952 form. */
export function checkIpv6Prefix(field: PrefixField, value: string): string {
  const code = field === 'ipv6_prefix' ? 'IPV6_PREFIX_INVALID' : 'DELEGATED_PREFIX_INVALID';
  const fail = (why: string): never => {
    throw new DomainError(code, `${field} '${value}' ${why}`);
  };
  const slash = value.indexOf('/');
  if (slash < 0) fail('is not a prefix (expected address/length, e.g. 2001:db8:1::/64)');
  const addrText = value.slice(0, slash);
  const lenText = value.slice(slash + 1);
  if (addrText.includes('%') || !ipaddr.IPv6.isValid(addrText)) fail('is not an IPv6 prefix');
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) < 1 || Number(lenText) > 128) {
    fail('has a prefix length outside 1–128');
  }
  const addr = ipaddr.IPv6.parse(addrText);
  const len = Number(lenText);
  if (addr.isIPv4MappedAddress() || addr.range() === 'multicast') {
    fail('is not a prefix a member can hold');
  }
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${addrText}/${len}`);
  if (network.toString() !== addr.toString()) {
    fail(`has bits set beyond /${len} (did you mean ${network.toString()}/${len}?)`);
  }
  return `${addr.toString()}/${len}`;
}

function checkInteger(code: string, field: string, n: number, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new DomainError(code, `${field} ${n} is outside ${min}–${max}`);
  }
  return n;
}

export const checkMtu = (n: number) => checkInteger('MTU_INVALID', 'mtu', n, MTU_MIN, MTU_MAX);
export const checkPortLimit = (n: number) =>
  checkInteger('PORT_LIMIT_INVALID', 'port_limit', n, 1, INT_MAX);
export const checkInterim = (n: number) =>
  checkInteger('INTERIM_INVALID', 'interim', n, 0, INT_MAX);

/** A whole number typed by a person (CLI option, CSV cell); `field` names it in the error. */
export function parseWholeNumber(field: string, text: string): number {
  if (!/^\d{1,10}$/.test(text.trim())) {
    const code = `${field.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_INVALID`;
    throw new DomainError(code, `${field} '${text}' is not a whole number`);
  }
  return Number(text.trim());
}

/** Rules across fields, checked on the subscriber as it will be after a change. */
export function checkCombination(f: ServiceFields): void {
  if (f.mtu !== null && f.mtu < IPV6_MTU_MIN && (f.ipv6Prefix || f.delegatedPrefix)) {
    throw new DomainError(
      'MTU_INVALID',
      `mtu ${f.mtu} is too small for IPv6, which needs at least ${IPV6_MTU_MIN} (RFC 8200)`,
    );
  }
}

/** Input as the CLI, the API and the CSV import give it: absent and null both mean none. */
export interface SubscriberInput {
  username: string;
  password: string;
  ipv4?: string | null;
  ipv6Prefix?: string | null;
  delegatedPrefix?: string | null;
  mtu?: number | null;
  portLimit?: number | null;
  interim?: number | null;
}

export function checkNewSubscriber(input: SubscriberInput): CheckedSubscriber {
  const username = checkUsername(input.username);
  const fields = checkServiceFields(input);
  checkCombination(fields);
  return {
    username,
    usernameKey: usernameKey(username),
    password: checkPassword(input.password),
    ...fields,
  };
}

/** Checks the service fields that are present; absent ones come back as null. */
export function checkServiceFields(input: Partial<ServiceFields>): ServiceFields {
  const opt = <T, R>(v: T | null | undefined, check: (v: T) => R): R | null =>
    v === null || v === undefined ? null : check(v);
  return {
    ipv4: opt(input.ipv4, checkIpv4),
    ipv6Prefix: opt(input.ipv6Prefix, (v) => checkIpv6Prefix('ipv6_prefix', v)),
    delegatedPrefix: opt(input.delegatedPrefix, (v) => checkIpv6Prefix('delegated_prefix', v)),
    mtu: opt(input.mtu, checkMtu),
    portLimit: opt(input.portLimit, checkPortLimit),
    interim: opt(input.interim, checkInterim),
  };
}

/** An IPv6 prefix held by someone, as a closed range of addresses, for overlap checks. */
export interface HeldPrefix {
  holder: string;
  field: PrefixField;
  prefix: string;
  first: bigint;
  last: bigint;
}

export function heldPrefix(holder: string, field: PrefixField, prefix: string): HeldPrefix {
  const [addr, len] = ipaddr.IPv6.parseCIDR(prefix);
  let first = 0n;
  for (const part of addr.parts) first = (first << 16n) | BigInt(part);
  const size = 1n << BigInt(128 - len);
  return { holder, field, prefix, first, last: first + size - 1n };
}

/**
 * Every pair of prefixes that share an address. Prefixes are nested or disjoint, so after
 * sorting by first address (wider first) an overlap is always with the widest one still open.
 */
export function overlappingPrefixes(prefixes: HeldPrefix[]): [HeldPrefix, HeldPrefix][] {
  const sorted = [...prefixes].sort((a, b) =>
    a.first !== b.first
      ? a.first < b.first
        ? -1
        : 1
      : a.last > b.last
        ? -1
        : a.last < b.last
          ? 1
          : 0,
  );
  const found: [HeldPrefix, HeldPrefix][] = [];
  let open: HeldPrefix | undefined;
  for (const p of sorted) {
    if (open && p.first <= open.last) found.push([open, p]);
    else open = p;
  }
  return found;
}

export function describeHolder(p: HeldPrefix, self: string): string {
  return p.holder === self ? `its own ${p.field}` : `${p.field} of ${p.holder}`;
}
