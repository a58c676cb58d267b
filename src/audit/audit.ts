import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

export interface AuditEntry {
  /** Who: `cli:root`, `api:alice`, `job:reaper`… */
  actor: string;
  /** What: `subscriber.add`, `nas.remove`… */
  action: string;
  entity: string;
  entityKey: string;
  /** Old and new values; never a secret (pass `'(changed)'` for a password). */
  old?: Record<string, unknown> | null;
  new?: Record<string, unknown> | null;
}

/** Writes one audit entry in the caller's transaction, so the change and its record go together. */
export async function recordAudit(
  db: Kysely<Database> | Transaction<Database>,
  e: AuditEntry,
  at = Date.now(),
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at,
      actor: e.actor,
      action: e.action,
      entity: e.entity,
      entity_key: e.entityKey,
      old_value: e.old ? JSON.stringify(e.old) : null,
      new_value: e.new ? JSON.stringify(e.new) : null,
    })
    .execute();
}

/** The actor for changes made from this process's command line. */
export function cliActor(): string {
  return `cli:${process.env.SUDO_USER ?? process.env.USER ?? 'unknown'}`;
}
