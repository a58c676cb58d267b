import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Metric } from './metrics.js';
import { renderMetrics } from './metrics.js';
import type { NetboxWebhookDeps } from './netbox-webhook.js';
import { registerNetboxWebhook } from './netbox-webhook.js';

export interface Health {
  status: 'ok' | 'degraded';
  version: string;
  uptime_s: number;
  store: { dialect: string; ok: boolean; error?: string; [k: string]: unknown };
  /** The accounting spool: where records wait while the database is away. */
  spool?: Record<string, unknown>;
  radius: Record<string, unknown>;
}

export interface HttpDeps {
  /** Answers /healthz: the store's state and the RADIUS counters. */
  health(): Promise<Health>;
  /** GET /metrics: Prometheus text. */
  metrics?: () => Metric[];
  /** POST /webhooks/netbox, when the config has a netbox: block. */
  netboxWebhook?: NetboxWebhookDeps;
}

/** The HTTP side: /healthz, /metrics; the API (/api/v1) and the web UI come with their issues. */
export function buildHttp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => {
    const h = await deps.health();
    return reply.code(h.status === 'ok' ? 200 : 503).send(h);
  });
  const metrics = deps.metrics;
  if (metrics) {
    app.get('/metrics', async (_req, reply) =>
      reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(metrics())),
    );
  }
  if (deps.netboxWebhook) registerNetboxWebhook(app, deps.netboxWebhook);
  return app;
}
