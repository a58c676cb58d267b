import type { Kysely, Migration } from 'kysely';
import { sql } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** Migrations live in code (no files to ship); each is written once for both dialects. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  // SQLite's INTEGER PRIMARY KEY is the rowid; PostgreSQL wants an identity column.
  const id = (db: Kysely<unknown>, table: string) =>
    db.schema
      .createTable(table)
      .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigint', (c) =>
        dialect === 'sqlite'
          ? c.primaryKey().autoIncrement()
          : c.primaryKey().generatedByDefaultAsIdentity(),
      );
  return {
    '0001_nas_subscribers': {
      async up(db: Kysely<unknown>) {
        await id(db, 'nas')
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('secret_sealed', 'text', (c) => c.notNull())
          .addColumn('require_message_authenticator', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await id(db, 'subscribers')
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('username_key', 'text', (c) => c.notNull().unique())
          .addColumn('password_sealed', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('ipv4', 'text')
          .addColumn('ipv6_prefix', 'text')
          .addColumn('delegated_prefix', 'text')
          .addColumn('mtu', 'integer')
          .addColumn('port_limit', 'integer')
          .addColumn('interim', 'integer')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await id(db, 'subscriber_status')
          .addColumn('subscriber_id', 'bigint', (c) =>
            c.notNull().references('subscribers.id').onDelete('cascade'),
          )
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('valid_from', 'bigint', (c) => c.notNull())
          .addColumn('valid_to', 'bigint')
          .execute();
        await db.schema
          .createIndex('subscriber_status_by_subscriber')
          .on('subscriber_status')
          .columns(['subscriber_id', 'valid_from'])
          .execute();
        await id(db, 'audit_log')
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('entity', 'text', (c) => c.notNull())
          .addColumn('entity_key', 'text', (c) => c.notNull())
          .addColumn('old_value', 'text')
          .addColumn('new_value', 'text')
          .execute();
        await db.schema
          .createIndex('audit_log_by_entity')
          .on('audit_log')
          .columns(['entity', 'entity_key', 'at'])
          .execute();
      },
      async down(db: Kysely<unknown>) {
        for (const t of ['audit_log', 'subscriber_status', 'subscribers', 'nas']) {
          await db.schema.dropTable(t).ifExists().execute();
        }
      },
    },
    // Never one address for two members, nor two NAS entries for one source, even when two
    // processes write at once (the services check first; these indexes settle races). NULLs
    // are distinct in both dialects, so members without an address do not collide.
    '0002_unique_addresses': {
      async up(db: Kysely<unknown>) {
        const unique = [
          ['subscribers_ipv4_unique', 'subscribers', 'ipv4'],
          ['subscribers_ipv6_prefix_unique', 'subscribers', 'ipv6_prefix'],
          ['subscribers_delegated_prefix_unique', 'subscribers', 'delegated_prefix'],
          ['nas_address_unique', 'nas', 'address'],
        ] as const;
        for (const [name, table, column] of unique) {
          await db.schema.createIndex(name).unique().on(table).column(column).execute();
        }
      },
      async down(db: Kysely<unknown>) {
        for (const name of [
          'subscribers_ipv4_unique',
          'subscribers_ipv6_prefix_unique',
          'subscribers_delegated_prefix_unique',
          'nas_address_unique',
        ]) {
          await db.schema.dropIndex(name).ifExists().execute();
        }
      },
    },
    // Accounting: one row per session, and usage per subscriber and UTC day.
    '0003_sessions_usage': {
      async up(db: Kysely<unknown>) {
        await id(db, 'sessions')
          .addColumn('unique_id', 'text', (c) => c.notNull().unique())
          .addColumn('nas', 'text', (c) => c.notNull())
          .addColumn('acct_session_id', 'text', (c) => c.notNull())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('username_key', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('inferred', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('stopped_at', 'bigint')
          .addColumn('last_event_at', 'bigint', (c) => c.notNull())
          .addColumn('terminate_cause', 'text')
          .addColumn('bytes_in', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('bytes_out', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('packets_in', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('packets_out', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('session_time', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('interim_interval', 'integer')
          .addColumn('nas_identifier', 'text')
          .addColumn('nas_ip', 'text')
          .addColumn('nas_port_id', 'text')
          .addColumn('called_station_id', 'text')
          .addColumn('calling_station_id', 'text')
          .addColumn('circuit_id', 'text')
          .addColumn('framed_ip', 'text')
          .addColumn('framed_ipv6_prefix', 'text')
          .addColumn('delegated_prefix', 'text')
          .execute();
        await db.schema
          .createIndex('sessions_open_by_user')
          .on('sessions')
          .columns(['username_key', 'state'])
          .execute();
        await db.schema
          .createIndex('sessions_by_nas_state')
          .on('sessions')
          .columns(['nas', 'state'])
          .execute();
        await db.schema
          .createIndex('sessions_by_state_updated')
          .on('sessions')
          .columns(['state', 'updated_at'])
          .execute();
        await db.schema
          .createIndex('sessions_by_start')
          .on('sessions')
          .columns(['started_at'])
          .execute();
        await db.schema
          .createTable('usage_daily')
          .addColumn('username_key', 'text', (c) => c.notNull())
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('bytes_in', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('bytes_out', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('seconds', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('sessions', 'integer', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('usage_daily_pk', ['username_key', 'day'])
          .execute();
        await db.schema
          .createIndex('usage_daily_by_day')
          .on('usage_daily')
          .columns(['day'])
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('usage_daily').ifExists().execute();
        await db.schema.dropTable('sessions').ifExists().execute();
      },
    },
    // IPAM: pools and the history of assignments. The partial unique indexes settle races
    // between ispkit instances: one occupying row per slot, one current address per member and
    // column. Hex ranges are compared as text, so PostgreSQL must not apply a locale to them.
    '0004_ipam': {
      async up(db: Kysely<unknown>) {
        const hex = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
        await id(db, 'ip_pools')
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('prefix', 'text', (c) => c.notNull())
          .addColumn('family', 'integer', (c) => c.notNull())
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('size', 'integer', (c) => c.notNull())
          .addColumn('gateway', 'text')
          .addColumn('reserved', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('quarantine_seconds', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await id(db, 'ip_assignments')
          .addColumn('pool_id', 'bigint', (c) => c.references('ip_pools.id').onDelete('set null'))
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('column_name', 'text', (c) => c.notNull())
          .addColumn('family', 'integer', (c) => c.notNull())
          .addColumn('slot', 'bigint', (c) => c.notNull())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('first_hex', hex, (c) => c.notNull())
          .addColumn('last_hex', hex, (c) => c.notNull())
          .addColumn('subscriber_id', 'bigint', (c) =>
            c.references('subscribers.id').onDelete('set null'),
          )
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('origin', 'text', (c) => c.notNull())
          .addColumn('valid_from', 'bigint', (c) => c.notNull())
          .addColumn('valid_to', 'bigint')
          .addColumn('reusable_at', 'bigint')
          .addColumn('occupied', 'integer', (c) => c.notNull().defaultTo(1))
          .execute();
        await db.schema
          .createIndex('ip_assignments_slot_occupied')
          .unique()
          .on('ip_assignments')
          .columns(['pool_id', 'slot'])
          .where(sql.ref('occupied'), '=', 1)
          .execute();
        await db.schema
          .createIndex('ip_assignments_current_per_member')
          .unique()
          .on('ip_assignments')
          .columns(['subscriber_id', 'column_name'])
          .where(sql.ref('valid_to'), 'is', null)
          .execute();
        await db.schema
          .createIndex('ip_assignments_by_range')
          .on('ip_assignments')
          .columns(['family', 'first_hex'])
          .execute();
        await db.schema
          .createIndex('ip_assignments_by_subscriber')
          .on('ip_assignments')
          .columns(['subscriber_id', 'pool_id'])
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('ip_assignments').ifExists().execute();
        await db.schema.dropTable('ip_pools').ifExists().execute();
      },
    },
    // The NetBox link: which pool came from which NetBox prefix, and which reserved addresses
    // came from NetBox objects (so that a later pull removes only those, never a hand-made one).
    '0005_netbox': {
      async up(db: Kysely<unknown>) {
        await id(db, 'netbox_pools')
          .addColumn('pool_id', 'bigint', (c) =>
            c.notNull().unique().references('ip_pools.id').onDelete('cascade'),
          )
          .addColumn('netbox_id', 'bigint', (c) => c.notNull().unique())
          .addColumn('vrf_id', 'bigint')
          .addColumn('linked_at', 'bigint', (c) => c.notNull())
          .execute();
        await id(db, 'netbox_reservations')
          .addColumn('pool_id', 'bigint', (c) =>
            c.notNull().references('ip_pools.id').onDelete('cascade'),
          )
          .addColumn('prefix', 'text', (c) => c.notNull())
          .addColumn('netbox_model', 'text', (c) => c.notNull())
          .addColumn('netbox_id', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('netbox_reservations_pool_prefix', ['pool_id', 'prefix'])
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('netbox_reservations').ifExists().execute();
        await db.schema.dropTable('netbox_pools').ifExists().execute();
      },
    },
    // Issue 5: a version row that writers bump, for instances that cannot LISTEN (PgBouncer in
    // transaction mode polls it), and how far each accounting spool file has been replayed —
    // written in the same transaction as the replayed records, so a replay is never applied twice.
    '0006_store': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('ispkit_changes')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('version', 'bigint', (c) => c.notNull())
          .execute();
        await sql`insert into ispkit_changes (id, version) values (1, 0)`.execute(db);
        await db.schema
          .createTable('accounting_spool_progress')
          .addColumn('spool_id', 'text', (c) => c.primaryKey())
          .addColumn('byte_offset', 'bigint', (c) => c.notNull())
          .addColumn('records', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('accounting_spool_progress').ifExists().execute();
        await db.schema.dropTable('ispkit_changes').ifExists().execute();
      },
    },
    // Interim-Updates were the bulk of the writes, and each one touched the index on
    // (state, updated_at) (updated_at moves every time), which also kept PostgreSQL from
    // updating the row in place (HOT). The stale-session reaper only needs the open ones found.
    '0007_sessions_hot': {
      async up(db: Kysely<unknown>) {
        await db.schema.dropIndex('sessions_by_state_updated').execute();
        await db.schema.createIndex('sessions_by_state').on('sessions').column('state').execute();
        if (dialect === 'postgres') {
          // Room on each page for the next version of its rows (HOT updates).
          await sql`alter table sessions set (fillfactor = 80)`.execute(db);
        }
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropIndex('sessions_by_state').execute();
        await db.schema
          .createIndex('sessions_by_state_updated')
          .on('sessions')
          .columns(['state', 'updated_at'])
          .execute();
      },
    },
    // Every accounting batch adds to usage_daily rows in place: with full pages (fillfactor
    // 100) a third of those updates could not stay on their page and rewrote both indexes.
    '0008_usage_hot': {
      async up(db: Kysely<unknown>) {
        if (dialect === 'postgres')
          await sql`alter table usage_daily set (fillfactor = 80)`.execute(db);
      },
      async down(db: Kysely<unknown>) {
        if (dialect === 'postgres')
          await sql`alter table usage_daily reset (fillfactor)`.execute(db);
      },
    },
    // The sessions table keeps every session ever recorded; the indexes the hot path and the
    // reaper search (by subscriber, by NAS, all of them) only ever look for sessions not over
    // yet. Partial indexes on those ('open', and 'lost' until a NAS reboot ends them) stay the
    // size of the sessions in progress however long the history grows, and a Stop removes an
    // entry instead of writing one. With a million past sessions the SQLite writer cost 47–50
    // µs per record with the full indexes and 35–38 with these (npm run bench:writer with
    // BENCH_HISTORY=1000000; docs/PERFORMANCE.md). Queries must state the predicate with
    // literals (sessions/queries.ts OPEN or OPEN_OR_LOST) for the planner to prove it.
    '0009_open_session_indexes': {
      async up(db: Kysely<unknown>) {
        await db.schema.dropIndex('sessions_open_by_user').execute();
        await db.schema.dropIndex('sessions_by_nas_state').execute();
        await db.schema.dropIndex('sessions_by_state').execute();
        await sql`create index sessions_open_by_user on sessions (username_key)
                  where state = 'open' or state = 'lost'`.execute(db);
        await sql`create index sessions_open_by_nas on sessions (nas)
                  where state = 'open' or state = 'lost'`.execute(db);
        await sql`create index sessions_open on sessions (started_at)
                  where state = 'open' or state = 'lost'`.execute(db);
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropIndex('sessions_open').execute();
        await db.schema.dropIndex('sessions_open_by_nas').execute();
        await db.schema.dropIndex('sessions_open_by_user').execute();
        await db.schema
          .createIndex('sessions_open_by_user')
          .on('sessions')
          .columns(['username_key', 'state'])
          .execute();
        await db.schema
          .createIndex('sessions_by_nas_state')
          .on('sessions')
          .columns(['nas', 'state'])
          .execute();
        await db.schema.createIndex('sessions_by_state').on('sessions').column('state').execute();
      },
    },
  };
}
