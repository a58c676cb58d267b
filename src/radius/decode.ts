import { Attribute, decodeTlv, valueOctets } from './attribute.js';
import type { AttributeValue } from './attribute.js';
import { authenticatorKind, isKnownCode } from './codes.js';
import { saltDecrypt, unhideUserPasswordRaw } from './crypto/index.js';
import type { Dictionary } from './dictionary/dictionary.js';
import { evsKey, unknownAttribute } from './dictionary/dictionary.js';
import type { AttributeDef } from './dictionary/types.js';
import { Encrypt } from './dictionary/types.js';
import { RadiusError } from './errors.js';
import { Packet } from './packet.js';
import { decodeValue } from './values.js';

export const MAX_PACKET_LENGTH = 4096;
const ZERO16 = Buffer.alloc(16);

export interface DecodeOptions {
  /** The shared secret: reveals User-Password, Tunnel-Password, MPPE keys. */
  secret?: Buffer;
  /** For a reply: the authenticator of the request it answers (encrypted values use it). */
  requestAuthenticator?: Buffer;
}

interface Ctx {
  dict: Dictionary;
  buf: Buffer;
  secret: Buffer | undefined;
  /** The authenticator encrypted attributes were hidden with. */
  cryptAuth: Buffer | undefined;
  out: Attribute[];
  group: number;
}

function malformed(message: string): RadiusError {
  return new RadiusError('PACKET_MALFORMED', message);
}

/**
 * Decodes one RADIUS packet. Throws only RadiusError (PACKET_MALFORMED, CODE_UNKNOWN). Octets
 * after the Length field's end are padding and ignored (RFC 2865 §3). Attributes the
 * dictionaries do not know, or whose value is malformed for its type, are kept as raw octets.
 */
export function decodePacket(buf: Buffer, dict: Dictionary, opts: DecodeOptions = {}): Packet {
  if (buf.length < 20) {
    throw malformed(`packet is ${buf.length} octets, shorter than the 20-octet header`);
  }
  const length = buf.readUInt16BE(2);
  if (length < 20) throw malformed(`Length field says ${length}, less than 20`);
  if (length > MAX_PACKET_LENGTH) {
    throw malformed(`Length field says ${length}, more than ${MAX_PACKET_LENGTH}`);
  }
  if (length > buf.length) {
    throw malformed(`Length field says ${length} but only ${buf.length} octets arrived`);
  }
  const code = buf[0] as number;
  if (!isKnownCode(code)) throw new RadiusError('CODE_UNKNOWN', `unknown packet code ${code}`);
  const raw = buf.length === length ? buf : buf.subarray(0, length);
  const authenticator = raw.subarray(4, 20);
  const kind = authenticatorKind(code);
  const cryptAuth =
    kind === 'random' ? authenticator : kind === 'request' ? ZERO16 : opts.requestAuthenticator;
  const ctx: Ctx = { dict, buf: raw, secret: opts.secret, cryptAuth, out: [], group: 0 };
  const maOffset = decodeAttributes(ctx, 20, length);
  return new Packet(dict, code, raw[1] as number, authenticator, ctx.out, raw, maOffset);
}

/** Walks the top-level attributes; returns the offset of Message-Authenticator's value, if any. */
function decodeAttributes(ctx: Ctx, start: number, end: number): number | undefined {
  const { buf, dict } = ctx;
  let maOffset: number | undefined;
  let pos = start;
  while (pos < end) {
    if (end - pos < 2) throw malformed(`attribute header truncated at offset ${pos}`);
    const type = buf[pos] as number;
    const len = buf[pos + 1] as number;
    if (len < 2) throw malformed(`attribute ${type} at offset ${pos} has length ${len}`);
    if (pos + len > end) throw malformed(`attribute ${type} at offset ${pos} overruns the packet`);
    if (type === 26) {
      decodeVsa(ctx, pos + 2, pos + len);
      pos += len;
      continue;
    }
    const def = dict.standard.get(type);
    if (type === 80 && len === 18 && maOffset === undefined) maOffset = pos + 2;
    if (def !== undefined && (def.type === 'long-extended' || def.flags.concat)) {
      pos = decodeFragments(ctx, def, pos, end);
      continue;
    }
    if (def !== undefined && def.type === 'extended') decodeExtended(ctx, def, pos + 2, pos + len);
    else push(ctx, def ?? unknownAttribute(type, 0, undefined), buf, pos + 2, pos + len, 0);
    pos += len;
  }
  return maOffset;
}

/** Adds an attribute, falling back to raw octets when the value is malformed for its type. */
function push(
  ctx: Ctx,
  def: AttributeDef,
  src: Buffer,
  start: number,
  end: number,
  group: number,
  fragments?: readonly number[],
): void {
  if (def.flags.encrypt === Encrypt.UserPassword || def.flags.encrypt === Encrypt.Salt) {
    ctx.out.push(decrypted(ctx, def, src.subarray(start, end), group));
    return;
  }
  if (!wellFormed(def, src, start, end)) def = unknownAttribute(def.code, def.vendor, def.parent);
  const tag = def.flags.hasTag ? tagOf(def, src, start, end) : undefined;
  const extras = fragments === undefined ? undefined : { fragments };
  ctx.out.push(Attribute.fromWire(def, src, start, end, group, tag, extras));
}

function tagOf(def: AttributeDef, src: Buffer, start: number, end: number): number | undefined {
  if (end === start) return undefined;
  const first = src[start] as number;
  if (def.type === 'integer') return first === 0 ? undefined : first;
  return first >= 1 && first <= 0x1f ? first : undefined;
}

/** Cheap checks first: this runs for every attribute of every packet. */
function wellFormed(def: AttributeDef, src: Buffer, start: number, end: number): boolean {
  const n = end - start;
  switch (def.type) {
    case 'string':
    case 'abinary':
      return true;
    case 'octets':
      return def.flags.length === undefined || n === def.flags.length;
    case 'integer':
    case 'signed':
    case 'date':
    case 'ipaddr':
      return n === 4;
    case 'short':
      return n === 2;
    case 'byte':
      return n === 1;
    case 'integer64':
    case 'ifid':
      return n === 8;
    case 'ether':
      return n === 6;
    case 'ipv6addr':
      return n === 16;
    case 'combo-ip':
      return n === 4 || n === 16;
    case 'tlv':
      return n > 0 && decodeTlv(def, src.subarray(start, end)) !== undefined;
    default:
      return n > 0 && decodeValue(def, valueOctets(def, src.subarray(start, end))) !== undefined;
  }
}

function decrypted(ctx: Ctx, def: AttributeDef, raw: Buffer, group: number): Attribute {
  const tagged = def.flags.hasTag;
  const tag = tagged && raw.length > 0 ? raw[0] : undefined;
  const body = tagged ? raw.subarray(1) : raw;
  const hidden = (): Attribute =>
    Attribute.fromWire(def, raw, 0, raw.length, group, tag, { hidden: true });
  if (!ctx.secret || !ctx.cryptAuth) return hidden();
  const plain =
    def.flags.encrypt === Encrypt.UserPassword
      ? unhideUserPasswordRaw(body, ctx.secret, ctx.cryptAuth)
      : saltDecrypt(body, ctx.secret, ctx.cryptAuth);
  if (!plain) return hidden();
  let clear = plain;
  if (def.flags.encrypt === Encrypt.UserPassword) {
    // Fixed-length values (MS-CHAP-MPPE-Keys) keep their zeros; passwords lose the padding.
    if (def.flags.length !== undefined) clear = plain.subarray(0, def.flags.length);
    else {
      let n = plain.length;
      while (n > 0 && plain[n - 1] === 0) n--;
      clear = plain.subarray(0, n);
    }
  }
  const revealed: AttributeValue | undefined = decodeValue(def, clear);
  if (revealed === undefined) return hidden();
  return Attribute.fromWire(def, raw, 0, raw.length, group, tag, { revealed, clear });
}

/** Vendor-Specific (RFC 2865 §5.26): one or more sub-attributes in the vendor's format. */
function decodeVsa(ctx: Ctx, start: number, end: number): void {
  const { buf, dict } = ctx;
  const n = end - start;
  // PEN 0 is no vendor; WiMAX-style continuation is not decoded: both kept as they came.
  const vendorId = n >= 5 ? buf.readUInt32BE(start) : 0;
  const vendor = dict.vendors.get(vendorId);
  const count =
    vendorId === 0 || vendor?.continuation === true ? -1 : vsaCount(ctx, vendorId, start, end);
  if (count < 0) {
    push(ctx, unknownAttribute(26, 0, undefined), buf, start, end, 0);
    return;
  }
  const t = vendor?.typeSize ?? 1;
  const l = vendor?.lengthSize ?? 1;
  // Sub-attributes that shared one Vendor-Specific share a group, to be re-encoded together.
  const group = count > 1 ? ++ctx.group : 0;
  let p = start + 4;
  while (p < end) {
    const type = t === 1 ? (buf[p] as number) : t === 2 ? buf.readUInt16BE(p) : buf.readUInt32BE(p);
    const sublen = l === 0 ? end - p : l === 1 ? (buf[p + t] as number) : buf.readUInt16BE(p + t);
    const def = vendor?.attributes.get(type) ?? unknownAttribute(type, vendorId, undefined);
    push(ctx, def, buf, p + t + l, p + sublen, group);
    p += sublen;
  }
}

/** How many sub-attributes a VSA holds, or -1 when its layout is broken. */
function vsaCount(ctx: Ctx, vendorId: number, start: number, end: number): number {
  const { buf } = ctx;
  const vendor = ctx.dict.vendors.get(vendorId);
  const t = vendor?.typeSize ?? 1;
  const l = vendor?.lengthSize ?? 1;
  let p = start + 4;
  let count = 0;
  while (p < end) {
    if (end - p < t + l) return -1;
    const sublen = l === 0 ? end - p : l === 1 ? (buf[p + t] as number) : buf.readUInt16BE(p + t);
    if (sublen < t + l || p + sublen > end) return -1;
    p += sublen;
    count++;
  }
  return count;
}

function decodeExtended(ctx: Ctx, def: AttributeDef, start: number, end: number): void {
  const { buf } = ctx;
  if (end - start < 1) {
    push(ctx, unknownAttribute(def.code, 0, undefined), buf, start, end, 0);
    return;
  }
  const sub = buf[start] as number;
  const child = def.children.get(sub);
  if (child?.type === 'evs') {
    if (end - start <= 6) {
      // An EVS without vendor, type or data: kept raw under its number (Attr-241.26).
      push(ctx, unknownAttribute(sub, 0, def), buf, start + 1, end, 0);
      return;
    }
    const vendorId = buf.readUInt32BE(start + 1);
    const type = buf[start + 5] as number;
    const vdef =
      child.children.get(evsKey(vendorId, type)) ?? unknownAttribute(type, vendorId, child);
    push(ctx, vdef, buf, start + 6, end, 0);
    return;
  }
  push(ctx, child ?? unknownAttribute(sub, 0, def), buf, start + 1, end, 0);
}

/**
 * Long values: `concat` attributes arrive as consecutive attributes of one type; long-extended
 * attributes (RFC 6929 §2.2) set the More flag on every fragment but the last.
 */
function decodeFragments(ctx: Ctx, def: AttributeDef, pos: number, end: number): number {
  const { buf } = ctx;
  const type = def.code;
  const long = def.type === 'long-extended';
  const starts: number[] = [];
  const sizes: number[] = [];
  let sub = -1;
  let more = false;
  let p = pos;
  while (p < end && buf[p] === type) {
    const len = buf[p + 1] as number;
    if (len < 2 || p + len > end) break; // the main loop reports it
    if (long) {
      const flags = buf[p + 3] as number;
      // Too short, reserved flag bits, or another Extended-Type: not part of this value.
      // RFC 6929 §2.2: at least 5 octets (a fragment carries data).
      if (len < 5 || (flags & 0x7f) !== 0 || (sub >= 0 && buf[p + 2] !== sub)) break;
      sub = buf[p + 2] as number;
      starts.push(p + 4);
      sizes.push(len - 4);
      more = (flags & 0x80) !== 0;
      p += len;
      if (!more) break;
    } else {
      starts.push(p + 2);
      sizes.push(len - 2);
      p += len;
    }
  }
  if (starts.length === 0) {
    // A bad first fragment: keep it raw.
    const stop = starts.length === 0 ? pos + Math.max(2, buf[pos + 1] as number) : p;
    if (pos + 1 >= end || (buf[pos + 1] as number) < 2 || stop > end) {
      throw malformed(`attribute ${type} at offset ${pos} is malformed`);
    }
    for (let q = pos; q < stop; q += buf[q + 1] as number) {
      push(ctx, unknownAttribute(type, 0, undefined), buf, q + 2, q + (buf[q + 1] as number), 0);
    }
    return stop;
  }
  const value = Buffer.concat(starts.map((s, i) => buf.subarray(s, s + (sizes[i] as number))));
  const fragments = starts.length > 1 || long ? sizes : undefined;
  if (!long) {
    push(ctx, def, value, 0, value.length, 0, fragments);
    return p;
  }
  // As FreeRADIUS does, a value whose last fragment still says "more" is taken as it arrived;
  // the flag is remembered so that the packet re-encodes as it came.
  const extras = { fragments: sizes, moreOnLast: more };
  const child = def.children.get(sub);
  if (child?.type === 'evs' && value.length > 5) {
    const vendorId = value.readUInt32BE(0);
    const vtype = value[4] as number;
    const vdef =
      child.children.get(evsKey(vendorId, vtype)) ?? unknownAttribute(vtype, vendorId, child);
    pushWith(ctx, vdef, value, 5, value.length, extras);
    return p;
  }
  const target =
    child !== undefined && child.type !== 'evs' ? child : unknownAttribute(sub, 0, def);
  pushWith(ctx, target, value, 0, value.length, extras);
  return p;
}

/** push() for a reassembled long-extended value, which also carries its fragment layout. */
function pushWith(
  ctx: Ctx,
  def: AttributeDef,
  src: Buffer,
  start: number,
  end: number,
  extras: { fragments: readonly number[]; moreOnLast: boolean },
): void {
  if (!wellFormed(def, src, start, end)) def = unknownAttribute(def.code, def.vendor, def.parent);
  const tag = def.flags.hasTag ? tagOf(def, src, start, end) : undefined;
  ctx.out.push(Attribute.fromWire(def, src, start, end, 0, tag, extras));
}
