import { Attribute, decodeTlv, valueOctets } from './attribute.js';
import type { AttributeValue } from './attribute.js';
import { authenticatorKind, isKnownCode } from './codes.js';
import { saltDecrypt, unhideUserPasswordRaw } from './crypto/index.js';
import type { Dictionary } from './dictionary/dictionary.js';
import { unknownAttribute } from './dictionary/dictionary.js';
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
  if (buf.length < 20)
    throw malformed(`packet is ${buf.length} octets, shorter than the 20-octet header`);
  const length = buf.readUInt16BE(2);
  if (length < 20) throw malformed(`Length field says ${length}, less than 20`);
  if (length > MAX_PACKET_LENGTH)
    throw malformed(`Length field says ${length}, more than ${MAX_PACKET_LENGTH}`);
  if (length > buf.length)
    throw malformed(`Length field says ${length} but only ${buf.length} octets arrived`);
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
    const def = dict.standard.get(type);
    if (type === 80 && len === 18 && maOffset === undefined) maOffset = pos + 2;
    if (type === 26) {
      decodeVsa(ctx, pos, len);
      pos += len;
      continue;
    }
    if (def && (def.type === 'long-extended' || def.flags.concat)) {
      pos = decodeFragments(ctx, def, pos, end);
      continue;
    }
    if (def && def.type === 'extended') decodeExtended(ctx, def, buf.subarray(pos + 2, pos + len));
    else
      push(ctx, def ?? unknownAttribute(type, 0, undefined), buf.subarray(pos + 2, pos + len), 0);
    pos += len;
  }
  return maOffset;
}

/** Adds an attribute, falling back to raw octets when the value is malformed for its type. */
function push(
  ctx: Ctx,
  def: AttributeDef,
  raw: Buffer,
  group: number,
  fragments?: readonly number[],
): void {
  if (def.flags.encrypt === Encrypt.UserPassword || def.flags.encrypt === Encrypt.Salt) {
    ctx.out.push(decrypted(ctx, def, raw, group));
    return;
  }
  if (!wellFormed(def, raw)) def = unknownAttribute(def.code, def.vendor, def.parent);
  const tag = tagOf(def, raw);
  ctx.out.push(new Attribute(def, { raw, tag, group, fragments }));
}

function tagOf(def: AttributeDef, raw: Buffer): number | undefined {
  if (!def.flags.hasTag || raw.length === 0) return undefined;
  const first = raw[0] as number;
  if (def.type === 'integer') return first === 0 ? undefined : first;
  return first >= 1 && first <= 0x1f ? first : undefined;
}

/** Cheap checks first: this runs for every attribute of every packet. */
function wellFormed(def: AttributeDef, raw: Buffer): boolean {
  const n = raw.length;
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
      return n > 0 && decodeTlv(def, raw) !== undefined;
    default:
      return n > 0 && decodeValue(def, valueOctets(def, raw)) !== undefined;
  }
}

function decrypted(ctx: Ctx, def: AttributeDef, raw: Buffer, group: number): Attribute {
  const tagged = def.flags.hasTag;
  const tag = tagged && raw.length > 0 ? raw[0] : undefined;
  const body = tagged ? raw.subarray(1) : raw;
  if (!ctx.secret || !ctx.cryptAuth) return new Attribute(def, { raw, tag, group, hidden: true });
  const plain =
    def.flags.encrypt === Encrypt.UserPassword
      ? unhideUserPasswordRaw(body, ctx.secret, ctx.cryptAuth)
      : saltDecrypt(body, ctx.secret, ctx.cryptAuth);
  if (!plain) return new Attribute(def, { raw, tag, group, hidden: true });
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
  if (revealed === undefined) return new Attribute(def, { raw, tag, group, hidden: true });
  return new Attribute(def, { raw, tag, group, revealed, clear });
}

function decodeVsa(ctx: Ctx, pos: number, len: number): void {
  const { buf, dict } = ctx;
  const data = buf.subarray(pos + 2, pos + len);
  const whole = (): void => push(ctx, unknownAttribute(26, 0, undefined), data, 0);
  if (data.length < 5) return whole();
  const vendorId = data.readUInt32BE(0);
  const vendor = dict.vendors.get(vendorId);
  const t = vendor?.typeSize ?? 1;
  const l = vendor?.lengthSize ?? 1;
  if (vendor?.continuation) return whole(); // WiMAX-style continuation: kept raw
  // First check the whole layout, so that a bad VSA is kept as one raw attribute.
  const subs: [number, number, number][] = [];
  let p = 4;
  while (p < data.length) {
    if (data.length - p < t + l) return whole();
    const type =
      t === 1 ? (data[p] as number) : t === 2 ? data.readUInt16BE(p) : data.readUInt32BE(p);
    const sublen =
      l === 0 ? data.length - p : l === 1 ? (data[p + t] as number) : data.readUInt16BE(p + t);
    if (sublen < t + l || p + sublen > data.length) return whole();
    subs.push([type, p + t + l, p + sublen]);
    p += sublen;
  }
  const group = subs.length > 1 ? ++ctx.group : 0;
  for (const [type, from, to] of subs) {
    const def = vendor?.attributes.get(type) ?? unknownAttribute(type, vendorId, undefined);
    push(ctx, def, data.subarray(from, to), group);
  }
}

function decodeExtended(ctx: Ctx, def: AttributeDef, data: Buffer): void {
  if (data.length < 1) return push(ctx, unknownAttribute(def.code, 0, undefined), data, 0);
  const sub = data[0] as number;
  const child = def.children.get(sub);
  if (child?.type === 'evs') return decodeEvs(ctx, def, child, data, data.subarray(1));
  push(ctx, child ?? unknownAttribute(sub, 0, def), data.subarray(1), 0);
}

function decodeEvs(
  ctx: Ctx,
  top: AttributeDef,
  evs: AttributeDef,
  whole: Buffer,
  data: Buffer,
): void {
  if (data.length < 5) return push(ctx, unknownAttribute(top.code, 0, undefined), whole, 0);
  const vendorId = data.readUInt32BE(0);
  const type = data[4] as number;
  const def = evs.children.get(vendorId * 256 + type) ?? unknownAttribute(type, vendorId, evs);
  push(ctx, def, data.subarray(5), 0);
}

/**
 * Long values: `concat` attributes arrive as consecutive attributes of one type; long-extended
 * attributes (RFC 6929 §2.2) set the More flag on every fragment but the last.
 */
function decodeFragments(ctx: Ctx, def: AttributeDef, pos: number, end: number): number {
  const { buf } = ctx;
  const type = def.code;
  const long = def.type === 'long-extended';
  const parts: Buffer[] = [];
  const sizes: number[] = [];
  let sub = -1;
  let p = pos;
  while (p < end && buf[p] === type) {
    const len = buf[p + 1] as number;
    if (len < 2 || p + len > end) break; // the main loop reports it
    if (long) {
      const data = buf.subarray(p + 2, p + len);
      // Malformed or reserved flags: keep this one attribute raw.
      if (data.length < 2 || ((data[1] as number) & 0x7f) !== 0 || (sub >= 0 && data[0] !== sub)) {
        if (parts.length === 0) {
          push(ctx, unknownAttribute(type, 0, undefined), data, 0);
          return p + len;
        }
        break;
      }
      sub = data[0] as number;
      parts.push(data.subarray(2));
      sizes.push(data.length - 2);
      p += len;
      if (((data[1] as number) & 0x80) === 0) break;
    } else {
      parts.push(buf.subarray(p + 2, p + len));
      sizes.push(len - 2);
      p += len;
    }
  }
  if (parts.length === 0) {
    // A bad first header: let the caller's loop raise the error.
    return decodeOne(ctx, def, pos, end);
  }
  const value = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  if (!long) {
    push(ctx, def, value, 0, parts.length > 1 ? sizes : undefined);
    return p;
  }
  const lastFlags = buf[p - (sizes[sizes.length - 1] as number) - 1] as number;
  if ((lastFlags & 0x80) !== 0) {
    // More flag set on the last fragment we have: truncated value, keep the fragments raw.
    for (let q = pos; q < p; q += buf[q + 1] as number) {
      push(
        ctx,
        unknownAttribute(type, 0, undefined),
        buf.subarray(q + 2, q + (buf[q + 1] as number)),
        0,
      );
    }
    return p;
  }
  const child = def.children.get(sub);
  const target = child && child.type !== 'evs' ? child : unknownAttribute(sub, 0, def);
  if (child?.type === 'evs' || child === undefined) {
    if (child?.type === 'evs' && value.length >= 5) {
      const vendorId = value.readUInt32BE(0);
      const vtype = value[4] as number;
      const vdef =
        child.children.get(vendorId * 256 + vtype) ?? unknownAttribute(vtype, vendorId, child);
      push(ctx, vdef, value.subarray(5), 0, sizes);
      return p;
    }
  }
  push(ctx, target, value, 0, sizes);
  return p;
}

function decodeOne(ctx: Ctx, def: AttributeDef, pos: number, end: number): number {
  const len = ctx.buf[pos + 1] as number;
  if (len < 2 || pos + len > end)
    throw malformed(`attribute ${def.code} at offset ${pos} is malformed`);
  push(ctx, unknownAttribute(def.code, 0, undefined), ctx.buf.subarray(pos + 2, pos + len), 0);
  return pos + len;
}
