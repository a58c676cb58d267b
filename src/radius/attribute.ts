import type { AttributeDef } from './dictionary/types.js';
import type { PlainValue, ValueInput } from './values.js';
import { unknownAttribute } from './dictionary/dictionary.js';
import { decodeValue, encodeValue } from './values.js';

/** A value as read from a packet: plain, or the child attributes of a TLV. */
export type AttributeValue = PlainValue | readonly Attribute[];

/** Extra facts about a decoded attribute that most attributes do not have. */
export interface AttributeExtras {
  /** Data lengths of the fragments a long value arrived in (concat, long-extended). */
  fragments?: readonly number[];
  /** Long-extended: the last fragment arrived with the More flag still set. */
  moreOnLast?: boolean;
  /** The value is encrypted on the wire and was not revealed (no secret, or malformed). */
  hidden?: boolean;
  /** For a revealed encrypted attribute: the value, and its octets in clear. */
  revealed?: AttributeValue;
  clear?: Buffer;
}

const NO_EXTRAS: AttributeExtras = {};

/**
 * One attribute of a packet. Built by the decoder (pointing at the octets it came from, so
 * that an unchanged packet re-encodes to the same bytes) or by a caller (with a value only).
 * The decoder's attributes are cheap: the value is decoded only when it is read.
 */
export class Attribute {
  /** Decoded VSAs that shared one Vendor-Specific attribute share this number (0: none). */
  readonly group: number;
  /** RFC 2868 tag (1–31), or undefined when the attribute carries none. */
  readonly tag: number | undefined;
  /** Data lengths of the fragments a long value arrived in (concat, long-extended). */
  readonly fragments: readonly number[] | undefined;
  /** Long-extended: the last fragment arrived with the More flag still set. */
  readonly moreOnLast: boolean;
  /** True when the value is encrypted on the wire and was not revealed (no secret, or bad). */
  readonly hidden: boolean;
  /** For a revealed encrypted attribute: its value octets in clear. */
  readonly clear: Buffer | undefined;
  private readonly src: Buffer | undefined;
  private readonly start: number;
  private readonly end: number;
  private rawCache: Buffer | undefined;
  /** The encoder's memo of a caller's value in wire form (never for encrypted values). */
  encodedMemo: Buffer | undefined;
  private cached: AttributeValue | undefined;
  private readonly input: ValueInput | readonly Attribute[] | undefined;

  /** Use `Attribute.fromWire` or `Attribute.fromValue`. */
  private constructor(
    readonly def: AttributeDef,
    src: Buffer | undefined,
    start: number,
    end: number,
    group: number,
    tag: number | undefined,
    input: ValueInput | readonly Attribute[] | undefined,
    extras: AttributeExtras,
  ) {
    this.src = src;
    this.start = start;
    this.end = end;
    this.group = group;
    this.tag = tag;
    this.input = input;
    this.rawCache = undefined;
    this.encodedMemo = undefined;
    this.fragments = extras.fragments;
    this.moreOnLast = extras.moreOnLast ?? false;
    this.hidden = extras.hidden ?? false;
    this.cached = extras.revealed;
    this.clear = extras.clear;
  }

  /** An attribute whose value field is `src[start, end)` (tag octet and encryption included). */
  static fromWire(
    def: AttributeDef,
    src: Buffer,
    start: number,
    end: number,
    group: number,
    tag: number | undefined,
    extras: AttributeExtras = NO_EXTRAS,
  ): Attribute {
    return new Attribute(def, src, start, end, group, tag, undefined, extras);
  }

  /** An attribute built by a caller; encoded (and encrypted) when the packet is encoded. */
  static fromValue(
    def: AttributeDef,
    value: ValueInput | readonly Attribute[],
    tag?: number,
  ): Attribute {
    return new Attribute(def, undefined, 0, 0, 0, tag, value, NO_EXTRAS);
  }

  /**
   * The value field exactly as on the wire (tag octet and encryption included), when the
   * attribute was decoded. Undefined for attributes built by a caller.
   */
  get raw(): Buffer | undefined {
    if (this.src === undefined) return undefined;
    this.rawCache ??= this.src.subarray(this.start, this.end);
    return this.rawCache;
  }

  /** Length of the value field on the wire (decoded attributes only, else -1). */
  get rawLength(): number {
    return this.src === undefined ? -1 : this.end - this.start;
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
    if (this.hidden) this.cached = raw;
    else if (this.def.type === 'tlv') this.cached = decodeTlv(this.def, raw) ?? raw;
    else this.cached = decodeValue(this.def, valueOctets(this.def, raw)) ?? raw;
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

/** A caller's value in the form the decoder would give (`2` → 'Framed-User', dates → Date). */
function normalise(def: AttributeDef, v: ValueInput | readonly Attribute[]): AttributeValue {
  if (Array.isArray(v)) return v as readonly Attribute[];
  const input = v as ValueInput;
  if (def.type === 'string') return Buffer.isBuffer(input) ? input.toString('utf8') : String(input);
  try {
    return decodeValue(def, encodeValue(def, input)) ?? input;
  } catch {
    return input; // the encoder reports the bad value when the packet is encoded
  }
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
    if (child.type === 'tlv' && decodeTlv(child, data.subarray(p + 2, p + len)) === undefined) {
      return undefined;
    }
    out.push(Attribute.fromWire(child, data, p + 2, p + len, 0, undefined));
    p += len;
  }
  return out;
}
