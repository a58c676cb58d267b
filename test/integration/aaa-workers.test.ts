// `radius.workers`: Access-Requests answered by worker threads, as `ispkit serve` runs them, on
// each store. Same answers as the main thread gives; a retransmission gets the same octets once;
// a change by another connection reaches the workers' caches; counters and decision logs come
// back to the main thread; accounting stays on the main thread.
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { openApp } from '../../src/app.js';
import { createLogger } from '../../src/logging.js';
import type { RadiusClient } from '../../src/radius/index.js';
import {
  bundledDictionary,
  chapRequest,
  createPacket,
  crypto,
  decodePacket,
  encodePacket,
  msChapV2Request,
  papRequest,
  verifyMsChapV2Success,
} from '../../src/radius/index.js';
import type { Running } from '../../src/serve.js';
import { SessionQueries } from '../../src/sessions/queries.js';
import type { Serving } from '../helpers/serving.js';
import { addSeedLine, startServing } from '../helpers/serving.js';
import { testStores } from '../helpers/stores.js';

const dict = bundledDictionary();
const stores = await testStores();
const secret = 'a-long-shared-secret';

describe.each(stores)('auth worker threads on $name', (ts) => {
  let dir: string;
  let app: App;
  let serving: Serving;
  let running: Running;
  let client: RadiusClient;
  let acct: RadiusClient;
  let authPort = 0;
  const lines: string[] = [];

  beforeAll(async () => {
    await ts.reset();
    dir = mkdtempSync(join(tmpdir(), 'ispkit-workers-'));
    writeFileSync(
      join(dir, 'ispkit.yaml'),
      `database: '${ts.url}'\nradius: { workers: 2 }\nlog: { level: info }\n`,
    );
    app = await openApp({ dataDir: dir, create: true });
    await addSeedLine(app, secret);
    serving = await startServing(
      app,
      createLogger('info', { write: (s: string) => void lines.push(s) }),
    );
    running = serving.running;
    authPort = serving.port('auth');
    client = serving.client('auth', secret, { timeoutMs: 2000 });
    acct = serving.client('acct', secret, { timeoutMs: 2000 });
  }, 60_000);

  afterAll(async () => {
    await serving.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers PAP, CHAP and MS-CHAPv2 from the workers, with the subscriber reply', async () => {
    const before = running.radius.counters.accepts;
    for (const req of [
      papRequest(dict, 'p1f9bd1@neutrinet', 'pw-1'),
      chapRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'),
    ]) {
      const reply = await client.send(req);
      expect(reply.codeName).toBe('Access-Accept');
      expect(reply.attributes[0]?.name).toBe('Message-Authenticator');
      expect(reply.get('Framed-IP-Address')).toBe('80.67.191.6');
      expect(reply.get('Delegated-IPv6-Prefix')).toBe('2001:913:1d00:600::/60');
      expect(reply.get('Port-Limit')).toBe(1);
    }
    const v2 = msChapV2Request(dict, 'p1f9bd1@NEUTRINET', 'pw-1');
    const reply = await client.send(v2);
    expect(reply.codeName).toBe('Access-Accept');
    expect(verifyMsChapV2Success(reply, v2, 'pw-1')).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(running.radius.counters.accepts - before).toBe(3);
    // The workers' decision lines reach the main thread's log destination, whole.
    const decisions = lines
      .join('')
      .split('\n')
      .filter((l) => l.includes('"result":"accept"'));
    expect(decisions.length).toBeGreaterThanOrEqual(3);
    for (const l of decisions)
      expect(JSON.parse(l)).toMatchObject({ nas: 'lo', method: expect.any(String) });
  });

  it('answers a retransmission with the same octets, evaluated once', async () => {
    const req = papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1');
    req.withMessageAuthenticator();
    const raw = encodePacket(req, { secret: Buffer.from(secret) });
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    const accepts = running.radius.counters.accepts;
    const dups = running.radius.counters.duplicates;
    // Three copies at once (the second and third while the first is at a worker), then one later.
    for (let i = 0; i < 3; i++) sock.send(raw, authPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    sock.send(raw, authPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    expect(replies.length).toBe(2);
    expect(replies[1]).toEqual(replies[0]);
    expect(decodePacket(replies[0] as Buffer, dict).codeName).toBe('Access-Accept');
    expect(running.radius.counters.accepts - accepts).toBe(1);
    expect(running.radius.counters.duplicates - dups).toBe(3);
  });

  it('keeps answers whole while reply buffers go back and forth (hundreds of batches)', async () => {
    // Reply buffers are used again once read (workers.ts: SPARE_BYTES). A reply kept by the
    // duplicate cache must be a copy: one request first, many after it, then its retransmission.
    const key = Buffer.from(secret);
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const replies = new Map<number, Buffer[]>();
    sock.on('message', (m) => {
      const list = replies.get(m[1] as number) ?? [];
      list.push(m);
      replies.set(m[1] as number, list);
    });
    const signedPap = (id: number): Buffer => {
      const req = papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1');
      req.identifier = id;
      req.withMessageAuthenticator();
      return encodePacket(req, { secret: key });
    };
    const raws: Buffer[] = [];
    const first = signedPap(0);
    sock.send(first, authPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    // Three waves of 255, each request new (a new identifier and authenticator each wave).
    for (let wave = 0; wave < 3; wave++) {
      for (let id = 1; id < 256; id++) {
        const raw = signedPap(id);
        raws[id] = raw;
        sock.send(raw, authPort, '127.0.0.1');
      }
      const deadline = Date.now() + 3000;
      while (
        Date.now() < deadline &&
        [...replies.values()].reduce((n, l) => n + l.length, 0) < 1 + 255 * (wave + 1)
      )
        await new Promise((r) => setTimeout(r, 10));
      for (let id = 1; id < 256; id++) {
        const got = replies.get(id)?.[wave];
        expect(got, `reply to ${id} in wave ${wave}`).toBeDefined();
        const request = raws[id] as Buffer;
        expect(
          crypto.verifyResponseAuthenticator(got as Buffer, request.subarray(4, 20), key),
        ).toBe(true);
      }
    }
    sock.send(first, authPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    const firstReplies = replies.get(0) ?? [];
    expect(firstReplies.length).toBe(2);
    expect(firstReplies[1]).toEqual(firstReplies[0]);
    expect(
      crypto.verifyResponseAuthenticator(firstReplies[1] as Buffer, first.subarray(4, 20), key),
    ).toBe(true);
  });

  it('drops a request with a bad Message-Authenticator (counted on the main thread)', async () => {
    const req = papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1');
    req.withMessageAuthenticator();
    const raw = encodePacket(req, { secret: Buffer.from(secret) });
    const ma = raw.indexOf(Buffer.from([80, 18]), 20) + 2;
    raw[ma] = (raw[ma] as number) ^ 1;
    const before = running.radius.counters.dropped.badMessageAuthenticator;
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    let answered = false;
    sock.on('message', () => (answered = true));
    sock.send(raw, authPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    expect(answered).toBe(false);
    expect(running.radius.counters.dropped.badMessageAuthenticator - before).toBe(1);
  });

  it('sees a suspension made through the store at once, and Port-Limit from accounting', async () => {
    await app.subscribers.suspend('p1f9bd1@NEUTRINET', 'test');
    const r = await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'));
    expect(r.codeName).toBe('Access-Reject');
    expect(r.get('Reply-Message')).toBe('Account suspended');
    await app.subscribers.resume('p1f9bd1@NEUTRINET', 'test');
    expect((await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'))).codeName).toBe(
      'Access-Accept',
    );
    const session = (status: 'Start' | 'Stop') =>
      createPacket(dict, 'Accounting-Request', {
        'User-Name': 'p1f9bd1@NEUTRINET',
        'Acct-Session-Id': 'W1',
        'NAS-IP-Address': '127.0.0.1',
        'Acct-Status-Type': status,
      });
    expect((await acct.send(session('Start'))).codeName).toBe('Accounting-Response');
    const [s] = await new SessionQueries(app.store.db).list({ username: 'p1f9bd1@NEUTRINET' });
    expect(s?.state).toBe('open');
    const refused = await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'));
    expect(refused.codeName).toBe('Access-Reject');
    expect(refused.get('Reply-Message')).toBe('You are already logged in - access denied');
    expect((await acct.send(session('Stop'))).codeName).toBe('Accounting-Response');
    expect((await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'))).codeName).toBe(
      'Access-Accept',
    );
  });

  /** A NAS of its own at `address` (not required to sign), sending raw packets to the auth port. */
  async function rawNas(name: string, address: string) {
    await app.nas.add(name, address, secret, false, 'test');
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, address, r));
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    return {
      replies,
      /** Sends each packet, signed with the secret, then waits for the answers. */
      async send(...packets: ReturnType<typeof createPacket>[]): Promise<void> {
        for (const p of packets)
          sock.send(encodePacket(p, { secret: Buffer.from(secret) }), authPort, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 300));
      },
      close: () => sock.close(),
    };
  }
  const forged = (i: number) =>
    papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1', { 'Proxy-State': Buffer.from(`ps${i}`) });

  it('applies limit_proxy_state in the workers to a NAS first seen signing a Status-Server', async () => {
    // The main thread answers Status-Server: what it learns there (this NAS signs its packets)
    // must reach the workers, which answer its Access-Requests.
    const nas = await rawNas('lo5', '127.0.0.5');
    try {
      await nas.send(createPacket(dict, 'Status-Server', {}).withMessageAuthenticator());
      expect(nas.replies.map((m) => decodePacket(m, dict).codeName)).toEqual(['Access-Accept']);
      const dropped = running.radius.counters.dropped.missingMessageAuthenticator;
      await nas.send(forged(0));
      expect(nas.replies.length).toBe(1);
      expect(running.radius.counters.dropped.missingMessageAuthenticator).toBe(dropped + 1);
    } finally {
      nas.close();
    }
  });

  it('applies limit_proxy_state in every worker once one of them has seen the NAS sign', async () => {
    // A signed request reaches one worker; it tells the main thread, which tells the others.
    // Forged copies sent together then spread over both workers (the least busy takes each).
    const nas = await rawNas('lo6', '127.0.0.6');
    try {
      await nas.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1').withMessageAuthenticator());
      expect(nas.replies.map((m) => decodePacket(m, dict).codeName)).toEqual(['Access-Accept']);
      const dropped = running.radius.counters.dropped.missingMessageAuthenticator;
      await nas.send(forged(1), forged(2), forged(3), forged(4));
      expect(nas.replies.length).toBe(1);
      expect(running.radius.counters.dropped.missingMessageAuthenticator).toBe(dropped + 4);
    } finally {
      nas.close();
    }
  });

  it('answers Status-Server on the main thread', async () => {
    const reply = await client.send(
      createPacket(dict, 'Status-Server', {}).withMessageAuthenticator(),
    );
    expect(reply.codeName).toBe('Access-Accept');
  });
});
