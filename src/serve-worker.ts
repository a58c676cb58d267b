/**
 * An auth worker thread of `ispkit serve` (`radius.workers`, see aaa/workers.ts): its own store
 * connection, subscriber cache and Port-Limit queries, answering the Access-Requests the main
 * thread hands it. Importing this module on the main thread does nothing.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { replyPolicy, storeOptions } from './app.js';
import { LogCollector, runAuthWorker } from './aaa/auth-worker.js';
import { ServerCounters } from './aaa/counters.js';
import { outageTolerant } from './aaa/degraded.js';
import { PacketProcessor } from './aaa/processor.js';
import type { Config } from './config/config.js';
import { dataPath } from './config/config.js';
import { createLogger, onceAMinute } from './logging.js';
import { loadDictionaries } from './radius/index.js';
import { SecretBox } from './secrets/box.js';
import { SessionQueries } from './sessions/queries.js';
import { openStore } from './store/store.js';
import { SubscriberService } from './subscribers/service.js';

/** What serve.ts gives each worker. */
export interface AuthWorkerData {
  ispkitAuthWorker: true;
  config: Config;
  dataDir: string;
  /** The main thread logger's level (the config's, or what the caller chose). */
  logLevel: string;
  /** Added by AuthWorkers: the store's change counter when the worker was started. */
  initialCounter?: number;
}

/**
 * The worker's script: the compiled file next to this one. From TypeScript sources (tests, tsx)
 * a small bootstrap registers tsx in the thread first.
 */
export function authWorkerScript(): { script: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith('.ts'))
    return { script: new URL('./serve-worker.js', import.meta.url), eval: false };
  const source = JSON.stringify(new URL('./serve-worker.ts', import.meta.url).href);
  return {
    script: `import('tsx/esm/api').then((t) => { t.register(); return import(${source}); });`,
    eval: true,
  };
}

/** Members read into a worker's cache at start, at most (the cache's own default bound). */
const WARM_LIMIT = 200_000;

function isWorkerData(d: unknown): d is AuthWorkerData {
  return typeof d === 'object' && d !== null && (d as AuthWorkerData).ispkitAuthWorker === true;
}

if (!isMainThread && parentPort && isWorkerData(workerData)) {
  const { config, dataDir, logLevel, initialCounter } = workerData;
  const port = parentPort;
  await runAuthWorker(port, initialCounter ?? 0, async (changeCounter, onSigns) => {
    const log = new LogCollector();
    const logger = createLogger(logLevel, log);
    const box = SecretBox.fromKeyFile(dataPath(dataDir, config.key_file));
    // A few connections are enough: a worker reads a subscriber once, then serves from memory.
    const options = storeOptions(config);
    const store = await openStore(config.database, dataDir, {
      ...options,
      poolSize: Math.min(options.poolSize ?? 4, 4),
    });
    const logOnce = onceAMinute();
    let stopped = false;
    const service = new SubscriberService(store, box);
    const { subscribers, sessions } = outageTolerant({
      subscribers: service,
      sessions: new SessionQueries(store.db),
      changeCounter,
      maxStaleMs: config.auth.max_staleness * 1000,
      logger,
      logOnce,
    });
    const counters = new ServerCounters();
    const processor = new PacketProcessor({
      dictionary: loadDictionaries(config.radius.dictionaries),
      subscribers,
      sessions,
      ...replyPolicy(config),
      logger,
      counters,
      now: Date.now,
      onSigns,
    });
    /**
     * Every member read once at start (bounded by the cache's size), with their reply attributes
     * built: the first request of each member then costs no query, no AES-GCM open and no
     * encoding (FreeRADIUS's `files` reads its users at start too). The main thread waits for
     * this (bounded, see AuthWorkers) before it takes requests. A few reads at a time: on
     * PostgreSQL each is a round trip.
     */
    const warm = async (): Promise<number> => {
      const names = (await service.list()).slice(0, WARM_LIMIT).map((s) => s.username);
      let next = 0;
      const lane = async (): Promise<void> => {
        while (!stopped && next < names.length) {
          const sub = await subscribers.findForAuth(names[next++] as string);
          if (sub) processor.prepareReply(sub);
        }
      };
      await Promise.all([lane(), lane(), lane(), lane()]);
      return names.length;
    };
    return {
      processor,
      counters,
      log,
      logger,
      warm,
      close: () => {
        stopped = true;
        return store.close();
      },
    };
  });
}
