import type { Config } from '../config/config.js';
import type { IpamService } from '../ipam/service.js';
import type { Logger } from '../logging.js';
import type { Store } from '../store/store.js';
import { netboxSettings } from './settings.js';
import { NetboxSync } from './sync.js';
import type { NetboxEvent } from './webhook.js';
import { Coalescer } from './webhook.js';

/** What `serve` hands the webhook route: check the signature with `secret`, then `onEvent`. */
export interface WebhookPull {
  secret: string | null;
  onEvent(event: NetboxEvent): void;
  /** Resolves when no pull runs nor waits (called when the HTTP server closes). */
  idle(): Promise<void>;
}

/**
 * A change to a prefix or an IP address in NetBox runs `netbox pull` (the whole of it: one
 * plan, idempotent, cheap for an ISP's few prefixes), coalesced so that a burst of events costs
 * one more pull, not one each. Undefined when the config has no netbox: block.
 */
export function webhookPull(
  app: { config: Config; dataDir: string; store: Store; ipam: IpamService },
  logger: Logger,
  fetchImpl?: typeof fetch,
): WebhookPull | undefined {
  const settings = netboxSettings(app.config, app.dataDir);
  if (!settings) return undefined;
  if (settings.webhookSecret === null) {
    logger.warn('netbox.webhook_secret is not set: /webhooks/netbox accepts unsigned requests');
  }
  const sync = new NetboxSync({ store: app.store, ipam: app.ipam, settings, fetch: fetchImpl });
  const runner = new Coalescer(
    async () => {
      const r = await sync.pull({ actor: 'netbox:webhook' });
      const level = r.failed.length || r.conflicts.length ? 'warn' : 'info';
      logger[level](
        {
          changes: r.changes.length,
          applied: r.applied,
          conflicts: r.conflicts.map((c) => `${c.kind} ${c.key}: ${c.message}`),
          failed: r.failed.map((c) => `${c.kind} ${c.key}: ${c.message}`),
        },
        'netbox pull after a webhook',
      );
    },
    (err) => logger.error({ err }, 'netbox pull after a webhook failed'),
  );
  return {
    secret: settings.webhookSecret,
    onEvent: (e) => {
      logger.info(
        {
          event: e.event,
          model: e.model,
          id: e.objectId,
          user: e.username,
          request_id: e.requestId,
        },
        'netbox webhook',
      );
      runner.trigger();
    },
    idle: () => runner.idle(),
  };
}
