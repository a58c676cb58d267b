import type { CompiledQuery, Kysely, Selectable, Transaction } from 'kysely';
import { recordAudit } from '../audit/audit.js';
import { DomainError } from '../errors.js';
import type { SecretBox } from '../secrets/box.js';
import type { Database, SubscriberTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { ImportOptions, ImportResult, ImportRow, ParsedCsv } from './bulk.js';
import { exportSubscribers, importSubscribers, parseSubscriberCsv } from './bulk.js';
import { IpamService } from '../ipam/service.js';
import type { AddressRequest } from './addresses.js';
import {
  allocateAddresses,
  ensureAddressesFree,
  recordImportedAddresses,
  recordStaticAddresses,
  releaseAddresses,
} from './addresses.js';
import { checkUsername, usernameKey } from './usernames.js';
import type {
  StatusChange,
  Subscriber,
  SubscriberChanges,
  SubscriberStatus,
  SubscriberWithPassword,
} from './model.js';
import { subscriberJson, toSubscriber } from './model.js';
import type { ServiceFields, SubscriberInput } from './validation.js';
import {
  checkCombination,
  checkNewSubscriber,
  checkPassword,
  checkServiceFields,
} from './validation.js';

export type { SubscriberInput } from './validation.js';
export type { AddressRequest } from './addresses.js';
export type {
  StatusChange,
  Subscriber,
  SubscriberChanges,
  SubscriberStatus,
  SubscriberWithPassword,
} from './model.js';
export { subscriberJson, toSubscriber } from './model.js';

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
    /** Pools and assignments: addresses inside a pool are recorded there, in our transaction. */
    private readonly ipam: IpamService = new IpamService(store, clock),
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

  async add(
    input: SubscriberInput,
    actor: string,
    request: AddressRequest = {},
  ): Promise<Subscriber> {
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
      const holder = { id: row.id, username: s.username };
      await recordStaticAddresses(trx, this.ipam, holder, null, s, new Set(FIELDS), actor);
      let added = toSubscriber(row);
      if (request.allocate) {
        const filled = await allocateAddresses(trx, this.ipam, holder, s, !!request.cgnat, actor);
        added = { ...added, ...filled };
        checkCombination(added);
        const keys = new Set(Object.keys(filled) as (keyof ServiceFields)[]);
        await ensureAddressesFree(trx, s.username, added, keys, row.id);
        await trx.updateTable('subscribers').set(columns(added)).where('id', '=', row.id).execute();
      }
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

  async update(
    username: string,
    changes: SubscriberChanges,
    actor: string,
    request: AddressRequest = {},
  ): Promise<Subscriber> {
    const given = FIELDS.filter((f) => changes[f] !== undefined);
    const asked = request.allocate || request.release;
    if (given.length === 0 && changes.password === undefined && !asked) {
      throw new DomainError('NOTHING_TO_CHANGE', 'no change was given');
    }
    if (request.allocate && request.release) {
      throw new DomainError('OPTIONS_CONFLICT', '--allocate and --release cannot go together');
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
      let after: Subscriber = { ...before, ...givenValues };
      const holder = { id: r.id, username: r.username };
      if (request.release) {
        after = { ...after, ...(await releaseAddresses(trx, this.ipam, holder, actor)) };
      }
      const changedBefore = new Set(FIELDS.filter((f) => after[f] !== before[f]));
      await recordStaticAddresses(trx, this.ipam, holder, before, after, changedBefore, actor);
      if (request.allocate) {
        const cgnat = !!request.cgnat;
        after = {
          ...after,
          ...(await allocateAddresses(trx, this.ipam, holder, after, cgnat, actor)),
        };
      }
      checkCombination(after);
      const changed = new Set(FIELDS.filter((f) => after[f] !== before[f]));
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
      // Into quarantine, not straight back to the pool: the history keeps who held them.
      await releaseAddresses(trx, this.ipam, { id: r.id, username: r.username }, actor);
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
      recordImportedAddresses(this.ipam, actor),
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
