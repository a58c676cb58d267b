import type { Attribute } from './attribute.js';
import { valueOctets } from './attribute.js';
import type { Dictionary } from './dictionary/dictionary.js';
import { RadiusError } from './errors.js';
import type { Packet } from './packet.js';
import { makeAttribute } from './packet.js';
import { formatDate } from './values.js';

/**
 * FreeRADIUS's text form of attributes: `Name = value`, strings quoted, octets as 0x…, dates as
 * "Apr  8 2025 10:11:32 UTC", enumerated values by name, tags as `Name:1`.
 */
export function formatAttribute(a: Attribute): string[] {
  const v = a.value;
  if (Array.isArray(v)) return (v as readonly Attribute[]).flatMap((c) => formatAttribute(c));
  const name = a.tag !== undefined && a.tag > 0 ? `${a.def.name}:${a.tag}` : a.def.name;
  return [`${name} = ${formatValue(a)}`];
}

export function formatValue(a: Attribute): string {
  const v = a.value;
  if (a.hidden || Buffer.isBuffer(v)) {
    const b = Buffer.isBuffer(v) ? v : Buffer.alloc(0);
    return `0x${b.toString('hex')}`;
  }
  if (v instanceof Date) return `"${formatDate(v)}"`;
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (typeof v !== 'string') return '';
  if (a.def.type === 'string') {
    // Print from the wire octets when we have them, so that invalid UTF-8 shows as escapes.
    const given = a.given;
    const octets =
      a.raw && a.def.flags.encrypt === 0
        ? valueOctets(a.def, a.raw)
        : a.clear
          ? a.clear
          : Buffer.isBuffer(given)
            ? given
            : Buffer.from(v, 'utf8');
    return `"${escapeString(octets)}"`;
  }
  return v;
}

/** Escapes as FreeRADIUS prints strings: \\ \" \n \r \t, other controls and bad UTF-8 as \ooo. */
export function escapeString(b: Buffer): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    if (c < 0x80) {
      if (c === 0x5c) out += '\\\\';
      else if (c === 0x22) out += '\\"';
      else if (c === 0x0a) out += '\\n';
      else if (c === 0x0d) out += '\\r';
      else if (c === 0x09) out += '\\t';
      else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
      else out += String.fromCharCode(c);
      i++;
      continue;
    }
    const n = utf8Length(b, i);
    if (n > 0) {
      out += b.toString('utf8', i, i + n);
      i += n;
    } else {
      out += `\\${c.toString(8).padStart(3, '0')}`;
      i++;
    }
  }
  return out;
}

/** Length of a valid UTF-8 sequence at i, or 0. */
function utf8Length(b: Buffer, i: number): number {
  const c = b[i] as number;
  const n =
    c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if (((b[i + k] as number) & 0xc0) !== 0x80) return 0;
  const c1 = b[i + 1] as number;
  if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
  if (c === 0xed && c1 > 0x9f) return 0; // surrogates
  if (c === 0xf0 && c1 < 0x90) return 0;
  if (c === 0xf4 && c1 > 0x8f) return 0;
  return n;
}

/** The attribute lines of a packet. */
export function formatAttributes(attrs: readonly Attribute[]): string[] {
  return attrs.flatMap((a) => formatAttribute(a));
}

/** `Access-Request Id 126 length 356` followed by indented attribute lines. */
export function formatPacket(p: Packet): string {
  const length = p.raw?.length;
  const head = `${p.codeName} Id ${p.identifier}${length !== undefined ? ` length ${length}` : ''}`;
  return [head, ...formatAttributes(p.attributes).map((l) => `  ${l}`)].join('\n');
}

interface Token {
  text: string;
  quoted: boolean;
}

/**
 * Parses attribute lines in FreeRADIUS's text form (`Name = value`, `Name := value`,
 * `Name:tag = value`; several per line separated by commas; `#` comments). Every error names
 * the line.
 */
export function parseAttributes(dict: Dictionary, text: string): Attribute[] {
  const out: Attribute[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    try {
      for (const item of splitItems(line)) out.push(parseItem(dict, item));
    } catch (e) {
      if (e instanceof RadiusError)
        throw new RadiusError('TEXT_INVALID', `line ${i + 1}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

/** Splits one line into `[name, operator, value]` items, honouring quotes and comments. */
function splitItems(line: string): Token[][] {
  const items: Token[][] = [];
  let cur: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const ch = line[i] as string;
    if (ch === ' ' || ch === '\t') {
      i++;
      continue;
    }
    if (ch === '#') break;
    if (ch === ',') {
      if (cur.length > 0) items.push(cur);
      cur = [];
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const { value, next } = readQuoted(line, i);
      cur.push({ text: value, quoted: true });
      i = next;
      continue;
    }
    const op = /^(:=|\+=|==|=)/.exec(line.slice(i));
    if (op?.[1]) {
      cur.push({ text: op[1], quoted: false });
      i += op[1].length;
      continue;
    }
    let j = i;
    while (
      j < line.length &&
      !' \t,#='.includes(line[j] as string) &&
      !(line[j] === ':' && line[j + 1] === '=') &&
      !(line[j] === '+' && line[j + 1] === '=')
    )
      j++;
    cur.push({ text: line.slice(i, j), quoted: false });
    i = j;
  }
  if (cur.length > 0) items.push(cur);
  return items;
}

function readQuoted(line: string, start: number): { value: string; next: number } {
  const q = line[start];
  const bytes: number[] = [];
  let i = start + 1;
  while (i < line.length) {
    const ch = String.fromCodePoint(line.codePointAt(i) as number);
    if (ch === q) return { value: Buffer.from(bytes).toString('latin1'), next: i + 1 };
    if (ch === '\\' && i + 1 < line.length) {
      const n = line[i + 1] as string;
      const oct = /^[0-7]{3}/.exec(line.slice(i + 1));
      const hex = /^x([0-9a-fA-F]{2})/.exec(line.slice(i + 1));
      if (oct) {
        bytes.push(parseInt(oct[0], 8) & 0xff);
        i += 4;
      } else if (hex?.[1]) {
        bytes.push(parseInt(hex[1], 16));
        i += 4;
      } else {
        bytes.push(({ n: 10, r: 13, t: 9 } as Record<string, number>)[n] ?? n.charCodeAt(0));
        i += 2;
      }
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length;
  }
  throw new RadiusError('TEXT_INVALID', 'unterminated quoted string');
}

function parseItem(dict: Dictionary, item: Token[]): Attribute {
  const [nameTok, opTok, ...valueToks] = item;
  if (!nameTok || !opTok || nameTok.quoted)
    throw new RadiusError('TEXT_INVALID', 'expected `Name = value`');
  if (opTok.text !== '=' && opTok.text !== ':=' && opTok.text !== '+=' && opTok.text !== '==') {
    throw new RadiusError('TEXT_INVALID', `expected an operator after ${nameTok.text}`);
  }
  if (valueToks.length !== 1)
    throw new RadiusError('TEXT_INVALID', `${nameTok.text}: expected one value`);
  const valueTok = valueToks[0] as Token;
  const m = /^([^:]+)(?::(\d+))?$/.exec(nameTok.text);
  if (!m?.[1]) throw new RadiusError('TEXT_INVALID', `bad attribute name ${nameTok.text}`);
  const def = dict.attribute(m[1]);
  if (!def) throw new RadiusError('ATTRIBUTE_UNKNOWN', `unknown attribute ${m[1]}`);
  const tag = m[2] === undefined ? undefined : Number(m[2]);
  // Quoted text arrives as latin1-mapped octets so that \ooo escapes survive; strings go back to UTF-8.
  const octets = Buffer.from(valueTok.text, valueTok.quoted ? 'latin1' : 'utf8');
  let value: string | Buffer;
  if (def.type === 'string') value = valueTok.quoted ? octets : valueTok.text;
  else if ((def.type === 'octets' || def.unknown) && /^0x([0-9a-f]{2})*$/i.test(valueTok.text)) {
    value = Buffer.from(valueTok.text.slice(2), 'hex');
  } else if (def.type === 'octets') value = octets;
  else value = valueTok.quoted ? octets.toString('utf8') : valueTok.text;
  return makeAttribute(def, value, tag);
}
