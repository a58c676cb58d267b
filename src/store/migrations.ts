import type { Kysely, Migration, MigrationProvider } from 'kysely';

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
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: () => Promise.resolve(migrations(dialect)) };
}
