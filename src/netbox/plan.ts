/**
 * A plan, octoDNS-style: what a pull or push would change, readable before it is applied.
 * Pull and push build their own typed changes; this is the shape both are shown in.
 */
export type Op = 'create' | 'update' | 'delete';

/** What a change is about: an ispkit pool, a pool's reservation, or a NetBox object. */
export type Kind = 'pool' | 'reservation' | 'ip-address' | 'prefix' | 'tag';

export interface Change {
  op: Op;
  kind: Kind;
  /** The address, prefix, pool or tag name. */
  key: string;
  /** The NetBox object's id, when it exists. */
  netboxId?: number;
  /** For create: the values; for update: only the fields that change, old → new. */
  fields: Record<string, FieldValue | { from: FieldValue; to: FieldValue }>;
  /** Why, in a few words (delete: "no longer assigned"…). */
  note?: string;
}

export type FieldValue = string | number | null;

/** Something the sync will not do on its own: the operator decides. */
export interface Conflict {
  kind: Kind;
  key: string;
  netboxId?: number;
  message: string;
}

export interface SyncResult {
  direction: 'pull' | 'push';
  netbox: string;
  dryRun: boolean;
  changes: Change[];
  conflicts: Conflict[];
  /** Changes NetBox or the store refused while applying (the rest were applied). */
  failed: Conflict[];
  applied: number;
}

const SIGN: Record<Op, string> = { create: '+', update: '~', delete: '-' };

function show(v: FieldValue): string {
  if (v === null) return '-';
  if (typeof v === 'number') return String(v);
  return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
}

function changeLine(c: Change): string {
  const id = c.netboxId === undefined ? '' : ` (#${c.netboxId})`;
  const parts = Object.entries(c.fields).map(([k, v]) =>
    v !== null && typeof v === 'object'
      ? `${k}: ${show(v.from)} → ${show(v.to)}`
      : `${k}=${show(v)}`,
  );
  if (c.note) parts.push(c.note);
  return `${SIGN[c.op]} ${c.kind} ${c.key}${id}${parts.length ? `  ${parts.join(', ')}` : ''}`;
}

function counts(r: SyncResult): string {
  const n = (op: Op) => r.changes.filter((c) => c.op === op).length;
  const parts = [
    `${n('create')} to create`,
    `${n('update')} to update`,
    `${n('delete')} to delete`,
  ];
  if (r.conflicts.length) parts.push(`${r.conflicts.length} conflict(s)`);
  return parts.join(', ');
}

/** The plan, as printed by `ispkit netbox pull|push` before anything is applied. */
export function formatPlan(r: SyncResult): string {
  const head =
    r.direction === 'pull' ? `NetBox ${r.netbox} → ispkit` : `ispkit → NetBox ${r.netbox}`;
  if (r.changes.length === 0 && r.conflicts.length === 0) return `${head}: no changes\n`;
  const lines = [`${head}: ${counts(r)}`];
  for (const c of r.changes) lines.push(`  ${changeLine(c)}`);
  for (const c of r.conflicts) {
    const id = c.netboxId === undefined ? '' : ` (#${c.netboxId})`;
    lines.push(`  ! ${c.kind} ${c.key}${id}  ${c.message}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What applying did (empty when there was nothing to apply). */
export function formatOutcome(r: SyncResult): string {
  const lines: string[] = [];
  if (r.changes.length === 0) return '';
  if (r.dryRun) lines.push('dry run: nothing changed');
  else lines.push(`applied ${r.applied} of ${r.changes.length} change(s)`);
  for (const f of r.failed) lines.push(`failed: ${f.kind} ${f.key}: ${f.message}`);
  return `${lines.join('\n')}\n`;
}

export function resultJson(r: SyncResult): Record<string, unknown> {
  return {
    direction: r.direction,
    netbox: r.netbox,
    dry_run: r.dryRun,
    changes: r.changes.map((c) => ({
      op: c.op,
      kind: c.kind,
      key: c.key,
      netbox_id: c.netboxId ?? null,
      fields: c.fields,
      note: c.note ?? null,
    })),
    conflicts: r.conflicts.map(conflictJson),
    failed: r.failed.map(conflictJson),
    applied: r.applied,
  };
}

function conflictJson(c: Conflict): Record<string, unknown> {
  return { kind: c.kind, key: c.key, netbox_id: c.netboxId ?? null, message: c.message };
}
