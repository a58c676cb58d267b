// FreeRADIUS's radclient (Debian freeradius-utils) against our RadiusServer: the same program a
// NAS operator reaches for first. radclient computes CHAP and MS-CHAP itself, verifies our
// Response Authenticator and Message-Authenticator, and decrypts MS-CHAP-MPPE-Keys.
import { spawn, spawnSync } from 'node:child_process';
import { md4 } from 'hash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RadiusServer } from '../../src/aaa/server.js';
import type { RadiusServerOptions } from '../../src/aaa/server.js';
import type { AuthSubscriber, NasClient } from '../../src/aaa/ports.js';
import type { Packet } from '../../src/radius/index.js';
import { bundledDictionary } from '../../src/radius/index.js';
import { LOOPBACK_SERVER } from '../helpers/radius-server.js';

const missing = ['radclient'].filter(
  (b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0,
);
const why = `${missing.join(', ')} not installed: run scripts/install-interop-deps.sh`;
if (missing.length > 0) {
  if (process.env.CI === 'true') {
    describe('radclient → our server', () => {
      it('needs the Debian packages under CI=true', () => {
        throw new Error(why);
      });
    });
  } else console.warn(`skipping radclient server interop tests: ${why}`);
}

const dict = bundledDictionary();
const SECRET = 'interop-s3cret';
const secret = Buffer.from(SECRET);
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
// The reply for `member` at 10:11:32 UTC, as radclient prints it (Message-Authenticator aside).
const ADDRESSES = [
  'Framed-IP-Address = 80.67.191.6',
  'Framed-IPv6-Prefix = 2001:913:1d00:600::/64',
  'Delegated-IPv6-Prefix = 2001:913:1d10:100::/56',
  'Service-Type = Framed-User',
  'Framed-Protocol = PPP',
  'Framed-IP-Netmask = 255.255.255.255',
  'Port-Limit = 1',
  'Framed-MTU = 1492',
  'Acct-Interim-Interval = 60',
];
const SESSION_TIMEOUT = 'Session-Timeout = 49708';

interface Run {
  code: number | null;
  out: string;
}

/** Runs radclient with `input` on stdin: one send, one second to answer, killed after 10 s. */
function radclient(port: number, kind: 'auth' | 'acct' | 'status', input: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = ['-x', '-t', '1', '-r', '1', `127.0.0.1:${port}`, kind, SECRET];
    const child = spawn('radclient', args, { env: { ...process.env, TZ: 'UTC' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    child.stdin.end(input);
  });
}

/** The attribute lines radclient printed under "Received <code> …", or undefined. */
function receivedLines(out: string, code: string): string[] | undefined {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`Received ${code} Id `));
  if (at < 0) return undefined;
  const attrs: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('\t')) break;
    attrs.push(l.trim());
  }
  return attrs;
}

/** radclient found nothing wrong with our signatures. */
function expectVerified(run: Run): void {
  expect(run.out).not.toContain('invalid Message-Authenticator');
  expect(run.out).not.toContain('invalid Response Authenticator');
  expect(run.out).not.toContain('Reply verification failed');
}

/** The reply's lines, Message-Authenticator first and then left out. */
function attrsAfterMa(run: Run, code: string): string[] {
  const lines = receivedLines(run.out, code);
  if (!lines) throw new Error(`radclient printed no ${code}:\n${run.out}`);
  expect(lines[0]).toMatch(/^Message-Authenticator = 0x[0-9a-f]{32}$/);
  return lines.slice(1);
}

describe.skipIf(missing.length > 0)('radclient → our RadiusServer', () => {
  const servers: RadiusServer[] = [];
  const recorded: Packet[] = [];
  let auth = 0;
  let acct = 0;
  let strictAuth = 0;

  async function start(
    nas: NasClient,
    over: Partial<RadiusServerOptions> = {},
  ): Promise<RadiusServer> {
    const server = new RadiusServer({
      dictionary: dict,
      nas: { lookup: (a) => Promise.resolve(a === '127.0.0.1' ? nas : undefined) },
      subscribers: {
        findForAuth: (u) =>
          Promise.resolve(u.toLowerCase() === member.username.toLowerCase() ? member : undefined),
      },
      accounting: {
        record: (req) => {
          recorded.push(req);
          return Promise.resolve(true);
        },
      },
      ...LOOPBACK_SERVER,
      now: () => Date.parse('2025-04-08T10:11:32Z'),
      ...over,
    });
    await server.start();
    servers.push(server);
    return server;
  }
  const portOf = (s: RadiusServer, kind: 'auth' | 'acct'): number =>
    s.addresses().find((a) => a.kind === kind)?.port ?? 0;

  beforeAll(async () => {
    // radclient 3.2.1 signs an Access-Request only when asked (Message-Authenticator = 0x00).
    const lax = await start({ name: 'radclient', secret, requireMessageAuthenticator: false });
    auth = portOf(lax, 'auth');
    acct = portOf(lax, 'acct');
    const strict = await start({ name: 'strict', secret, requireMessageAuthenticator: true });
    strictAuth = portOf(strict, 'auth');
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop(100)));
  });

  const user = `User-Name = "${member.username}"`;
  const ma = 'Message-Authenticator = 0x00';

  it('PAP accept: the subscriber reply, radclient verifies both authenticators', async () => {
    const run = await radclient(
      auth,
      'auth',
      `${user}, User-Password = "${member.password}", NAS-IP-Address = 100.64.57.40, ${ma}`,
    );
    expectVerified(run);
    expect(run.code).toBe(0);
    expect(attrsAfterMa(run, 'Access-Accept')).toEqual([...ADDRESSES, SESSION_TIMEOUT]);
  });

  it('PAP reject: Reply-Message, Message-Authenticator first', async () => {
    const run = await radclient(auth, 'auth', `${user}, User-Password = "wrong horse", ${ma}`);
    expectVerified(run);
    expect(attrsAfterMa(run, 'Access-Reject')).toEqual(['Reply-Message = "Wrong password"']);
  });

  it('PAP reject for an unknown user', async () => {
    const run = await radclient(auth, 'auth', `User-Name = "nobody", User-Password = "x", ${ma}`);
    expectVerified(run);
    expect(attrsAfterMa(run, 'Access-Reject')).toEqual(['Reply-Message = "Unknown user"']);
  });

  it('CHAP accept (radclient computes CHAP-Password over the Request Authenticator)', async () => {
    const run = await radclient(auth, 'auth', `${user}, CHAP-Password = "${member.password}"`);
    expectVerified(run);
    expect(run.code).toBe(0);
    expect(attrsAfterMa(run, 'Access-Accept')).toEqual([...ADDRESSES, SESSION_TIMEOUT]);
  });

  it('CHAP reject with the wrong password', async () => {
    const run = await radclient(auth, 'auth', `${user}, CHAP-Password = "wrong horse"`);
    expectVerified(run);
    expect(attrsAfterMa(run, 'Access-Reject')).toEqual(['Reply-Message = "Wrong password"']);
  });

  it('MS-CHAPv1 accept: radclient decrypts MS-CHAP-MPPE-Keys to 8 zeros + MD4(NT hash)', async () => {
    const run = await radclient(auth, 'auth', `${user}, MS-CHAP-Password = "${member.password}"`);
    expectVerified(run);
    expect(run.code).toBe(0);
    const ntHash = Buffer.from(await md4(Buffer.from(member.password, 'utf16le')), 'hex');
    const hashHash = await md4(ntHash);
    expect(attrsAfterMa(run, 'Access-Accept')).toEqual([
      ...ADDRESSES,
      `MS-CHAP-MPPE-Keys = 0x${'00'.repeat(8)}${hashHash}`,
      'MS-MPPE-Encryption-Policy = Encryption-Required',
      'MS-MPPE-Encryption-Types = 4',
      SESSION_TIMEOUT,
    ]);
  });

  it('MS-CHAPv1 reject: MS-CHAP-Error E=691', async () => {
    const run = await radclient(auth, 'auth', `${user}, MS-CHAP-Password = "wrong horse"`);
    expectVerified(run);
    const lines = attrsAfterMa(run, 'Access-Reject');
    expect(lines[0]).toBe('Reply-Message = "Wrong password"');
    // radclient prints the Ident octet as an escape, then the text.
    expect(lines[1]).toMatch(/^MS-CHAP-Error = ".*E=691 R=1 C=[0-9a-f]{16} V=2"$/);
  });

  it('three Proxy-States come back in order', async () => {
    const run = await radclient(
      auth,
      'auth',
      `${user}, User-Password = "${member.password}", Proxy-State = 0x01, Proxy-State = 0x0202, Proxy-State = 0x333333, ${ma}`,
    );
    expectVerified(run);
    const lines = attrsAfterMa(run, 'Access-Accept');
    expect(lines.filter((l) => l.startsWith('Proxy-State'))).toEqual([
      'Proxy-State = 0x01',
      'Proxy-State = 0x0202',
      'Proxy-State = 0x333333',
    ]);
  });

  it('Status-Server on the authentication port: Access-Accept', async () => {
    const run = await radclient(auth, 'status', ma);
    expectVerified(run);
    expect(run.code).toBe(0);
    expect(receivedLines(run.out, 'Access-Accept')?.[0]).toMatch(/^Message-Authenticator = /);
  });

  it('Status-Server on the accounting port: Accounting-Response', async () => {
    const run = await radclient(acct, 'status', ma);
    expectVerified(run);
    expect(run.code).toBe(0);
    expect(receivedLines(run.out, 'Accounting-Response')).toBeDefined();
  });

  // A FreeRADIUS-based NAS or proxy checks a Message-Authenticator in an Accounting-Response
  // over 16 zero octets (src/lib/radius.c, rad_sign/rad_verify); one computed otherwise makes it
  // drop every Accounting-Response and retransmit.
  it('Accounting-Request: radclient accepts our Accounting-Response', async () => {
    const run = await radclient(
      acct,
      'acct',
      `${user}, Acct-Status-Type = Start, Acct-Session-Id = "81004668", NAS-IP-Address = 100.64.57.40`,
    );
    expectVerified(run);
    expect(run.code).toBe(0);
    expect(receivedLines(run.out, 'Accounting-Response')).toBeDefined();
    expect(recorded.some((r) => r.get('Acct-Session-Id') === '81004668')).toBe(true);
  });

  it('a NAS that must sign: answered with Message-Authenticator, not without', async () => {
    const pap = `${user}, User-Password = "${member.password}"`;
    const signed = await radclient(strictAuth, 'auth', `${pap}, ${ma}`);
    expectVerified(signed);
    expect(attrsAfterMa(signed, 'Access-Accept')).toEqual([...ADDRESSES, SESSION_TIMEOUT]);
    const unsigned = await radclient(strictAuth, 'auth', pap);
    expect(receivedLines(unsigned.out, 'Access-Accept')).toBeUndefined();
    expect(unsigned.out).toMatch(/No reply from server/);
    expect(unsigned.code).not.toBe(0);
  });
});
