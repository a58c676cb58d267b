import type { CompiledQuery, Kysely, Selectable, Transaction } from 'kysely';
import { recordAudit } from '../audit/audit.js';
import { DomainError } from '../errors.js';
import type { SecretBox } from '../secrets/box.js';
import type { Database, SubscriberTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { ImportOptions, ImportResult, ImportRow, ParsedCsv } from './bulk.js';
import { exportSubscribers, importSubscribers, parseSubscriberCsv } from './bulk.js';
import { ensureAddressesFree } from './addresses.js';
import { checkUsername, usernameKey } from './usernames.js';
import type { ServiceFields, SubscriberInput } from './validation.js';
import {
  checkCombination,
  checkNewSubscriber,
  checkPassword,
  checkServiceFields,
} from './validation.js';

export type { SubscriberInput } from './validation.js';

/** The same words as aaa/ports.ts, which this folder must not import (dependencies point inwards). */
export type SubscriberStatus = 'active' | 'suspended' | 'terminated';

/** What authentication needs: the subscriber with its password opened. */
export interface SubscriberWithPassword extends Subscriber {
  password: string;
}

/** A subscriber as people and scripts see it: everything but the password. */
export interface Subscriber extends ServiceFields {
  username: string;
  status: SubscriberStatus;
  createdAt: number;
  updatedAt: number;
}

/** What `update` may change; `null` clears a field, an absent key leaves it alone. */
export type SubscriberChanges = Partial<ServiceFields> & { password?: string };

export interface StatusChange {
  subscriber: Subscriber;
  /** False when the subscriber already had that status (nothing was written). */
  changed: boolean;
}

type Db = Kysely<Database> | Transaction<Database>;
type Row = Selectable<SubscriberTable>;

const FIELDS = ['ipv4', 'ipv6Prefix', 'delegatedPrefix', 'mtu', 'portLimit', 'interim'] as const;
const COLUMN = {
  ipv4: 'ipv4',
  ipv6Prefix: 'ipv6_prefix',
  delegatedPrefix: 'delegated_prefix',
  mtu: 'mtu',
  portLimit: 'port_limit',
  interim: 'interim',
} as const satisfies Record<(typeof FIELDS)[number], keyof SubscriberTable>;

/** The stable snake_case form used by `--json`, the API and the audit log. */
export function subscriberJson(s: Subscriber): Record<string, string | number | null> {
  return {
    username: s.username,
    status: s.status,
    ipv4: s.ipv4,
    ipv6_prefix: s.ipv6Prefix,
    delegated_prefix: s.delegatedPrefix,
    mtu: s.mtu,
    port_limit: s.portLimit,
    interim: s.interim,
    created_at: new Date(s.createdAt).toISOString(),
    updated_at: new Date(s.updatedAt).toISOString(),
  };
}

export function toSubscriber(r: Row): Subscriber {
  return {
    username: r.username,
    status: r.status as SubscriberStatus,
    ipv4: r.ipv4,
    ipv6Prefix: r.ipv6_prefix,
    delegatedPrefix: r.delegated_prefix,
    mtu: r.mtu,
    portLimit: r.port_limit,
    interim: r.interim,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Unique-index violations that a concurrent writer caused after our checks passed. */
function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

/** Members' accounts. Satisfies aaa's SubscriberLookup (app.ts checks it at compile time). */
export class SubscriberService {
  // Compiled once: findForAuth runs on every Access-Request and should not rebuild its SQL.
  private readonly authQuery: CompiledQuery<Row>;

  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    /** Milliseconds since the epoch; tests pass a fixed clock to check status intervals. */
    private readonly clock: () => number = Date.now,
  ) {
    this.authQuery = store.db
      .selectFrom('subscribers')
      .selectAll()
      .where('username_key', '=', '')
      .compile();
  }

  /** One indexed query by username_key: this runs on every Access-Request. */
  async findForAuth(userName: string): Promise<SubscriberWithPassword | undefined> {
    const query: CompiledQuery<Row> = { ...this.authQuery, parameters: [usernameKey(userName)] };
    const result = await this.store.db.executeQuery(query);
    const r = result.rows[0];
    if (!r) return undefined;
    return { ...toSubscriber(r), password: this.box.open(r.password_sealed) };
  }

  async show(username: string): Promise<Subscriber> {
    return toSubscriber(await this.row(this.store.db, username));
  }

  async list(): Promise<Subscriber[]> {
    const rows = await this.store.db
      .selectFrom('subscribers')
      .selectAll()
      .orderBy('username')
      .execute();
    return rows.map(toSubscriber);
  }

  /** The status the subscriber had at `at` (ms), from the status intervals. */
  async statusAt(username: string, at: number): Promise<SubscriberStatus | undefined> {
    const r = await this.row(this.store.db, username);
    const interval = await this.store.db
      .selectFrom('subscriber_status')
      .select('status')
      .where('subscriber_id', '=', r.id)
      .where('valid_from', '<=', at)
      .where((eb) => eb.or([eb('valid_to', 'is', null), eb('valid_to', '>', at)]))
      .orderBy('valid_from', 'desc')
      .executeTakeFirst();
    return interval?.status as SubscriberStatus | undefined;
  }

  async add(input: SubscriberInput, actor: string): Promise<Subscriber> {
    const s = checkNewSubscriber(input);
    const sealed = this.box.seal(s.password);
    const now = this.clock();
    return this.write(async (trx) => {
      const taken = await trx
        .selectFrom('subscribers')
        .select('username')
        .where('username_key', '=', s.usernameKey)
        .executeTakeFirst();
      if (taken) throw exists(s.username, taken.username);
      await ensureAddressesFree(trx, s.username, s, new Set(FIELDS));
      const row = await trx
        .insertInto('subscribers')
        .values({
          username: s.username,
          username_key: s.usernameKey,
          password_sealed: sealed,
          status: 'active',
          ...columns(s),
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('subscriber_status')
        .values({ subscriber_id: row.id, status: 'active', valid_from: now, valid_to: null })
        .execute();
      const added = toSubscriber(row);
      await recordAudit(
        trx,
        {
          actor,
          action: 'subscriber.add',
          entity: 'subscriber',
          entityKey: s.username,
          new: { ...subscriberJson(added), password: '(set)' },
        },
        now,
      );
      return added;
    });
  }

  async update(username: string, changes: SubscriberChanges, actor: string): Promise<Subscriber> {
    const given = FIELDS.filter((f) => changes[f] !== undefined);
    if (given.length === 0 && changes.password === undefined) {
      throw new DomainError('NOTHING_TO_CHANGE', 'no change was given');
    }
    const checked = checkServiceFields(changes);
    const password = changes.password === undefined ? undefined : checkPassword(changes.password);
    const sealed = password === undefined ? undefined : this.box.seal(password);
    const now = this.clock();
    return this.write(async (trx) => {
      const r = await this.row(trx, username);
      const before = toSubscriber(r);
      const givenValues: Partial<ServiceFields> = Object.fromEntries(
        given.map((f) => [f, checked[f]]),
      );
      const after: Subscriber = { ...before, ...givenValues };
      checkCombination(after);
      const changed = new Set(given.filter((f) => after[f] !== before[f]));
      if (changed.size === 0 && sealed === undefined) return before;
      await ensureAddressesFree(trx, r.username, after, changed, r.id);
      const set: Partial<Row> = { updated_at: now };
      const old: Record<string, unknown> = {};
      const neu: Record<string, unknown> = {};
      for (const f of changed) {
        (set as Record<string, unknown>)[COLUMN[f]] = after[f];
        old[COLUMN[f]] = before[f];
        neu[COLUMN[f]] = after[f];
      }
      if (sealed !== undefined) {
        set.password_sealed = sealed;
        old.password = '(changed)';
        neu.password = '(changed)';
      }
      await trx.updateTable('subscribers').set(set).where('id', '=', r.id).execute();
      await recordAudit(
        trx,
        {
          actor,
          action: 'subscriber.update',
          entity: 'subscriber',
          entityKey: r.username,
          old,
          new: neu,
        },
        now,
      );
      return { ...after, updatedAt: now };
    });
  }

  suspend(username: string, actor: string): Promise<StatusChange> {
    return this.setStatus(username, 'suspended', actor);
  }

  resume(username: string, actor: string): Promise<StatusChange> {
    return this.setStatus(username, 'active', actor);
  }

  /** Removes the subscriber and its status history; the audit log keeps what it was. */
  async delete(username: string, actor: string): Promise<Subscriber> {
    const now = this.clock();
    return this.write(async (trx) => {
      const r = await this.row(trx, username);
      await trx.deleteFrom('subscriber_status').where('subscriber_id', '=', r.id).execute();
      await trx.deleteFrom('subscribers').where('id', '=', r.id).execute();
      const gone = toSubscriber(r);
      await recordAudit(
        trx,
        {
          actor,
          action: 'subscriber.delete',
          entity: 'subscriber',
          entityKey: r.username,
          old: subscriberJson(gone),
        },
        now,
      );
      return gone;
    });
  }

  /** All-or-nothing bulk add; see bulk.ts for the rules. */
  import(rows: ImportRow[], actor: string, options: ImportOptions = {}): Promise<ImportResult> {
    return this.importParsed({ rows, problems: [] }, actor, options);
  }

  /** Parses the CSV (header `username,password,ipv4,…`) and imports it. */
  async importCsv(text: string, actor: string, options: ImportOptions = {}): Promise<ImportResult> {
    return this.importParsed(parseSubscriberCsv(text), actor, options);
  }

  private async importParsed(
    parsed: ParsedCsv,
    actor: string,
    options: ImportOptions,
  ): Promise<ImportResult> {
    const result = await importSubscribers(
      this.store,
      this.box,
      parsed,
      actor,
      this.clock(),
      options,
    );
    await this.store.announceChange();
    return result;
  }

  /** The same CSV as import takes, passwords in clear: the operator's own backup. */
  export(): Promise<string> {
    return exportSubscribers(this.store, this.box);
  }

  private async setStatus(
    username: string,
    to: SubscriberStatus,
    actor: string,
  ): Promise<StatusChange> {
    const now = this.clock();
    return this.write(async (trx) => {
      const r = await this.row(trx, username);
      const before = toSubscriber(r);
      if (r.status === to) return { subscriber: before, changed: false };
      if (r.status === 'terminated') {
        throw new DomainError(
          'SUBSCRIBER_TERMINATED',
          `subscriber ${r.username} is terminated`,
          'conflict',
        );
      }
      await trx
        .updateTable('subscribers')
        .set({ status: to, updated_at: now })
        .where('id', '=', r.id)
        .execute();
      // Close the current interval and open the next one: status history is kept, not overwritten.
      await trx
        .updateTable('subscriber_status')
        .set({ valid_to: now })
        .where('subscriber_id', '=', r.id)
        .where('valid_to', 'is', null)
        .execute();
      await trx
        .insertInto('subscriber_status')
        .values({ subscriber_id: r.id, status: to, valid_from: now, valid_to: null })
        .execute();
      await recordAudit(
        trx,
        {
          actor,
          action: to === 'suspended' ? 'subscriber.suspend' : 'subscriber.resume',
          entity: 'subscriber',
          entityKey: r.username,
          old: { status: r.status },
          new: { status: to },
        },
        now,
      );
      return { subscriber: { ...before, status: to, updatedAt: now }, changed: true };
    });
  }

  /** The row for a name as typed (realm in any case), or SUBSCRIBER_NOT_FOUND. */
  private async row(db: Db, username: string): Promise<Row> {
    checkUsername(username);
    const r = await db
      .selectFrom('subscribers')
      .selectAll()
      .where('username_key', '=', usernameKey(username))
      .executeTakeFirst();
    if (!r) throw new DomainError('SUBSCRIBER_NOT_FOUND', `no subscriber ${username}`, 'not_found');
    return r;
  }

  /** One transaction for the change and its audit entry, then tell other processes. */
  private async write<T>(change: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await this.store.db.transaction().execute(change);
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new DomainError(
          'SUBSCRIBER_CONFLICT',
          'another change took this user name or address at the same moment; nothing was written',
          'conflict',
        );
      }
      throw e;
    }
    await this.store.announceChange();
    return result;
  }
}

function columns(f: ServiceFields) {
  return {
    ipv4: f.ipv4,
    ipv6_prefix: f.ipv6Prefix,
    delegated_prefix: f.delegatedPrefix,
    mtu: f.mtu,
    port_limit: f.portLimit,
    interim: f.interim,
  };
}

function exists(username: string, existing: string): DomainError {
  const as = existing === username ? '' : ` as ${existing}`;
  return new DomainError(
    'SUBSCRIBER_EXISTS',
    `subscriber ${username} already exists${as}`,
    'conflict',
  );
}
