// FreeRADIUS's radclient (Debian freeradius-utils) against our codec, both directions: radclient
// encodes requests that our decoder must read and verify; our encoder builds replies that
// radclient must accept and print exactly as our formatAttributes prints them.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  bundledDictionary,
  createPacket,
  crypto,
  decodePacket,
  encodePacket,
  formatAttributes,
} from '../../src/radius/index.js';
import type { Packet } from '../../src/radius/index.js';

const missing = ['radclient'].filter(
  (b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0,
);
const why = `${missing.join(', ')} not installed: run scripts/install-interop-deps.sh`;
if (missing.length > 0) {
  if (process.env.CI === 'true') {
    describe('radclient interop', () => {
      it('needs the Debian packages under CI=true', () => {
        throw new Error(why);
      });
    });
  } else console.warn(`skipping radclient interop tests: ${why}`);
}

const dict = bundledDictionary();
const SECRET = 'interop-s3cret';
const secret = Buffer.from(SECRET);
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
// RFC 3079 §3.5 server keys for the RFC 2759 example (see radius-anchors §6, derived values).
const SEND_KEY = hex('8b7cdc149b993a1ba118cb153f56dccb');
const RECV_KEY = hex('d5f0e9521e3ea9589645e86051c82226');
const V1_KEYS = hex('000000000000000041c00c584bd2d91c4017a2a12fa59f3f');

type Handler = (req: Packet, raw: Buffer) => Buffer | undefined;

interface Run {
  code: number | null;
  out: string;
}

describe.skipIf(missing.length > 0)('radclient ↔ our codec', () => {
  let socket: Socket;
  let port = 0;
  let handler: Handler = () => undefined;
  const received: Buffer[] = [];

  beforeAll(async () => {
    socket = createSocket('udp4');
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      received.push(Buffer.from(msg));
      const out = handler(decodePacket(msg, dict, { secret }), msg);
      if (out) socket.send(out, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    port = socket.address().port;
  });
  afterAll(() => socket.close());

  /** Runs radclient with `input` on stdin; killed after 10 s whatever happens. */
  function radclient(kind: 'auth' | 'acct', input: string, key = SECRET): Promise<Run> {
    received.length = 0;
    return new Promise((resolve, reject) => {
      // -r counts sends (0 is refused): one send, one second to answer.
      const args = ['-x', '-t', '1', '-r', '1', `127.0.0.1:${port}`, kind, key];
      const child = spawn('radclient', args, { env: { ...process.env, TZ: 'UTC' } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('error', reject);
      child.stdin.on('error', () => undefined); // radclient may exit before reading all
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
      child.stdin.end(input);
    });
  }

  /** The attribute lines radclient printed under "Received <code> …". */
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

  /** Encodes `reply` to answer `req`, and how our own decoder prints those octets. */
  function encodeReply(
    req: Packet,
    reply: Packet,
    key = secret,
  ): { bytes: Buffer; lines: string[] } {
    const bytes = encodePacket(reply, { secret: key, requestAuthenticator: req.authenticator });
    const back = decodePacket(bytes, dict, { secret, requestAuthenticator: req.authenticator });
    return { bytes, lines: formatAttributes(back.attributes) };
  }

  function richAccept(req: Packet): Packet {
    const reply = createPacket(
      dict,
      'Access-Accept',
      {
        'Service-Type': 'Framed-User',
        'Framed-Protocol': 'PPP',
        'Framed-IP-Address': '80.67.191.6',
        'Framed-IPv6-Prefix': '2001:913:1d00:600::/64',
        'Delegated-IPv6-Prefix': '2001:913:1d10:100::/56',
        'Session-Timeout': 86400,
        'Acct-Interim-Interval': 300,
        Class: hex('6973706b69742d31'),
        'Reply-Message': 'Bienvenue "membre" \\ ok',
        'MS-MPPE-Encryption-Policy': 'Encryption-Allowed',
        'MS-MPPE-Encryption-Types': 'RC4-40or128-bit-Allowed',
        'MS-MPPE-Send-Key': SEND_KEY,
        'MS-MPPE-Recv-Key': RECV_KEY,
        'MS-CHAP-MPPE-Keys': V1_KEYS,
        'Mikrotik-Rate-Limit': '100M/1G',
        'Event-Timestamp': new Date('2025-04-08T10:11:32Z'),
        'Framed-Route': '2001:913:1d10:100::/56 :: 1',
      },
      { identifier: req.identifier },
    );
    reply.add('Tunnel-Type', 'L2TP', 1);
    reply.add('Tunnel-Password', 'tunnel-pw', 1);
    return reply.withMessageAuthenticator();
  }

  it('PAP: our decoder reveals User-Password and verifies the M-A radclient computed', async () => {
    let req: Packet | undefined;
    let raw: Buffer | undefined;
    let ours: string[] = [];
    let wire: Buffer | undefined;
    handler = (r, b) => {
      req = r;
      raw = b;
      const { bytes, lines } = encodeReply(r, richAccept(r));
      ours = lines;
      wire = bytes;
      return bytes;
    };
    const input =
      'User-Name = "bob", User-Password = "correct horse", Message-Authenticator = 0x00, NAS-IP-Address = 127.0.0.1';
    const run = await radclient('auth', input);
    expect(receivedLines(run.out, 'Access-Accept')).toBeDefined();
    expect(run.code).toBe(0);
    if (!req || !raw || !wire) throw new Error('radclient sent nothing');
    expect(req.get('User-Password')).toBe('correct horse');
    expect(req.get('User-Name')).toBe('bob');
    const ma = req.messageAuthenticatorOffset;
    expect(ma).toBeDefined();
    expect(crypto.verifyMessageAuthenticator(raw, ma ?? 0, req.authenticator, secret)).toBe(true);
    expect(
      crypto.verifyMessageAuthenticator(raw, ma ?? 0, req.authenticator, Buffer.from('x')),
    ).toBe(false);

    // Both directions byte-exact: radclient's text of our reply is our text of it.
    const theirs = receivedLines(run.out, 'Access-Accept');
    expect(ours).toHaveLength(20);
    expect(theirs).toEqual(ours);
    // radclient decrypted the salt-encrypted (MS-MPPE-*-Key, Tunnel-Password) and the
    // User-Password-style (MS-CHAP-MPPE-Keys) values with the request authenticator.
    expect(theirs).toContain(`MS-MPPE-Send-Key = 0x${SEND_KEY.toString('hex')}`);
    expect(theirs).toContain(`MS-MPPE-Recv-Key = 0x${RECV_KEY.toString('hex')}`);
    expect(theirs).toContain(`MS-CHAP-MPPE-Keys = 0x${V1_KEYS.toString('hex')}`);
    expect(theirs).toContain('Tunnel-Password:1 = "tunnel-pw"');
    expect(wire.includes(SEND_KEY)).toBe(false);
    expect(wire.includes(V1_KEYS.subarray(8))).toBe(false);
  });

  it('CHAP with the Request Authenticator as challenge, answered by an Access-Reject', async () => {
    let req: Packet | undefined;
    handler = (r) => {
      req = r;
      const reject = createPacket(
        dict,
        'Access-Reject',
        { 'Reply-Message': 'no' },
        { identifier: r.identifier },
      );
      return encodeReply(r, reject.withMessageAuthenticator()).bytes;
    };
    const run = await radclient('auth', 'User-Name = "bob", CHAP-Password = "chap-pw"');
    expect(receivedLines(run.out, 'Access-Reject')).toBeDefined();
    expect(receivedLines(run.out, 'Access-Reject')).toContain('Reply-Message = "no"');
    if (!req) throw new Error('radclient sent nothing');
    expect(req.has('CHAP-Challenge')).toBe(false);
    const cp = req.get('CHAP-Password') as Buffer;
    expect(crypto.verifyChap(cp, Buffer.from('chap-pw'), req.authenticator)).toBe(true);
    expect(crypto.verifyChap(cp, Buffer.from('chap-pX'), req.authenticator)).toBe(false);
  });

  it('CHAP with a CHAP-Challenge attribute', async () => {
    let req: Packet | undefined;
    handler = (r) => {
      req = r;
      return encodeReply(r, richAccept(r)).bytes;
    };
    const challenge = '00112233445566778899aabbccddeeff01';
    const run = await radclient(
      'auth',
      `User-Name = "bob", CHAP-Password = "pw2", CHAP-Challenge = 0x${challenge}`,
    );
    expect(receivedLines(run.out, 'Access-Accept')).toBeDefined();
    if (!req) throw new Error('radclient sent nothing');
    expect(req.get('CHAP-Challenge')).toEqual(hex(challenge));
    expect(
      crypto.verifyChap(req.get('CHAP-Password') as Buffer, Buffer.from('pw2'), hex(challenge)),
    ).toBe(true);
  });

  it('MS-CHAPv1 as radclient computes it from MS-CHAP-Password', async () => {
    let req: Packet | undefined;
    handler = (r) => {
      req = r;
      return encodeReply(r, richAccept(r)).bytes;
    };
    const run = await radclient('auth', 'User-Name = "bob", MS-CHAP-Password = "ms-pw"');
    expect(receivedLines(run.out, 'Access-Accept')).toBeDefined();
    if (!req) throw new Error('radclient sent nothing');
    const challenge = req.get('MS-CHAP-Challenge') as Buffer;
    const response = req.get('MS-CHAP-Response') as Buffer;
    expect(challenge).toHaveLength(8);
    expect(crypto.verifyMsChapV1(challenge, response, crypto.ntPasswordHash('ms-pw'))).toBe(true);
    expect(crypto.verifyMsChapV1(challenge, response, crypto.ntPasswordHash('ms-pX'))).toBe(false);
  });

  it.each([
    ['Message-Authenticator', true],
    ['Response Authenticator', false],
  ])(
    'radclient refuses our reply when its %s is wrong (the negative control)',
    async (what, ma) => {
      handler = (r) => {
        const reply = createPacket(
          dict,
          'Access-Accept',
          { 'Reply-Message': 'x' },
          { identifier: r.identifier },
        );
        if (ma) reply.withMessageAuthenticator();
        return encodeReply(r, reply, Buffer.from('not-the-secret')).bytes;
      };
      const run = await radclient('auth', 'User-Name = "bob", User-Password = "x"');
      expect(received.length).toBeGreaterThan(0);
      expect(receivedLines(run.out, 'Access-Accept')).toBeUndefined();
      expect(run.out).toContain(`Reply verification failed`);
      expect(run.out).toContain(`invalid ${what}`);
      expect(run.code).not.toBe(0);
    },
  );

  it('Accounting-Request: we verify its authenticator, radclient accepts our response', async () => {
    let req: Packet | undefined;
    let raw: Buffer | undefined;
    handler = (r, b) => {
      req = r;
      raw = b;
      const resp = createPacket(dict, 'Accounting-Response', {}, { identifier: r.identifier });
      return encodePacket(resp, { secret, requestAuthenticator: r.authenticator });
    };
    const input = [
      'User-Name = "bob"',
      'Acct-Status-Type = Interim-Update',
      'Acct-Session-Id = "81004668"',
      'Acct-Input-Octets = 4294967295',
      'Acct-Input-Gigawords = 2',
      'Framed-IP-Address = 80.67.191.6',
      'NAS-IP-Address = 127.0.0.1',
    ].join(', ');
    const run = await radclient('acct', input);
    expect(receivedLines(run.out, 'Accounting-Response')).toBeDefined();
    expect(run.code).toBe(0);
    if (!req || !raw) throw new Error('radclient sent nothing');
    expect(crypto.verifyRequestAuthenticator(raw, secret)).toBe(true);
    expect(crypto.verifyRequestAuthenticator(raw, Buffer.from('x'))).toBe(false);
    expect(req.get('Acct-Status-Type')).toBe('Interim-Update');
    expect(req.get('Acct-Input-Octets')).toBe(4294967295);
    expect(req.get('Acct-Input-Gigawords')).toBe(2);
  });
});
