// POST /webhooks/netbox on the real HTTP app, over loopback: NetBox's signature check
// (X-Hook-Signature, hex HMAC-SHA512 of the body), and a change made in the (fake, NetBox 4.4)
// NetBox reaching ispkit through the webhook it sends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/config.js';
import { buildHttp } from '../../src/http/server.js';
import { IpamService } from '../../src/ipam/service.js';
import { createLogger } from '../../src/logging.js';
import type { WebhookPull } from '../../src/netbox/webhook-pull.js';
import { webhookPull } from '../../src/netbox/webhook-pull.js';
import { signature } from '../../src/netbox/webhook.js';
import type { Store } from '../../src/store/store.js';
import { openStore } from '../../src/store/store.js';
import { FAKE_NETBOX_VERSION, FakeNetbox } from '../helpers/fake-netbox.js';

const SECRET = 'a webhook secret shared with NetBox';

describe(`NetBox webhook (fake NetBox ${FAKE_NETBOX_VERSION})`, () => {
  let dir: string;
  let store: Store;
  let ipam: IpamService;
  let http: FastifyInstance;
  let hook: WebhookPull;
  let endpoint: string;
  let fake: FakeNetbox;
  let poolPrefixId: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-netbox-hook-'));
    store = await openStore('sqlite:ispkit.db', dir);
    await store.migrate();
    ipam = new IpamService(store);
    // ispkit's HTTP listens once the fake is up; then the fake learns where to send webhooks.
    fake = await new FakeNetbox().start();
    fake.addTag('ispkit-pool');
    fake.addRole('ipv4');
    poolPrefixId = fake.addPrefix({
      prefix: '198.51.100.0/24',
      role: { slug: 'ipv4' },
      tags: ['ispkit-pool'],
    });
    const config = ConfigSchema.parse({
      netbox: { url: fake.url, token: fake.token, webhook_secret: SECRET },
    });
    const built = webhookPull({ config, dataDir: dir, store, ipam }, createLogger('silent'));
    if (!built) throw new Error('netbox block ignored');
    hook = built;
    http = buildHttp({
      health: () => Promise.reject(new Error('not in this test')),
      netboxWebhook: hook,
    });
    await http.listen({ port: 0, host: '127.0.0.1' });
    const addr = http.server.address();
    endpoint = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/webhooks/netbox`;
    fake.setWebhook({ url: endpoint, secret: SECRET });
  });

  afterAll(async () => {
    await fake?.stop();
    await http?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
    });

  const event = (model: string) =>
    JSON.stringify({
      event: 'updated',
      timestamp: '2025-04-09 08:00:00.000000+00:00',
      model,
      username: 'admin',
      request_id: '8c7b4f0e-0f3a-4c61-9a43-1f0e4d7f2a11',
      data: { id: 7, address: '198.51.100.7/24' },
      snapshots: { prechange: null, postchange: {} },
    });

  it('refuses a missing or wrong signature with 403, and does nothing', async () => {
    const body = event('ipaddress');
    const none = await post(body);
    expect(none.status).toBe(403);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    const wrong = await post(body, { 'X-Hook-Signature': signature('another secret', body) });
    expect(wrong.status).toBe(403);
    // Signed for other bytes (the same JSON re-serialised with spaces): refused too.
    const other = await post(body, { 'X-Hook-Signature': signature(SECRET, `${body} `) });
    expect(other.status).toBe(403);
    await hook.idle();
    expect(await ipam.listPools()).toEqual([]);
  });

  it('accepts a signed event fast, and refuses a signed body that is not JSON with 400', async () => {
    const bad = 'not json';
    const r400 = await post(bad, { 'X-Hook-Signature': signature(SECRET, bad) });
    expect(r400.status).toBe(400);
    const site = event('site');
    const ignored = await post(site, { 'X-Hook-Signature': signature(SECRET, site) });
    expect(ignored.status).toBe(200);
    expect(await ignored.json()).toMatchObject({ accepted: false });

    const body = event('ipaddress');
    const ok = await post(body, { 'X-Hook-Signature': signature(SECRET, body).toUpperCase() });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ accepted: true, action: 'pull' });
    await hook.idle();
    // The pull it started imported the tagged prefix.
    expect((await ipam.listPools()).map((p) => p.prefix)).toEqual(['198.51.100.0/24']);
  });

  it('a change made in NetBox reaches ispkit through the webhook NetBox sends', async () => {
    const id = fake.addIpAddress({ address: '198.51.100.20/24', description: 'switch' });
    await fake.flushWebhooks();
    await hook.idle();
    expect(fake.webhooks.at(-1)).toMatchObject({
      status: 202,
      body: { event: 'created', model: 'ipaddress', data: { id } },
    });
    expect((await ipam.listPools())[0]?.reservedList).toEqual(['198.51.100.20/32']);

    fake.remove('ipaddress', id);
    fake.edit('prefix', poolPrefixId, { description: 'members' });
    await fake.flushWebhooks();
    await hook.idle();
    expect((await ipam.listPools())[0]?.reservedList).toEqual([]);
  });
});
