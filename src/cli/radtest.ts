// `ispkit radtest`: a RADIUS client for people and scripts, in the spirit of FreeRADIUS's radtest.
// Sends one Access-Request (PAP, CHAP, MS-CHAP or MS-CHAPv2) or Accounting-Request and prints
// the reply as radclient does. Exit 0 on Access-Accept / Accounting-Response, 1 on Access-Reject,
// 2 on timeout or error.
import { isIP, isIPv6 } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { Attribute, Dictionary, Packet } from '../radius/index.js';
import {
  RadiusClient,
  RadiusError,
  bundledDictionary,
  chapRequest,
  createPacket,
  formatAttributes,
  msChapV1Request,
  msChapV2Request,
  papRequest,
  parseAttributes,
  verifyMsChapV2Success,
} from '../radius/index.js';
import { CliError, printJson } from './output.js';

const METHODS = ['pap', 'chap', 'mschap', 'mschapv2'] as const;
type Method = (typeof METHODS)[number];

const ACCT_STATUS = { start: 'Start', interim: 'Interim-Update', stop: 'Stop' } as const;
type AcctKind = keyof typeof ACCT_STATUS;

interface RadtestFlags {
  method: string;
  attr: string[];
  nasIp?: string;
  timeout: string;
  retries: string;
  requireMessageAuthenticator: boolean;
  json?: boolean;
  acct?: string;
  sessionId?: string;
}

/** Attributes radtest adds itself, which an --attr of the same name replaces. */
const DEFAULTED = ['NAS-IP-Address', 'NAS-IPv6-Address', 'Event-Timestamp', 'Acct-Session-Id'];

export function registerRadtestCommand(program: Command): void {
  program
    .command('radtest')
    .summary('send a test Access-Request or Accounting-Request and print the reply')
    .description(
      'send an Access-Request (USER PASSWORD SERVER[:PORT] SECRET) or, with --acct, an ' +
        'Accounting-Request (USER SERVER[:PORT] SECRET) and print the reply; exit 0 on ' +
        'Accept/Accounting-Response, 1 on Reject, 2 on timeout or error',
    )
    .argument('<args...>', 'USER PASSWORD SERVER[:PORT] SECRET, or USER SERVER[:PORT] SECRET')
    .option('--method <method>', `authentication method: ${METHODS.join('|')}`, 'pap')
    .option(
      '--attr <Name=value>',
      'an extra attribute, FreeRADIUS style (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--nas-ip <address>', 'NAS-IP-Address (or NAS-IPv6-Address) to send', '127.0.0.1')
    .option('--timeout <ms>', 'wait this long for the first reply (doubles on retries)', '1000')
    .option('--retries <n>', 'retransmissions after the first send', '2')
    .option(
      '--no-require-message-authenticator',
      'accept Access-* replies without a Message-Authenticator (old servers)',
    )
    .option('--acct <type>', 'send an Accounting-Request: start|interim|stop')
    .option('--session-id <id>', 'Acct-Session-Id for --acct (default: random)')
    .option('--json', 'print JSON')
    .action(async (args: string[], flags: RadtestFlags) => {
      await run(args, flags);
    });
}

function usage(message: string): CliError {
  return new CliError('USAGE', message, 2);
}

async function run(args: string[], flags: RadtestFlags): Promise<void> {
  const dict = bundledDictionary();
  const acct = flags.acct;
  if (acct !== undefined && !Object.hasOwn(ACCT_STATUS, acct))
    throw usage(`--acct must be start, interim or stop, got '${acct}'`);
  const expected = acct === undefined ? 4 : 3;
  if (args.length !== expected) {
    throw usage(
      acct === undefined
        ? `expected USER PASSWORD SERVER[:PORT] SECRET, got ${args.length} argument(s)`
        : `with --acct, expected USER SERVER[:PORT] SECRET, got ${args.length} argument(s)`,
    );
  }
  const method = flags.method as Method;
  if (!METHODS.includes(method))
    throw usage(`--method must be one of ${METHODS.join(', ')}, got '${flags.method}'`);
  const timeoutMs = integer(flags.timeout, '--timeout', 1);
  const retries = integer(flags.retries, '--retries', 0);
  const nasIp = flags.nasIp ?? '127.0.0.1';
  if (isIP(nasIp) === 0) throw usage(`--nas-ip must be an IP address, got '${nasIp}'`);
  const extra = parseExtra(dict, flags.attr);

  const [user, password, serverArg, secret] =
    acct === undefined
      ? (args as [string, string, string, string])
      : [args[0] as string, '', args[1] as string, args[2] as string];
  if (secret === '') throw usage('the shared secret is empty');
  const server = parseServer(serverArg, acct === undefined ? 1812 : 1813);

  const nasAttr = isIPv6(nasIp) ? 'NAS-IPv6-Address' : 'NAS-IP-Address';
  let request: Packet;
  if (acct === undefined) {
    request = buildAccessRequest(dict, method, user, password);
    request.add(nasAttr, nasIp);
  } else {
    request = createPacket(dict, 'Accounting-Request', {
      'User-Name': user,
      'Acct-Status-Type': ACCT_STATUS[acct as AcctKind],
      'Acct-Session-Id': flags.sessionId ?? randomBytes(4).toString('hex').toUpperCase(),
      [nasAttr]: nasIp,
      'Event-Timestamp': new Date(),
    });
  }
  for (const name of new Set(extra.map((a) => a.def.name)))
    if (DEFAULTED.includes(name)) request.delete(name);
  request.attributes.push(...extra);

  const client = new RadiusClient({
    host: server.host,
    port: server.port,
    secret: Buffer.from(secret, 'utf8'),
    dictionary: dict,
    timeoutMs,
    retries,
    requireMessageAuthenticator: flags.requireMessageAuthenticator,
  });
  const target = client.target;
  if (!flags.json) {
    const sent = [`Sent ${request.codeName} to ${target}`];
    for (const l of formatAttributes(request.attributes)) sent.push(`\t${l}`);
    process.stdout.write(`${sent.join('\n')}\n`);
  }
  let reply: Packet;
  try {
    reply = await client.send(request);
  } catch (e) {
    if (e instanceof RadiusError) throw new CliError(e.code, e.message, 2);
    throw e;
  } finally {
    client.close();
  }

  const verified =
    method === 'mschapv2' && acct === undefined && reply.code === 2
      ? verifyMsChapV2Success(reply, request, password)
      : undefined;
  if (flags.json) {
    printJson({
      code: reply.code,
      code_name: reply.codeName,
      identifier: reply.identifier,
      attributes: reply.attributes.map(attributeJson),
      ...(verified !== undefined ? { mschapv2_success_verified: verified } : {}),
    });
  } else {
    const out = [
      `Received ${reply.codeName} Id ${reply.identifier} from ${target} length ${reply.raw?.length ?? 0}`,
    ];
    for (const l of formatAttributes(reply.attributes)) out.push(`\t${l}`);
    if (verified !== undefined) {
      out.push(
        !reply.has('MS-CHAP2-Success')
          ? 'MS-CHAP2-Success: missing (a real peer would hang up)'
          : verified
            ? 'MS-CHAP2-Success: verified (the server knows the password)'
            : 'MS-CHAP2-Success: DOES NOT VERIFY (a real peer would hang up)',
      );
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
  // Accounting-Response (5) or Access-Accept (2) is success; Reject and Challenge are not.
  process.exitCode = reply.code === 2 || reply.code === 5 ? 0 : 1;
}

function buildAccessRequest(dict: Dictionary, method: Method, user: string, pw: string): Packet {
  switch (method) {
    case 'pap':
      return papRequest(dict, user, pw);
    case 'chap':
      return chapRequest(dict, user, pw);
    case 'mschap':
      return msChapV1Request(dict, user, pw);
    case 'mschapv2':
      return msChapV2Request(dict, user, pw);
  }
}

function integer(text: string, name: string, min: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min)
    throw usage(`${name} must be an integer >= ${min}, got '${text}'`);
  return Number(text);
}

/** `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address (no port then). */
export function parseServer(text: string, defaultPort: number): { host: string; port: number } {
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed?.[1]) {
    host = bracketed[1];
    port = bracketed[2];
    if (!isIPv6(host)) throw usage(`'${host}' in brackets is not an IPv6 address`);
  } else if (isIPv6(text)) {
    host = text;
  } else {
    const at = text.lastIndexOf(':');
    host = at < 0 ? text : text.slice(0, at);
    port = at < 0 ? undefined : text.slice(at + 1);
  }
  if (host === '') throw usage(`no server address in '${text}'`);
  if (port === undefined) return { host, port: defaultPort };
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    throw usage(`the port in '${text}' must be 1–65535`);
  return { host, port: Number(port) };
}

/**
 * `--attr 'Name=value'`: the value as FreeRADIUS text (quoted or not); an unquoted value with
 * spaces or commas is taken whole, as a person means it.
 */
function parseExtra(dict: Dictionary, items: readonly string[]): Attribute[] {
  const out: Attribute[] = [];
  for (const item of items) {
    const m = /^\s*([^\s=:+]+(?::\d+)?)\s*(:=|\+=|=)\s*(.*?)\s*$/.exec(item);
    if (!m?.[1] || m[3] === undefined) throw usage(`--attr '${item}' is not Name=value`);
    let value = m[3];
    if (!/^["']/.test(value) && /[\s,#"\\]/.test(value))
      value = `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    try {
      out.push(...parseAttributes(dict, `${m[1]} = ${value}`));
    } catch (e) {
      if (e instanceof RadiusError) throw usage(`--attr '${item}': ${e.message}`);
      throw e;
    }
  }
  return out;
}

function attributeJson(a: Attribute): { name: string; value: unknown } {
  const v = a.value;
  let value: unknown;
  if (Array.isArray(v)) value = (v as readonly Attribute[]).map(attributeJson);
  else if (Buffer.isBuffer(v) || a.hidden)
    value = `0x${(Buffer.isBuffer(v) ? v : Buffer.alloc(0)).toString('hex')}`;
  else if (v instanceof Date) value = v.toISOString();
  else if (typeof v === 'bigint') value = v.toString();
  else value = v;
  const name = a.tag !== undefined && a.tag > 0 ? `${a.def.name}:${a.tag}` : a.def.name;
  return { name, value };
}
