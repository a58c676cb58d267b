// Issue 6's "done when": `netbox pull`/`push` round-trip against a fake NetBox (it follows
// NetBox 4.4's REST API: test/helpers/fake-netbox.ts), idempotent on the second run, and a
// change on either side fixed by exactly the changes it calls for. SQLite and PostgreSQL.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamService } from '../../src/ipam/service.js';
import type { SyncResult } from '../../src/netbox/plan.js';
import type { NetboxSettings } from '../../src/netbox/settings.js';
import { NetboxSync } from '../../src/netbox/sync.js';
import { SecretBox } from '../../src/secrets/box.js';
import type { Store } from '../../src/store/store.js';
import { openStore } from '../../src/store/store.js';
import { SubscriberService } from '../../src/subscribers/service.js';
import { FAKE_NETBOX_VERSION, FakeNetbox } from '../helpers/fake-netbox.js';
import { testStores } from '../helpers/stores.js';

const stores = await testStores();
const DAY = 24 * 3600 * 1000;

/** The changes of a result as `op kind key field,field`, sorted, for exact comparisons. */
function summary(r: SyncResult): string[] {
  return r.changes
    .map((c) => `${c.op} ${c.kind} ${c.key} ${Object.keys(c.fields).sort().join(',')}`.trim())
    .sort();
}

type Obj = Record<string, unknown> & {
  id: number;
  status: { value: string };
  tags: { slug: string }[];
  tenant: { slug: string } | null;
};

describe.each(stores)(`NetBox sync on $name, fake NetBox ${FAKE_NETBOX_VERSION}`, (ts) => {
  let dir: string;
  let store: Store;
  let now = Date.UTC(2025, 3, 9, 8, 0);
  let ipam: IpamService;
  let subs: SubscriberService;
  let fake: FakeNetbox;
  let sync: NetboxSync;
  const ids: Record<string, number> = {};

  const pull = (dryRun = false) => sync.pull({ dryRun, actor: 'test' });
  const push = (dryRun = false) => sync.push({ dryRun, actor: 'test' });
  const ip = (address: string) =>
    fake.ipAddresses().find((a) => String(a.address).startsWith(`${address}/`)) as Obj | undefined;
  const prefix = (p: string) => fake.prefixes().find((x) => x.prefix === p) as Obj | undefined;

  beforeAll(async () => {
    await ts.reset();
    dir = mkdtempSync(join(tmpdir(), 'ispkit-netbox-'));
    store = await openStore(ts.url, dir);
    await store.migrate();
    const clock = () => now;
    ipam = new IpamService(store, clock);
    subs = new SubscriberService(store, SecretBox.withKey(randomBytes(32)), clock, ipam);
    // Pages of 2: every list the sync reads spans several pages.
    fake = await new FakeNetbox({ maxPageSize: 2 }).start();
    fake.addTag('ispkit-pool', 'ispkit pool');
    fake.addRole('public-v4', 'Public IPv4');
    fake.addRole('delegated-ipv6', 'Delegated IPv6');
    fake.addTenant('members', 'Members');
    ids.public = fake.addPrefix({
      prefix: '80.67.191.0/24',
      role: { slug: 'public-v4' },
      tags: ['ispkit-pool'],
    });
    ids.pd = fake.addPrefix({
      prefix: '2001:913:1d00::/48',
      role: { slug: 'delegated-ipv6' },
      custom_fields: { ispkit_size: 60 },
      tags: ['ispkit-pool'],
    });
    fake.addPrefix({ prefix: '10.0.0.0/8', status: 'container' }); // not tagged: not ispkit's
    ids.gateway = fake.addIpAddress({ address: '80.67.191.1/24', description: 'gateway' });
    ids.router = fake.addIpAddress({ address: '80.67.191.10/24', description: 'router' });
    ids.infra = fake.addPrefix({ prefix: '2001:913:1d00:ff00::/56', description: 'infra' });
    fake.addIpAddress({ address: '192.0.2.1/24' }); // outside every pool
    const settings: NetboxSettings = {
      url: fake.url,
      token: fake.token,
      poolTag: 'ispkit-pool',
      ownerTag: 'ispkit',
      roles: { 'public-v4': 'ipv4', 'delegated-ipv6': 'delegated-ipv6' },
      sizeField: 'ispkit_size',
      dnsName: '{user}.members.example.be',
      description: '{username}',
      tenant: 'members',
      webhookSecret: null,
      timeoutMs: 5000,
    };
    sync = new NetboxSync({ store, ipam, settings });
    // A pool made by hand before the NetBox link: pull links it instead of making another.
    await ipam.addPool({ name: 'public', prefix: '80.67.191.0/24', purpose: 'ipv4' }, 'test');
  }, 60_000);

  afterAll(async () => {
    await fake?.stop();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pull imports the tagged prefixes as pools and the objects in them as reservations', async () => {
    const dry = await pull(true);
    expect(summary(dry)).toEqual([
      'create pool 2001-913-1d00--_48 prefix,purpose,size',
      'create reservation 2001:913:1d00:ff00::/56 netbox,pool',
      'create reservation 80.67.191.1/32 netbox,pool',
      'create reservation 80.67.191.10/32 netbox,pool',
      'update pool public netbox_prefix',
    ]);
    expect(fake.writes).toEqual([]);
    expect((await ipam.listPools()).map((p) => p.name)).toEqual(['public']);

    const r = await pull();
    expect(r.failed).toEqual([]);
    expect(r.applied).toBe(5);
    const pools = await ipam.listPools();
    expect(pools.map((p) => [p.name, p.prefix, p.purpose, p.size, p.reservedList])).toEqual([
      [
        '2001-913-1d00--_48',
        '2001:913:1d00::/48',
        'delegated-ipv6',
        60,
        ['2001:913:1d00:ff00::/56'],
      ],
      ['public', '80.67.191.0/24', 'ipv4', 32, ['80.67.191.1/32', '80.67.191.10/32']],
    ]);
    // A /56 takes 16 of the /60s.
    expect(pools[0]?.reserved).toBe(16);
    expect(fake.writes).toEqual([]);
  });

  it('push creates what members hold, tagged, with the PTR name, member and tenant', async () => {
    for (const name of ['alice@NEUTRINET', 'bob@NEUTRINET', 'carol@NEUTRINET']) {
      await subs.add({ username: name, password: 'pw' }, 'test', { allocate: true });
    }
    // The lowest free: .0 is the network, .1 and the router are NetBox's.
    expect((await subs.show('alice@NEUTRINET')).ipv4).toBe('80.67.191.2');
    // Someone notes an old CPE at carol's address in NetBox, without the ispkit tag.
    ids.cpe = fake.addIpAddress({ address: '80.67.191.4/24', description: 'old CPE' });

    const dry = await push(true);
    expect(summary(dry)).toEqual([
      'create ip-address 80.67.191.2/32 description,dns_name,status,tenant',
      'create ip-address 80.67.191.3/32 description,dns_name,status,tenant',
      'create prefix 2001:913:1d00:10::/60 description,status,tenant',
      'create prefix 2001:913:1d00:20::/60 description,status,tenant',
      'create prefix 2001:913:1d00::/60 description,status,tenant',
      'create tag ispkit slug',
    ]);
    expect(dry.conflicts.map((c) => `${c.kind} ${c.key} #${c.netboxId}`)).toEqual([
      `ip-address 80.67.191.4/32 #${ids.cpe}`,
    ]);
    expect(fake.writes).toEqual([]);

    const r = await push();
    expect(r.failed).toEqual([]);
    expect(r.applied).toBe(6);
    const alice = ip('80.67.191.2');
    expect(alice).toMatchObject({
      address: '80.67.191.2/32',
      status: { value: 'active' },
      dns_name: 'alice.members.example.be',
      description: 'alice@NEUTRINET',
      tenant: { slug: 'members' },
      tags: [{ slug: 'ispkit' }],
    });
    expect(prefix('2001:913:1d00::/60')).toMatchObject({
      status: { value: 'active' },
      description: 'alice@NEUTRINET',
      tenant: { slug: 'members' },
      tags: [{ slug: 'ispkit' }],
    });
    // Not ispkit's: untouched.
    expect(ip('80.67.191.4')).toMatchObject({ address: '80.67.191.4/24', description: 'old CPE' });
    expect(ip('80.67.191.1')?.tags).toEqual([]);
  });

  it('an object at a member address without the tag is a conflict both ways, until tagged', async () => {
    const p = await pull();
    expect(p.changes).toEqual([]);
    expect(p.conflicts.map((c) => `${c.kind} ${c.key}`)).toEqual(['reservation 80.67.191.4/32']);
    expect(p.conflicts[0]?.message).toContain('carol@NEUTRINET');
    // The store refuses it too, should a plan be stale: a held address is never reserved.
    const pool = (await ipam.loadPools()).find((x) => x.def.name === 'public');
    await expect(
      store.db
        .transaction()
        .execute((trx) => ipam.reserveIn(trx, pool?.row.id ?? 0, '80.67.191.4', 'test')),
    ).rejects.toMatchObject({ code: 'ADDRESS_IN_USE' });

    const tag = fake.ipAddresses().find((a) => a.id === ip('80.67.191.2')?.id)?.tags as {
      id: number;
    }[];
    fake.edit('ipaddress', ids.cpe as number, { tags: [tag[0]?.id] });
    const r = await push();
    expect(summary(r)).toEqual([
      'update ip-address 80.67.191.4/32 address,description,dns_name,tenant',
    ]);
    expect(ip('80.67.191.4')).toMatchObject({
      address: '80.67.191.4/32',
      description: 'carol@NEUTRINET',
      dns_name: 'carol.members.example.be',
    });
  });

  it('a second pull and push change nothing and write nothing', async () => {
    const writes = fake.writes.length;
    const p = await pull();
    const q = await push();
    expect([p.changes, p.conflicts, q.changes, q.conflicts]).toEqual([[], [], [], []]);
    expect(fake.writes.length).toBe(writes);
  });

  it('changes on either side are fixed by exactly what they call for', async () => {
    await subs.update('bob@NEUTRINET', {}, 'test', { release: true });
    const alice = ip('80.67.191.2') as Obj;
    fake.edit('ipaddress', alice.id, { dns_name: 'hand-edited.example.be' });
    fake.remove('ipaddress', ids.router as number);
    ids.printer = fake.addIpAddress({ address: '80.67.191.5/24', description: 'printer' });

    const q = await push();
    expect(summary(q)).toEqual([
      'update ip-address 80.67.191.2/32 dns_name',
      'update ip-address 80.67.191.3/32 dns_name,status',
      'update prefix 2001:913:1d00:10::/60 status',
    ]);
    // Bob's address waits in quarantine: deprecated, no PTR name, still saying whose it was.
    expect(ip('80.67.191.3')).toMatchObject({
      status: { value: 'deprecated' },
      dns_name: '',
      description: 'bob@NEUTRINET',
    });
    expect(ip('80.67.191.2')?.dns_name).toBe('alice.members.example.be');

    const p = await pull();
    expect(summary(p)).toEqual([
      'create reservation 80.67.191.5/32 netbox,pool',
      'delete reservation 80.67.191.10/32 pool',
    ]);
    const pool = await ipam.showPool('public');
    expect(pool.reservedList).toEqual(['80.67.191.1/32', '80.67.191.5/32']);

    // After the quarantine (7 days), bob's objects go.
    now += 8 * DAY;
    const gone = await push();
    expect(summary(gone)).toEqual([
      'delete ip-address 80.67.191.3/32',
      'delete prefix 2001:913:1d00:10::/60',
    ]);
    expect(ip('80.67.191.3')).toBeUndefined();
    const again = [await pull(), await push()];
    expect(again.map((r) => [r.changes, r.conflicts])).toEqual([
      [[], []],
      [[], []],
    ]);
  });

  it('a prefix that loses its tag takes its unused pool away; a used one is a conflict', async () => {
    fake.edit('prefix', ids.public as number, { tags: [] });
    const p = await pull(true);
    expect(p.changes).toEqual([]);
    expect(p.conflicts.map((c) => `${c.kind} ${c.key}`)).toEqual(['pool public']);
    fake.edit('prefix', ids.public as number, { tags: [{ slug: 'ispkit-pool' }] });
    expect((await pull()).changes).toEqual([]);
  });

  it('reports a wrong token and an unreachable NetBox clearly, without the token', async () => {
    const base = { ...sync.settings };
    const bad = new NetboxSync({ store, ipam, settings: { ...base, token: 'f'.repeat(40) } });
    const e = await bad.pull({ actor: 'test' }).catch((x: unknown) => x as Error);
    expect(e).toMatchObject({ code: 'NETBOX_AUTH' });
    expect((e as Error).message).toContain('Invalid token');
    expect((e as Error).message).not.toContain('f'.repeat(40));
    const away = new NetboxSync({ store, ipam, settings: { ...base, url: 'http://127.0.0.1:1' } });
    await expect(away.push({ actor: 'test' })).rejects.toMatchObject({
      code: 'NETBOX_UNREACHABLE',
    });
  });
});
