import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';

import { papRequest } from './auth-requests.js';
import { RadiusClient } from './client.js';
import type { RadiusClientOptions } from './client.js';
import {
  computeResponseAuthenticator,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
} from './crypto/index.js';
import { decodePacket } from './decode.js';
import { bundledDictionary } from './dictionary/load.js';
import { encodePacket } from './encode.js';
import { RadiusError } from './errors.js';
import type { Packet } from './packet.js';
import { createPacket } from './packet.js';

const dict = bundledDictionary();
const secret = Buffer.from('s3cret-for-tests');
const SEND_KEY = Buffer.from('8b7cdc149b993a1ba118cb153f56dccb', 'hex');

type Reply = (req: Packet, raw: Buffer) => Buffer | Buffer[] | undefined;

/** A tiny RADIUS server on 127.0.0.1 built from our codec; it records every datagram. */
class TestServer {
  readonly received: Buffer[] = [];
  private readonly socket: Socket = createSocket('udp4');
  constructor(private reply: Reply) {}

  async start(): Promise<number> {
    this.socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      this.received.push(Buffer.from(msg));
      const req = decodePacket(msg, dict, { secret });
      const out = this.reply(req, msg);
      const list = out === undefined ? [] : Array.isArray(out) ? out : [out];
      // Spread out so that the client sees them in order, one by one.
      list.forEach((b, i) =>
        setTimeout(() => this.socket.send(b, rinfo.port, rinfo.address), i * 10),
      );
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this.socket.address().port;
  }

  close(): void {
    this.socket.close();
  }
}

/** Encodes a reply to `req` signed with `key`. */
function answer(
  req: Packet,
  code: string,
  attrs: Record<string, string | number | Buffer>,
  key = secret,
  ma = true,
): Buffer {
  const reply = createPacket(dict, code, attrs, { identifier: req.identifier });
  if (ma) reply.withMessageAuthenticator();
  return encodePacket(reply, { secret: key, requestAuthenticator: req.authenticator });
}

const open: (TestServer | RadiusClient)[] = [];
afterEach(() => {
  for (const x of open.splice(0)) x.close();
});

async function setup(
  reply: Reply,
  opts: Partial<RadiusClientOptions> = {},
): Promise<{ server: TestServer; client: RadiusClient }> {
  const server = new TestServer(reply);
  const port = await server.start();
  const client = new RadiusClient({
    host: '127.0.0.1',
    port,
    secret,
    dictionary: dict,
    timeoutMs: 50,
    retries: 2,
    backoff: 1,
    ...opts,
  });
  open.push(server, client);
  return { server, client };
}

describe('RadiusClient', () => {
  it('sends a signed Access-Request and returns the verified, decrypted reply', async () => {
    const { server, client } = await setup((req) =>
      answer(req, 'Access-Accept', {
        'Framed-IP-Address': '80.67.191.6',
        'MS-MPPE-Send-Key': SEND_KEY,
      }),
    );
    const reply = await client.send(
      papRequest(dict, 'bob', 'hello', { 'NAS-IP-Address': '127.0.0.1' }),
    );
    expect(reply.codeName).toBe('Access-Accept');
    expect(reply.get('Framed-IP-Address')).toBe('80.67.191.6');
    expect(reply.get('MS-MPPE-Send-Key')).toEqual(SEND_KEY);
    // What went on the wire: M-A first and valid, the password hidden with our secret.
    const raw = server.received[0] as Buffer;
    const req = decodePacket(raw, dict, { secret });
    expect(req.attributes[0]?.name).toBe('Message-Authenticator');
    expect(
      verifyMessageAuthenticator(
        raw,
        req.messageAuthenticatorOffset ?? -1,
        req.authenticator,
        secret,
      ),
    ).toBe(true);
    expect(req.get('User-Password')).toBe('hello');
    expect(client.counters).toMatchObject({ sent: 1, retransmits: 0, replies: 1, badReplies: 0 });
  });

  it('ignores a reply with a bad Response Authenticator and takes the good one after it', async () => {
    const { client } = await setup(
      (req) => [
        answer(req, 'Access-Accept', { 'Reply-Message': 'forged' }, Buffer.from('wrong')),
        answer(req, 'Access-Accept', { 'Reply-Message': 'genuine' }),
      ],
      { timeoutMs: 500 },
    );
    const reply = await client.send(papRequest(dict, 'bob', 'pw'));
    expect(reply.get('Reply-Message')).toBe('genuine');
    expect(client.counters).toMatchObject({ badReplies: 1, retransmits: 0, replies: 1 });
  });

  it('retransmits the very same octets, then gives up with TIMEOUT', async () => {
    const { server, client } = await setup(() => undefined, {
      timeoutMs: 40,
      retries: 2,
      backoff: 1.5,
    });
    const started = Date.now();
    const err = await client.send(papRequest(dict, 'bob', 'pw')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RadiusError);
    expect((err as RadiusError).code).toBe('TIMEOUT');
    expect(server.received).toHaveLength(3);
    expect(server.received[1]).toEqual(server.received[0]);
    expect(server.received[2]).toEqual(server.received[0]);
    // 40 + 60 + 90 ms of waiting with backoff 1.5.
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    expect(client.counters).toMatchObject({ sent: 1, retransmits: 2, timeouts: 1 });
    expect(client.pending).toBe(0);
  });

  it('accepts the reply to a retransmission', async () => {
    let n = 0;
    const { client } = await setup((req) =>
      ++n < 2 ? undefined : answer(req, 'Access-Reject', {}),
    );
    const reply = await client.send(papRequest(dict, 'bob', 'pw'));
    expect(reply.codeName).toBe('Access-Reject');
    expect(client.counters.retransmits).toBe(1);
  });

  it('requires a Message-Authenticator in Access-* replies unless told otherwise', async () => {
    const noMa: Reply = (req) => answer(req, 'Access-Accept', {}, secret, false);
    const strict = await setup(noMa);
    const err = await strict.client.send(papRequest(dict, 'bob', 'pw')).catch((e: unknown) => e);
    expect((err as RadiusError).code).toBe('TIMEOUT');
    expect(strict.client.counters.badReplies).toBe(3);
    const lax = await setup(noMa, { requireMessageAuthenticator: false });
    expect((await lax.client.send(papRequest(dict, 'bob', 'pw'))).codeName).toBe('Access-Accept');
  });

  it('drops a reply whose Message-Authenticator does not verify', async () => {
    const { client } = await setup(
      (req) => {
        const good = answer(req, 'Access-Accept', { 'Reply-Message': 'x' });
        // The same reply with one M-A bit flipped and the Response Authenticator made right
        // again: only the M-A is wrong.
        const bad = Buffer.from(good);
        bad[22] = (bad[22] as number) ^ 1;
        computeResponseAuthenticator(bad, req.authenticator, secret).copy(bad, 4);
        return [bad, good];
      },
      { timeoutMs: 500 },
    );
    const reply = await client.send(papRequest(dict, 'bob', 'pw'));
    expect(reply.get('Reply-Message')).toBe('x');
    expect(client.counters.badReplies).toBe(1);
  });

  it('drops a reply of the wrong code for the request', async () => {
    const { client } = await setup(
      (req) => [answer(req, 'Accounting-Response', {}), answer(req, 'Access-Accept', {})],
      {
        timeoutMs: 500,
      },
    );
    expect((await client.send(papRequest(dict, 'bob', 'pw'))).codeName).toBe('Access-Accept');
    expect(client.counters.badReplies).toBe(1);
  });

  it('signs an Accounting-Request and takes an Accounting-Response without M-A', async () => {
    const { server, client } = await setup((req) =>
      answer(req, 'Accounting-Response', {}, secret, false),
    );
    const acct = createPacket(dict, 'Accounting-Request', {
      'User-Name': 'bob',
      'Acct-Status-Type': 'Start',
      'Acct-Session-Id': 's1',
    });
    expect((await client.send(acct)).codeName).toBe('Accounting-Response');
    const raw = server.received[0] as Buffer;
    expect(verifyRequestAuthenticator(raw, secret)).toBe(true);
    expect(decodePacket(raw, dict).has('Message-Authenticator')).toBe(false);
  });

  it('uses distinct identifiers, queues past 256 in flight and rejects past the queue', async () => {
    const ids = new Set<number>();
    const { client } = await setup(
      (req) => {
        ids.add(req.identifier);
        return answer(req, 'Access-Accept', {});
      },
      { timeoutMs: 2000, maxQueued: 10 },
    );
    const sends = Array.from({ length: 270 }, (_, i) =>
      client.send(papRequest(dict, `u${i}`, 'pw')),
    );
    const results = await Promise.allSettled(sends);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(4);
    for (const r of rejected) expect((r.reason as RadiusError).code).toBe('CLIENT_BUSY');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(266);
    expect(ids.size).toBe(256);
    expect(client.pending).toBe(0);
  });

  it('rejects what is waiting when closed, and sends nothing after', async () => {
    const { client } = await setup(() => undefined, { timeoutMs: 1000 });
    const p = client.send(papRequest(dict, 'bob', 'pw'));
    await new Promise((r) => setTimeout(r, 20));
    client.close();
    await expect(p).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await expect(client.send(papRequest(dict, 'bob', 'pw'))).rejects.toMatchObject({
      code: 'CLIENT_CLOSED',
    });
  });
});
