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
