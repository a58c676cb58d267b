import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DomainError } from '../errors.js';

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
  log: z
    .object({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
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
  return { config, dataDir, configFile, created };
}

/** A path from the config, relative to the data dir unless absolute. */
export function dataPath(dataDir: string, path: string): string {
  return isAbsolute(path) ? path : join(dataDir, path);
}
