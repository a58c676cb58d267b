import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DomainError } from '../errors.js';
import { PURPOSES } from '../ipam/pools.js';

const port = z.number().int().min(0).max(65535);

export const ConfigSchema = z.object({
  /** `sqlite:PATH` (relative to the data dir) or `postgres://…`; ISPKIT_DATABASE_URL wins. */
  database: z.string().min(1).default('sqlite:ispkit.db'),
  /** Addresses the RADIUS and HTTP listeners bind to. */
  listen: z.array(z.string().min(1)).min(1).default(['0.0.0.0', '::']),
  /** The file holding the key that seals secrets at rest (relative to the data dir). */
  key_file: z.string().min(1).default('secret.key'),
  radius: z
    .object({
      auth_port: port.default(1812),
      acct_port: port.default(1813),
      /** A folder of extra FreeRADIUS-format dictionaries, loaded after the bundled ones. */
      dictionaries: z.string().optional(),
      /** RFC 5080 duplicate detection: how long answers are kept for retransmissions, seconds. */
      duplicate_window: z.number().min(1).max(60).default(30),
      /** The kernel's receive buffer for each RADIUS socket, in bytes. */
      receive_buffer: z
        .number()
        .int()
        .min(65536)
        .default(8 * 1024 * 1024),
      /**
       * Threads that answer Access-Requests besides the main one (which keeps the sockets,
       * duplicate detection and accounting). 0: the main thread answers them itself; `auto`
       * (the default): one per CPU core beyond the first, at most 8 — none on a 1-core machine.
       */
      workers: z.union([z.literal('auto'), z.number().int().min(0).max(64)]).default('auto'),
      /** MPPE attributes in MS-CHAP replies (the seed: Encryption-Required, types 4 = 128-bit). */
      mppe: z
        .object({
          encryption_policy: z.enum(['required', 'allowed']).default('required'),
          encryption_types: z.number().int().min(1).max(0xffffffff).default(4),
        })
        .prefault({}),
    })
    .prefault({}),
  http: z.object({ port: port.default(8080) }).prefault({}),
  session: z
    .object({
      /** Acct-Interim-Interval sent to NASes unless a subscriber has its own. */
      interim_interval: z.number().int().min(0).default(60),
      /** A session without an update for this many interim intervals is closed as lost. */
      stale_after_interims: z.number().min(1).default(3),
      /** A subscriber at Port-Limit open sessions: refuse, or end the oldest and accept. */
      simultaneous_use: z.enum(['reject', 'accept-mark-oldest']).default('reject'),
      /**
       * End every session at a fixed time of day (Session-Timeout), so that accounting splits
       * cleanly by day: `at` is HH:MM in `time_zone`.
       */
      reconnect: z
        .object({
          enabled: z.boolean().default(true),
          at: z
            .string()
            .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
            .default('00:00'),
          time_zone: z.string().default('UTC'),
        })
        .prefault({}),
    })
    .prefault({}),
  /** How PostgreSQL is reached (docs/operations.md); SQLite ignores it. */
  store: z
    .object({
      /** A read-only DSN (a replica) for reports and heavy reads; ISPKIT_DATABASE_REPLICA_URL wins. */
      replica_url: z.string().min(1).optional(),
      /** Connections per instance at most. */
      pool_size: z.number().int().min(1).max(200).default(10),
      /** Seconds to wait for a connection. */
      connect_timeout: z.number().min(0.1).max(120).default(5),
      /** Seconds a query may run before it fails and its connection is closed. */
      query_timeout: z.number().min(0.1).max(3600).default(30),
      /** Upper bound of the reconnection backoff, seconds. */
      max_backoff: z.number().min(0.1).max(300).default(5),
      /**
       * How an instance learns that another one changed NAS clients or subscribers: `listen`
       * (LISTEN/NOTIFY) or `poll` (for PgBouncer in transaction mode, which cannot LISTEN).
       */
      changes: z.enum(['listen', 'poll']).default('listen'),
      /** A direct DSN for LISTEN when `database` goes through PgBouncer. */
      listen_url: z.string().min(1).optional(),
      /** `poll`: seconds between two reads of the change counter. */
      poll_interval: z.number().min(0.1).max(60).default(1),
    })
    .prefault({}),
  accounting: z
    .object({
      /** The spool folder (relative to the data dir): records wait here while the database is away. */
      spool_dir: z.string().min(1).default('spool'),
      /** A record not committed within this many seconds goes to the spool. */
      spool_after: z.number().min(0.05).max(60).default(2),
      /** Commit accounting in a thread of its own, so that commits never hold up RADIUS. */
      writer_thread: z.boolean().default(true),
    })
    .prefault({}),
  auth: z
    .object({
      /**
       * During a database outage, a subscriber (or NAS) read from the database at most this many
       * seconds ago still authenticates from the cache. 0: nobody does.
       */
      max_staleness: z.number().min(0).default(86_400),
    })
    .prefault({}),
  log: z
    .object({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  /** The NetBox link (docs/netbox.md); absent: no sync, no webhook. */
  netbox: z
    .object({
      /** NetBox's base URL, e.g. https://netbox.example.net (the API is under /api/). */
      url: z.url({ protocol: /^https?$/ }),
      /** The API token in clear; prefer token_file or ISPKIT_NETBOX_TOKEN (which wins). */
      token: z.string().min(1).optional(),
      /** A file holding the token (relative to the data dir). */
      token_file: z.string().min(1).optional(),
      /** Prefixes carrying this tag are imported as pools. */
      pool_tag: z.string().min(1).default('ispkit-pool'),
      /** ispkit marks the objects it owns with this tag, and never touches others. */
      owner_tag: z.string().min(1).default('ispkit'),
      /** Prefix role slug → pool purpose (the purposes' own names map to themselves). */
      roles: z.record(z.string(), z.enum(PURPOSES)).default({}),
      /** An integer custom field on prefixes giving the allocation size (else the default). */
      size_field: z.string().min(1).default('ispkit_size'),
      /** The PTR name of an IPv4 address: {user} {realm} {ip_dashed} {pool}; '' for none. */
      dns_name: z.string().default(''),
      /** The description of an address or prefix: {username} {user} {realm} {pool}. */
      description: z.string().default('{username}'),
      /** A tenant slug set on every object ispkit owns (e.g. members). */
      tenant: z.string().min(1).optional(),
      /** X-Hook-Signature check of webhooks; ISPKIT_NETBOX_WEBHOOK_SECRET wins. */
      webhook_secret: z.string().min(1).optional(),
      /** Per HTTP request to NetBox, seconds. */
      timeout: z.number().min(1).max(300).default(10),
    })
    .optional(),
});

export type Config = z.infer<typeof ConfigSchema>;

export interface LoadedConfig {
  config: Config;
  dataDir: string;
  configFile: string;
  /** True when this call created the config file (first start). */
  created: boolean;
}

const FIRST_CONFIG = `# ispkit configuration. Every key is optional; see docs/configuration.md.
# database: sqlite:ispkit.db          # or postgres://user@host/db (or ISPKIT_DATABASE_URL)
# listen: ['0.0.0.0', '::']
# radius:
#   auth_port: 1812
#   acct_port: 1813
#   dictionaries: /etc/ispkit/dictionaries   # extra FreeRADIUS-format dictionaries
# http:
#   port: 8080
# session:
#   interim_interval: 60
#   reconnect: { enabled: true, at: '00:00', time_zone: UTC }
`;

export interface ConfigSources {
  dataDir?: string;
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Create the data dir and a commented config file when missing (serve, init). */
  create?: boolean;
}

/** Loads the YAML config (data dir default `./data`, file default `DIR/ispkit.yaml`). */
export function loadConfig(src: ConfigSources = {}): LoadedConfig {
  const env = src.env ?? process.env;
  const dataDir = resolve(src.dataDir ?? env.ISPKIT_DATA ?? './data');
  const configFile = src.configFile ? resolve(src.configFile) : join(dataDir, 'ispkit.yaml');
  let created = false;
  if (!existsSync(configFile)) {
    if (!src.create) {
      if (src.configFile)
        throw new DomainError(
          'CONFIG_MISSING',
          `config file ${configFile} does not exist`,
          'not_found',
        );
    } else {
      mkdirSync(dataDir, { recursive: true, mode: 0o750 });
      writeFileSync(configFile, FIRST_CONFIG, { flag: 'wx' });
      created = true;
    }
  }
  let raw: unknown = {};
  if (existsSync(configFile)) {
    try {
      raw = parseYaml(readFileSync(configFile, 'utf8')) ?? {};
    } catch (e) {
      throw new DomainError(
        'CONFIG_INVALID',
        `${configFile}: ${(e as Error).message.split('\n')[0]}`,
      );
    }
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(top level)';
    throw new DomainError(
      'CONFIG_INVALID',
      `${configFile}: ${where}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const config = parsed.data;
  if (env.ISPKIT_DATABASE_URL) config.database = env.ISPKIT_DATABASE_URL;
  if (env.ISPKIT_DATABASE_REPLICA_URL) config.store.replica_url = env.ISPKIT_DATABASE_REPLICA_URL;
  return { config, dataDir, configFile, created };
}

/** A path from the config, relative to the data dir unless absolute. */
export function dataPath(dataDir: string, path: string): string {
  return isAbsolute(path) ? path : join(dataDir, path);
}
