import { randomBytes } from 'node:crypto';
import type { AttributeValue } from './attribute.js';
import { Attribute } from './attribute.js';
import { authenticatorKind, codeByName, codeName, isKnownCode } from './codes.js';
import type { Dictionary } from './dictionary/dictionary.js';
import type { AttributeDef } from './dictionary/types.js';
import { RadiusError } from './errors.js';
import type { AttributeInputs, AttributeTypes } from './generated/attributes.js';
import type { ValueInput } from './values.js';

export type AttributeName = keyof AttributeTypes;

/** Attributes for building a packet: one value, or a list for a repeated attribute. */
export type PacketAttributes = {
  [K in AttributeName]?: AttributeInputs[K] | readonly AttributeInputs[K][];
} & Record<string, ValueInput | readonly ValueInput[] | undefined>;

/** Is `a` the same attribute as `b` (aliases and made-up definitions included)? */
export function sameAttribute(a: AttributeDef, b: AttributeDef): boolean {
  if (a === b) return true;
  if (a.code !== b.code || a.vendor !== b.vendor) return false;
  if (a.parent === b.parent) return true;
  return a.parent !== undefined && b.parent !== undefined && sameAttribute(a.parent, b.parent);
}

/**
 * A RADIUS packet: code, identifier, authenticator and an ordered list of attributes.
 * Repeated attributes stay separate, in order (Proxy-State, Class, Reply-Message).
 */
export class Packet {
  authenticator: Buffer;

  constructor(
    readonly dictionary: Dictionary,
    public code: number,
    public identifier: number,
    authenticator: Buffer,
    public attributes: Attribute[] = [],
    /** The octets this packet was decoded from (up to its Length). */
    readonly raw?: Buffer,
    /** Offset in `raw` of the first Message-Authenticator's value. */
    readonly messageAuthenticatorOffset?: number,
  ) {
    this.authenticator = authenticator;
  }

  get codeName(): string {
    return codeName(this.code);
  }

  /** The definition for a name; throws ATTRIBUTE_UNKNOWN for a name no dictionary has. */
  definition(name: string): AttributeDef {
    const def = this.dictionary.attribute(name);
    if (!def) throw new RadiusError('ATTRIBUTE_UNKNOWN', `unknown attribute ${name}`);
    return def;
  }

  /** The first attribute of that name. */
  find(name: string): Attribute | undefined {
    const def = this.definition(name);
    for (const a of this.attributes) if (sameAttribute(a.def, def)) return a;
    return undefined;
  }

  /** The value of the first attribute of that name. */
  get<K extends AttributeName>(name: K): AttributeTypes[K] | undefined;
  get(name: string): AttributeValue | undefined;
  get(name: string): AttributeValue | undefined {
    return this.find(name)?.value;
  }

  /** Every value of that name, in packet order. */
  getAll<K extends AttributeName>(name: K): AttributeTypes[K][];
  getAll(name: string): AttributeValue[];
  getAll(name: string): AttributeValue[] {
    const def = this.definition(name);
    const out: AttributeValue[] = [];
    for (const a of this.attributes) if (sameAttribute(a.def, def)) out.push(a.value);
    return out;
  }

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  /** Appends an attribute (a repeated attribute is appended, never merged). */
  add<K extends AttributeName>(name: K, value: AttributeInputs[K], tag?: number): this;
  add(name: string, value: ValueInput | readonly Attribute[], tag?: number): this;
  add(name: string, value: ValueInput | readonly Attribute[], tag?: number): this {
    this.attributes.push(makeAttribute(this.definition(name), value, tag));
    return this;
  }

  /** Replaces every attribute of that name by one with this value, where the first one was. */
  set<K extends AttributeName>(name: K, value: AttributeInputs[K], tag?: number): this;
  set(name: string, value: ValueInput, tag?: number): this;
  set(name: string, value: ValueInput, tag?: number): this {
    const def = this.definition(name);
    const attr = makeAttribute(def, value, tag);
    const at = this.attributes.findIndex((a) => sameAttribute(a.def, def));
    this.attributes = this.attributes.filter((a) => !sameAttribute(a.def, def));
    this.attributes.splice(at < 0 ? this.attributes.length : at, 0, attr);
    return this;
  }

  delete(name: string): this {
    const def = this.definition(name);
    this.attributes = this.attributes.filter((a) => !sameAttribute(a.def, def));
    return this;
  }

  /** Puts a Message-Authenticator first (BlastRADIUS), unless the packet has one already. */
  withMessageAuthenticator(): this {
    if (!this.has('Message-Authenticator')) {
      this.attributes.unshift(
        makeAttribute(this.definition('Message-Authenticator'), Buffer.alloc(16)),
      );
    }
    return this;
  }
}

export function makeAttribute(
  def: AttributeDef,
  value: ValueInput | readonly Attribute[],
  tag?: number,
): Attribute {
  if (tag !== undefined) {
    if (!def.flags.hasTag) throw new RadiusError('VALUE_INVALID', `${def.name} takes no tag`);
    if (!Number.isInteger(tag) || tag < 0 || tag > 0x1f)
      throw new RadiusError('VALUE_INVALID', `${def.name}: tag ${tag} is not 0–31`);
  }
  return Attribute.fromValue(def, value, tag);
}

export interface CreatePacketOptions {
  identifier?: number;
  /** Defaults to 16 random octets for Access-Request and Status-Server, zeros otherwise. */
  authenticator?: Buffer;
}

/**
 * Builds a packet from `{ 'User-Name': 'x', 'Framed-IP-Address': '80.67.191.6' }`-style input;
 * a list makes a repeated attribute. Keys are kept in order.
 */
export function createPacket(
  dict: Dictionary,
  code: number | string,
  attributes: PacketAttributes = {},
  opts: CreatePacketOptions = {},
): Packet {
  const c = typeof code === 'number' ? (isKnownCode(code) ? code : undefined) : codeByName(code);
  if (c === undefined) throw new RadiusError('CODE_UNKNOWN', `unknown packet code ${String(code)}`);
  const authenticator =
    opts.authenticator ?? (authenticatorKind(c) === 'random' ? randomBytes(16) : Buffer.alloc(16));
  if (authenticator.length !== 16)
    throw new RadiusError('VALUE_INVALID', 'the authenticator must be 16 octets');
  const identifier = opts.identifier ?? randomBytes(1)[0] ?? 0;
  if (!Number.isInteger(identifier) || identifier < 0 || identifier > 255) {
    throw new RadiusError('VALUE_INVALID', `identifier ${identifier} is not 0–255`);
  }
  const packet = new Packet(dict, c, identifier, authenticator);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    const list = Array.isArray(value) ? (value as readonly ValueInput[]) : [value as ValueInput];
    for (const v of list) packet.add(name, v);
  }
  return packet;
}
