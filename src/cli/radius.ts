import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import type { Attribute, Dictionary, PacketChecks } from '../radius/index.js';
import {
  Packet,
  authenticatorKind,
  codeByName,
  decodePacket,
  encodePacket,
  formatAttribute,
  formatValue,
  parseAttributes,
  verifyPacket,
} from '../radius/index.js';
import { attributeOid } from '../radius/dictionary/types.js';
import { CliError, parseHex, printJson } from './output.js';

interface DecodeFlags {
  secret?: string;
  requestAuthenticator?: string;
  json?: boolean;
}

interface EncodeFlags {
  code: string;
  id: string;
  secret: string;
  requestAuthenticator?: string;
  authenticator?: string;
  file?: string;
  json?: boolean;
}

const CHECK_TEXT: Record<string, string> = {
  ok: 'verified',
  bad: 'DOES NOT VERIFY',
  nonce: 'random nonce (nothing to verify)',
  unchecked: 'not checked (the request authenticator is needed: --request-authenticator)',
  absent: 'absent',
};

/** `ispkit radius decode|encode`: for people debugging a NAS. */
export function registerRadiusCommands(program: Command, dictionary: () => Dictionary): void {
  const radius = program.command('radius').description('decode and encode RADIUS packets by hand');

  radius
    .command('decode')
    .description('decode a packet given as hex; with --secret, verify it and reveal hidden values')
    .argument('<hex>', 'the packet, as hex (spaces and colons allowed)')
    .option('--secret <secret>', 'the shared secret')
    .option(
      '--request-authenticator <hex>',
      'for a reply: the authenticator of its request (default: 16 zero octets)',
    )
    .option('--json', 'print JSON')
    .action((hex: string, flags: DecodeFlags) => {
      const dict = dictionary();
      const buf = parseHex(hex, 'the packet');
      const secret = flags.secret === undefined ? undefined : Buffer.from(flags.secret, 'utf8');
      const given = flags.requestAuthenticator
        ? parseHex(flags.requestAuthenticator, '--request-authenticator')
        : undefined;
      if (given && given.length !== 16)
        throw new CliError('HEX_INVALID', '--request-authenticator must be 16 octets', 2);
      const code = buf[0] ?? 0;
      const isReply = authenticatorKind(code) === 'response';
      const requestAuthenticator = given ?? (isReply ? Buffer.alloc(16) : undefined);
      const packet = decodePacket(buf, dict, { secret, requestAuthenticator });
      const checks = secret ? verifyPacket(packet, secret, given) : undefined;
      if (flags.json) printJson(decodedJson(packet, checks));
      else process.stdout.write(decodedText(packet, checks, buf.length));
    });

  radius
    .command('encode')
    .description(
      'encode attributes (FreeRADIUS text, from --file or stdin) into a signed packet, as hex',
    )
    .requiredOption(
      '--code <code>',
      'packet code, e.g. Access-Request, Accounting-Request, Access-Accept',
    )
    .requiredOption('--id <n>', 'identifier, 0–255')
    .requiredOption('--secret <secret>', 'the shared secret')
    .option(
      '--request-authenticator <hex>',
      'for a reply: the request authenticator (default: 16 zero octets)',
    )
    .option(
      '--authenticator <hex>',
      'for an Access-Request or Status-Server: the authenticator (default: random)',
    )
    .option('--file <file>', 'read attributes from this file instead of stdin')
    .option('--json', 'print JSON')
    .action((flags: EncodeFlags) => {
      const dict = dictionary();
      const code = codeByName(flags.code);
      if (code === undefined)
        throw new CliError('CODE_UNKNOWN', `unknown packet code '${flags.code}'`, 2);
      if (!/^\d+$/.test(flags.id) || Number(flags.id) > 255)
        throw new CliError('ID_INVALID', `--id must be 0–255, got '${flags.id}'`, 2);
      const text = flags.file ? readText(flags.file) : readFileSync(0, 'utf8');
      const attributes = parseAttributes(dict, text);
      const kind = authenticatorKind(code);
      const auth = flags.authenticator
        ? parseHex(flags.authenticator, '--authenticator')
        : undefined;
      const reqAuth = flags.requestAuthenticator
        ? parseHex(flags.requestAuthenticator, '--request-authenticator')
        : Buffer.alloc(16);
      for (const [b, name] of [
        [auth, '--authenticator'],
        [reqAuth, '--request-authenticator'],
      ] as const) {
        if (b && b.length !== 16) throw new CliError('HEX_INVALID', `${name} must be 16 octets`, 2);
      }
      const authenticator = kind === 'random' ? (auth ?? randomBytes(16)) : Buffer.alloc(16);
      const packet = new Packet(dict, code, Number(flags.id), authenticator, attributes);
      const wire = encodePacket(packet, {
        secret: Buffer.from(flags.secret, 'utf8'),
        requestAuthenticator: reqAuth,
      });
      if (flags.json) printJson({ length: wire.length, hex: wire.toString('hex') });
      else process.stdout.write(`${wire.toString('hex')}\n`);
    });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('FILE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, 2);
  }
}

function decodedText(p: Packet, checks: PacketChecks | undefined, received: number): string {
  const length = p.raw?.length ?? received;
  const out = [
    `${p.codeName} Id ${p.identifier} length ${length}${received > length ? ` (+${received - length} octets of padding)` : ''}`,
  ];
  out.push(`  Authenticator = 0x${p.authenticator.toString('hex')}`);
  if (checks) {
    out.push(
      `  (authenticator: ${CHECK_TEXT[checks.authenticator]}; Message-Authenticator: ${CHECK_TEXT[checks.messageAuthenticator]})`,
    );
  }
  for (const a of p.attributes) for (const line of formatAttribute(a)) out.push(`  ${line}`);
  return `${out.join('\n')}\n`;
}

function attributeJson(a: Attribute): Record<string, unknown> {
  const v = a.value;
  let value: unknown;
  if (Array.isArray(v)) value = (v as readonly Attribute[]).map(attributeJson);
  else if (Buffer.isBuffer(v) || a.hidden)
    value = `0x${(Buffer.isBuffer(v) ? v : Buffer.alloc(0)).toString('hex')}`;
  else if (v instanceof Date) value = v.toISOString();
  else if (typeof v === 'bigint') value = v.toString();
  else value = v;
  return {
    name: a.def.name,
    oid: attributeOid(a.def),
    ...(a.tag !== undefined ? { tag: a.tag } : {}),
    value,
    text: formatValue(a),
    ...(a.hidden ? { hidden: true } : {}),
    ...(a.def.unknown ? { unknown: true } : {}),
  };
}

function decodedJson(p: Packet, checks: PacketChecks | undefined): Record<string, unknown> {
  return {
    code: p.code,
    code_name: p.codeName,
    identifier: p.identifier,
    length: p.raw?.length,
    authenticator: p.authenticator.toString('hex'),
    ...(checks
      ? {
          checks: {
            authenticator: checks.authenticator,
            message_authenticator: checks.messageAuthenticator,
          },
        }
      : {}),
    attributes: p.attributes.map(attributeJson),
  };
}
