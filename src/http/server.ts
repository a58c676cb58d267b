import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';

export interface Health {
  status: 'ok' | 'degraded';
  version: string;
  uptime_s: number;
  store: { dialect: string; ok: boolean; error?: string };
  radius: Record<string, unknown>;
}

export interface HttpDeps {
  /** Answers /healthz: the store's state and the RADIUS counters. */
  health(): Promise<Health>;
}

/** The HTTP side: /healthz for now; the API (/api/v1), /metrics and the web UI come with their issues. */
export function buildHttp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => {
    const h = await deps.health();
    return reply.code(h.status === 'ok' ? 200 : 503).send(h);
  });
  return app;
}
