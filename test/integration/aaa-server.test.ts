// The RADIUS server as a NAS sees it: the real RadiusServer on loopback, with in-memory NAS and
// subscriber lookups and a test clock. Every method, every reject, Proxy-State, the RFC 5080
// duplicate cache, Status-Server, the BlastRADIUS rules and Session-Timeout.
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { md4 } from 'hash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AccountingHandler, RadiusServerOptions } from '../../src/aaa/server.js';
import { RadiusServer } from '../../src/aaa/server.js';
import type { AuthSubscriber, NasClient } from '../../src/aaa/ports.js';
import { createLogger } from '../../src/logging.js';
import type { Packet, PacketAttributes } from '../../src/radius/index.js';
import {
  bundledDictionary,
  chapRequest,
  createPacket,
  crypto,
  decodePacket,
  encodePacket,
  formatAttributes,
  msChapV1Request,
  msChapV2Request,
  papRequest,
  RadiusClient,
  verifyMsChapV2Success,
  verifyPacket,
} from '../../src/radius/index.js';

const dict = bundledDictionary();
const secret = Buffer.from('collecte-s3cret');
const SEED_TIME = Date.parse('2025-04-08T10:11:32Z');
const WINDOW_MS = 5_000;
const SILENCE_MS = 150;

// Each NAS has its own loopback address: the server tells them apart by source address.
const NASES: Record<string, NasClient> = {
  '127.0.0.1': { name: 'collecte', secret, requireMessageAuthenticator: false },
  '127.0.0.2': { name: 'strict-bras', secret, requireMessageAuthenticator: true },
  '127.0.0.3': { name: 'signing-proxy', secret, requireMessageAuthenticator: false },
  '127.0.0.4': { name: 'legacy-proxy', secret, requireMessageAuthenticator: false },
};
const UNKNOWN_SOURCE = '127.0.0.9';

const full: AuthSubscriber = {
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
const v6only: AuthSubscriber = {
  username: 'v6only@NEUTRINET',
  status: 'active',
  password: 'ipv6 forever',
  ipv4: null,
  ipv6Prefix: '2001:913:1d00:700::/64',
  delegatedPrefix: null,
  mtu: null,
  portLimit: null,
  interim: 120,
};
const suspended: AuthSubscriber = { ...full, username: 'unpaid@NEUTRINET', password: 'pw' };
const slow: AuthSubscriber = { ...full, username: 'slow@NEUTRINET' };
// Longer than one 16-octet User-Password block, and not ASCII (UTF-8 for PAP/CHAP, UTF-16LE for MS-CHAP).
const longPw: AuthSubscriber = {
  ...full,
  username: 'long@NEUTRINET',
  password: 'Ça passe: une phrase de passe très longue, 50+ octets',
};
const SUBSCRIBERS = [full, v6only, { ...suspended, status: 'suspended' as const }, slow, longPw];

/** How often the server asked for each User-Name: a cached duplicate must not ask again. */
const lookups = new Map<string, number>();
const calls = (user: string): number => lookups.get(user) ?? 0;
const accountingRecords: Packet[] = [];

let clock = SEED_TIME;
const servers: RadiusServer[] = [];

async function startServer(over: Partial<RadiusServerOptions> = {}): Promise<RadiusServer> {
  const accounting: AccountingHandler = {
    record: (req) => {
      accountingRecords.push(req);
      return Promise.resolve(true);
    },
  };
  const server = new RadiusServer({
    dictionary: dict,
    nas: { lookup: (a) => Promise.resolve(NASES[a]) },
    subscribers: {
      findForAuth: async (u) => {
        lookups.set(u, calls(u) + 1);
        const sub = SUBSCRIBERS.find((s) => s.username.toLowerCase() === u.toLowerCase());
        if (sub === slow) await new Promise((r) => setTimeout(r, 100));
        return sub;
      },
    },
    accounting,
    listen: ['127.0.0.1'],
    authPort: 0,
    acctPort: 0,
    duplicateWindowMs: WINDOW_MS,
    receiveBuffer: 1 << 20,
    interimInterval: 60,
    reconnect: { enabled: true, at: '00:00', timeZone: 'UTC' },
    mppe: { encryptionPolicy: 2, encryptionTypes: 4 },
    logger: createLogger('silent'),
    now: () => clock,
    ...over,
  });
  await server.start();
  servers.push(server);
  return server;
}

function portOf(server: RadiusServer, kind: 'auth' | 'acct'): number {
  const a = server.addresses().find((b) => b.kind === kind);
  if (!a) throw new Error(`no ${kind} listener`);
  return a.port;
}

const clients: RadiusClient[] = [];
function client(
  port: number,
  opts: { from?: string; secret?: Buffer; timeoutMs?: number } = {},
): RadiusClient {
  const c = new RadiusClient({
    host: '127.0.0.1',
    port,
    secret: opts.secret ?? secret,
    dictionary: dict,
    timeoutMs: opts.timeoutMs ?? 1_000,
    retries: 0,
    ...(opts.from ? { localAddress: opts.from } : {}),
  });
  clients.push(c);
  return c;
}

/** A UDP socket bound to a loopback address, to send exactly the octets we want. */
class RawNas {
  private readonly replies: Buffer[] = [];
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg) => {
      this.replies.push(Buffer.from(msg));
      this.waiter?.();
    });
  }

  static async open(address = '127.0.0.1'): Promise<RawNas> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new RawNas(socket);
  }

  /** Sends and waits for one reply; undefined when none came within `waitMs`. */
  async exchange(bytes: Buffer, port: number, waitMs = 1_000): Promise<Buffer | undefined> {
    this.replies.length = 0;
    this.socket.send(bytes, port, '127.0.0.1');
    return this.next(waitMs);
  }

  next(waitMs: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(this.replies.shift());
      };
      const timer = setTimeout(done, waitMs);
      if (this.replies.length > 0) done();
      else this.waiter = done;
    });
  }

  /** Every datagram that arrives within `ms`. */
  async collect(ms: number): Promise<Buffer[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.replies.splice(0);
  }

  close(): void {
    this.socket.close();
  }
}

/** Encodes a request as a NAS would; `sign: false` leaves Message-Authenticator out. */
function wire(p: Packet, opts: { ma: boolean; key?: Buffer }): Buffer {
  if (opts.ma) p.withMessageAuthenticator();
  return encodePacket(p, { secret: opts.key ?? secret });
}

/** Decodes a reply to `request` and checks both of its signatures. */
function readReply(bytes: Buffer, request: Buffer): Packet {
  const requestAuthenticator = request.subarray(4, 20);
  const reply = decodePacket(bytes, dict, { secret, requestAuthenticator });
  expect(verifyPacket(reply, secret, requestAuthenticator)).toEqual({
    authenticator: 'ok',
    messageAuthenticator: 'ok',
  });
  return reply;
}

/** What every reply must look like: Message-Authenticator is the first attribute (BlastRADIUS). */
function expectMessageAuthenticatorFirst(reply: Packet): void {
  expect(reply.attributes[0]?.def.name).toBe('Message-Authenticator');
  // On the wire too: type 80, length 18, right after the header.
  expect(reply.raw?.subarray(20, 22)).toEqual(Buffer.of(80, 18));
}

const lines = (reply: Packet): string[] =>
  formatAttributes(reply.attributes).filter((l) => !l.startsWith('Message-Authenticator = '));

/** FreeRADIUS's MS-CHAP hashes, computed here with hash-wasm, apart from src/radius/crypto. */
async function ntHash(password: string): Promise<Buffer> {
  return Buffer.from(await md4(Buffer.from(password, 'utf16le')), 'hex');
}
async function ntHashHash(password: string): Promise<Buffer> {
  return Buffer.from(await md4(await ntHash(password)), 'hex');
}

const sha1 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};
const MAGIC1 = Buffer.from('This is the MPPE Master Key');
const MAGIC2 = Buffer.from(
  'On the client side, this is the send key; on the server side, it is the receive key.',
);
const MAGIC3 = Buffer.from(
  'On the client side, this is the receive key; on the server side, it is the send key.',
);

/** RFC 3079 §3: the server's 128-bit MS-MPPE-Send-Key and MS-MPPE-Recv-Key. */
function rfc3079ServerKeys(hashHash: Buffer, ntResponse: Buffer): { send: Buffer; recv: Buffer } {
  const master = sha1(hashHash, ntResponse, MAGIC1).subarray(0, 16);
  const pad1 = Buffer.alloc(40, 0x00);
  const pad2 = Buffer.alloc(40, 0xf2);
  return {
    send: sha1(master, pad1, MAGIC3, pad2).subarray(0, 16),
    recv: sha1(master, pad1, MAGIC2, pad2).subarray(0, 16),
  };
}

let server: RadiusServer;
let authPort: number;
let acctPort: number;
let collecte: RadiusClient;

beforeAll(async () => {
  server = await startServer();
  authPort = portOf(server, 'auth');
  acctPort = portOf(server, 'acct');
  collecte = client(authPort);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.stop(100)));
});

// The full subscriber's reply at 10:11:32 UTC, as radiusd -X would print it (M-A aside).
const FULL_ACCEPT = [
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
const MPPE_POLICY = [
  'MS-MPPE-Encryption-Policy = Encryption-Required',
  'MS-MPPE-Encryption-Types = 4',
];
const NAS_ATTRS: PacketAttributes = { 'NAS-IP-Address': '100.64.57.40', 'NAS-Port': 15746666 };

describe('Access-Accept, each authentication method', () => {
  it('PAP: the subscriber reply attributes, Message-Authenticator first, no MPPE', async () => {
    clock = SEED_TIME;
    const reply = await collecte.send(papRequest(dict, full.username, full.password, NAS_ATTRS));
    expect(reply.codeName).toBe('Access-Accept');
    expectMessageAuthenticatorFirst(reply);
    expect(lines(reply)).toEqual([...FULL_ACCEPT, 'Session-Timeout = 49708']);
  });

  it('a subscriber without IPv4, MTU or port limit gets none of those, not empty ones', async () => {
    clock = SEED_TIME;
    const reply = await collecte.send(papRequest(dict, v6only.username, v6only.password));
    expect(reply.codeName).toBe('Access-Accept');
    expectMessageAuthenticatorFirst(reply);
    expect(lines(reply)).toEqual([
      'Framed-IPv6-Prefix = 2001:913:1d00:700::/64',
      'Service-Type = Framed-User',
      'Framed-Protocol = PPP',
      'Acct-Interim-Interval = 120',
      'Session-Timeout = 49708',
    ]);
    for (const absent of [
      'Framed-IP-Address',
      'Framed-IP-Netmask',
      'Delegated-IPv6-Prefix',
      'Framed-MTU',
      'Port-Limit',
    ])
      expect(reply.has(absent), absent).toBe(false);
  });

  it('CHAP with a CHAP-Challenge attribute', async () => {
    clock = SEED_TIME;
    const req = chapRequest(dict, full.username, full.password, NAS_ATTRS);
    expect(req.has('CHAP-Challenge')).toBe(true);
    const reply = await collecte.send(req);
    expect(reply.codeName).toBe('Access-Accept');
    expectMessageAuthenticatorFirst(reply);
    expect(lines(reply)).toEqual([...FULL_ACCEPT, 'Session-Timeout = 49708']);
  });

  it('CHAP with the Request Authenticator as the challenge (no CHAP-Challenge)', async () => {
    const req = chapRequest(dict, full.username, full.password, NAS_ATTRS, {
      challenge: 'authenticator',
    });
    expect(req.has('CHAP-Challenge')).toBe(false);
    const reply = await collecte.send(req);
    expect(reply.codeName).toBe('Access-Accept');
    expect(reply.get('Framed-IP-Address')).toBe('80.67.191.6');
  });

  it.each([
    ['PAP', papRequest],
    ['CHAP', chapRequest],
    ['MS-CHAPv1', msChapV1Request],
    ['MS-CHAPv2', msChapV2Request],
  ])('%s with a long non-ASCII password', async (_name, build) => {
    const reply = await collecte.send(build(dict, longPw.username, longPw.password));
    expect(reply.codeName).toBe('Access-Accept');
    const wrong = await collecte.send(build(dict, longPw.username, `${longPw.password}!`));
    expect(wrong.codeName).toBe('Access-Reject');
  });

  it('MS-CHAPv1: MS-CHAP-MPPE-Keys decrypts to 8 zero octets + MD4(MD4(password))', async () => {
    clock = SEED_TIME;
    const req = msChapV1Request(dict, full.username, full.password, NAS_ATTRS);
    const reply = await collecte.send(req);
    expect(reply.codeName).toBe('Access-Accept');
    expectMessageAuthenticatorFirst(reply);
    const hashHash = await ntHashHash(full.password);
    const keys = reply.get('MS-CHAP-MPPE-Keys');
    expect(keys).toEqual(Buffer.concat([Buffer.alloc(8), hashHash]));
    // …and it is not sent in clear.
    expect(reply.raw?.includes(hashHash)).toBe(false);
    expect(lines(reply)).toEqual([
      ...FULL_ACCEPT,
      `MS-CHAP-MPPE-Keys = 0x0000000000000000${hashHash.toString('hex')}`,
      ...MPPE_POLICY,
      'Session-Timeout = 49708',
    ]);
    expect(reply.has('MS-CHAP2-Success')).toBe(false);
  });

  it('MS-CHAPv2: MS-CHAP2-Success proves the password, MPPE keys as RFC 3079 derives them', async () => {
    clock = SEED_TIME;
    // The helper below is checked against the RFC 2759/3079 example first (radius-anchors §6).
    const rfc = rfc3079ServerKeys(
      Buffer.from('41c00c584bd2d91c4017a2a12fa59f3f', 'hex'),
      Buffer.from('82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df', 'hex'),
    );
    expect(rfc.send.toString('hex')).toBe('8b7cdc149b993a1ba118cb153f56dccb');
    expect(rfc.recv.toString('hex')).toBe('d5f0e9521e3ea9589645e86051c82226');

    const req = msChapV2Request(dict, full.username, full.password, NAS_ATTRS);
    const reply = await collecte.send(req);
    expect(reply.codeName).toBe('Access-Accept');
    expectMessageAuthenticatorFirst(reply);
    expect(verifyMsChapV2Success(reply, req, full.password)).toBe(true);
    expect(verifyMsChapV2Success(reply, req, 'another password')).toBe(false);
    const success = reply.get('MS-CHAP2-Success') as Buffer;
    const response = req.get('MS-CHAP2-Response') as Buffer;
    expect(success[0]).toBe(response[0]);
    expect(success.subarray(1).toString('latin1')).toMatch(/^S=[0-9A-F]{40}$/);

    const keys = rfc3079ServerKeys(await ntHashHash(full.password), response.subarray(26, 50));
    expect(reply.get('MS-MPPE-Send-Key')).toEqual(keys.send);
    expect(reply.get('MS-MPPE-Recv-Key')).toEqual(keys.recv);
    expect(reply.raw?.includes(keys.send)).toBe(false);
    expect(reply.raw?.includes(keys.recv)).toBe(false);
    for (const l of [...FULL_ACCEPT, ...MPPE_POLICY, 'Session-Timeout = 49708'])
      expect(lines(reply)).toContain(l);
  });
});

describe('Access-Reject, with a Reply-Message and Message-Authenticator first', () => {
  async function rejected(req: Packet): Promise<Packet> {
    const reply = await collecte.send(req);
    expect(reply.codeName).toBe('Access-Reject');
    expectMessageAuthenticatorFirst(reply);
    expect(reply.has('Framed-IP-Address')).toBe(false);
    expect(reply.has('Session-Timeout')).toBe(false);
    return reply;
  }

  it('unknown user', async () => {
    const reply = await rejected(papRequest(dict, 'nobody@NEUTRINET', 'x'));
    expect(reply.get('Reply-Message')).toMatch(/unknown user/i);
  });

  it('wrong password: PAP', async () => {
    const reply = await rejected(papRequest(dict, full.username, 'wrong horse'));
    expect(reply.get('Reply-Message')).toMatch(/wrong password/i);
  });

  it('wrong password: CHAP', async () => {
    const reply = await rejected(chapRequest(dict, full.username, 'wrong horse'));
    expect(reply.get('Reply-Message')).toMatch(/wrong password/i);
  });

  it('wrong password: MS-CHAPv1, with MS-CHAP-Error E=691 and the challenge', async () => {
    const req = msChapV1Request(dict, full.username, 'wrong horse', {}, { ident: 0x42 });
    const reply = await rejected(req);
    expect(reply.get('Reply-Message')).toMatch(/wrong password/i);
    // MS-CHAP-Error is a string in the dictionaries: Ident octet, then the text.
    const err = String(reply.get('MS-CHAP-Error'));
    expect(err.charCodeAt(0)).toBe(0x42);
    const challenge = (req.get('MS-CHAP-Challenge') as Buffer).toString('hex');
    expect(err.slice(1)).toBe(`E=691 R=1 C=${challenge} V=2`);
    expect(reply.has('MS-CHAP-MPPE-Keys')).toBe(false);
  });

  it('wrong password: MS-CHAPv2, with MS-CHAP-Error E=691 and no MS-CHAP2-Success', async () => {
    const req = msChapV2Request(dict, full.username, 'wrong horse', {}, { ident: 7 });
    const reply = await rejected(req);
    expect(reply.get('Reply-Message')).toMatch(/wrong password/i);
    const err = String(reply.get('MS-CHAP-Error'));
    expect(err.charCodeAt(0)).toBe(7);
    expect(err.slice(1)).toMatch(/^E=691 R=1 C=[0-9a-f]{32} V=3 M=/);
    expect(reply.has('MS-CHAP2-Success')).toBe(false);
    expect(reply.has('MS-MPPE-Send-Key')).toBe(false);
  });

  it('suspended subscriber, even with the right password', async () => {
    const reply = await rejected(papRequest(dict, suspended.username, suspended.password));
    expect(reply.get('Reply-Message')).toMatch(/suspended/i);
  });

  it('EAP-Message: EAP is not supported, says the Reply-Message', async () => {
    const req = createPacket(dict, 'Access-Request', {
      'User-Name': full.username,
      'EAP-Message': Buffer.from('0201000e01' + Buffer.from(full.username).toString('hex'), 'hex'),
    });
    const reply = await rejected(req);
    expect(reply.get('Reply-Message')).toMatch(/EAP is not supported/);
  });

  it('no credentials at all', async () => {
    const reply = await rejected(
      createPacket(dict, 'Access-Request', { 'User-Name': full.username }),
    );
    expect(reply.get('Reply-Message')).toMatch(/\S/);
  });

  it('no User-Name', async () => {
    const reply = await rejected(createPacket(dict, 'Access-Request', { 'User-Password': 'x' }));
    expect(reply.get('Reply-Message')).toMatch(/User-Name/);
  });
});

describe('Proxy-State', () => {
  const states = [Buffer.from('3333', 'hex'), Buffer.from('proxy-2'), Buffer.of(0, 1, 2, 0xff)];

  it('three Proxy-States come back in the same order in an Access-Accept', async () => {
    const req = msChapV1Request(dict, full.username, full.password, { 'Proxy-State': states });
    const reply = await collecte.send(req);
    expect(reply.codeName).toBe('Access-Accept');
    expect(reply.getAll('Proxy-State')).toEqual(states);
  });

  it('…and in an Access-Reject', async () => {
    const req = papRequest(dict, full.username, 'wrong', { 'Proxy-State': states });
    const reply = await collecte.send(req);
    expect(reply.codeName).toBe('Access-Reject');
    expect(reply.getAll('Proxy-State')).toEqual(states);
  });
});

describe('duplicates (RFC 5080 §2.2.2)', () => {
  let nas: RawNas;
  beforeAll(async () => {
    nas = await RawNas.open('127.0.0.1');
  });
  afterAll(() => nas.close());

  // MS-CHAPv2 replies carry fresh salts: a re-evaluated request never gets the same octets.
  const request = (id: number): Buffer => {
    const p = msChapV2Request(dict, full.username, full.password, NAS_ATTRS);
    p.identifier = id;
    return wire(p, { ma: true });
  };

  it('a retransmission gets the same octets back, and is not evaluated again', async () => {
    clock = SEED_TIME;
    const bytes = request(77);
    const before = calls(full.username);
    const dupsBefore = server.counters.duplicates;
    const first = await nas.exchange(bytes, authPort);
    if (!first) throw new Error('no reply');
    expect(readReply(first, bytes).codeName).toBe('Access-Accept');
    const second = await nas.exchange(bytes, authPort);
    expect(second).toEqual(first);
    expect(calls(full.username)).toBe(before + 1);
    expect(server.counters.duplicates).toBe(dupsBefore + 1);
  });

  it('the same Identifier with another authenticator is a new request, evaluated again', async () => {
    const a = request(78);
    const b = request(78);
    expect(a[1]).toBe(b[1]);
    const first = await nas.exchange(a, authPort);
    const before = calls(full.username);
    const second = await nas.exchange(b, authPort);
    if (!first || !second) throw new Error('no reply');
    expect(calls(full.username)).toBe(before + 1);
    expect(second.equals(first)).toBe(false);
    expect(readReply(second, b).codeName).toBe('Access-Accept');
  });

  it('after the window a resend is evaluated again', async () => {
    clock = SEED_TIME;
    const bytes = request(79);
    const first = await nas.exchange(bytes, authPort);
    clock += WINDOW_MS - 1;
    expect(await nas.exchange(bytes, authPort)).toEqual(first);
    const before = calls(full.username);
    clock += 2;
    const late = await nas.exchange(bytes, authPort);
    if (!first || !late) throw new Error('no reply');
    expect(calls(full.username)).toBe(before + 1);
    expect(late.equals(first)).toBe(false);
    expect(readReply(late, bytes).codeName).toBe('Access-Accept');
    clock = SEED_TIME;
  });

  it('a packet with a bad Message-Authenticator does not evict the cached answer', async () => {
    const bytes = request(80);
    const first = await nas.exchange(bytes, authPort);
    const forged = request(80);
    // Flip the NT-Response's last octet: the Message-Authenticator no longer matches.
    forged.writeUInt8((forged.at(-1) ?? 0) ^ 0xff, forged.length - 1);
    const bad = server.counters.dropped.badMessageAuthenticator;
    expect(await nas.exchange(forged, authPort, SILENCE_MS)).toBeUndefined();
    expect(server.counters.dropped.badMessageAuthenticator).toBe(bad + 1);
    const before = calls(full.username);
    expect(await nas.exchange(bytes, authPort)).toEqual(first);
    expect(calls(full.username)).toBe(before);
  });

  it('a retransmission while the first is still being evaluated gets no second answer', async () => {
    const p = papRequest(dict, slow.username, slow.password);
    p.identifier = 81;
    const bytes = wire(p, { ma: true });
    const before = calls(slow.username);
    nas.socket.send(bytes, authPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
    nas.socket.send(bytes, authPort, '127.0.0.1');
    const got = await nas.collect(300);
    expect(got).toHaveLength(1);
    expect(calls(slow.username)).toBe(before + 1);
    // Once answered, a further resend is served from the cache.
    expect(await nas.exchange(bytes, authPort)).toEqual(got[0]);
    expect(calls(slow.username)).toBe(before + 1);
  });
});

describe('Status-Server (RFC 5997)', () => {
  it('on the authentication port: Access-Accept', async () => {
    const reply = await collecte.send(createPacket(dict, 'Status-Server', {}));
    expect(reply.codeName).toBe('Access-Accept');
    expectMessageAuthenticatorFirst(reply);
  });

  it('on the accounting port: Accounting-Response', async () => {
    const reply = await client(acctPort).send(createPacket(dict, 'Status-Server', {}));
    expect(reply.codeName).toBe('Accounting-Response');
  });

  it('without Message-Authenticator: no answer', async () => {
    const nas = await RawNas.open('127.0.0.1');
    try {
      const dropped = server.counters.dropped.missingMessageAuthenticator;
      const bytes = wire(createPacket(dict, 'Status-Server', {}), { ma: false });
      expect(await nas.exchange(bytes, authPort, SILENCE_MS)).toBeUndefined();
      expect(await nas.exchange(bytes, acctPort, SILENCE_MS)).toBeUndefined();
      expect(server.counters.dropped.missingMessageAuthenticator).toBe(dropped + 2);
    } finally {
      nas.close();
    }
  });
});

describe('BlastRADIUS (CVE-2024-3596)', () => {
  it('a NAS that must sign: an Access-Request without Message-Authenticator is dropped', async () => {
    const nas = await RawNas.open('127.0.0.2');
    try {
      const dropped = server.counters.dropped.missingMessageAuthenticator;
      const unsigned = wire(papRequest(dict, full.username, full.password), { ma: false });
      expect(await nas.exchange(unsigned, authPort, SILENCE_MS)).toBeUndefined();
      expect(server.counters.dropped.missingMessageAuthenticator).toBe(dropped + 1);
      const signed = wire(papRequest(dict, full.username, full.password), { ma: true });
      const reply = await nas.exchange(signed, authPort);
      if (!reply) throw new Error('no reply to a signed request');
      expect(readReply(reply, signed).codeName).toBe('Access-Accept');
    } finally {
      nas.close();
    }
  });

  it('a NAS that must sign is answered through RadiusClient, which signs', async () => {
    const reply = await client(authPort, { from: '127.0.0.2' }).send(
      papRequest(dict, full.username, full.password),
    );
    expect(reply.codeName).toBe('Access-Accept');
  });

  it('a bad Message-Authenticator (wrong secret) is dropped and counted', async () => {
    const bad = server.counters.dropped.badMessageAuthenticator;
    const wrong = client(authPort, {
      secret: Buffer.from('not-the-secret'),
      timeoutMs: SILENCE_MS,
    });
    await expect(wrong.send(papRequest(dict, full.username, full.password))).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    expect(server.counters.dropped.badMessageAuthenticator).toBe(bad + 1);
  });

  it('limit_proxy_state: unsigned Proxy-State from a NAS that has signed before is dropped', async () => {
    const first = await client(authPort, { from: '127.0.0.3' }).send(
      papRequest(dict, full.username, full.password),
    );
    expect(first.codeName).toBe('Access-Accept');
    const nas = await RawNas.open('127.0.0.3');
    try {
      const dropped = server.counters.dropped.missingMessageAuthenticator;
      const forged = wire(
        papRequest(dict, full.username, full.password, { 'Proxy-State': Buffer.from('ps') }),
        { ma: false },
      );
      expect(await nas.exchange(forged, authPort, SILENCE_MS)).toBeUndefined();
      expect(server.counters.dropped.missingMessageAuthenticator).toBe(dropped + 1);
      // Without Proxy-State the rule does not apply (the NAS is not marked "must sign").
      const plain = wire(papRequest(dict, full.username, full.password), { ma: false });
      const reply = await nas.exchange(plain, authPort);
      if (!reply) throw new Error('no reply');
      expect(readReply(reply, plain).codeName).toBe('Access-Accept');
    } finally {
      nas.close();
    }
  });

  it('limit_proxy_state: a NAS that never signed is answered, Proxy-State echoed', async () => {
    const nas = await RawNas.open('127.0.0.4');
    try {
      const bytes = wire(
        papRequest(dict, full.username, full.password, { 'Proxy-State': Buffer.from('ps') }),
        { ma: false },
      );
      const got = await nas.exchange(bytes, authPort);
      if (!got) throw new Error('no reply');
      const reply = readReply(got, bytes);
      expect(reply.codeName).toBe('Access-Accept');
      expectMessageAuthenticatorFirst(reply);
      expect(reply.getAll('Proxy-State')).toEqual([Buffer.from('ps')]);
    } finally {
      nas.close();
    }
  });

  it('a packet from an address that is no NAS is dropped and counted', async () => {
    const nas = await RawNas.open(UNKNOWN_SOURCE);
    try {
      const unknown = server.counters.dropped.unknownClient;
      const bytes = wire(papRequest(dict, full.username, full.password), { ma: true });
      expect(await nas.exchange(bytes, authPort, SILENCE_MS)).toBeUndefined();
      expect(server.counters.dropped.unknownClient).toBe(unknown + 1);
    } finally {
      nas.close();
    }
  });
});

describe('Session-Timeout: the seconds until the daily reconnect', () => {
  it.each([
    ['2025-04-08T10:11:32Z', 49708],
    ['2025-04-08T23:59:59Z', 1],
    ['2025-04-08T00:00:00Z', 86400],
    ['2025-04-08T23:59:59.500Z', 1],
  ])('at %s: %d', async (at, seconds) => {
    clock = Date.parse(at);
    try {
      const reply = await collecte.send(papRequest(dict, full.username, full.password));
      expect(reply.get('Session-Timeout')).toBe(seconds);
    } finally {
      clock = SEED_TIME;
    }
  });

  it('the reconnect time follows the configured time zone (00:00 Paris = 22:00 UTC in April)', async () => {
    const paris = await startServer({
      reconnect: { enabled: true, at: '00:00', timeZone: 'Europe/Paris' },
    });
    clock = SEED_TIME;
    const reply = await client(portOf(paris, 'auth')).send(
      papRequest(dict, full.username, full.password),
    );
    expect(reply.get('Session-Timeout')).toBe(42508);
  });

  it('reconnect disabled: no Session-Timeout', async () => {
    const off = await startServer({ reconnect: { enabled: false, at: '00:00', timeZone: 'UTC' } });
    const reply = await client(portOf(off, 'auth')).send(
      papRequest(dict, full.username, full.password),
    );
    expect(reply.codeName).toBe('Access-Accept');
    expect(reply.has('Session-Timeout')).toBe(false);
    expect(reply.get('Framed-IP-Address')).toBe('80.67.191.6');
  });
});

describe('codes on the wrong port', () => {
  const accountingRequest = (): Buffer =>
    wire(
      createPacket(dict, 'Accounting-Request', {
        'User-Name': full.username,
        'Acct-Status-Type': 'Start',
        'Acct-Session-Id': '81004668',
        'NAS-IP-Address': '100.64.57.40',
      }),
      { ma: false },
    );

  it('an Accounting-Request on the accounting port is answered (the control)', async () => {
    const nas = await RawNas.open('127.0.0.1');
    try {
      const bytes = accountingRequest();
      const got = await nas.exchange(bytes, acctPort);
      if (!got) throw new Error('no reply');
      const reply = decodePacket(got, dict, {
        secret,
        requestAuthenticator: bytes.subarray(4, 20),
      });
      expect(verifyPacket(reply, secret, bytes.subarray(4, 20)).authenticator).toBe('ok');
      expect(reply.codeName).toBe('Accounting-Response');
      expect(accountingRecords.at(-1)?.get('Acct-Session-Id')).toBe('81004668');
    } finally {
      nas.close();
    }
  });

  it('the Accounting-Response has no Message-Authenticator, or one FreeRADIUS verifies', async () => {
    // FreeRADIUS (radclient, a FreeRADIUS proxy in front of us) checks a Message-Authenticator
    // in an Accounting-Response over 16 zero octets, not the request's authenticator, and drops
    // the reply when it does not verify: the NAS then retransmits until it gives up.
    const nas = await RawNas.open('127.0.0.1');
    try {
      const bytes = accountingRequest();
      const got = await nas.exchange(bytes, acctPort);
      if (!got) throw new Error('no reply');
      const reply = decodePacket(got, dict, {
        secret,
        requestAuthenticator: bytes.subarray(4, 20),
      });
      const ma = reply.messageAuthenticatorOffset;
      if (ma !== undefined)
        expect(crypto.verifyMessageAuthenticator(got, ma, Buffer.alloc(16), secret)).toBe(true);
    } finally {
      nas.close();
    }
  });

  it('an Accounting-Request signed with another secret gets no answer', async () => {
    const nas = await RawNas.open('127.0.0.1');
    try {
      const bad = server.counters.dropped.badAuthenticator;
      const p = createPacket(dict, 'Accounting-Request', {
        'User-Name': full.username,
        'Acct-Status-Type': 'Start',
        'Acct-Session-Id': '81004669',
      });
      const bytes = wire(p, { ma: false, key: Buffer.from('not-the-secret') });
      expect(await nas.exchange(bytes, acctPort, SILENCE_MS)).toBeUndefined();
      expect(server.counters.dropped.badAuthenticator).toBe(bad + 1);
      expect(accountingRecords.some((r) => r.get('Acct-Session-Id') === '81004669')).toBe(false);
    } finally {
      nas.close();
    }
  });

  it('an Accounting-Request on the authentication port gets no answer', async () => {
    const nas = await RawNas.open('127.0.0.1');
    try {
      const wrong = server.counters.dropped.wrongCode;
      expect(await nas.exchange(accountingRequest(), authPort, SILENCE_MS)).toBeUndefined();
      expect(server.counters.dropped.wrongCode).toBe(wrong + 1);
    } finally {
      nas.close();
    }
  });

  it('an Access-Request on the accounting port gets no answer', async () => {
    const nas = await RawNas.open('127.0.0.1');
    try {
      const wrong = server.counters.dropped.wrongCode;
      const bytes = wire(papRequest(dict, full.username, full.password), { ma: true });
      expect(await nas.exchange(bytes, acctPort, SILENCE_MS)).toBeUndefined();
      expect(server.counters.dropped.wrongCode).toBe(wrong + 1);
    } finally {
      nas.close();
    }
  });
});
