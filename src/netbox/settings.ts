import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { dataPath } from '../config/config.js';
import { DomainError } from '../errors.js';
import type { Purpose } from '../ipam/pools.js';
import { PURPOSES } from '../ipam/pools.js';
import { checkTemplate } from './naming.js';

export type NetboxConfig = NonNullable<Config['netbox']>;

/** The NetBox link as the sync uses it: the config with the secrets resolved. */
export interface NetboxSettings {
  url: string;
  token: string;
  poolTag: string;
  ownerTag: string;
  /** Prefix role slug → purpose (the purposes' own names included). */
  roles: Record<string, Purpose>;
  sizeField: string;
  dnsName: string;
  description: string;
  tenant: string | null;
  webhookSecret: string | null;
  timeoutMs: number;
}

/**
 * Reads the token from ISPKIT_NETBOX_TOKEN, else `token_file` (relative to the data dir), else
 * `token`; the webhook secret from ISPKIT_NETBOX_WEBHOOK_SECRET, else `webhook_secret`.
 * Undefined when the config has no `netbox:` block.
 */
export function netboxSettings(
  config: Config,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): NetboxSettings | undefined {
  const nb = config.netbox;
  if (!nb) return undefined;
  let token = env.ISPKIT_NETBOX_TOKEN?.trim();
  if (!token && nb.token_file) {
    const file = dataPath(dataDir, nb.token_file);
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new DomainError(
        'NETBOX_TOKEN_MISSING',
        `netbox.token_file ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
  }
  token ||= nb.token;
  if (!token) {
    throw new DomainError(
      'NETBOX_TOKEN_MISSING',
      'netbox: no API token (set ISPKIT_NETBOX_TOKEN, netbox.token_file or netbox.token)',
    );
  }
  const roles: Record<string, Purpose> = {};
  for (const p of PURPOSES) roles[p] = p;
  Object.assign(roles, nb.roles);
  checkTemplate('netbox.dns_name', nb.dns_name);
  checkTemplate('netbox.description', nb.description);
  return {
    url: nb.url,
    token,
    poolTag: nb.pool_tag,
    ownerTag: nb.owner_tag,
    roles,
    sizeField: nb.size_field,
    dnsName: nb.dns_name,
    description: nb.description,
    tenant: nb.tenant ?? null,
    webhookSecret: env.ISPKIT_NETBOX_WEBHOOK_SECRET || nb.webhook_secret || null,
    timeoutMs: nb.timeout * 1000,
  };
}

/** The settings, or a clear error when the config has no `netbox:` block. */
export function requireNetboxSettings(
  config: Config,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): NetboxSettings {
  const s = netboxSettings(config, dataDir, env);
  if (!s) {
    throw new DomainError(
      'NETBOX_NOT_CONFIGURED',
      'no netbox: block in the config (url, token_file…; see docs/netbox.md)',
      'not_found',
    );
  }
  return s;
}
