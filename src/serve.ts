import { accountingHandler } from './aaa/accounting.js';
import { RadiusServer } from './aaa/server.js';
import type { BoundAddress } from './aaa/server.js';
import { checkTimeZone } from './aaa/session-timeout.js';
import { SubscriberCache } from './aaa/subscriber-cache.js';
import type { App } from './app.js';
import { DomainError } from './errors.js';
import { buildHttp } from './http/server.js';
import type { Health } from './http/server.js';
import type { Logger } from './logging.js';
import { loadDictionaries } from './radius/index.js';
import { SessionQueries } from './sessions/queries.js';
import { reapStaleSessions } from './sessions/recorder.js';
import { AccountingWriter } from './sessions/writer.js';

export interface ServeOptions {
  listen?: string[];
  authPort?: number;
  acctPort?: number;
  httpPort?: number;
  logger: Logger;
  now?: () => number;
}

export interface Running {
  radius: RadiusServer;
  writer: AccountingWriter;
  addresses: BoundAddress[];
  httpPort: number;
  /** Stops taking requests, finishes those in progress, commits accounting, closes the store. */
  stop(): Promise<void>;
}

/** Starts the RADIUS listeners, the accounting writer, the stale-session reaper and HTTP. */
export async function serve(app: App, opts: ServeOptions): Promise<Running> {
  const { config } = app;
  try {
    checkTimeZone(config.session.reconnect.time_zone);
  } catch {
    throw new DomainError(
      'CONFIG_INVALID',
      `session.reconnect.time_zone: unknown time zone '${config.session.reconnect.time_zone}'`,
    );
  }
  const dictionary = loadDictionaries(config.radius.dictionaries);
  const logger = opts.logger;
  const writer = new AccountingWriter(app.store.db, {
    onError: (err, n) =>
      logger.error({ err, records: n }, 'accounting batch not committed; the NAS will retransmit'),
  });
  const sessions = new SessionQueries(app.store.db);
  const started = Date.now();
  const radius = new RadiusServer({
    dictionary,
    nas: app.nasDirectory,
    subscribers: new SubscriberCache(app.subscribers, () => app.store.changeCounter()),
    sessions,
    simultaneousUse: config.session.simultaneous_use,
    accounting: accountingHandler(writer),
    listen: opts.listen ?? config.listen,
    authPort: opts.authPort ?? config.radius.auth_port,
    acctPort: opts.acctPort ?? config.radius.acct_port,
    duplicateWindowMs: config.radius.duplicate_window * 1000,
    receiveBuffer: config.radius.receive_buffer,
    interimInterval: config.session.interim_interval,
    reconnect: {
      enabled: config.session.reconnect.enabled,
      at: config.session.reconnect.at,
      timeZone: config.session.reconnect.time_zone,
    },
    mppe: {
      encryptionPolicy: config.radius.mppe.encryption_policy === 'required' ? 2 : 1,
      encryptionTypes: config.radius.mppe.encryption_types,
    },
    logger,
    now: opts.now,
  });
  await radius.start();

  const now = opts.now ?? Date.now;
  const reaper = setInterval(() => {
    reapStaleSessions(
      app.store.db,
      now(),
      config.session.interim_interval,
      config.session.stale_after_interims,
    )
      .then((n) => {
        if (n > 0) logger.info({ sessions: n }, 'closed sessions without updates as lost');
      })
      .catch((err: unknown) => logger.warn({ err }, 'stale-session reaper failed'));
  }, 30_000);
  reaper.unref();

  const http = buildHttp({
    health: async (): Promise<Health> => {
      let store: Health['store'] = { dialect: app.store.dialect, ok: true };
      try {
        await app.store.ping();
      } catch (e) {
        store = { dialect: app.store.dialect, ok: false, error: (e as Error).message };
      }
      return {
        status: store.ok ? 'ok' : 'degraded',
        version: '0.1.0',
        uptime_s: Math.round((Date.now() - started) / 1000),
        store,
        radius: { ...radius.counters.toJSON(), accounting_queue: writer.depth },
      };
    },
  });
  const httpListen = (opts.listen ?? config.listen).includes('::')
    ? '::'
    : (opts.listen ?? config.listen)[0];
  await http.listen({ port: opts.httpPort ?? config.http.port, host: httpListen });
  const address = http.server.address();
  const httpPort = typeof address === 'object' && address ? address.port : 0;

  return {
    radius,
    writer,
    addresses: radius.addresses(),
    httpPort,
    stop: async () => {
      clearInterval(reaper);
      await radius.stop();
      await writer.flush();
      await http.close();
      await app.close();
    },
  };
}
