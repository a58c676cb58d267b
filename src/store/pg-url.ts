/**
 * libpq-style PostgreSQL URLs with several hosts, which node-postgres does not read:
 * `postgres://user:pw@db1:5432,db2:5432/ispkit?target_session_attrs=read-write`.
 * Each host becomes a one-host URL that node-postgres understands (every other parameter is
 * kept), tried in the order given; `target_session_attrs` says which server is acceptable.
 */

export const TARGET_SESSION_ATTRS = [
  'any',
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

export interface PgEndpoint {
  /** `host:port` for logs and health ([v6]:port for IPv6). */
  readonly label: string;
  /** A one-host URL for node-postgres, with the password if the URL had one. */
  readonly connectionString: string;
}

export interface PgTarget {
  readonly endpoints: readonly PgEndpoint[];
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** The whole URL without its password, for logs. */
  readonly redacted: string;
}

/** Thrown for a URL that cannot be read; the message never carries the password. */
export class PgUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgUrlError';
  }
}

export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*):[^@]*@/, '$1:***@');
}

export function parsePostgresUrl(url: string): PgTarget {
  const m = /^(postgres(?:ql)?):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?$/.exec(url);
  if (!m) throw new PgUrlError(`not a postgres:// URL: '${redactUrl(url)}'`);
  const scheme = m[1] as string;
  const authority = m[2] as string;
  const path = m[3] ?? '';
  const query = new URLSearchParams((m[4] ?? '').slice(1));
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;

  const tsa = query.get('target_session_attrs') ?? 'any';
  if (!(TARGET_SESSION_ATTRS as readonly string[]).includes(tsa)) {
    throw new PgUrlError(
      `target_session_attrs must be one of ${TARGET_SESSION_ATTRS.join(', ')}, got '${tsa}'`,
    );
  }
  query.delete('target_session_attrs');
  const rest = `${path}${query.size > 0 ? `?${query.toString()}` : ''}`;

  const hosts = hostList === '' ? [''] : hostList.split(',');
  const endpoints = hosts.map((h): PgEndpoint => {
    const { host, port } = splitHostPort(h, url);
    const hostPart = host === '' ? '' : `${host}${port === undefined ? '' : `:${port}`}`;
    return {
      label: `${host === '' ? 'localhost' : host}:${port ?? 5432}`,
      connectionString: `${scheme}://${userinfo}${hostPart}${rest}`,
    };
  });
  return { endpoints, targetSessionAttrs: tsa as TargetSessionAttrs, redacted: redactUrl(url) };
}

function splitHostPort(h: string, url: string): { host: string; port: number | undefined } {
  let host = h;
  let portText: string | undefined;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) throw new PgUrlError(`unclosed '[' in the hosts of '${redactUrl(url)}'`);
    host = h.slice(0, end + 1);
    const after = h.slice(end + 1);
    if (after.startsWith(':')) portText = after.slice(1);
    else if (after !== '') throw new PgUrlError(`bad host '${h}' in '${redactUrl(url)}'`);
  } else if (h.includes(':')) {
    host = h.slice(0, h.lastIndexOf(':'));
    portText = h.slice(h.lastIndexOf(':') + 1);
  }
  if (portText === undefined || portText === '') return { host, port: undefined };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new PgUrlError(`bad port '${portText}' in '${redactUrl(url)}'`);
  }
  return { host, port };
}
