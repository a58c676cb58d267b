// The real server, as `ispkit serve` runs it (app + serve), on each store: every method,
// a suspension and a new NAS seen without restart, accounting stored, /healthz.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { openApp } from '../../src/app.js';
import {
  bundledDictionary,
  chapRequest,
  createPacket,
  msChapV1Request,
  msChapV2Request,
  papRequest,
  RadiusClient,
  verifyMsChapV2Success,
} from '../../src/radius/index.js';
import type { Running } from '../../src/serve.js';
import { SessionQueries } from '../../src/sessions/queries.js';
import { openStore } from '../../src/store/store.js';
import { NasService } from '../../src/aaa/nas-clients.js';
import type { Serving } from '../helpers/serving.js';
import { addSeedLine, startServing } from '../helpers/serving.js';
import { testStores } from '../helpers/stores.js';

const dict = bundledDictionary();
const stores = await testStores();

describe.each(stores)('ispkit serve on $name', (ts) => {
  let dir: string;
  let app: App;
  let serving: Serving;
  let running: Running;
  let client: RadiusClient;
  let acct: RadiusClient;
  const secret = 'a-long-shared-secret';

  beforeAll(async () => {
    await ts.reset();
    dir = mkdtempSync(join(tmpdir(), 'ispkit-serve-'));
    writeFileSync(join(dir, 'ispkit.yaml'), `database: '${ts.url}'\nlog: { level: silent }\n`);
    app = await openApp({ dataDir: dir, create: true });
    await addSeedLine(app, secret);
    serving = await startServing(app);
    running = serving.running;
    client = serving.client('auth', secret);
    acct = serving.client('acct', secret);
  });

  afterAll(async () => {
    await serving.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts PAP, CHAP, MS-CHAPv1 and MS-CHAPv2 with the subscriber reply', async () => {
    const user = 'p1f9bd1@neutrinet'; // the realm matches in any case
    for (const req of [
      papRequest(dict, user, 'pw-1'),
      chapRequest(dict, user, 'pw-1'),
      msChapV1Request(dict, user, 'pw-1'),
    ]) {
      const reply = await client.send(req);
      expect(reply.codeName).toBe('Access-Accept');
      expect(reply.attributes[0]?.name).toBe('Message-Authenticator');
      expect(reply.get('Framed-IP-Address')).toBe('80.67.191.6');
      expect(reply.get('Delegated-IPv6-Prefix')).toBe('2001:913:1d00:600::/60');
      expect(reply.get('Framed-MTU')).toBe(1500);
    }
    const v2 = msChapV2Request(dict, user, 'pw-1');
    const reply = await client.send(v2);
    expect(reply.codeName).toBe('Access-Accept');
    expect(verifyMsChapV2Success(reply, v2, 'pw-1')).toBe(true);
  });

  it('rejects a wrong password and a suspended subscriber, without a restart', async () => {
    expect((await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'nope'))).codeName).toBe(
      'Access-Reject',
    );
    await app.subscribers.suspend('p1f9bd1@NEUTRINET', 'test');
    const r = await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'));
    expect(r.codeName).toBe('Access-Reject');
    expect(r.get('Reply-Message')).toBe('Account suspended');
    await app.subscribers.resume('p1f9bd1@NEUTRINET', 'test');
    expect((await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'))).codeName).toBe(
      'Access-Accept',
    );
  });

  it('serves a NAS added by another process (another store connection) without a restart', async () => {
    const store2 = await openStore(ts.url, dir);
    try {
      await new NasService(store2, app.box).add(
        'second',
        '127.0.0.2',
        'second-nas-secret',
        false,
        'test',
      );
    } finally {
      await store2.close();
    }
    const second = new RadiusClient({
      host: '127.0.0.1',
      localAddress: '127.0.0.2',
      port: running.addresses.find((a) => a.kind === 'auth')?.port ?? 0,
      secret: Buffer.from('second-nas-secret'),
      dictionary: dict,
      timeoutMs: 500,
      retries: 2, // PostgreSQL's NOTIFY may arrive a moment after the commit
    });
    try {
      const reply = await second.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'));
      expect(reply.codeName).toBe('Access-Accept');
    } finally {
      second.close();
    }
  });

  it('stores accounting (Start, Interim, Stop) and answers only then', async () => {
    const base = {
      'User-Name': 'p1f9bd1@NEUTRINET',
      'Acct-Session-Id': 'S1',
      'NAS-IP-Address': '127.0.0.1',
    };
    const t0 = Date.parse('2025-04-08T10:00:00Z') / 1000;
    for (const [status, t, octetsIn, octetsOut] of [
      ['Start', t0, 0, 0],
      ['Interim-Update', t0 + 60, 1000, 5000],
      ['Stop', t0 + 120, 3000, 9000],
    ] as const) {
      const reply = await acct.send(
        createPacket(dict, 'Accounting-Request', {
          ...base,
          'Acct-Status-Type': status,
          'Event-Timestamp': t,
          'Acct-Session-Time': t - t0,
          'Acct-Input-Octets': octetsIn,
          'Acct-Output-Octets': octetsOut,
        }),
      );
      expect(reply.codeName).toBe('Accounting-Response');
    }
    const q = new SessionQueries(app.store.db);
    const [s] = await q.list({ username: 'p1f9bd1@neutrinet' });
    expect(s).toMatchObject({
      acct_session_id: 'S1',
      state: 'stopped',
      bytes_in: 3000,
      bytes_out: 9000,
    });
    expect(await q.daily('p1f9bd1@NEUTRINET', '2025-04-08', '2025-04-08')).toEqual([
      { date: '2025-04-08', bytes_in: 3000, bytes_out: 9000, seconds: 120, sessions: 1 },
    ]);
  });

  it('refuses a second session beyond Port-Limit (simultaneous use), until the first stops', async () => {
    const session = (status: 'Start' | 'Stop') =>
      createPacket(dict, 'Accounting-Request', {
        'User-Name': 'p1f9bd1@NEUTRINET',
        'Acct-Session-Id': 'S2',
        'NAS-IP-Address': '127.0.0.1',
        'Acct-Status-Type': status,
      });
    expect((await acct.send(session('Start'))).codeName).toBe('Accounting-Response');
    const refused = await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'));
    expect(refused.codeName).toBe('Access-Reject');
    expect(refused.get('Reply-Message')).toBe('You are already logged in - access denied');
    expect((await acct.send(session('Stop'))).codeName).toBe('Accounting-Response');
    expect((await client.send(papRequest(dict, 'p1f9bd1@NEUTRINET', 'pw-1'))).codeName).toBe(
      'Access-Accept',
    );
  });

  it('answers /healthz with the store state and the counters', async () => {
    const res = await fetch(`http://127.0.0.1:${running.httpPort}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      store: { ok: boolean };
      radius: { accepts: number };
    };
    expect(body.status).toBe('ok');
    expect(body.store.ok).toBe(true);
    expect(body.radius.accepts).toBeGreaterThanOrEqual(5);
  });
});
