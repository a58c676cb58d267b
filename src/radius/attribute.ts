import type { AttributeDef } from './dictionary/types.js';
import type { PlainValue, ValueInput } from './values.js';
import { unknownAttribute } from './dictionary/dictionary.js';
import { decodeValue } from './values.js';

/** A value as read from a packet: plain, or the child attributes of a TLV. */
export type AttributeValue = PlainValue | readonly Attribute[];

/**
 * One attribute of a packet. Built by the decoder (with the octets it came from, so that an
 * unchanged packet re-encodes to the same bytes) or by a caller (with a value only).
 */
export class Attribute {
  /** RFC 2868 tag (1–31), or undefined when the attribute carries none. */
  readonly tag: number | undefined;
  /**
   * The value field exactly as on the wire (tag octet and encryption included), when the
   * attribute was decoded. Undefined for attributes built by a caller.
   */
  readonly raw: Buffer | undefined;
  /** Decoded VSAs that shared one Vendor-Specific attribute share this number (0: none). */
  readonly group: number;
  /** Data lengths of the fragments a long value arrived in (concat, long-extended). */
  readonly fragments: readonly number[] | undefined;
  /** True when the value is encrypted on the wire and was not revealed (no secret, or bad). */
  readonly hidden: boolean;
  /** For a revealed encrypted attribute: its value octets in clear. */
  readonly clear: Buffer | undefined;
  private cached: AttributeValue | undefined;
  private readonly input: ValueInput | readonly Attribute[] | undefined;

  constructor(
    readonly def: AttributeDef,
    init: {
      value?: ValueInput | readonly Attribute[];
      raw?: Buffer;
      tag?: number;
      group?: number;
      fragments?: readonly number[];
      hidden?: boolean;
      /** For decoded encrypted attributes: the revealed value, already decoded. */
      revealed?: AttributeValue;
      clear?: Buffer;
    },
  ) {
    this.tag = init.tag;
    this.raw = init.raw;
    this.group = init.group ?? 0;
    this.fragments = init.fragments;
    this.hidden = init.hidden ?? false;
    this.input = init.value;
    this.cached = init.revealed;
    this.clear = init.clear;
  }

  /** The caller's value as given (for the encoder). */
  get given(): ValueInput | readonly Attribute[] | undefined {
    return this.input;
  }

  /** The value in its TypeScript form (see PlainValue); decoded lazily from the wire. */
  get value(): AttributeValue {
    if (this.cached !== undefined) return this.cached;
    if (this.input !== undefined) {
      this.cached = normalise(this.def, this.input);
      return this.cached;
    }
    const raw = this.raw ?? Buffer.alloc(0);
    if (this.def.type === 'tlv' && !this.hidden) this.cached = decodeTlv(this.def, raw) ?? raw;
    else
      this.cached = this.hidden ? raw : (decodeValue(this.def, valueOctets(this.def, raw)) ?? raw);
    return this.cached;
  }

  get name(): string {
    return this.def.name;
  }
}

/** The value octets inside a (non-encrypted) raw value field: without the tag octet. */
export function valueOctets(def: AttributeDef, raw: Buffer): Buffer {
  if (!def.flags.hasTag || raw.length === 0) return raw;
  if (def.type === 'integer') {
    // A tagged integer keeps its tag in the first of its four octets.
    const b = Buffer.alloc(4);
    raw.copy(b, 1, 1);
    return b;
  }
  return (raw[0] as number) <= 0x1f ? raw.subarray(1) : raw;
}

/** A caller's value turned into the form the decoder would give, for reads before encoding. */
function normalise(def: AttributeDef, v: ValueInput | readonly Attribute[]): AttributeValue {
  if (Array.isArray(v)) return v as readonly Attribute[];
  const input = v as ValueInput;
  if (def.type === 'string' && Buffer.isBuffer(input)) return input.toString('utf8');
  if (
    (def.type === 'integer' || def.type === 'short' || def.type === 'byte') &&
    typeof input === 'number'
  ) {
    return def.valueNames.get(input) ?? input;
  }
  if (def.type === 'integer' && typeof input === 'string') {
    const n = def.values.get(input.toLowerCase());
    if (n !== undefined) return def.valueNames.get(n) ?? input;
  }
  if (def.type === 'date' && typeof input === 'number') return new Date(input * 1000);
  return input;
}

/** TLV children (RFC 6929 §2.3); undefined when the layout is broken. */
export function decodeTlv(def: AttributeDef, data: Buffer): Attribute[] | undefined {
  const out: Attribute[] = [];
  let p = 0;
  while (p < data.length) {
    if (data.length - p < 2) return undefined;
    const type = data[p] as number;
    const len = data[p + 1] as number;
    if (len < 2 || p + len > data.length) return undefined;
    const child = def.children.get(type) ?? unknownAttribute(type, def.vendor, def);
    const raw = data.subarray(p + 2, p + len);
    if (child.type === 'tlv' && decodeTlv(child, raw) === undefined) return undefined;
    out.push(new Attribute(child, { raw }));
    p += len;
  }
  return out;
}
