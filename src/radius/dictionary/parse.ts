import { dirname, isAbsolute, join } from 'node:path';
import type { Dictionary } from './dictionary.js';
import { DictionaryError, evsKey } from './dictionary.js';
import type { AttributeDef, AttributeFlags, AttributeType, VendorDef } from './types.js';
import { ATTRIBUTE_TYPES, Encrypt } from './types.js';

/** Reads a dictionary file by path; undefined when it does not exist. */
export type DictionaryReader = (path: string) => string | undefined;

interface PendingValue {
  attr: string;
  name: string;
  value: number;
  where: string;
}

interface ParseState {
  dict: Dictionary;
  read: DictionaryReader;
  pending: PendingValue[];
  depth: number;
}

interface BlockState {
  vendor: VendorDef | undefined;
  /** Where the open BEGIN-VENDOR is, for the error when END-VENDOR is missing. */
  vendorLine: string;
  /** file:line of the line being parsed. */
  where: string;
  /** Set inside BEGIN-VENDOR … format=Extended-Vendor-Specific-N. */
  evs: AttributeDef | undefined;
  tlv: AttributeDef[];
}

/**
 * Loads a FreeRADIUS-format dictionary file (and what it includes) into `dict`.
 * Every error names the file and line; nothing is half-loaded into the caller's view because
 * the caller builds a fresh Dictionary per load.
 */
export function loadDictionaryFile(dict: Dictionary, path: string, read: DictionaryReader): void {
  const state: ParseState = { dict, read, pending: [], depth: 0 };
  parseFile(state, path, false);
  resolvePending(state);
}

/** Parses dictionary text given directly (tests, generated dictionaries). */
export function loadDictionaryText(
  dict: Dictionary,
  text: string,
  fileName: string,
  read: DictionaryReader = () => undefined,
): void {
  const state: ParseState = { dict, read, pending: [], depth: 0 };
  parseText(state, text, fileName);
  resolvePending(state);
}

function parseFile(state: ParseState, path: string, optional: boolean): void {
  const text = state.read(path);
  if (text === undefined) {
    if (optional) return;
    throw new DictionaryError(`cannot read dictionary file ${path}`);
  }
  parseText(state, text, path);
}

function parseText(state: ParseState, text: string, fileName: string): void {
  if (++state.depth > 32) throw new DictionaryError(`${fileName}: $INCLUDE nested too deeply`);
  const block: BlockState = {
    vendor: undefined,
    vendorLine: '',
    where: fileName,
    evs: undefined,
    tlv: [],
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const where = `${fileName}:${i + 1}`;
    const line = (lines[i] ?? '').replace(/#.*$/, '').trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    block.where = where;
    try {
      parseLine(state, block, f, fileName);
    } catch (e) {
      if (e instanceof DictionaryError && !e.message.startsWith(fileName)) {
        throw new DictionaryError(`${where}: ${e.message}`);
      }
      throw e;
    }
  }
  if (block.vendor) {
    throw new DictionaryError(
      `${block.vendorLine}: BEGIN-VENDOR ${block.vendor.name} has no END-VENDOR`,
    );
  }
  if (block.tlv.length > 0) throw new DictionaryError(`${fileName}: BEGIN-TLV has no END-TLV`);
  state.depth--;
}

function parseLine(state: ParseState, block: BlockState, f: string[], fileName: string): void {
  const keyword = f[0] ?? '';
  switch (keyword) {
    case 'ATTRIBUTE':
      return parseAttribute(state, block, f);
    case 'VALUE':
      return parseValue(state, f, block.where);
    case 'VENDOR':
      return parseVendor(state, f);
    case 'BEGIN-VENDOR':
      return beginVendor(state, block, f);
    case 'END-VENDOR': {
      const name = need(f, 1, 'END-VENDOR needs a vendor name');
      if (!block.vendor || block.vendor !== state.dict.vendorByName(name)) {
        throw new DictionaryError(`END-VENDOR ${name} does not match a BEGIN-VENDOR`);
      }
      block.vendor = undefined;
      block.evs = undefined;
      return;
    }
    case 'BEGIN-TLV': {
      const name = need(f, 1, 'BEGIN-TLV needs an attribute name');
      const def = state.dict.attribute(name);
      if (def?.type !== 'tlv') throw new DictionaryError(`BEGIN-TLV ${name}: not a tlv attribute`);
      block.tlv.push(def);
      return;
    }
    case 'END-TLV': {
      const name = need(f, 1, 'END-TLV needs an attribute name');
      const top = block.tlv.pop();
      if (!top || top.name.toLowerCase() !== name.toLowerCase()) {
        throw new DictionaryError(`END-TLV ${name} does not match BEGIN-TLV`);
      }
      return;
    }
    case 'VALUE-ALIAS': {
      const to = state.dict.attribute(need(f, 1, 'VALUE-ALIAS needs two attributes'));
      const from = state.dict.attribute(need(f, 2, 'VALUE-ALIAS needs two attributes'));
      if (!to || !from) throw new DictionaryError('VALUE-ALIAS names an unknown attribute');
      for (const [value, name] of from.valueNames) state.dict.addValue(to, name, value);
      return;
    }
    case '$INCLUDE':
    case '$INCLUDE-': {
      const target = need(f, 1, `${keyword} needs a file name`);
      const path = isAbsolute(target) ? target : join(dirname(fileName), target);
      parseFile(state, path, keyword === '$INCLUDE-');
      return;
    }
    default:
      throw new DictionaryError(`unknown keyword ${keyword}`);
  }
}

function need(f: string[], i: number, message: string): string {
  const v = f[i];
  if (v === undefined) throw new DictionaryError(message);
  return v;
}

function parseNumber(text: string, what: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text)
    ? parseInt(text.slice(2), 16)
    : /^\d+$/.test(text)
      ? Number(text)
      : NaN;
  if (!Number.isSafeInteger(n)) throw new DictionaryError(`${what}: bad number '${text}'`);
  return n;
}

function parseVendor(state: ParseState, f: string[]): void {
  const name = need(f, 1, 'VENDOR needs a name');
  const id = parseNumber(need(f, 2, 'VENDOR needs a number'), `VENDOR ${name}`);
  if (id < 1 || id > 0xffffff) throw new DictionaryError(`VENDOR ${name}: number out of range`);
  let typeSize: 1 | 2 | 4 = 1;
  let lengthSize: 0 | 1 | 2 = 1;
  let continuation = false;
  const fmt = f[3];
  if (fmt !== undefined) {
    const m = /^format=([124]),([012])(,c)?$/.exec(fmt);
    if (!m) throw new DictionaryError(`VENDOR ${name}: bad format '${fmt}'`);
    typeSize = Number(m[1]) as 1 | 2 | 4;
    lengthSize = Number(m[2]) as 0 | 1 | 2;
    continuation = m[3] !== undefined;
    if (continuation && (typeSize !== 1 || lengthSize !== 1)) {
      throw new DictionaryError(`VENDOR ${name}: continuation needs format=1,1`);
    }
  }
  state.dict.addVendor(name, id, typeSize, lengthSize, continuation);
}

function beginVendor(state: ParseState, block: BlockState, f: string[]): void {
  const name = need(f, 1, 'BEGIN-VENDOR needs a vendor name');
  if (block.vendor)
    throw new DictionaryError(`BEGIN-VENDOR ${name} inside BEGIN-VENDOR ${block.vendor.name}`);
  const v = state.dict.vendorByName(name);
  if (!v) throw new DictionaryError(`BEGIN-VENDOR: unknown vendor ${name}`);
  block.vendor = v;
  block.vendorLine = block.where;
  block.evs = undefined;
  const fmt = f[2];
  if (fmt !== undefined) {
    const m = /^format=Extended-Vendor-Specific-([1-6])$/.exec(fmt);
    if (!m) throw new DictionaryError(`BEGIN-VENDOR ${name}: bad format '${fmt}'`);
    const top = state.dict.standard.get(240 + Number(m[1]));
    const evs = top?.children.get(26);
    if (evs?.type !== 'evs') {
      throw new DictionaryError(
        `BEGIN-VENDOR ${name}: attribute ${240 + Number(m[1])}.26 is not defined as evs`,
      );
    }
    block.evs = evs;
  }
}

function parseType(text: string): { type: AttributeType; length?: number } {
  const m = /^([a-z0-9-]+)(?:\[(\d+)\])?$/.exec(text);
  const base = m?.[1] === 'cidr' ? 'ipv4prefix' : m?.[1];
  if (!m || base === undefined || !ATTRIBUTE_TYPES.has(base))
    throw new DictionaryError(`unknown type '${text}'`);
  if (m[2] === undefined) return { type: base as AttributeType };
  const length = Number(m[2]);
  if (base !== 'octets' || length < 1 || length > 253)
    throw new DictionaryError(`bad fixed length '${text}'`);
  return { type: 'octets', length };
}

function parseFlags(text: string): Partial<AttributeFlags> {
  const flags: Partial<AttributeFlags> = {};
  for (const flag of text.split(',')) {
    if (flag === 'has_tag') flags.hasTag = true;
    else if (flag === 'concat') flags.concat = true;
    else if (flag === 'array') flags.array = true;
    else if (flag === 'secret') flags.secret = true;
    else if (flag === 'virtual') flags.virtual = true;
    else if (/^encrypt=[123]$/.test(flag)) {
      flags.encrypt = Number(flag.slice(8)) as Encrypt;
      flags.secret = true;
    } else throw new DictionaryError(`unknown flag '${flag}'`);
  }
  return flags;
}

function parseAttribute(state: ParseState, block: BlockState, f: string[]): void {
  const { dict } = state;
  const name = need(f, 1, 'ATTRIBUTE needs a name');
  const numberText = need(f, 2, `ATTRIBUTE ${name} needs a number`);
  const { type, length } = parseType(need(f, 3, `ATTRIBUTE ${name} needs a type`));
  let vendor = block.vendor;
  let flags: Partial<AttributeFlags> = {};
  const extra = f[4];
  if (extra !== undefined) {
    const oldStyleVendor = dict.vendorByName(extra);
    if (oldStyleVendor && !extra.includes('=')) {
      if (block.vendor)
        throw new DictionaryError(`ATTRIBUTE ${name}: vendor field inside BEGIN-VENDOR`);
      vendor = oldStyleVendor;
    } else flags = parseFlags(extra);
  }
  if (f.length > 5) throw new DictionaryError(`ATTRIBUTE ${name}: too many fields`);
  if (length !== undefined) flags.length = length;
  checkFlags(name, type, flags);

  const path = numberText.split('.').map((p) => parseNumber(p, `ATTRIBUTE ${name}`));
  // Inside BEGIN-TLV the number is relative to the TLV parent.
  let parent: AttributeDef | undefined = block.tlv[block.tlv.length - 1];
  let code = path[path.length - 1] as number;
  if (block.evs) {
    if (!vendor) throw new DictionaryError(`ATTRIBUTE ${name}: EVS block without vendor`);
    parent = parent ?? block.evs;
    parent = walk(dict, parent, vendor.id, path.slice(0, -1), name);
  } else if (parent) {
    parent = walk(dict, parent, vendor?.id ?? 0, path.slice(0, -1), name);
  } else if (path.length > 1) {
    const [first, ...rest] = path as [number, ...number[]];
    const root = vendor ? vendor.attributes.get(first) : dict.standard.get(first);
    if (!root) throw new DictionaryError(`ATTRIBUTE ${name}: parent ${first} is not defined`);
    parent = walk(dict, root, vendor?.id ?? 0, rest.slice(0, -1), name);
  }
  if (parent) checkChild(name, parent, code);
  else if (vendor) {
    const max = 2 ** (8 * vendor.typeSize) - 1;
    if (code > max)
      throw new DictionaryError(
        `ATTRIBUTE ${name}: number ${code} too big for vendor ${vendor.name}`,
      );
  } else if (code < 1) {
    throw new DictionaryError(`ATTRIBUTE ${name}: number must be at least 1`);
  }
  if (code > 0xffffffff) code = 0; // unreachable after the checks above; keeps the type narrow
  dict.addAttribute({ name, code, type, vendor: vendor?.id ?? 0, parent, flags });
}

function walk(
  dict: Dictionary,
  start: AttributeDef,
  vendorId: number,
  path: number[],
  name: string,
): AttributeDef {
  let cur = start;
  for (const n of path) {
    const key = cur.type === 'evs' ? evsKey(vendorId, n) : n;
    const next = cur.children.get(key);
    if (!next)
      throw new DictionaryError(
        `ATTRIBUTE ${name}: parent number ${n} under ${cur.name} is not defined`,
      );
    cur = next;
  }
  void dict;
  return cur;
}

function checkChild(name: string, parent: AttributeDef, code: number): void {
  const containers = ['tlv', 'extended', 'long-extended', 'evs'];
  if (!containers.includes(parent.type)) {
    throw new DictionaryError(
      `ATTRIBUTE ${name}: parent ${parent.name} is ${parent.type}, not a container`,
    );
  }
  if (code < 1 || code > 255)
    throw new DictionaryError(`ATTRIBUTE ${name}: number ${code} out of range`);
}

function checkFlags(name: string, type: AttributeType, flags: Partial<AttributeFlags>): void {
  if (flags.hasTag && type !== 'string' && type !== 'integer') {
    throw new DictionaryError(`ATTRIBUTE ${name}: has_tag needs string or integer`);
  }
  if (flags.concat && type !== 'octets')
    throw new DictionaryError(`ATTRIBUTE ${name}: concat needs octets`);
  if (flags.encrypt === Encrypt.UserPassword || flags.encrypt === Encrypt.Salt) {
    if (type !== 'string' && type !== 'octets') {
      throw new DictionaryError(`ATTRIBUTE ${name}: encrypt needs string or octets`);
    }
  }
  if (flags.encrypt === Encrypt.Ascend && type !== 'string') {
    throw new DictionaryError(`ATTRIBUTE ${name}: encrypt=3 needs string`);
  }
}

function parseValue(state: ParseState, f: string[], where: string): void {
  const attr = need(f, 1, 'VALUE needs an attribute name');
  const name = need(f, 2, `VALUE ${attr} needs a name`);
  const value = parseNumber(
    need(f, 3, `VALUE ${attr} ${name} needs a number`),
    `VALUE ${attr} ${name}`,
  );
  if (f.length > 4) throw new DictionaryError(`VALUE ${attr} ${name}: too many fields`);
  state.pending.push({ attr, name, value, where });
}

function resolvePending(state: ParseState): void {
  // VALUEs may name attributes defined later (FreeRADIUS allows forward references).
  for (const p of state.pending) {
    const def = state.dict.attribute(p.attr);
    if (!def || def.unknown)
      throw new DictionaryError(`${p.where}: VALUE for unknown attribute ${p.attr}`);
    const intTypes = ['integer', 'short', 'byte', 'signed', 'integer64'];
    if (!intTypes.includes(def.type)) {
      throw new DictionaryError(
        `${p.where}: VALUE ${p.attr} ${p.name}: ${def.type} attributes take no VALUEs`,
      );
    }
    try {
      state.dict.addValue(def, p.name, p.value);
    } catch (e) {
      if (e instanceof DictionaryError) throw new DictionaryError(`${p.where}: ${e.message}`);
      throw e;
    }
  }
  state.pending.length = 0;
}
