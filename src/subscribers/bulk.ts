import type { Transaction } from 'kysely';
import { DomainError } from '../errors.js';
import type { Database } from '../store/schema.js';
import type { SecretBox } from '../secrets/box.js';
import type { Store } from '../store/store.js';
import { formatCsv, parseCsv } from './csv.js';
import type { CheckedSubscriber, HeldPrefix } from './validation.js';
import {
  checkNewSubscriber,
  describeHolder,
  heldPrefix,
  overlappingPrefixes,
  parseWholeNumber,
} from './validation.js';

/** The CSV columns of import and export, in this order (the contract). */
export const CSV_COLUMNS = [
  'username',
  'password',
  'ipv4',
  'ipv6_prefix',
  'delegated_prefix',
  'mtu',
  'port_limit',
] as const;
type Column = (typeof CSV_COLUMNS)[number];

/** One data row of the CSV: cells as text (empty = none) and the line it starts on. */
export type ImportRow = { line: number } & Record<Column, string>;

export interface ImportOptions {
  /** Called after each batch is written, for a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

export interface ImportResult {
  imported: number;
}

/** At most this many errors are reported: enough to see a pattern, short enough to read. */
export const MAX_REPORTED_ERRORS = 20;
// 500 rows × 13 columns stays well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const BATCH = 500;

/** An import refused as a whole; `errors` are `line N: …` texts, at most MAX_REPORTED_ERRORS. */
export class ImportError extends DomainError {
  constructor(
    readonly errors: string[],
    readonly errorCount: number,
  ) {
    const more = errorCount > errors.length ? ` (the first ${errors.length} are shown)` : '';
    super(
      'IMPORT_INVALID',
      `${errors.join('\n')}\n${errorCount} error${errorCount === 1 ? '' : 's'}${more}; nothing was imported`,
      'invalid',
    );
  }
}

/** A problem found on one line; the text does not repeat the line number. */
export interface LineProblem {
  line: number;
  text: string;
}

/** The CSV read into rows, and the rows that could not even be read (wrong cell count). */
export interface ParsedCsv {
  rows: ImportRow[];
  problems: LineProblem[];
}

class LineErrors {
  private readonly list: { line: number; text: string }[] = [];
  add(line: number, text: string): void {
    this.list.push({ line, text: `line ${line}: ${text}` });
  }
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const sorted = [...this.list].sort((a, b) => a.line - b.line);
    throw new ImportError(
      sorted.slice(0, MAX_REPORTED_ERRORS).map((e) => e.text),
      sorted.length,
    );
  }
}

/**
 * Reads the CSV. A syntax error or a wrong header stops here; a row with the wrong number of
 * cells is kept as a problem, so the import reports it together with every other error.
 */
export function parseSubscriberCsv(text: string): ParsedCsv {
  let records;
  try {
    records = parseCsv(text);
  } catch (e) {
    if (e instanceof DomainError) throw new ImportError([e.message], 1);
    throw e;
  }
  const [header, ...data] = records;
  const expected = CSV_COLUMNS.join(',');
  if (!header || header.fields.map((f) => f.trim()).join(',') !== expected) {
    throw new ImportError([`line ${header?.line ?? 1}: the header must be exactly ${expected}`], 1);
  }
  const problems: LineProblem[] = [];
  const rows: ImportRow[] = [];
  for (const r of data) {
    if (r.fields.length !== CSV_COLUMNS.length) {
      problems.push({
        line: r.line,
        text: `${r.fields.length} cells, expected ${CSV_COLUMNS.length}`,
      });
      continue;
    }
    const row = { line: r.line } as ImportRow;
    CSV_COLUMNS.forEach((c, i) => (row[c] = r.fields[i] ?? ''));
    rows.push(row);
  }
  return { rows, problems };
}

function checkRow(row: ImportRow): CheckedSubscriber {
  const cell = (c: Column) => (row[c].trim() === '' ? null : row[c].trim());
  const number = (c: Column) => {
    const v = cell(c);
    return v === null ? null : parseWholeNumber(c, v);
  };
  return checkNewSubscriber({
    // The user name and password are taken as written: spaces may be part of them.
    username: row.username,
    password: row.password,
    ipv4: cell('ipv4'),
    ipv6Prefix: cell('ipv6_prefix'),
    delegatedPrefix: cell('delegated_prefix'),
    mtu: number('mtu'),
    portLimit: number('port_limit'),
  });
}

/**
 * All-or-nothing: every row is checked (fields, duplicates inside the file, conflicts with the
 * store) before anything is written, then everything goes in one transaction, in multi-row
 * batches so that 10,000 rows take seconds, not minutes.
 */
export async function importSubscribers(
  store: Store,
  box: SecretBox,
  { rows, problems }: ParsedCsv,
  actor: string,
  now: number,
  options: ImportOptions,
  /** Records the batch's addresses with the IPAM, in the import's transaction. */
  recordAddresses?: (
    trx: Transaction<Database>,
    rows: { id: number; s: CheckedSubscriber }[],
  ) => Promise<void>,
): Promise<{ imported: number }> {
  const errors = new LineErrors();
  for (const p of problems) errors.add(p.line, p.text);
  const checked: { line: number; s: CheckedSubscriber }[] = [];
  for (const row of rows) {
    try {
      checked.push({ line: row.line, s: checkRow(row) });
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      errors.add(row.line, e.message);
    }
  }

  return store.db.transaction().execute(async (trx) => {
    // The whole table in one query: cheaper than one lookup per row, and inside the
    // transaction so that what we check is what we write next to.
    const existing = await trx
      .selectFrom('subscribers')
      .select(['username', 'username_key', 'ipv4', 'ipv6_prefix', 'delegated_prefix'])
      .execute();
    const names = new Map<string, { username: string; line?: number }>(); // by username_key
    const ipv4s = new Map<string, string>();
    const prefixes: HeldPrefix[] = [];
    const lineOf = new Map<HeldPrefix, number>();
    for (const e of existing) {
      names.set(e.username_key, { username: e.username });
      if (e.ipv4) ipv4s.set(e.ipv4, e.username);
      if (e.ipv6_prefix) prefixes.push(heldPrefix(e.username, 'ipv6_prefix', e.ipv6_prefix));
      if (e.delegated_prefix) {
        prefixes.push(heldPrefix(e.username, 'delegated_prefix', e.delegated_prefix));
      }
    }
    for (const { line, s } of checked) {
      const other = names.get(s.usernameKey);
      if (other?.line !== undefined) {
        errors.add(line, `subscriber ${s.username} already appears on line ${other.line}`);
      } else if (other) {
        const as = other.username === s.username ? '' : ` as ${other.username}`;
        errors.add(line, `subscriber ${s.username} already exists${as}`);
      } else {
        names.set(s.usernameKey, { username: s.username, line });
      }
      if (s.ipv4) {
        const holder = ipv4s.get(s.ipv4);
        if (holder !== undefined) errors.add(line, `ipv4 ${s.ipv4} is already held by ${holder}`);
        else ipv4s.set(s.ipv4, `${s.username} (line ${line})`);
      }
      for (const [field, p] of [
        ['ipv6_prefix', s.ipv6Prefix],
        ['delegated_prefix', s.delegatedPrefix],
      ] as const) {
        if (p === null) continue;
        const held = heldPrefix(s.username, field, p);
        prefixes.push(held);
        lineOf.set(held, line);
      }
    }
    for (const [a, b] of overlappingPrefixes(prefixes)) {
      if (a.holder === b.holder) continue; // its own /64 inside its own delegated prefix
      // Blame the later row; a pair of rows already in the store is not this file's fault.
      const [blamed, other] = (lineOf.get(a) ?? 0) > (lineOf.get(b) ?? 0) ? [a, b] : [b, a];
      const line = lineOf.get(blamed);
      if (line === undefined) continue;
      const where = lineOf.has(other) ? `, line ${lineOf.get(other)}` : '';
      const whose = describeHolder(other, blamed.holder);
      errors.add(
        line,
        `${blamed.field} ${blamed.prefix} overlaps ${other.prefix} (${whose}${where})`,
      );
    }
    errors.throwIfAny();

    let done = 0;
    for (let i = 0; i < checked.length; i += BATCH) {
      const batch = checked.slice(i, i + BATCH).map((c) => c.s);
      const inserted = await trx
        .insertInto('subscribers')
        .values(
          batch.map((s) => ({
            username: s.username,
            username_key: s.usernameKey,
            password_sealed: box.seal(s.password),
            status: 'active',
            ipv4: s.ipv4,
            ipv6_prefix: s.ipv6Prefix,
            delegated_prefix: s.delegatedPrefix,
            mtu: s.mtu,
            port_limit: s.portLimit,
            interim: s.interim,
            created_at: now,
            updated_at: now,
          })),
        )
        .returning(['id', 'username'])
        .execute();
      if (recordAddresses) {
        const byName = new Map(batch.map((s) => [s.username, s]));
        await recordAddresses(
          trx,
          inserted.map((r) => ({ id: r.id, s: byName.get(r.username) as CheckedSubscriber })),
        );
      }
      await trx
        .insertInto('subscriber_status')
        .values(
          inserted.map((r) => ({
            subscriber_id: r.id,
            status: 'active',
            valid_from: now,
            valid_to: null,
          })),
        )
        .execute();
      // Written here rather than through recordAudit: one multi-row insert per batch instead of
      // 500 round trips. Same row shape; never the password.
      await trx
        .insertInto('audit_log')
        .values(
          batch.map((s) => ({
            at: now,
            actor,
            action: 'subscriber.import',
            entity: 'subscriber',
            entity_key: s.username,
            old_value: null,
            new_value: JSON.stringify({
              username: s.username,
              status: 'active',
              ipv4: s.ipv4,
              ipv6_prefix: s.ipv6Prefix,
              delegated_prefix: s.delegatedPrefix,
              mtu: s.mtu,
              port_limit: s.portLimit,
              interim: s.interim,
              password: '(set)',
            }),
          })),
        )
        .execute();
      done += batch.length;
      options.onProgress?.(done, checked.length);
    }
    return { imported: done };
  });
}

/** The CSV of every subscriber, passwords opened; interim and status are not in the format. */
export async function exportSubscribers(store: Store, box: SecretBox): Promise<string> {
  const rows = await store.db
    .selectFrom('subscribers')
    .select([
      'username',
      'password_sealed',
      'ipv4',
      'ipv6_prefix',
      'delegated_prefix',
      'mtu',
      'port_limit',
    ])
    .orderBy('username')
    .execute();
  const text = (v: string | number | null) => (v === null ? '' : String(v));
  return formatCsv([
    CSV_COLUMNS,
    ...rows.map((r) => [
      r.username,
      box.open(r.password_sealed),
      text(r.ipv4),
      text(r.ipv6_prefix),
      text(r.delegated_prefix),
      text(r.mtu),
      text(r.port_limit),
    ]),
  ]);
}
