import type { RadiusServer } from './aaa/server.js';
import type { SubscriberCache } from './aaa/subscriber-cache.js';
import type { Metric } from './http/metrics.js';
import type { AccountingPipeline } from './sessions/pipeline.js';
import type { RecordWriter } from './sessions/writer.js';
import type { Store, StoreHealth } from './store/store.js';

/** The store's health in /healthz's snake_case. */
export function storeHealthJson(h: StoreHealth): Record<string, unknown> {
  return {
    state: h.state,
    endpoint: h.endpoint ?? null,
    since: new Date(h.since).toISOString(),
    failures: h.failures,
    last_error: h.lastError ?? null,
    retry_in_ms: h.retryInMs ?? null,
  };
}

export interface MetricSources {
  store: Store;
  pipeline: AccountingPipeline;
  writer: RecordWriter;
  subscriberCache: SubscriberCache;
  radius: RadiusServer;
  now: () => number;
}

const one = (value: number) => [{ value }];

/** What GET /metrics exposes (Prometheus text). */
export function serverMetrics(src: MetricSources): Metric[] {
  const h = src.store.health();
  const p = src.pipeline.stats();
  const counters = src.radius.counters.toJSON();
  const radius: Metric[] = [];
  for (const [name, v] of Object.entries(counters)) {
    if (typeof v === 'number') {
      radius.push({
        name: `ispkit_radius_${name}_total`,
        help: `RADIUS ${name.replace(/_/g, ' ')} since start.`,
        type: 'counter',
        samples: one(v),
      });
    }
  }
  const dropped = counters.dropped;
  if (typeof dropped === 'object') {
    radius.push({
      name: 'ispkit_radius_dropped_total',
      help: 'RADIUS packets dropped since start, by reason.',
      type: 'counter',
      samples: Object.entries(dropped).map(([reason, value]) => ({ labels: { reason }, value })),
    });
  }
  return [
    {
      name: 'ispkit_store_up',
      help: 'Whether the database connection is up (1) or down (0).',
      type: 'gauge',
      samples: one(h.state === 'up' ? 1 : 0),
    },
    {
      name: 'ispkit_store_state_seconds',
      help: 'Seconds since the database connection entered its current state.',
      type: 'gauge',
      samples: one(Math.max(0, (src.now() - h.since) / 1000)),
    },
    {
      name: 'ispkit_accounting_spooling',
      help: 'Whether accounting goes to the spool (1) or straight to the database (0).',
      type: 'gauge',
      samples: one(p.mode === 'spooling' ? 1 : 0),
    },
    {
      name: 'ispkit_accounting_spool_records',
      help: 'Accounting records waiting in the spool for the database.',
      type: 'gauge',
      samples: one(p.pending),
    },
    {
      name: 'ispkit_accounting_spool_oldest_age_seconds',
      help: 'Age of the oldest record waiting in the spool (0 when empty).',
      type: 'gauge',
      samples: one(p.oldestAt === undefined ? 0 : Math.max(0, (src.now() - p.oldestAt) / 1000)),
    },
    {
      name: 'ispkit_accounting_spool_bytes',
      help: 'Bytes of spool segments on disk.',
      type: 'gauge',
      samples: one(p.bytes),
    },
    {
      name: 'ispkit_accounting_rejected_records',
      help: 'Accounting records the database refused, kept aside in rejected.jsonl.',
      type: 'gauge',
      samples: one(p.rejected),
    },
    {
      name: 'ispkit_accounting_spooled_total',
      help: 'Accounting records acknowledged from the spool since start.',
      type: 'counter',
      samples: one(p.spooled),
    },
    {
      name: 'ispkit_accounting_replayed_total',
      help: 'Accounting records replayed from the spool into the database since start.',
      type: 'counter',
      samples: one(p.replayedRecords),
    },
    {
      name: 'ispkit_accounting_committed_total',
      help: 'Accounting records committed straight to the database since start.',
      type: 'counter',
      samples: one(src.writer.committed),
    },
    {
      name: 'ispkit_auth_cache_entries',
      help: 'Subscribers in the authentication cache.',
      type: 'gauge',
      samples: one(src.subscriberCache.size),
    },
    {
      name: 'ispkit_auth_cache_stale_answers_total',
      help: 'Authentications answered from a stale cache entry while the database was unavailable.',
      type: 'counter',
      samples: one(src.subscriberCache.staleAnswers),
    },
    ...radius,
  ];
}
