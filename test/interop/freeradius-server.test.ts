// Our RadiusClient against Debian's FreeRADIUS 3.2, started by the test on 127.0.0.1 high ports
// with a copy of /etc/freeradius/3.0 in a temp dir: PAP, CHAP, MS-CHAPv1 and MS-CHAPv2, the
// MS-CHAP2-Success and MPPE keys checked against what we compute ourselves.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  chapRequest,
  msChapV1Request,
  msChapV2Request,
  papRequest,
  verifyMsChapV2Success,
} from '../../src/radius/auth-requests.js';
import { RadiusClient } from '../../src/radius/client.js';
import { bundledDictionary, createPacket, crypto } from '../../src/radius/index.js';
import type { Packet } from '../../src/radius/index.js';
import { dropBlocks, STOCK_RADDB } from '../helpers/raddb.js';

const missing = ['freeradius'].filter(
  (b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0,
);
const why = `${missing.join(', ')} not installed: run scripts/install-interop-deps.sh`;
if (missing.length > 0) {
  if (process.env.CI === 'true') {
    describe('FreeRADIUS interop', () => {
      it('needs the Debian packages under CI=true', () => {
        throw new Error(why);
      });
    });
  } else console.warn(`skipping FreeRADIUS interop tests: ${why}`);
}

const SECRET = 'fr-interop-s3cret';
const dict = bundledDictionary();
const USERS: Record<string, string> = {
  alice: 'alice-pw',
  bob: 'b0b-Pass!',
  'NEUTRINET\\carol': 'carol-pw',
  legacy: 'legacy-pw',
};

/** Writes a FreeRADIUS config under `dir` listening on 127.0.0.1 only; returns raddb's path. */
function writeConfig(dir: string, authPort: number, acctPort: number): string {
  const raddb = join(dir, 'raddb');
  cpSync(STOCK_RADDB, raddb, { recursive: true, verbatimSymlinks: true });
  const edit = (file: string, f: (s: string) => string): void => {
    const path = join(raddb, file);
    writeFileSync(path, f(readFileSync(path, 'utf8')));
  };
  edit('radiusd.conf', (s) =>
    s
      .replace(/^logdir = .*$/m, `logdir = ${dir}/log`)
      .replace(/^run_dir = .*$/m, `run_dir = ${dir}/run`)
      .replace(/^(\s*)(user|group) = freerad$/gm, '$1#$2 = freerad')
      .replace(/^(\s*)reject_delay = \d+$/m, '$1reject_delay = 0'),
  );
  // Our own listeners only: the stock ones are on every address and the standard ports.
  // FreeRADIUS before 3.2.5 puts no Message-Authenticator in Access-Accept/Reject unless the
  // reply list holds one (then it computes it): add it, as an operator of 3.2.1 would against
  // BlastRADIUS, except for the user "legacy", who shows what unpatched servers send.
  const addMa = `if (&User-Name != "legacy") {
		update reply {
			&Message-Authenticator := 0x00
		}
	}`;
  edit('sites-available/default', (s) =>
    dropBlocks(s, 'listen')
      .replace(/^post-auth \{$/m, `post-auth {\n\t${addMa}`)
      .replace(/^\tPost-Auth-Type REJECT \{$/m, `\tPost-Auth-Type REJECT {\n\t${addMa}`)
      .replace(
        /^server default \{$/m,
        `server default {
listen {
	type = auth
	ipaddr = 127.0.0.1
	port = ${authPort}
}
listen {
	type = acct
	ipaddr = 127.0.0.1
	port = ${acctPort}
}`,
      ),
  );
  unlinkSync(join(raddb, 'sites-enabled/inner-tunnel')); // it listens on 127.0.0.1:18120
  // require_message_authenticator: FreeRADIUS drops our Access-Requests if M-A is missing.
  writeFileSync(
    join(raddb, 'clients.conf'),
    `client ispkit {
	ipaddr = 127.0.0.1
	secret = ${SECRET}
	require_message_authenticator = yes
	nas_type = other
}
`,
  );
  const esc = (v: string): string => v.replace(/[\\"]/g, (c) => `\\${c}`);
  const users = Object.entries(USERS)
    .map(
      ([u, pw]) => `${u} Cleartext-Password := "${pw}"
	Framed-IP-Address = 80.67.191.6,
	Framed-IPv6-Prefix = 2001:913:1d00:600::/64,
	Delegated-IPv6-Prefix = 2001:913:1d10:100::/56,
	Session-Timeout = 86400,
	Reply-Message = "hello ${esc(u)}"
`,
    )
    .join('\n');
  edit('mods-config/files/authorize', (s) => `${users}\n${s}`);
  return raddb;
}

/** Two free UDP ports on 127.0.0.1 (free now: FreeRADIUS binds them a moment later). */
async function freePorts(): Promise<[number, number]> {
  const probe = async (): Promise<number> => {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  };
  const a = await probe();
  let b = await probe();
  while (b === a) b = await probe();
  return [a, b];
}

interface Server {
  child: ChildProcess;
  authPort: number;
  acctPort: number;
  log: () => string;
}

/** Starts `freeradius -X`, resolving once it says it is ready (10 s at most). */
function startFreeradius(raddb: string, authPort: number, acctPort: number): Promise<Server> {
  const child = spawn('freeradius', ['-X', '-d', raddb], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const fail = (msg: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${msg}\n--- freeradius output (tail) ---\n${out.slice(-4000)}`));
    };
    const timer = setTimeout(() => fail('FreeRADIUS was not ready within 10 s'), 10_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('Ready to process requests')) {
        clearTimeout(timer);
        resolve({ child, authPort, acctPort, log: () => out });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', (e) => fail(`cannot run freeradius: ${e.message}`));
    child.on('exit', (code) => fail(`freeradius exited with ${code}`));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

describe.skipIf(missing.length > 0)('our RadiusClient ↔ FreeRADIUS', () => {
  let dir = '';
  let server: Server | undefined;
  let auth: RadiusClient;
  let acct: RadiusClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-fr-'));
    // Another run may grab the ports between our probe and FreeRADIUS's bind: retry then.
    for (let attempt = 0; attempt < 3 && !server; attempt++) {
      const [authPort, acctPort] = await freePorts();
      rmSync(join(dir, 'raddb'), { recursive: true, force: true });
      const raddb = writeConfig(dir, authPort, acctPort);
      try {
        server = await startFreeradius(raddb, authPort, acctPort);
      } catch (e) {
        if (attempt === 2 || !String(e).includes('in use')) throw e;
      }
    }
    if (!server) throw new Error('FreeRADIUS did not start');
    const opts = { host: '127.0.0.1', secret: Buffer.from(SECRET), dictionary: dict };
    auth = new RadiusClient({ ...opts, port: server.authPort, timeoutMs: 2000, retries: 1 });
    acct = new RadiusClient({ ...opts, port: server.acctPort, timeoutMs: 2000, retries: 1 });
  });

  afterAll(async () => {
    if (process.env.ISPKIT_FR_LOG) writeFileSync(process.env.ISPKIT_FR_LOG, server?.log() ?? '');
    auth?.close();
    acct?.close();
    if (server) await stop(server.child);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const nas = { 'NAS-IP-Address': '127.0.0.1', 'NAS-Port-Type': 'Ethernet' } as const;

  /**
   * The reply, which our client verified, Message-Authenticator included. (FreeRADIUS 3.2.1
   * puts it where the reply list has it, last here; from 3.2.5 on it goes first.)
   */
  async function send(p: Packet): Promise<Packet> {
    const reply = await auth.send(p);
    expect(reply.has('Message-Authenticator')).toBe(true);
    return reply;
  }

  function expectProfile(reply: Packet, user: string): void {
    expect(reply.codeName).toBe('Access-Accept');
    expect(reply.get('Framed-IP-Address')).toBe('80.67.191.6');
    expect(reply.get('Framed-IPv6-Prefix')).toBe('2001:913:1d00:600::/64');
    expect(reply.get('Delegated-IPv6-Prefix')).toBe('2001:913:1d10:100::/56');
    expect(reply.get('Session-Timeout')).toBe(86400);
    expect(reply.get('Reply-Message')).toBe(`hello ${user}`);
  }

  it('PAP: Access-Accept for the right password, Access-Reject for a wrong one', async () => {
    expectProfile(await send(papRequest(dict, 'alice', 'alice-pw', nas)), 'alice');
    expect((await send(papRequest(dict, 'alice', 'wrong', nas))).codeName).toBe('Access-Reject');
    expect((await send(papRequest(dict, 'nobody', 'x', nas))).codeName).toBe('Access-Reject');
  });

  it('CHAP, with CHAP-Challenge and with the Request Authenticator', async () => {
    expectProfile(await send(chapRequest(dict, 'bob', 'b0b-Pass!', nas)), 'bob');
    const viaAuth = chapRequest(dict, 'bob', 'b0b-Pass!', nas, { challenge: 'authenticator' });
    expectProfile(await send(viaAuth), 'bob');
    expect((await send(chapRequest(dict, 'bob', 'b0b-pass!', nas))).codeName).toBe('Access-Reject');
  });

  it('MS-CHAPv1: Accept with MS-CHAP-MPPE-Keys we can predict, Reject with MS-CHAP-Error', async () => {
    const reply = await send(msChapV1Request(dict, 'alice', 'alice-pw', nas));
    expectProfile(reply, 'alice');
    const keys = reply.get('MS-CHAP-MPPE-Keys');
    expect(Buffer.isBuffer(keys)).toBe(true);
    const ntHash = crypto.ntPasswordHash('alice-pw');
    // 8 zero octets where the LM key would be, then NtPasswordHashHash (RFC 3079 §2.4 starts
    // from it): FreeRADIUS sends no LM key even with a Cleartext-Password.
    expect((keys as Buffer).toString('hex')).toBe(crypto.mschapV1MppeKeys(ntHash).toString('hex'));
    expect(reply.get('MS-MPPE-Encryption-Policy')).toBe('Encryption-Allowed');
    expect(reply.get('MS-MPPE-Encryption-Types')).toBe('RC4-40or128-bit-Allowed');

    const bad = await send(msChapV1Request(dict, 'alice', 'alice-pW', nas, { ident: 7 }));
    expect(bad.codeName).toBe('Access-Reject');
    // Ident (the request's) then the text.
    const err = Buffer.from(String(bad.get('MS-CHAP-Error')), 'latin1');
    expect(err[0]).toBe(7);
    expect(err.subarray(1).toString()).toMatch(/^E=691 R=1 C=[0-9a-f]{16} V=2$/);
  });

  it('MS-CHAPv2: MS-CHAP2-Success verifies and the MPPE keys are the RFC 3079 ones', async () => {
    const request = msChapV2Request(dict, 'bob', 'b0b-Pass!', nas);
    const reply = await send(request);
    expectProfile(reply, 'bob');
    expect(verifyMsChapV2Success(reply, request, 'b0b-Pass!')).toBe(true);
    expect(verifyMsChapV2Success(reply, request, 'b0b-pass!')).toBe(false);
    const ntResponse = (request.get('MS-CHAP2-Response') as Buffer).subarray(26);
    const { sendKey, recvKey } = crypto.mschapV2ServerKeys(
      crypto.ntPasswordHash('b0b-Pass!'),
      ntResponse,
    );
    expect((reply.get('MS-MPPE-Send-Key') as Buffer).toString('hex')).toBe(sendKey.toString('hex'));
    expect((reply.get('MS-MPPE-Recv-Key') as Buffer).toString('hex')).toBe(recvKey.toString('hex'));

    const bad = await send(msChapV2Request(dict, 'bob', 'wrong', nas, { ident: 9 }));
    expect(bad.codeName).toBe('Access-Reject');
    const err = Buffer.from(String(bad.get('MS-CHAP-Error')), 'latin1');
    expect(err[0]).toBe(9);
    expect(err.subarray(1).toString()).toMatch(/^E=691 R=1 C=[0-9a-f]{32} V=3 M=.+$/);
  });

  it('MS-CHAPv2 with a DOMAIN\\user name: both sides hash the name without the domain', async () => {
    const request = msChapV2Request(dict, 'NEUTRINET\\carol', 'carol-pw', nas);
    const reply = await send(request);
    expectProfile(reply, 'NEUTRINET\\carol');
    expect(verifyMsChapV2Success(reply, request, 'carol-pw')).toBe(true);
  });

  it('a reply without Message-Authenticator is dropped unless the client allows it', async () => {
    const strict = new RadiusClient({
      host: '127.0.0.1',
      port: server?.authPort ?? 0,
      secret: Buffer.from(SECRET),
      dictionary: dict,
      timeoutMs: 300,
      retries: 1,
    });
    const lax = new RadiusClient({
      host: '127.0.0.1',
      port: server?.authPort ?? 0,
      secret: Buffer.from(SECRET),
      dictionary: dict,
      requireMessageAuthenticator: false,
    });
    try {
      await expect(strict.send(papRequest(dict, 'legacy', 'legacy-pw', nas))).rejects.toMatchObject(
        {
          code: 'TIMEOUT',
        },
      );
      // Both sends were answered, and both answers were dropped.
      expect(strict.counters).toMatchObject({ sent: 1, retransmits: 1, badReplies: 2 });
      const reply = await lax.send(papRequest(dict, 'legacy', 'legacy-pw', nas));
      expectProfile(reply, 'legacy');
      expect(reply.has('Message-Authenticator')).toBe(false);
    } finally {
      strict.close();
      lax.close();
    }
  });

  it('Accounting-Request: FreeRADIUS verifies our Request Authenticator and answers', async () => {
    const start = createPacket(dict, 'Accounting-Request', {
      ...nas,
      'User-Name': 'alice',
      'Acct-Status-Type': 'Start',
      'Acct-Session-Id': 'ispkit-interop-1',
      'Framed-IP-Address': '80.67.191.6',
    });
    expect((await acct.send(start)).codeName).toBe('Accounting-Response');
    expect(acct.counters).toMatchObject({ timeouts: 0, badReplies: 0 });
  });

  it('every reply verified: nothing dropped, nothing retransmitted', () => {
    expect(auth.counters).toMatchObject({ badReplies: 0, timeouts: 0, retransmits: 0 });
    const { sent, replies } = auth.counters;
    expect(sent).toBeGreaterThan(0);
    expect(replies).toBe(sent);
  });
});
