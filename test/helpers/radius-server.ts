import type { RadiusServerOptions } from '../../src/aaa/server.js';
import { createLogger } from '../../src/logging.js';

/**
 * A RadiusServer's options for a test on loopback: ports chosen by the system, a 30 s duplicate
 * window, the reconnect at midnight UTC, MPPE required, no log. Spread it, then add the
 * dictionary, the NAS and subscriber lookups, and whatever the test changes.
 */
export const LOOPBACK_SERVER = {
  listen: ['127.0.0.1'],
  authPort: 0,
  acctPort: 0,
  duplicateWindowMs: 30_000,
  receiveBuffer: 1 << 20,
  interimInterval: 60,
  reconnect: { enabled: true, at: '00:00', timeZone: 'UTC' },
  mppe: { encryptionPolicy: 2, encryptionTypes: 4 },
  logger: createLogger('silent'),
} as const satisfies Partial<RadiusServerOptions>;
