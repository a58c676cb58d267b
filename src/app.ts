import { existsSync, mkdirSync } from 'node:fs';
import { NasDirectory, NasService } from './aaa/nas-clients.js';
import type { NasLookup, SubscriberLookup } from './aaa/ports.js';
import type { ProcessorOptions } from './aaa/processor.js';
import type { Config } from './config/config.js';
import { dataPath, loadConfig } from './config/config.js';
import { DomainError } from './errors.js';
import { IpamService } from './ipam/service.js';
import { SecretBox } from './secrets/box.js';
import type { Store, StoreOptions } from './store/store.js';
import { openStore } from './store/store.js';
import { SubscriberService } from './subscribers/service.js';

export interface AppOptions {
  /** Default: ISPKIT_DATA, then `./data`. */
  dataDir?: string;
  /** Default: `DIR/ispkit.yaml`. */
  configFile?: string;
  /** Create the data dir, config and key file when missing (serve, and commands that add). */
  create?: boolean;
}

/** The services, built once; the CLI, the HTTP API and the RADIUS server all use these. */
export interface App {
  readonly config: Config;
  readonly dataDir: string;
  readonly store: Store;
  readonly box: SecretBox;
  readonly subscribers: SubscriberService;
  /** Address pools, allocation and who held which address when. */
  readonly ipam: IpamService;
  readonly nas: NasService;
  /** What the RADIUS server asks for the NAS of a source address. */
  readonly nasDirectory: NasDirectory;
  /** The migrations this open applied (empty when the database was up to date). */
  readonly migrationsApplied: string[];
  close(): Promise<void>;
}

export async function openApp(options: AppOptions = {}): Promise<App> {
  const { config, dataDir } = loadConfig(options);
  if (!existsSync(dataDir)) {
    // Reading from a data dir that is not there is a typo in --data, not a wish for a new one.
    if (!options.create) {
      throw new DomainError(
        'DATA_DIR_MISSING',
        `no data directory at ${dataDir} (give --data DIR or set ISPKIT_DATA)`,
        'not_found',
      );
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  }
  const box = SecretBox.fromKeyFile(dataPath(dataDir, config.key_file));
  const store = await openStore(config.database, dataDir, storeOptions(config));
  let migrationsApplied: string[];
  try {
    migrationsApplied = await store.migrate();
  } catch (e) {
    await store.close();
    throw e;
  }
  const ipam = new IpamService(store);
  const subscribers = new SubscriberService(store, box, Date.now, ipam);
  const nasDirectory = new NasDirectory(store, box, config.auth.max_staleness * 1000);
  // store.announceChange() after each commit moves the change counter the directory watches.
  const nas = new NasService(store, box);
  return {
    config,
    dataDir,
    store,
    box,
    subscribers,
    ipam,
    nas,
    nasDirectory,
    migrationsApplied,
    close: () => store.close(),
  };
}

/** The config's `store` block, in the store's terms. */
export function storeOptions(config: Config): StoreOptions {
  const s = config.store;
  return {
    replicaUrl: s.replica_url,
    poolSize: s.pool_size,
    connectTimeoutMs: s.connect_timeout * 1000,
    queryTimeoutMs: s.query_timeout * 1000,
    maxBackoffMs: s.max_backoff * 1000,
    changes: s.changes,
    listenUrl: s.listen_url,
    pollIntervalMs: s.poll_interval * 1000,
  };
}

/** The config's answer policy (Port-Limit, interim interval, reconnection, MPPE), in the AAA terms. */
export function replyPolicy(
  config: Config,
): Pick<ProcessorOptions, 'simultaneousUse' | 'interimInterval' | 'reconnect' | 'mppe'> {
  return {
    simultaneousUse: config.session.simultaneous_use,
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
  };
}

// The RADIUS server depends on the ports only; these lines fail to compile if the services drift.
const _subscriberLookup = (s: SubscriberService): SubscriberLookup => s;
const _nasLookup = (d: NasDirectory): NasLookup => d;
