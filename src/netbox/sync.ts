import type { IpamService } from '../ipam/service.js';
import type { Store } from '../store/store.js';
import { NetboxClient } from './client.js';
import type { SyncResult } from './plan.js';
import { planPull } from './pull.js';
import { planPush } from './push.js';
import type { NetboxSettings } from './settings.js';
import type { Plan, SyncContext } from './sync-context.js';

export interface NetboxSyncDeps {
  store: Store;
  ipam: IpamService;
  settings: NetboxSettings;
  /** Tests may count or fail requests; Node's global fetch otherwise. */
  fetch?: typeof fetch;
}

export interface RunOptions {
  dryRun?: boolean;
  /** Who the audit log names. */
  actor: string;
  /** Called with the plan before it is applied (the CLI prints it first). */
  onPlan?: (plan: SyncResult) => void;
}

/**
 * The NetBox link: `pull` (NetBox → ispkit: pools and reservations) and `push` (ispkit →
 * NetBox: the addresses members hold). Each computes a plan, returns it with `dryRun`, or
 * applies it; a second run right after finds nothing to do.
 */
export class NetboxSync {
  private readonly client: NetboxClient;

  constructor(private readonly deps: NetboxSyncDeps) {
    this.client = new NetboxClient({
      url: deps.settings.url,
      token: deps.settings.token,
      timeoutMs: deps.settings.timeoutMs,
      fetch: deps.fetch,
    });
  }

  get settings(): NetboxSettings {
    return this.deps.settings;
  }

  pull(options: RunOptions): Promise<SyncResult> {
    return this.run('pull', planPull, options);
  }

  push(options: RunOptions): Promise<SyncResult> {
    return this.run('push', planPush, options);
  }

  private async run(
    direction: SyncResult['direction'],
    plan: (ctx: SyncContext) => Promise<Plan>,
    options: RunOptions,
  ): Promise<SyncResult> {
    const ctx: SyncContext = {
      store: this.deps.store,
      ipam: this.deps.ipam,
      client: this.client,
      settings: this.deps.settings,
      actor: options.actor,
    };
    const p = await plan(ctx);
    const dryRun = options.dryRun ?? false;
    const result: SyncResult = {
      direction,
      netbox: this.client.origin,
      dryRun,
      changes: p.changes,
      conflicts: p.conflicts,
      failed: [],
      applied: 0,
    };
    options.onPlan?.(result);
    if (dryRun || p.changes.length === 0) return result;
    const outcome = await p.apply();
    result.applied = outcome.applied;
    result.failed = outcome.failed;
    // Servers cache what the store holds; tell them (as every service does after a commit).
    if (direction === 'pull' && outcome.applied > 0) await this.deps.store.announceChange();
    return result;
  }
}
