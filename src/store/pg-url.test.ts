import { describe, expect, it } from 'vitest';
import { PgUrlError, parsePostgresUrl } from './pg-url.js';

describe('libpq-style PostgreSQL URLs', () => {
  it('splits several hosts into one-host URLs, keeping the rest', () => {
    const t = parsePostgresUrl(
      'postgres://ispkit:s3cret@db1:5433,db2,[::1]:6432/radius?target_session_attrs=read-write&application_name=ispkit',
    );
    expect(t.targetSessionAttrs).toBe('read-write');
    expect(t.endpoints.map((e) => e.label)).toEqual(['db1:5433', 'db2:5432', '[::1]:6432']);
    expect(t.endpoints.map((e) => e.connectionString)).toEqual([
      'postgres://ispkit:s3cret@db1:5433/radius?application_name=ispkit',
      'postgres://ispkit:s3cret@db2/radius?application_name=ispkit',
      'postgres://ispkit:s3cret@[::1]:6432/radius?application_name=ispkit',
    ]);
    expect(t.redacted).not.toContain('s3cret');
  });

  it('reads a one-host URL as before, with target_session_attrs any', () => {
    const t = parsePostgresUrl('postgresql://postgres@127.0.0.1:5432/test');
    expect(t.targetSessionAttrs).toBe('any');
    expect(t.endpoints).toEqual([
      { label: '127.0.0.1:5432', connectionString: 'postgresql://postgres@127.0.0.1:5432/test' },
    ]);
  });

  it('refuses what libpq would refuse, without showing the password', () => {
    expect(() => parsePostgresUrl('postgres://u:pw@h/db?target_session_attrs=leader')).toThrow(
      PgUrlError,
    );
    expect(() => parsePostgresUrl('postgres://u:pw@h:99999/db')).toThrow(/bad port '99999'/);
    expect(() => parsePostgresUrl('postgres://u:pw@[::1/db')).toThrow(/unclosed/);
    try {
      parsePostgresUrl('postgres://u:pw@h:x/db');
    } catch (e) {
      expect((e as Error).message).not.toContain('pw@');
    }
  });
});
