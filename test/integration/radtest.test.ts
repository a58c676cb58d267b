// `ispkit radtest` as a person runs it: the real CLI in a child process against the real
// RadiusServer on loopback (in-memory NAS and subscriber lookups, a fixed clock).
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { md4 } from 'hash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseServer } from '../../src/cli/radtest.js';
import { RadiusServer } from '../../src/aaa/server.js';
import type { AuthSubscriber, NasClient } from '../../src/aaa/ports.js';
import type { Packet } from '../../src/radius/index.js';
import {
  bundledDictionary,
  createPacket,
  decodePacket,
  encodePacket,
} from '../../src/radius/index.js';
import { LOOPBACK_SERVER } from '../helpers/radius-server.js';

const dict = bundledDictionary();
const SECRET = 'radtest-s3cret';
const secret = Buffer.from(SECRET);
const nas: NasClient = { name: 'lab', secret, requireMessageAuthenticator: false };
const member: AuthSubscriber = {
  username: 'p1f9bd1@NEUTRINET',
  status: 'active',
  password: 'correct horse',
  ipv4: '80.67.191.6',
  ipv6Prefix: '2001:913:1d00:600::/64',
  delegatedPrefix: '2001:913:1d10:100::/56',
  mtu: 1492,
  portLimit: 1,
  interim: null,
};
const recorded: Packet[] = [];

let server: RadiusServer;
let auth4 = 0;
let acct4 = 0;
let auth6 = 0;
// Answers every Access-Request with an Access-Accept that has no Message-Authenticator.
let oldServer: Socket;
let oldPort = 0;

beforeAll(async () => {
  server = new RadiusServer({
    dictionary: dict,
    nas: { lookup: (a) => Promise.resolve(a === '127.0.0.1' || a === '::1' ? nas : undefined) },
    subscribers: {
      findForAuth: (u) =>
        Promise.resolve(u.toLowerCase() === member.username.toLowerCase() ? member : undefined),
    },
    accounting: {
      // Refusing to record leaves the request unanswered: radtest must time out.
      record: (req) => {
        if (req.get('Acct-Session-Id') === 'NOT-DURABLE') return Promise.resolve(false);
        recorded.push(req);
        return Promise.resolve(true);
      },
    },
    ...LOOPBACK_SERVER,
    listen: ['127.0.0.1', '::1'],
    now: () => Date.parse('2025-04-08T10:11:32Z'),
  });
  await server.start();
  const port = (kind: 'auth' | 'acct', v6: boolean): number =>
    server.addresses().find((a) => a.kind === kind && a.address.includes(':') === v6)?.port ?? 0;
  auth4 = port('auth', false);
  acct4 = port('acct', false);
  auth6 = port('auth', true);

  oldServer = createSocket('udp4');
  oldServer.on('message', (msg, rinfo) => {
    const req = decodePacket(msg, dict, { secret });
    const reply = createPacket(
      dict,
      'Access-Accept',
      { 'Reply-Message': 'from an old server' },
      { identifier: req.identifier },
    );
    oldServer.send(
      encodePacket(reply, { secret, requestAuthenticator: req.authenticator }),
      rinfo.port,
      rinfo.address,
    );
  });
  await new Promise<void>((r) => oldServer.bind(0, '127.0.0.1', r));
  oldPort = oldServer.address().port;
});

afterAll(async () => {
  oldServer.close();
  await server.stop(100);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

/** Runs `ispkit radtest …`; killed after 60 s whatever happens (a loaded CI box is slow to start node). */
function radtest(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'radtest', ...args],
      {
        cwd: process.cwd(),
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, lines: stdout.split('\n') });
    });
  });
}

/** The attribute lines printed under `Received …` (tab-indented, as radclient prints them). */
function received(run: Run): { head: string; attrs: string[] } {
  const at = run.lines.findIndex((l) => l.startsWith('Received '));
  if (at < 0) throw new Error(`no reply printed:\n${run.stdout}\n${run.stderr}`);
  const attrs: string[] = [];
  for (const l of run.lines.slice(at + 1)) {
    if (!l.startsWith('\t')) break;
    attrs.push(l.slice(1));
  }
  return { head: run.lines[at] as string, attrs };
}

const server4 = (): string => `127.0.0.1:${auth4}`;

// Each run starts node and the CLI (~2 s of CPU): they run side by side, with room for slow boxes.
const SLOW = { timeout: 90_000 };

describe.concurrent('ispkit radtest: Access-Request', SLOW, () => {
  it('PAP accept: exit 0, the reply in FreeRADIUS text form, --attr and --nas-ip sent', async () => {
    const run = await radtest(
      member.username,
      member.password,
      server4(),
      SECRET,
      '--attr',
      'Proxy-State=0x3333',
      '--attr',
      'NAS-Port-Id=XE02 VL211',
      '--nas-ip',
      '100.64.57.40',
    );
    expect(run.code).toBe(0);
    const { head, attrs } = received(run);
    expect(head).toMatch(
      new RegExp(`^Received Access-Accept Id \\d+ from 127\\.0\\.0\\.1:${auth4} length \\d+$`),
    );
    expect(attrs[0]).toMatch(/^Message-Authenticator = 0x[0-9a-f]{32}$/);
    expect(attrs.slice(1)).toEqual([
      'Framed-IP-Address = 80.67.191.6',
      'Framed-IPv6-Prefix = 2001:913:1d00:600::/64',
      'Delegated-IPv6-Prefix = 2001:913:1d10:100::/56',
      'Service-Type = Framed-User',
      'Framed-Protocol = PPP',
      'Framed-IP-Netmask = 255.255.255.255',
      'Port-Limit = 1',
      'Framed-MTU = 1492',
      'Acct-Interim-Interval = 60',
      'Proxy-State = 0x3333',
      'Session-Timeout = 49708',
    ]);
    // What was sent is printed too, --attr and --nas-ip included.
    expect(run.lines).toContain(`Sent Access-Request to 127.0.0.1:${auth4}`);
    expect(run.lines).toContain(`\tUser-Name = "${member.username}"`);
    expect(run.lines).toContain('\tNAS-Port-Id = "XE02 VL211"');
    expect(run.lines).toContain('\tNAS-IP-Address = 100.64.57.40');
    expect(run.lines).not.toContain('\tNAS-IP-Address = 127.0.0.1');
  });

  it('PAP reject: exit 1, with the Reply-Message', async () => {
    const run = await radtest(member.username, 'wrong horse', server4(), SECRET);
    expect(run.code).toBe(1);
    const { head, attrs } = received(run);
    expect(head).toMatch(/^Received Access-Reject Id \d+ from 127\.0\.0\.1:\d+ length \d+$/);
    expect(attrs).toContain('Reply-Message = "Wrong password"');
  });

  it('CHAP accept', async () => {
    const run = await radtest(
      member.username,
      member.password,
      server4(),
      SECRET,
      '--method',
      'chap',
    );
    expect(run.code).toBe(0);
    expect(run.lines.some((l) => /^\tCHAP-Password = 0x[0-9a-f]{34}$/.test(l))).toBe(true);
    expect(received(run).attrs).toContain('Framed-IP-Address = 80.67.191.6');
  });

  it('MS-CHAPv1 accept, MS-CHAP-MPPE-Keys decrypted', async () => {
    const run = await radtest(
      member.username,
      member.password,
      server4(),
      SECRET,
      '--method',
      'mschap',
    );
    expect(run.code).toBe(0);
    const ntHash = Buffer.from(await md4(Buffer.from(member.password, 'utf16le')), 'hex');
    const hashHash = await md4(ntHash);
    expect(received(run).attrs).toContain(`MS-CHAP-MPPE-Keys = 0x${'00'.repeat(8)}${hashHash}`);
  });

  it('MS-CHAPv2 accept: says MS-CHAP2-Success verified', async () => {
    const run = await radtest(
      member.username,
      member.password,
      server4(),
      SECRET,
      '--method',
      'mschapv2',
    );
    expect(run.code).toBe(0);
    const { attrs } = received(run);
    expect(attrs.some((l) => /^MS-CHAP2-Success = 0x[0-9a-f]{2}533d/.test(l))).toBe(true);
    expect(run.lines).toContain('MS-CHAP2-Success: verified (the server knows the password)');
  });

  it('--json: code, name, identifier, attributes and the MS-CHAP2-Success check', async () => {
    const run = await radtest(
      member.username,
      member.password,
      server4(),
      SECRET,
      '--method',
      'mschapv2',
      '--json',
    );
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as {
      code: number;
      code_name: string;
      identifier: number;
      attributes: { name: string; value: unknown }[];
      mschapv2_success_verified?: boolean;
    };
    expect(out.code).toBe(2);
    expect(out.code_name).toBe('Access-Accept');
    expect(Number.isInteger(out.identifier)).toBe(true);
    expect(out.attributes[0]?.name).toBe('Message-Authenticator');
    expect(out.attributes).toContainEqual({ name: 'Framed-IP-Address', value: '80.67.191.6' });
    expect(out.attributes).toContainEqual({ name: 'Session-Timeout', value: 49708 });
    expect(out.attributes).toContainEqual({ name: 'Service-Type', value: 'Framed-User' });
    expect(out.mschapv2_success_verified).toBe(true);
  });

  it('IPv6: [::1]:PORT', async () => {
    const run = await radtest(member.username, member.password, `[::1]:${auth6}`, SECRET);
    expect(run.code).toBe(0);
    expect(received(run).head).toMatch(
      new RegExp(`^Received Access-Accept Id \\d+ from \\[::1\\]:${auth6} `),
    );
  });

  it('timeout (the server drops a request signed with another secret): exit 2', async () => {
    const run = await radtest(
      member.username,
      member.password,
      server4(),
      'not-the-secret',
      '--timeout',
      '200',
      '--retries',
      '0',
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no valid reply from 127\.0\.0\.1:\d+ .*\[TIMEOUT\]/);
    expect(run.stdout).not.toContain('Received');
  });

  it('a reply without Message-Authenticator is refused, unless told to accept it', async () => {
    const target = `127.0.0.1:${oldPort}`;
    const args = [member.username, member.password, target, SECRET, '--timeout', '200'];
    const strict = await radtest(...args, '--retries', '0');
    expect(strict.code).toBe(2);
    const lax = await radtest(...args, '--no-require-message-authenticator');
    expect(lax.code).toBe(0);
    expect(received(lax).attrs).toEqual(['Reply-Message = "from an old server"']);
  });

  it.each([
    [['bob', 'pw', '127.0.0.1'], /expected USER PASSWORD SERVER\[:PORT\] SECRET/],
    [['bob', 'pw', '127.0.0.1', 's', '--method', 'eap'], /--method must be one of/],
    [['bob', 'pw', '127.0.0.1', 's', '--attr', 'No-Such-Attribute=1'], /No-Such-Attribute/],
  ])('bad arguments %j: exit 2 with one clear line', async (args, message) => {
    const run = await radtest(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(run.stdout).not.toContain('Sent ');
  });
});

describe.concurrent('ispkit radtest --acct', SLOW, () => {
  it('start: exit 0, the Accounting-Response printed, the request recorded', async () => {
    const run = await radtest(
      '--acct',
      'start',
      member.username,
      `127.0.0.1:${acct4}`,
      SECRET,
      '--session-id',
      '81004668',
    );
    expect(run.code).toBe(0);
    expect(received(run).head).toMatch(
      new RegExp(
        `^Received Accounting-Response Id \\d+ from 127\\.0\\.0\\.1:${acct4} length \\d+$`,
      ),
    );
    const req = recorded.find((r) => r.get('Acct-Session-Id') === '81004668');
    expect(req?.get('Acct-Status-Type')).toBe('Start');
    expect(req?.get('User-Name')).toBe(member.username);
    expect(req?.get('NAS-IP-Address')).toBe('127.0.0.1');
  });

  it('interim with counters given by --attr', async () => {
    const run = await radtest(
      '--acct',
      'interim',
      member.username,
      `127.0.0.1:${acct4}`,
      SECRET,
      '--session-id',
      '81004669',
      '--attr',
      'Acct-Input-Octets=184624542',
      '--attr',
      'Acct-Output-Gigawords=1',
      '--attr',
      'Acct-Session-Time=36721',
    );
    expect(run.code).toBe(0);
    const req = recorded.find((r) => r.get('Acct-Session-Id') === '81004669');
    expect(req?.get('Acct-Status-Type')).toBe('Interim-Update');
    expect(req?.get('Acct-Input-Octets')).toBe(184624542);
    expect(req?.get('Acct-Output-Gigawords')).toBe(1);
    expect(req?.get('Acct-Session-Time')).toBe(36721);
  });

  it('stop that the server cannot record: no answer, exit 2', async () => {
    const run = await radtest(
      '--acct',
      'stop',
      member.username,
      `127.0.0.1:${acct4}`,
      SECRET,
      '--session-id',
      'NOT-DURABLE',
      '--timeout',
      '200',
      '--retries',
      '0',
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('[TIMEOUT]');
  });
});

describe('SERVER[:PORT]', () => {
  it.each([
    ['127.0.0.1', 1812, { host: '127.0.0.1', port: 1812 }],
    ['127.0.0.1', 1813, { host: '127.0.0.1', port: 1813 }],
    ['127.0.0.1:11812', 1812, { host: '127.0.0.1', port: 11812 }],
    ['radius.example.net:1645', 1812, { host: 'radius.example.net', port: 1645 }],
    ['[::1]:1812', 1813, { host: '::1', port: 1812 }],
    ['[2001:db8::1]', 1813, { host: '2001:db8::1', port: 1813 }],
    ['::1', 1812, { host: '::1', port: 1812 }],
  ])('%s (default port %d)', (text, def, expected) => {
    expect(parseServer(text, def)).toEqual(expected);
  });

  it.each(['127.0.0.1:0', '127.0.0.1:x', '[nope]:1812', ':1812'])('%s is refused', (text) => {
    expect(() => parseServer(text, 1812)).toThrow();
  });
});
