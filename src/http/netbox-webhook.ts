import type { FastifyInstance, FastifyReply } from 'fastify';
import type { NetboxEvent } from '../netbox/webhook.js';
import { parseEvent, verifySignature, WATCHED_MODELS } from '../netbox/webhook.js';

export interface NetboxWebhookDeps {
  /** The webhook's secret in NetBox; null accepts unsigned requests (say so in the logs). */
  secret: string | null;
  /** Called for a change of a watched model; must return at once (queue the work). */
  onEvent(event: NetboxEvent): void;
  /** Awaited when the server closes: work the events started is finished first. */
  idle?(): Promise<void>;
}

function problem(reply: FastifyReply, status: number, title: string, detail: string) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: 'about:blank', title, status, detail });
}

/**
 * POST /webhooks/netbox: NetBox's event notifications. The signature covers the body's bytes,
 * so this route (in its own plugin scope) reads the body raw instead of letting Fastify parse
 * the JSON. The answer comes before the work: NetBox's worker waits for it.
 */
export function registerNetboxWebhook(app: FastifyInstance, deps: NetboxWebhookDeps): void {
  void app.register(async (scope) => {
    scope.addHook('onClose', async () => {
      await deps.idle?.();
    });
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post('/webhooks/netbox', async (req, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (deps.secret !== null) {
        const header = req.headers['x-hook-signature'];
        if (!verifySignature(deps.secret, raw, typeof header === 'string' ? header : undefined)) {
          return problem(reply, 403, 'Forbidden', 'X-Hook-Signature is missing or does not match');
        }
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return problem(reply, 400, 'Bad Request', 'the body is not JSON');
      }
      const event = parseEvent(body);
      if (!event) {
        return problem(reply, 400, 'Bad Request', 'not a NetBox webhook body (event, model)');
      }
      if (!WATCHED_MODELS.has(event.model)) {
        return reply
          .code(200)
          .send({ accepted: false, reason: `model ${event.model} is not synced` });
      }
      deps.onEvent(event);
      return reply.code(202).send({ accepted: true, action: 'pull' });
    });
  });
}
