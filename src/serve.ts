import { availableParallelism } from 'node:os';
import { accountingHandler } from './aaa/accounting.js';
import type { AuthWorkersOptions } from './aaa/workers.js';
import type { AuthWorkerData } from './serve-worker.js';
import { authWorkerScript } from './serve-worker.js';
import { RadiusServer } from './aaa/server.js';
import type { BoundAddress } from './aaa/server.js';
import { checkTimeZone } from './aaa/session-timeout.js';
import type { App } from './app.js';
import { replyPolicy, storeOptions } from './app.js';
import { DomainError } from './errors.js';
import { buildHttp } from './http/server.js';
import type { Health } from './http/server.js';
import type { Logger } from './logging.js';
import { onceAMinute } from './logging.js';
import { webhookPull } from './netbox/webhook-pull.js';
import { loadDictionaries } from './radius/index.js';
import { SessionQueries } from './sessions/queries.js';
import { reapStaleSessions } from './sessions/recorder.js';
import { AccountingWriter } from './sessions/writer.js';
import type { RecordWriter } from './sessions/writer.js';
import { WriterThread } from './sessions/writer-thread.js';
import type { WriterWorkerData } from './sessions/writer-worker.js';
import { writerWorkerScript } from './sessions/writer-worker.js';
import { dataPath } from './config/config.js';
import { outageTolerant } from './aaa/degraded.js';
import { AccountingPipeline } from './sessions/pipeline.js';
import { AccountingSpool } from './sessions/spool.js';
import { serverMetrics, storeHealthJson } from './serve-metrics.js';

/** The auth worker threads `radius.workers` asks for (none with a test clock: it stays here). */
function authWorkers(
  app: App,
  workers: number | 'auto',
  logLevel: string,
): AuthWorkersOptions | undefined {
  const count = workers === 'auto' ? Math.min(8, availableParallelism() - 1) : workers;
  if (count <= 0) return undefined;
  const data: AuthWorkerData = {
    ispkitAuthWorker: true,
    config: app.config,
    dataDir: app.dataDir,
    logLevel,
  };
  return {
    count,
    ...authWorkerScript(),
    workerData: { ...data },
    changeCounter: () => app.store.changeCounter(),
  };
}

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
  writer: RecordWriter;
  /** Accounting's way to the database, through the spool when the database is away. */
  pipeline: AccountingPipeline;
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
  // The NAS secrets must open with this data dir's key: a second instance started with a key
  // of its own would drop every packet. Say so now, once, rather than per request.
  try {
    await app.nasDirectory.lookup('0.0.0.0');
  } catch (e) {
    if (e instanceof DomainError && e.code === 'SECRET_UNREADABLE') {
      throw new DomainError(
        'SECRET_KEY_MISMATCH',
        `${dataPath(app.dataDir, config.key_file)} does not open the secrets in this database: ` +
          'every instance of one database needs the same key file (copy it from the first)',
      );
    }
    throw e;
  }
  const dictionary = loadDictionaries(config.radius.dictionaries);
  const logger = opts.logger;
  /** Runs `log` at most once a minute per key (an outage must not flood the log). */
  const logOnce = onceAMinute();
  const apply = { serialize: app.store.dialect === 'postgres' };
  const notCommitted = 'accounting batch not committed (spooled, or retransmitted)';
  // The writer in a thread of its own (accounting.writer_thread): a commit, fsync included,
  // then never holds up the RADIUS sockets.
  const writer: RecordWriter = config.accounting.writer_thread
    ? await WriterThread.start({
        ...writerWorkerScript(),
        workerData: {
          ispkitWriterWorker: true,
          url: config.database,
          dataDir: app.dataDir,
          store: storeOptions(config),
          apply,
        } satisfies WriterWorkerData,
        onError: (message, n) => logger.warn({ err: { message }, records: n }, notCommitted),
        onExit: (why) =>
          logger.error({ why }, 'accounting writer thread died: accounting goes to the spool'),
      })
    : new AccountingWriter(app.store.db, {
        apply,
        sqlite: app.store.sqlite,
        onError: (err, n) => logger.warn({ err, records: n }, notCommitted),
      });
  const spool = await AccountingSpool.open(dataPath(app.dataDir, config.accounting.spool_dir));
  const pipeline = new AccountingPipeline(writer, spool, app.store.db, {
    spoolAfterMs: config.accounting.spool_after * 1000,
    apply,
    log: {
      spooling: (reason) =>
        logger.warn({ spool: spool.dir }, `accounting goes to the spool: ${reason}`),
      replayed: (records, ms) =>
        logger.info({ records, ms }, 'accounting spool replayed into the database'),
      rejected: (rec, reason) =>
        logger.error(
          { session: rec.ev.uniqueId, user: rec.ev.username, reason },
          'accounting record refused by the database; kept in rejected.jsonl',
        ),
      replayFailed: (err, retryInMs) =>
        logOnce('replay', () =>
          logger.warn({ err, retryInMs }, 'accounting spool replay waits for the database'),
        ),
    },
  });
  pipeline.start();
  app.store.onHealthChange((h) => {
    if (h.state === 'up') logger.info({ endpoint: h.endpoint }, 'database connection up');
    else logger.error({ error: h.lastError }, 'database connection down');
  });
  const { subscribers: subscriberCache, sessions } = outageTolerant({
    subscribers: app.subscribers,
    sessions: new SessionQueries(app.store.db),
    changeCounter: () => app.store.changeCounter(),
    maxStaleMs: config.auth.max_staleness * 1000,
    logger,
    logOnce,
  });
  const started = Date.now();
  const radius = new RadiusServer({
    dictionary,
    nas: app.nasDirectory,
    subscribers: subscriberCache,
    sessions,
    ...replyPolicy(config),
    accounting: accountingHandler(pipeline),
    listen: opts.listen ?? config.listen,
    authPort: opts.authPort ?? config.radius.auth_port,
    acctPort: opts.acctPort ?? config.radius.acct_port,
    duplicateWindowMs: config.radius.duplicate_window * 1000,
    receiveBuffer: config.radius.receive_buffer,
    logger,
    now: opts.now,
    // radius.workers: Access-Requests answered by worker threads (aaa/workers.ts).
    authWorkers: opts.now ? undefined : authWorkers(app, config.radius.workers, logger.level),
  });
  await radius.start();

  const now = opts.now ?? Date.now;
  const reaper = setInterval(() => {
    // One instance at a time (several on one database): the others skip this round.
    app.store
      .exclusive('stale-session-reaper', (trx) =>
        reapStaleSessions(
          trx,
          now(),
          config.session.interim_interval,
          config.session.stale_after_interims,
        ),
      )
      .then((r) => {
        if (r.ran && r.value > 0)
          logger.info({ sessions: r.value }, 'closed sessions without updates as lost');
      })
      .catch((err: unknown) => logger.warn({ err }, 'stale-session reaper failed'));
  }, 30_000);
  reaper.unref();

  const http = buildHttp({
    netboxWebhook: webhookPull(app, logger),
    health: async (): Promise<Health> => {
      let store: Health['store'] = { dialect: app.store.dialect, ok: true };
      try {
        await app.store.ping();
      } catch (e) {
        store = { dialect: app.store.dialect, ok: false, error: (e as Error).message };
      }
      store = { ...store, ...storeHealthJson(app.store.health()) };
      const p = pipeline.stats();
      return {
        status: store.ok ? 'ok' : 'degraded',
        spool: {
          mode: p.mode,
          records: p.pending,
          oldest_age_s: p.oldestAt === undefined ? null : Math.round((now() - p.oldestAt) / 1000),
          segments: p.segments,
          bytes: p.bytes,
          rejected: p.rejected,
          spooled_since_start: p.spooled,
          replayed_since_start: p.replayedRecords,
        },
        version: '0.1.0',
        uptime_s: Math.round((Date.now() - started) / 1000),
        store,
        radius: {
          ...radius.counters.toJSON(),
          accounting_queue: writer.depth,
          auth_cache: {
            entries: subscriberCache.size,
            hits: subscriberCache.hits,
            misses: subscriberCache.misses,
            stale_answers: subscriberCache.staleAnswers,
          },
        },
      };
    },
    metrics: () =>
      serverMetrics({ store: app.store, pipeline, writer, subscriberCache, radius, now }),
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
    pipeline,
    addresses: radius.addresses(),
    httpPort,
    stop: async () => {
      clearInterval(reaper);
      await radius.stop();
      await pipeline.stop();
      await writer.close();
      await http.close();
      await app.close();
    },
  };
}
