import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeNetbox } from '../../test/helpers/fake-netbox.js';
import { authorization, describeError, NbIpAddress, NbTag, NetboxClient } from './client.js';

let fake: FakeNetbox | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

const client = (f: FakeNetbox, token = f.token, timeoutMs = 5000) =>
  new NetboxClient({ url: f.url, token, timeoutMs });

describe('NetboxClient against the fake NetBox (4.4)', () => {
  it('follows limit/offset pages to the end', async () => {
    fake = await new FakeNetbox({ maxPageSize: 2 }).start();
    for (const s of ['a', 'b', 'c', 'd', 'e']) fake.addTag(s);
    const tags = await client(fake).list('extras/tags', {}, NbTag);
    expect(tags.map((t) => t.slug)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(fake.requests.map((r) => new URLSearchParams(r.query).get('offset'))).toEqual([
      null,
      '2',
      '4',
    ]);
  });

  it("keeps to the configured URL when NetBox's next links name another host (a proxy)", async () => {
    fake = await new FakeNetbox({
      maxPageSize: 1,
      publicUrl: 'https://netbox.example.net',
    }).start();
    fake.addTag('a');
    fake.addTag('b');
    const tags = await client(fake).list('extras/tags', {}, NbTag);
    expect(tags).toHaveLength(2);
  });

  it('sends filters, repeated for several values', async () => {
    fake = await new FakeNetbox().start();
    for (const s of ['ispkit', 'ispkit-pool', 'other']) fake.addTag(s);
    const tags = await client(fake).list('extras/tags', { slug: ['ispkit', 'ispkit-pool'] }, NbTag);
    expect(tags.map((t) => t.slug)).toEqual(['ispkit', 'ispkit-pool']);
  });

  it('uses Bearer for NetBox 4.5 v2 tokens and Token for v1 ones', async () => {
    expect(authorization('0123456789abcdef0123456789abcdef01234567')).toBe(
      'Token 0123456789abcdef0123456789abcdef01234567',
    );
    const v2 = 'nbt_abc123DEF456.s3cr3tPartOfTheToken';
    expect(authorization(v2)).toBe(`Bearer ${v2}`);
    fake = await new FakeNetbox({ v2Token: v2 }).start();
    await expect(client(fake, v2).list('extras/tags', {}, NbTag)).resolves.toEqual([]);
  });

  it("reports NetBox's refusals with its own words, and never the token", async () => {
    fake = await new FakeNetbox().start();
    const bad = client(fake, 'b'.repeat(40));
    const e = (await bad.list('extras/tags', {}, NbTag).catch((x: unknown) => x)) as Error;
    expect(e).toMatchObject({ code: 'NETBOX_AUTH' });
    expect(e.message).not.toContain('b'.repeat(40));

    const ok = client(fake);
    await ok.create('ipam/ip-addresses', [{ address: '192.0.2.1/24' }]);
    await expect(
      ok.create('ipam/ip-addresses', [{ address: '192.0.2.1/32' }]),
    ).rejects.toMatchObject({
      code: 'NETBOX_API',
      message: expect.stringContaining('Duplicate IP address found in global table'),
    });
    const [made] = await ok.list('ipam/ip-addresses', {}, NbIpAddress);
    expect(made?.address).toBe('192.0.2.1/24');
  });

  it('says NetBox is unreachable, or too slow, in one line', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const gone = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const away = new NetboxClient({
      url: `http://127.0.0.1:${gone}`,
      token: 't',
      timeoutMs: 2000,
    });
    await expect(away.list('extras/tags', {}, NbTag)).rejects.toMatchObject({
      code: 'NETBOX_UNREACHABLE',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    const silent = createServer(() => undefined);
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const { port } = silent.address() as AddressInfo;
    const slow = new NetboxClient({ url: `http://127.0.0.1:${port}`, token: 't', timeoutMs: 200 });
    await expect(slow.list('extras/tags', {}, NbTag)).rejects.toMatchObject({
      code: 'NETBOX_UNREACHABLE',
      message: expect.stringContaining('no answer within 0.2 s'),
    });
    silent.closeAllConnections();
    await new Promise((done) => silent.close(done));
  });
});

describe('describeError', () => {
  it("reads NetBox's detail, field errors and bulk lists", () => {
    expect(describeError({ detail: 'Invalid token' })).toBe('Invalid token');
    expect(describeError({ address: ['Duplicate IP address found in global table: x'] })).toBe(
      'address: Duplicate IP address found in global table: x',
    );
    expect(describeError([{}, { status: ['"bogus" is not a valid choice.'] }])).toBe(
      'status: "bogus" is not a valid choice.',
    );
  });
});
