/**
 * The dictionary model: what an attribute number means on the wire and how it is named.
 * Names are the FreeRADIUS dictionaries' names; lookups by name are case-insensitive, as in
 * FreeRADIUS.
 */

export type AttributeType =
  | 'string'
  | 'octets'
  | 'ipaddr'
  | 'ipv6addr'
  | 'ipv4prefix'
  | 'ipv6prefix'
  | 'integer'
  | 'short'
  | 'byte'
  | 'signed'
  | 'integer64'
  | 'date'
  | 'ifid'
  | 'ether'
  | 'combo-ip'
  | 'tlv'
  | 'abinary'
  | 'vsa'
  | 'extended'
  | 'long-extended'
  | 'evs';

export const ATTRIBUTE_TYPES: ReadonlySet<string> = new Set<AttributeType>([
  'string',
  'octets',
  'ipaddr',
  'ipv6addr',
  'ipv4prefix',
  'ipv6prefix',
  'integer',
  'short',
  'byte',
  'signed',
  'integer64',
  'date',
  'ifid',
  'ether',
  'combo-ip',
  'tlv',
  'abinary',
  'vsa',
  'extended',
  'long-extended',
  'evs',
]);

/** Encryption methods of the `encrypt=N` flag. */
export const enum Encrypt {
  None = 0,
  /** RFC 2865 §5.2 User-Password hiding. */
  UserPassword = 1,
  /** RFC 2868 §3.5 / RFC 2548 §2.4 salt encryption (Tunnel-Password, MS-MPPE keys). */
  Salt = 2,
  /** Ascend-Send-Secret: recognised in dictionaries, not supported on the wire. */
  Ascend = 3,
}

export interface AttributeFlags {
  hasTag: boolean;
  encrypt: Encrypt;
  concat: boolean;
  array: boolean;
  secret: boolean;
  virtual: boolean;
  /** `octets[N]`: fixed length. */
  length?: number;
}

export interface VendorDef {
  readonly name: string;
  readonly id: number;
  /** Octets of the vendor type field (format=t,l). */
  readonly typeSize: 1 | 2 | 4;
  /** Octets of the vendor length field (0, 1 or 2). */
  readonly lengthSize: 0 | 1 | 2;
  readonly continuation: boolean;
  readonly attributes: Map<number, AttributeDef>;
}

export interface AttributeDef {
  readonly name: string;
  /** Number within its space (standard, vendor, extended or TLV parent). */
  readonly code: number;
  /** Vendor PEN, 0 for standard attributes. */
  readonly vendor: number;
  readonly type: AttributeType;
  readonly flags: AttributeFlags;
  /** For children of extended attributes and TLVs. */
  readonly parent: AttributeDef | undefined;
  /** Children by number (extended, long-extended, tlv, evs containers). */
  readonly children: Map<number, AttributeDef>;
  /** VALUE names: name (lower case) → number. */
  readonly values: Map<string, number>;
  /** Every VALUE name as written in the dictionary, aliases included, in order. */
  readonly valueSpellings: string[];
  /** number → preferred VALUE name (the first one defined). */
  readonly valueNames: Map<number, string>;
  /** Never on the wire: FreeRADIUS internal numbers (≥ 256 outside a vendor) or `virtual`. */
  readonly internal: boolean;
  /** True for definitions made up while decoding an attribute the dictionary lacks. */
  readonly unknown: boolean;
}

export function emptyFlags(): AttributeFlags {
  return {
    hasTag: false,
    encrypt: Encrypt.None,
    concat: false,
    array: false,
    secret: false,
    virtual: false,
  };
}

/** The dotted number of an attribute, as FreeRADIUS prints it: `26.311.11`, `241.1`, `241.26.V.N`. */
export function attributeOid(def: AttributeDef): string {
  const parts: string[] = [];
  let d: AttributeDef | undefined = def;
  while (d) {
    parts.unshift(String(d.code));
    if (d.vendor !== 0 && (d.parent === undefined || d.parent.vendor === 0)) {
      parts.unshift(String(d.vendor));
      if (d.parent === undefined) parts.unshift('26');
    }
    d = d.parent;
  }
  return parts.join('.');
}
