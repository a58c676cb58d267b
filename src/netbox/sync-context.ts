import { DomainError } from '../errors.js';
import type { IpamService } from '../ipam/service.js';
import type { Store } from '../store/store.js';
import type { NetboxClient } from './client.js';
import type { Change, Conflict } from './plan.js';
import type { NetboxSettings } from './settings.js';

/** What a pull or a push works with. */
export interface SyncContext {
  store: Store;
  ipam: IpamService;
  client: NetboxClient;
  settings: NetboxSettings;
  /** Who the audit log names for the changes (`cli:alice`, `netbox:webhook`). */
  actor: string;
}

/** One planned change and how to make it. */
export interface Step {
  change: Change;
  apply(): Promise<void>;
}

/** A plan: the changes to show, and how to apply them (the failures are reported, not thrown). */
export interface Plan {
  changes: Change[];
  conflicts: Conflict[];
  apply(): Promise<{ applied: number; failed: Conflict[] }>;
}

/**
 * Applies steps one by one, in order; a step that NetBox or the store refuses (a DomainError)
 * is reported and the others still run: each is idempotent, the next run retries it.
 */
export function stepsPlan(steps: Step[], conflicts: Conflict[]): Plan {
  return {
    changes: steps.map((s) => s.change),
    conflicts,
    apply: async () => {
      let applied = 0;
      const failed: Conflict[] = [];
      for (const s of steps) {
        try {
          await s.apply();
          applied++;
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          failed.push({
            kind: s.change.kind,
            key: s.change.key,
            message: `${e.message} [${e.code}]`,
          });
        }
      }
      return { applied, failed };
    },
  };
}
