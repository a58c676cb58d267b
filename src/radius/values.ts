import ipaddr from 'ipaddr.js';
import type { AttributeDef } from './dictionary/types.js';
import { RadiusError } from './errors.js';

/**
 * Attribute values as TypeScript sees them:
 * string → string; octets, abinary → Buffer; ipaddr, ipv6addr, combo-ip → address text;
 * ipv4prefix, ipv6prefix → 'address/length'; integer, short, byte, signed → number, or the
 * VALUE name when the dictionary has one; integer64 → bigint; date → Date; ifid → 'xxxx:…';
 * ether → 'aa:bb:…'; tlv → the child attributes.
 */
export type PlainValue = string | number | bigint | Buffer | Date;

/** What a caller may give when building an attribute. */
export type ValueInput = string | number | bigint | Buffer | Date;

const INTEGER_SIZES: Partial<Record<string, number>> = {
  integer: 4,
  short: 2,
  byte: 1,
  signed: 4,
  date: 4,
};

function invalid(def: AttributeDef, why: string): RadiusError {
  return new RadiusError('VALUE_INVALID', `${def.name}: ${why}`);
}

/** Decodes a value field; undefined when it is malformed for its type (the caller keeps it raw). */
export function decodeValue(def: AttributeDef, data: Buffer): PlainValue | undefined {
  const len = data.length;
  switch (def.type) {
    case 'string':
      return data.toString('utf8');
    case 'octets':
      if (def.flags.length !== undefined && def.flags.encrypt === 0 && len !== def.flags.length)
        return undefined;
      return data;
    case 'abinary':
    case 'tlv':
    case 'vsa':
    case 'extended':
    case 'long-extended':
    case 'evs':
      return data;
    case 'ipaddr':
      return len === 4 ? ipv4Text(data, 0) : undefined;
    case 'ipv6addr':
      return len === 16 ? ipv6Text(data) : undefined;
    case 'combo-ip':
      return len === 4 ? ipv4Text(data, 0) : len === 16 ? ipv6Text(data) : undefined;
    case 'integer':
      if (len !== 4) return undefined;
      return enumName(def, data.readUInt32BE(0));
    case 'short':
      return len === 2 ? enumName(def, data.readUInt16BE(0)) : undefined;
    case 'byte':
      return len === 1 ? enumName(def, data[0] as number) : undefined;
    case 'signed':
      return len === 4 ? enumName(def, data.readInt32BE(0)) : undefined;
    case 'integer64':
      return len === 8 ? data.readBigUInt64BE(0) : undefined;
    case 'date':
      return len === 4 ? new Date(data.readUInt32BE(0) * 1000) : undefined;
    case 'ifid':
      // FreeRADIUS prints each 16-bit group without leading zeros.
      return len === 8
        ? [0, 2, 4, 6].map((o) => data.readUInt16BE(o).toString(16)).join(':')
        : undefined;
    case 'ether':
      return len === 6 ? hexGroups(data, 1, ':') : undefined;
    case 'ipv4prefix':
      return decodeIpv4Prefix(data);
    case 'ipv6prefix':
      return decodeIpv6Prefix(data);
  }
}

function enumName(def: AttributeDef, n: number): string | number {
  return def.valueNames.get(n) ?? n;
}

export function ipv4Text(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function ipv6Text(b: Buffer): string {
  return new ipaddr.IPv6([...b]).toRFC5952String();
}

function hexGroups(b: Buffer, groupBytes: number, sep: string): string {
  const hex = b.toString('hex');
  const parts: string[] = [];
  for (let i = 0; i < hex.length; i += groupBytes * 2) parts.push(hex.slice(i, i + groupBytes * 2));
  return parts.join(sep);
}

function decodeIpv4Prefix(data: Buffer): string | undefined {
  if (data.length !== 6 || data[0] !== 0) return undefined;
  const bits = data[1] as number;
  if (bits > 32) return undefined;
  const addr = data.readUInt32BE(2);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((addr & ~mask) >>> 0 !== 0) return undefined;
  return `${ipv4Text(data, 2)}/${bits}`;
}

/** RFC 3162 §2.3: the prefix may be sent in as few octets as its length needs. */
function decodeIpv6Prefix(data: Buffer): string | undefined {
  if (data.length < 2 || data.length > 18 || data[0] !== 0) return undefined;
  const bits = data[1] as number;
  if (bits > 128) return undefined;
  // Octets the sender left out are zeros (layeh/radius#118 sends a /64 in 6 octets).
  const addr = Buffer.alloc(16);
  data.copy(addr, 0, 2);
  if (!bitsBeyondAreZero(addr, bits)) return undefined;
  return `${ipv6Text(addr)}/${bits}`;
}

function bitsBeyondAreZero(addr: Buffer, bits: number): boolean {
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    if (((addr[i] as number) & ~mask & 0xff) !== 0) return false;
  }
  return true;
}

/** Encodes a value field (without tag or encryption). Throws RadiusError VALUE_INVALID. */
export function encodeValue(def: AttributeDef, value: ValueInput): Buffer {
  switch (def.type) {
    case 'string':
      if (typeof value === 'string') return Buffer.from(value, 'utf8');
      if (Buffer.isBuffer(value)) return value;
      throw invalid(def, 'expects a string');
    case 'octets':
    case 'abinary':
    case 'tlv':
    case 'vsa':
    case 'extended':
    case 'long-extended':
    case 'evs':
      return octets(def, value);
    case 'ipaddr': {
      const b = parseIpv4(stringOf(def, value).replace(/\/32$/, ''));
      if (!b) throw invalid(def, `'${String(value)}' is not an IPv4 address`);
      return b;
    }
    case 'ipv6addr': {
      const b = parseIpv6(stringOf(def, value).replace(/\/128$/, ''));
      if (!b) throw invalid(def, `'${String(value)}' is not an IPv6 address`);
      return b;
    }
    case 'combo-ip': {
      const s = stringOf(def, value);
      const b = parseIpv4(s) ?? parseIpv6(s);
      if (!b) throw invalid(def, `'${s}' is not an IP address`);
      return b;
    }
    case 'integer':
    case 'short':
    case 'byte':
    case 'signed': {
      const n = integerOf(def, value);
      const size = INTEGER_SIZES[def.type] as number;
      const b = Buffer.allocUnsafe(size);
      if (def.type === 'signed') {
        if (n < -0x80000000 || n > 0x7fffffff) throw invalid(def, `${n} is out of range`);
        b.writeInt32BE(n, 0);
      } else {
        if (n < 0 || n >= 2 ** (8 * size)) throw invalid(def, `${n} is out of range`);
        b.writeUIntBE(n, 0, size);
      }
      return b;
    }
    case 'integer64': {
      let n: bigint;
      try {
        n = typeof value === 'bigint' ? value : BigInt(stringOf(def, value as string | number));
      } catch {
        throw invalid(def, `'${String(value)}' is not an integer`);
      }
      if (n < 0n || n > 0xffffffffffffffffn) throw invalid(def, `${n} is out of range`);
      const b = Buffer.allocUnsafe(8);
      b.writeBigUInt64BE(n, 0);
      return b;
    }
    case 'date': {
      const secs = dateSeconds(def, value);
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(secs, 0);
      return b;
    }
    case 'ifid': {
      const s = stringOf(def, value);
      if (!/^[0-9a-f]{1,4}(:[0-9a-f]{1,4}){3}$/i.test(s))
        throw invalid(def, `'${s}' is not an interface id`);
      return Buffer.from(
        s
          .split(':')
          .map((g) => g.padStart(4, '0'))
          .join(''),
        'hex',
      );
    }
    case 'ether': {
      const s = stringOf(def, value);
      if (!/^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i.test(s))
        throw invalid(def, `'${s}' is not a MAC address`);
      return Buffer.from(s.replace(/[:-]/g, ''), 'hex');
    }
    case 'ipv4prefix': {
      const { addr, bits } = prefixOf(def, value, 4);
      return Buffer.concat([Buffer.from([0, bits]), addr]);
    }
    case 'ipv6prefix': {
      // FreeRADIUS 3 sends the whole 16-octet address; decoders accept shorter forms.
      const { addr, bits } = prefixOf(def, value, 16);
      return Buffer.concat([Buffer.from([0, bits]), addr]);
    }
  }
}

function stringOf(def: AttributeDef, value: ValueInput): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  throw invalid(def, `expects text, got ${Buffer.isBuffer(value) ? 'octets' : typeof value}`);
}

function octets(def: AttributeDef, value: ValueInput): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') {
    if (/^0x([0-9a-f]{2})*$/i.test(value)) return Buffer.from(value.slice(2), 'hex');
    // FreeRADIUS accepts plain text for octets attributes.
    return Buffer.from(value, 'utf8');
  }
  throw invalid(def, 'expects octets (a Buffer or 0x… hex)');
}

function integerOf(def: AttributeDef, value: ValueInput): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw invalid(def, `${value} is not an integer`);
    return value;
  }
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    const named = def.values.get(value.trim().toLowerCase());
    if (named !== undefined) return named;
    if (/^-?\d+$/.test(value.trim())) return Number(value.trim());
    if (/^0x[0-9a-f]+$/i.test(value.trim())) return parseInt(value.trim().slice(2), 16);
    throw invalid(def, `'${value}' is neither a number nor a VALUE of ${def.name}`);
  }
  throw invalid(def, 'expects an integer');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function dateSeconds(def: AttributeDef, value: ValueInput): number {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number' || typeof value === 'bigint') ms = Number(value) * 1000;
  else if (typeof value === 'string') ms = parseDate(value.trim());
  else throw invalid(def, 'expects a date');
  const secs = Math.floor(ms / 1000);
  if (!Number.isFinite(ms) || secs < 0 || secs > 0xffffffff)
    throw invalid(def, `'${String(value)}' is not a date`);
  return secs;
}

/** FreeRADIUS prints dates as "Apr  8 2025 10:11:32 UTC"; ISO 8601 and epoch seconds work too. */
export function parseDate(s: string): number {
  const m =
    /^([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{4})\s+(\d{2}):(\d{2}):(\d{2})(?:\s+(UTC|GMT|Z))?$/.exec(s);
  if (m) {
    const month = MONTHS.indexOf(m[1] as string);
    if (month < 0) return NaN;
    return Date.UTC(Number(m[3]), month, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  if (/^\d{4}-\d{2}-\d{2}T/.test(s)) return Date.parse(s);
  return NaN;
}

export function formatDate(d: Date): string {
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const time = [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map((n) =>
    String(n).padStart(2, '0'),
  );
  return `${MONTHS[d.getUTCMonth()]} ${day} ${d.getUTCFullYear()} ${time.join(':')} UTC`;
}

export function parseIpv4(s: string): Buffer | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const bytes = [m[1], m[2], m[3], m[4]].map(Number);
  if (bytes.some((n) => n > 255)) return undefined;
  return Buffer.from(bytes);
}

export function parseIpv6(s: string): Buffer | undefined {
  if (!s.includes(':') || !ipaddr.IPv6.isValid(s) || s.includes('%')) return undefined;
  return Buffer.from(ipaddr.IPv6.parse(s).toByteArray());
}

function prefixOf(
  def: AttributeDef,
  value: ValueInput,
  size: 4 | 16,
): { addr: Buffer; bits: number } {
  const s = stringOf(def, value);
  const slash = s.lastIndexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const bitsText = slash < 0 ? String(size * 8) : s.slice(slash + 1);
  const addr = size === 4 ? parseIpv4(addrText) : parseIpv6(addrText);
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!addr || !(bits >= 0 && bits <= size * 8))
    throw invalid(def, `'${s}' is not an IPv${size === 4 ? 4 : 6} prefix`);
  // Bits beyond the prefix length are zeroed, as FreeRADIUS does.
  for (let i = 0; i < size; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    addr[i] = (addr[i] as number) & (keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff);
  }
  return { addr, bits };
}
