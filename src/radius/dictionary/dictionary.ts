import type { AttributeDef, AttributeFlags, AttributeType, VendorDef } from './types.js';
import { attributeOid, emptyFlags } from './types.js';

/** A problem in a dictionary file; the message names the file and line. */
export class DictionaryError extends Error {
  readonly code = 'DICTIONARY_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'DictionaryError';
  }
}

export interface NewAttribute {
  name: string;
  code: number;
  type: AttributeType;
  vendor?: number;
  parent?: AttributeDef;
  flags?: Partial<AttributeFlags>;
}

/**
 * Every attribute and vendor known to this server: the bundled dictionaries plus the user's.
 * Built once at start; the hot path only reads the maps.
 */
export class Dictionary {
  /** Standard attributes by number (1–255, and internal numbers ≥ 256). */
  readonly standard = new Map<number, AttributeDef>();
  readonly vendors = new Map<number, VendorDef>();
  private readonly vendorsByName = new Map<string, VendorDef>();
  private readonly byName = new Map<string, AttributeDef>();

  /** All attribute names, preferred spelling, in definition order (for code generation). */
  readonly names: string[] = [];

  attribute(name: string): AttributeDef | undefined {
    // Hot path (every packet.get): the name as written first, without lower-casing it.
    const exact = this.byExactName.get(name);
    if (exact !== undefined) return exact;
    const def = this.byName.get(name.toLowerCase());
    if (def !== undefined) this.byExactName.set(name, def);
    return def ?? this.parseOidName(name);
  }

  private readonly byExactName = new Map<string, AttributeDef>();

  vendor(id: number): VendorDef | undefined {
    return this.vendors.get(id);
  }

  vendorByName(name: string): VendorDef | undefined {
    return this.vendorsByName.get(name.toLowerCase());
  }

  addVendor(
    name: string,
    id: number,
    typeSize: 1 | 2 | 4,
    lengthSize: 0 | 1 | 2,
    continuation: boolean,
  ): VendorDef {
    const existing = this.vendors.get(id);
    if (existing) {
      // A second name for the same PEN is an alias, as in FreeRADIUS.
      this.vendorsByName.set(name.toLowerCase(), existing);
      return existing;
    }
    const byName = this.vendorsByName.get(name.toLowerCase());
    if (byName)
      throw new DictionaryError(`vendor ${name} is already defined with number ${byName.id}`);
    const v: VendorDef = { name, id, typeSize, lengthSize, continuation, attributes: new Map() };
    this.vendors.set(id, v);
    this.vendorsByName.set(name.toLowerCase(), v);
    return v;
  }

  addAttribute(a: NewAttribute): AttributeDef {
    const vendor = a.vendor ?? 0;
    const flags: AttributeFlags = { ...emptyFlags(), ...a.flags };
    const internal =
      flags.virtual || (vendor === 0 && a.parent === undefined && (a.code < 1 || a.code > 255));
    const def: AttributeDef = {
      name: a.name,
      code: a.code,
      vendor,
      type: a.type,
      flags,
      parent: a.parent,
      children: new Map(),
      values: new Map(),
      valueSpellings: [],
      valueNames: new Map(),
      internal,
      unknown: false,
    };
    const key = a.name.toLowerCase();
    const same = this.byName.get(key);
    if (same) {
      if (
        same.code === def.code &&
        same.vendor === def.vendor &&
        same.type === def.type &&
        same.parent === def.parent
      ) {
        return same;
      }
      throw new DictionaryError(
        `attribute ${a.name} is already defined as ${attributeOid(same)} ${same.type}`,
      );
    }
    const space = this.spaceOf(a.parent, vendor);
    // EVS children are keyed by vendor and number together.
    const slot = a.parent?.type === 'evs' ? evsKey(vendor, a.code) : a.code;
    const first = space.get(slot);
    if (first && first.type === def.type) {
      // A second name for the same attribute (MS-MPPE-Encryption-Type/-Types): an alias that
      // finds the first definition, which keeps its name for printing.
      this.byName.set(key, first);
      this.names.push(a.name);
      return first;
    }
    if (!first) space.set(slot, def); // the first name for a number is the preferred one
    this.byName.set(key, def);
    this.names.push(a.name);
    return def;
  }

  private spaceOf(parent: AttributeDef | undefined, vendor: number): Map<number, AttributeDef> {
    if (parent) return parent.children;
    if (vendor === 0) return this.standard;
    const v = this.vendors.get(vendor);
    if (!v) throw new DictionaryError(`unknown vendor ${vendor}`);
    return v.attributes;
  }

  addValue(attr: AttributeDef, name: string, value: number): void {
    const key = name.toLowerCase();
    const existing = attr.values.get(key);
    if (existing !== undefined && existing !== value) {
      throw new DictionaryError(`VALUE ${attr.name} ${name} is already defined as ${existing}`);
    }
    if (existing === undefined) attr.valueSpellings.push(name);
    attr.values.set(key, value);
    if (!attr.valueNames.has(value)) attr.valueNames.set(value, name);
  }

  /**
   * Accepts FreeRADIUS's names for attributes no dictionary names: `Attr-26.311.99`,
   * `Attr-241.5`, `Attr-4`. Also `Vendor-311-Attr-99`, which FreeRADIUS 2 printed.
   */
  private parseOidName(name: string): AttributeDef | undefined {
    const m = /^attr-(\d+(?:\.\d+)*)$/i.exec(name);
    if (!m?.[1]) {
      const v2 = /^vendor-(\d+)-attr-(\d+)$/i.exec(name);
      if (v2?.[1] && v2[2]) return this.byOid([26, Number(v2[1]), Number(v2[2])]);
      return undefined;
    }
    return this.byOid(m[1].split('.').map(Number));
  }

  /** The definition for a dotted number, made up as unknown octets where no dictionary has it. */
  byOid(parts: number[]): AttributeDef | undefined {
    const [top, ...rest] = parts;
    if (top === undefined || top < 1 || top > 255) return undefined;
    if (top === 26 && rest.length >= 2) {
      const [vendorId, code, ...more] = rest as [number, number, ...number[]];
      if (vendorId < 0 || vendorId > 0xffffffff || more.length > 0) return undefined;
      const v = this.vendors.get(vendorId);
      const maxType = v ? 2 ** (8 * v.typeSize) - 1 : 255;
      if (code < 0 || code > maxType) return undefined;
      return v?.attributes.get(code) ?? unknownAttribute(code, vendorId, undefined);
    }
    const topDef = this.standard.get(top);
    if (rest.length === 0) return topDef ?? unknownAttribute(top, 0, undefined);
    if (!topDef || (topDef.type !== 'extended' && topDef.type !== 'long-extended'))
      return undefined;
    const [sub, ...more] = rest as [number, ...number[]];
    if (sub < 0 || sub > 255) return undefined;
    const subDef = topDef.children.get(sub);
    if (more.length === 0) return subDef ?? unknownAttribute(sub, 0, topDef);
    if (subDef?.type !== 'evs' || more.length !== 2) return undefined;
    const [vendorId, code] = more as [number, number];
    if (code < 0 || code > 255 || vendorId < 0 || vendorId > 0xffffffff) return undefined;
    return subDef.children.get(evsKey(vendorId, code)) ?? unknownAttribute(code, vendorId, subDef);
  }
}

/** EVS children are keyed by vendor and number together. */
export function evsKey(vendorId: number, code: number): number {
  return vendorId * 256 + code;
}

/** A definition for an attribute the dictionaries do not know: raw octets named by number. */
export function unknownAttribute(
  code: number,
  vendor: number,
  parent: AttributeDef | undefined,
): AttributeDef {
  const def: AttributeDef = {
    name: '',
    code,
    vendor,
    type: 'octets',
    flags: emptyFlags(),
    parent,
    children: new Map(),
    values: new Map(),
    valueSpellings: [],
    valueNames: new Map(),
    internal: false,
    unknown: true,
  };
  (def as { name: string }).name = `Attr-${attributeOid(def)}`;
  return def;
}
