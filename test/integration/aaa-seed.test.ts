import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RadiusServer } from '../../src/aaa/server.js';
import type { AuthSubscriber, NasClient } from '../../src/aaa/ports.js';
import {
  bundledDictionary,
  formatAttributes,
  msChapV1Request,
  parseAttributes,
  RadiusClient,
} from '../../src/radius/index.js';
import { lines, SEED_ACCESS_ACCEPT, SEED_ACCESS_REQUEST } from '../fixtures/seed.js';
import { LOOPBACK_SERVER } from '../helpers/radius-server.js';

const dict = bundledDictionary();
const secret = Buffer.from('collecte-secret');
const nas: NasClient = { name: 'collecte', secret, requireMessageAuthenticator: true };
const member: AuthSubscriber = {
  username: 'p1f9bd1@NEUTRINET',
  status: 'active',
  password: 'seed-password',
  ipv4: '80.67.191.6',
  ipv6Prefix: '2001:913:1d00:600::/64',
  delegatedPrefix: '2001:913:1d00:600::/60',
  mtu: 1500,
  portLimit: 1,
  interim: null,
};

let server: RadiusServer;
let client: RadiusClient;

beforeAll(async () => {
  server = new RadiusServer({
    dictionary: dict,
    nas: { lookup: (a) => Promise.resolve(a === '127.0.0.1' ? nas : undefined) },
    subscribers: {
      findForAuth: (u) =>
        Promise.resolve(u.toLowerCase() === member.username.toLowerCase() ? member : undefined),
    },
    ...LOOPBACK_SERVER,
    // The seed request arrived at 10:11:32 UTC.
    now: () => Date.parse('2025-04-08T10:11:32Z'),
  });
  await server.start();
  const auth = server.addresses().find((a) => a.kind === 'auth');
  client = new RadiusClient({
    host: '127.0.0.1',
    port: auth?.port ?? 0,
    secret,
    dictionary: dict,
    timeoutMs: 500,
    retries: 1,
  });
});

afterAll(async () => {
  client.close();
  await server.stop();
});

describe('replaying the seed Access-Request', () => {
  it('gets an Access-Accept carrying the seed attribute list, Message-Authenticator first', async () => {
    const req = msChapV1Request(dict, 'p1f9bd1@NEUTRINET', member.password);
    // Everything else the operator's proxy sent, as in the capture.
    for (const a of parseAttributes(dict, SEED_ACCESS_REQUEST)) {
      if (
        ['User-Name', 'MS-CHAP-Challenge', 'MS-CHAP-Response', 'Message-Authenticator'].includes(
          a.def.name,
        )
      )
        continue;
      req.attributes.push(a);
    }
    const reply = await client.send(req);
    expect(reply.codeName).toBe('Access-Accept');
    const got = formatAttributes(reply.attributes);
    expect(got[0]).toMatch(/^Message-Authenticator = 0x[0-9a-f]{32}$/);
    // The MPPE keys depend on the password: compare the rest as text, that one by shape.
    const expected = lines(SEED_ACCESS_ACCEPT);
    expect(
      got
        .slice(1)
        .map((l) => l.replace(/^(MS-CHAP-MPPE-Keys = 0x0000000000000000)[0-9a-f]{32}$/, '$1…')),
    ).toEqual(
      expected.map((l) =>
        l.replace(/^(MS-CHAP-MPPE-Keys = 0x0000000000000000)[0-9a-f]{32}$/, '$1…'),
      ),
    );
    expect(reply.get('Session-Timeout')).toBe(49708);
  });
});
