import type { Attribute } from './attribute.js';
import { authenticatorKind } from './codes.js';
import {
  computeMessageAuthenticator,
  computeRequestAuthenticator,
  computeResponseAuthenticator,
  hideUserPassword,
  saltEncrypt,
} from './crypto/index.js';
import { randomOctets } from './crypto/random.js';
import type { Dictionary } from './dictionary/dictionary.js';
import type { AttributeDef } from './dictionary/types.js';
import { Encrypt } from './dictionary/types.js';
import { RadiusError } from './errors.js';
import { MAX_PACKET_LENGTH } from './decode.js';
import type { Packet } from './packet.js';
import type { ValueInput } from './values.js';
import { encodeValue } from './values.js';

export interface EncodeOptions {
  /** The shared secret; needed to sign and to hide encrypted values. */
  secret?: Buffer;
  /** For a reply: the authenticator of the request it answers. */
  requestAuthenticator?: Buffer;
  /**
   * Compute the Authenticator field and Message-Authenticator (default: when a secret is
   * given). Unsigned, the packet's own authenticator and attributes are written as they are.
   */
  sign?: boolean;
}

const ZERO16 = Buffer.alloc(16);
// One scratch buffer per process: encoding is synchronous, so it is never shared mid-use.
const scratch = Buffer.alloc(MAX_PACKET_LENGTH + 256);

interface Ctx {
  dict: Dictionary;
  secret: Buffer | undefined;
  cryptAuth: Buffer | undefined;
  pos: number;
  sign: boolean;
  /** The last salt used in this packet: RFC 2868 §3.5 wants each one unique per packet. */
  salt: number;
  maOffset: number;
}

function tooLong(): RadiusError {
  return new RadiusError(
    'PACKET_TOO_LONG',
    `packet would be longer than ${MAX_PACKET_LENGTH} octets`,
  );
}

/** Encodes a packet to the octets sent on the wire. Throws RadiusError on values it cannot encode. */
export function encodePacket(packet: Packet, opts: EncodeOptions = {}): Buffer {
  const sign = opts.sign ?? opts.secret !== undefined;
  if (sign && !opts.secret)
    throw new RadiusError('SECRET_REQUIRED', 'signing a packet needs the shared secret');
  const kind = authenticatorKind(packet.code);
  if (kind === 'response' && sign && !opts.requestAuthenticator) {
    throw new RadiusError('SECRET_REQUIRED', 'signing a reply needs the request authenticator');
  }
  let field = packet.authenticator;
  if (sign && kind === 'request') field = ZERO16;
  if (sign && kind === 'response') field = opts.requestAuthenticator as Buffer;
  const cryptAuth =
    kind === 'random'
      ? packet.authenticator
      : kind === 'request'
        ? ZERO16
        : opts.requestAuthenticator;
  const ctx: Ctx = {
    dict: packet.dictionary,
    secret: opts.secret,
    cryptAuth,
    pos: 20,
    sign,
    maOffset: -1,
    salt: -1,
  };
  const buf = scratch;
  buf[0] = packet.code;
  buf[1] = packet.identifier & 0xff;
  field.copy(buf, 4, 0, 16);
  writeAttributes(buf, ctx, packet.attributes);
  const length = ctx.pos;
  buf.writeUInt16BE(length, 2);
  const out = Buffer.allocUnsafe(length);
  buf.copy(out, 0, 0, length);
  if (sign) {
    const secret = opts.secret as Buffer;
    if (ctx.maOffset >= 0)
      computeMessageAuthenticator(out, ctx.maOffset, field, secret).copy(out, ctx.maOffset);
    if (kind === 'request') computeRequestAuthenticator(out, secret).copy(out, 4);
    else if (kind === 'response') computeResponseAuthenticator(out, field, secret).copy(out, 4);
  }
  return out;
}

/**
 * Encodes the values of attributes that will be sent many times (a subscriber's reply) now,
 * once: each keeps its wire octets, and encoding a packet that holds it is then a copy. Values
 * that are encrypted per packet (User-Password, salted) are left alone, as are TLVs, VSAs and
 * extended attributes (encoded with their packet).
 */
export function prepareValues(attrs: readonly Attribute[]): void {
  for (const a of attrs) {
    const def = a.def;
    if (def.internal || def.parent || def.vendor !== 0 || def.type === 'tlv') continue;
    if (def.flags.encrypt !== Encrypt.None || a.raw || a.encodedMemo !== undefined) continue;
    const given = a.given;
    if (given === undefined) continue;
    // As valueField does on first use.
    a.encodedMemo = plainField(def, a, encodeValue(def, given as ValueInput));
  }
}

function writeAttributes(buf: Buffer, ctx: Ctx, attrs: readonly Attribute[]): void {
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i] as Attribute;
    const def = a.def;
    if (def.internal) continue; // server-side names (Cleartext-Password…) never go on the wire
    if (def.parent) {
      writeExtended(buf, ctx, a);
      continue;
    }
    if (def.vendor !== 0) {
      // VSAs that arrived in one Vendor-Specific attribute go back in one.
      let j = i + 1;
      if (a.group !== 0) {
        while (j < attrs.length && (attrs[j] as Attribute).group === a.group) j++;
      }
      writeVsa(buf, ctx, attrs.slice(i, j));
      i = j - 1;
      continue;
    }
    if (def.code === 80 && ctx.sign && ctx.maOffset < 0) {
      // Whatever value it holds (radclient users write 0x00), it is computed after the rest.
      ctx.maOffset = ctx.pos + 2;
      writeTlvHeader(buf, ctx, 80, ZERO16);
      continue;
    }
    const value = valueField(ctx, a);
    if (value.length > 253 || a.fragments) {
      if (!def.flags.concat && !(def.unknown && a.fragments)) {
        throw new RadiusError(
          'VALUE_INVALID',
          `${def.name}: value of ${value.length} octets is longer than 253`,
        );
      }
      for (const [from, to] of chunks(value, 253, a.fragments))
        writeTlvHeader(buf, ctx, def.code, value.subarray(from, to));
      continue;
    }
    writeTlvHeader(buf, ctx, def.code, value);
  }
}

function writeTlvHeader(buf: Buffer, ctx: Ctx, type: number, value: Buffer): void {
  if (ctx.pos + 2 + value.length > MAX_PACKET_LENGTH) throw tooLong();
  buf[ctx.pos] = type;
  buf[ctx.pos + 1] = value.length + 2;
  value.copy(buf, ctx.pos + 2);
  ctx.pos += 2 + value.length;
}

function* chunks(
  value: Buffer,
  max: number,
  sizes: readonly number[] | undefined,
): Generator<[number, number]> {
  const sum = sizes?.reduce((s, n) => s + n, 0);
  if (sizes && sum === value.length && sizes.every((n) => n <= max)) {
    let at = 0;
    for (const n of sizes) {
      yield [at, at + n];
      at += n;
    }
    return;
  }
  if (value.length === 0) yield [0, 0];
  for (let at = 0; at < value.length; at += max) yield [at, Math.min(value.length, at + max)];
}

function writeVsa(buf: Buffer, ctx: Ctx, group: readonly Attribute[]): void {
  const first = group[0] as Attribute;
  const vendorId = first.def.vendor;
  const vendor = ctx.dict.vendors.get(vendorId);
  const t = vendor?.typeSize ?? 1;
  const l = vendor?.lengthSize ?? 1;
  const start = ctx.pos;
  if (start + 6 > MAX_PACKET_LENGTH) throw tooLong();
  buf[start] = 26;
  buf.writeUInt32BE(vendorId, start + 2);
  let p = start + 6;
  for (const a of group) {
    const value = valueField(ctx, a);
    const sublen = t + l + value.length;
    if (p - start + sublen > 255 || (l === 1 && sublen > 255)) {
      throw new RadiusError(
        'VALUE_INVALID',
        `${a.def.name}: value of ${value.length} octets does not fit a VSA`,
      );
    }
    if (p + sublen > MAX_PACKET_LENGTH) throw tooLong();
    if (t === 1) buf[p] = a.def.code;
    else if (t === 2) buf.writeUInt16BE(a.def.code, p);
    else buf.writeUInt32BE(a.def.code, p);
    if (l === 1) buf[p + t] = sublen;
    else if (l === 2) buf.writeUInt16BE(sublen, p + t);
    value.copy(buf, p + t + l);
    p += sublen;
  }
  buf[start + 1] = p - start;
  ctx.pos = p;
}

function writeExtended(buf: Buffer, ctx: Ctx, a: Attribute): void {
  const def = a.def;
  const parent = def.parent as AttributeDef;
  let top: AttributeDef;
  let payload: Buffer;
  const value = valueField(ctx, a);
  if (parent.type === 'evs') {
    top = parent.parent as AttributeDef;
    payload = Buffer.alloc(6 + value.length);
    payload[0] = parent.code;
    payload.writeUInt32BE(def.vendor, 1);
    payload[5] = def.code;
    value.copy(payload, 6);
  } else if (parent.type === 'extended' || parent.type === 'long-extended') {
    top = parent;
    payload = Buffer.concat([Buffer.from([def.code]), value]);
  } else {
    throw new RadiusError(
      'VALUE_INVALID',
      `${def.name}: TLV children are sent inside their parent`,
    );
  }
  if (top.type === 'extended') {
    if (payload.length > 253) throw new RadiusError('VALUE_INVALID', `${def.name}: value too long`);
    writeTlvHeader(buf, ctx, top.code, payload);
    return;
  }
  // Long-extended (RFC 6929 §2.2): Extended-Type, Flags (More bit), up to 251 data octets each.
  const ext = payload[0] as number;
  const data = payload.subarray(1);
  const parts = [...chunks(data, 251, a.fragments)];
  parts.forEach(([from, to], i) => {
    const more = i < parts.length - 1 || (a.moreOnLast && a.raw !== undefined) ? 0x80 : 0;
    writeTlvHeader(
      buf,
      ctx,
      top.code,
      Buffer.concat([Buffer.from([ext, more]), data.subarray(from, to)]),
    );
  });
}

/** The value field for the wire: the decoded octets as they came, or the caller's value encoded. */
function valueField(ctx: Ctx, a: Attribute): Buffer {
  if (a.raw) return a.raw;
  if (a.encodedMemo !== undefined) return a.encodedMemo;
  const def = a.def;
  const given = a.given;
  if (given === undefined) throw new RadiusError('VALUE_INVALID', `${def.name}: no value`);
  let v: Buffer;
  if (def.type === 'tlv' && Array.isArray(given)) v = encodeTlv(ctx, given as readonly Attribute[]);
  else v = encodeValue(def, given as ValueInput);
  const enc = def.flags.encrypt;
  if (enc === Encrypt.UserPassword || enc === Encrypt.Salt) {
    if (!ctx.secret || !ctx.cryptAuth) {
      throw new RadiusError(
        'SECRET_REQUIRED',
        `${def.name} is encrypted: the secret and request authenticator are needed`,
      );
    }
    if (enc === Encrypt.UserPassword) {
      if (v.length > 128)
        throw new RadiusError('VALUE_INVALID', `${def.name}: longer than 128 octets`);
      v = hideUserPassword(v, ctx.secret, ctx.cryptAuth);
    } else {
      if (v.length > 239)
        throw new RadiusError('VALUE_INVALID', `${def.name}: longer than 239 octets`);
      v = saltEncrypt(v, ctx.secret, ctx.cryptAuth, nextSalt(ctx));
    }
    return def.flags.hasTag ? Buffer.concat([Buffer.from([a.tag ?? 0]), v]) : v;
  }
  if (enc === Encrypt.Ascend)
    throw new RadiusError('VALUE_INVALID', `${def.name}: encrypt=3 is not supported`);
  // Attributes are immutable: a reply built once (a subscriber's) is encoded once.
  a.encodedMemo = plainField(def, a, v);
  return a.encodedMemo;
}

function plainField(def: AttributeDef, a: Attribute, v: Buffer): Buffer {
  if (def.flags.hasTag) {
    if (def.type === 'integer') {
      if ((v[0] as number) !== 0)
        throw new RadiusError('VALUE_INVALID', `${def.name}: tagged integers hold 24 bits`);
      v[0] = a.tag ?? 0;
      return v;
    }
    if (a.tag !== undefined) return Buffer.concat([Buffer.from([a.tag]), v]);
  }
  return v;
}

function encodeTlv(ctx: Ctx, children: readonly Attribute[]): Buffer {
  const parts: Buffer[] = [];
  for (const c of children) {
    const v = valueField(ctx, c);
    if (v.length > 253) throw new RadiusError('VALUE_INVALID', `${c.def.name}: value too long`);
    parts.push(Buffer.from([c.def.code, v.length + 2]), v);
  }
  return Buffer.concat(parts);
}

/** A random first salt, then the next ones in sequence: unique within the packet, high bit set. */
function nextSalt(ctx: Ctx): Buffer {
  ctx.salt =
    ctx.salt < 0 ? randomOctets(2).readUInt16BE(0) | 0x8000 : ((ctx.salt + 1) & 0x7fff) | 0x8000;
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(ctx.salt, 0);
  return b;
}
