// `ispkit serve` in-process on 127.0.0.1 with free ports, as most server tests run it, and RADIUS
// clients aimed at its auth or accounting port.
import type { App } from '../../src/app.js';
import type { Logger } from '../../src/logging.js';
import { createLogger } from '../../src/logging.js';
import { bundledDictionary, RadiusClient } from '../../src/radius/index.js';
import type { Running } from '../../src/serve.js';
import { serve } from '../../src/serve.js';

export interface Serving {
  readonly running: Running;
  /** http://127.0.0.1:PORT */
  readonly http: string;
  port(kind: 'auth' | 'acct'): number;
  /** A client of the auth or accounting port (closed by stop()). */
  client(
    kind: 'auth' | 'acct',
    secret: string,
    opts?: { timeoutMs?: number; retries?: number },
  ): RadiusClient;
  /** Closes the clients, then stops the server. */
  stop(): Promise<void>;
}

export async function startServing(app: App, logger?: Logger): Promise<Serving> {
  const running = await serve(app, {
    listen: ['127.0.0.1'],
    authPort: 0,
    acctPort: 0,
    httpPort: 0,
    logger: logger ?? createLogger('silent'),
  });
  const clients: RadiusClient[] = [];
  const port = (kind: 'auth' | 'acct'): number =>
    running.addresses.find((a) => a.kind === kind)?.port ?? 0;
  return {
    running,
    http: `http://127.0.0.1:${running.httpPort}`,
    port,
    client: (kind, secret, opts = {}) => {
      const c = new RadiusClient({
        host: '127.0.0.1',
        port: port(kind),
        secret: Buffer.from(secret),
        dictionary: bundledDictionary(),
        timeoutMs: opts.timeoutMs ?? 1000,
        retries: opts.retries ?? 2,
      });
      clients.push(c);
      return c;
    },
    stop: async () => {
      for (const c of clients) c.close();
      await running.stop();
    },
  };
}

/**
 * The seed exchange's line: NAS `lo` on 127.0.0.1 (Message-Authenticator required) and its
 * member, with the reply the seed's Access-Accept carries (test/fixtures/seed.ts).
 */
export async function addSeedLine(app: App, secret: string): Promise<void> {
  await app.nas.add('lo', '127.0.0.1', secret, true, 'test');
  await app.subscribers.add(
    {
      username: 'p1f9bd1@NEUTRINET',
      password: 'pw-1',
      ipv4: '80.67.191.6',
      ipv6Prefix: '2001:913:1d00:600::/64',
      delegatedPrefix: '2001:913:1d00:600::/60',
      mtu: 1500,
      portLimit: 1,
    },
    'test',
  );
}
