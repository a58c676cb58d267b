import { DomainError } from '../errors.js';

/**
 * The names ispkit writes into NetBox: `dns_name` (the PTR name the reverse-DNS work
 * publishes) and the description linking an address to its member. Both come from a template
 * with `{placeholders}`; unknown placeholders are refused when the config is read.
 */
export interface NameVars {
  /** `p1f9bd1@NEUTRINET` */
  username: string;
  /** The address or prefix as ispkit holds it: `80.67.191.6`, `2001:913:1d00:600::/60`. */
  address: string;
  pool: string;
}

const PLACEHOLDERS = ['username', 'user', 'realm', 'ip_dashed', 'address', 'pool'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** NetBox's own check of dns_name (ipam/validators.py, DNSValidator). */
const DNS_NAME = /^([0-9A-Za-z_-]+|\*)(\.[0-9A-Za-z_-]+)*\.?$/;

/** NetBox's limit on descriptions. */
const DESCRIPTION_MAX = 200;

export function checkTemplate(what: string, template: string): void {
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1] ?? '')) {
      throw new DomainError(
        'CONFIG_INVALID',
        `${what}: unknown placeholder {${m[1]}} (use ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`,
      );
    }
  }
}

function values(v: NameVars): Record<Placeholder, string> {
  const at = v.username.lastIndexOf('@');
  const bare = v.address.replace(/\/\d+$/, '');
  return {
    username: v.username,
    user: at < 0 ? v.username : v.username.slice(0, at),
    realm: at < 0 ? '' : v.username.slice(at + 1),
    ip_dashed: bare.replace(/[.:]/g, '-'),
    address: v.address,
    pool: v.pool,
  };
}

function fill(template: string, vals: Record<Placeholder, string>, clean: (s: string) => string) {
  return template.replace(/\{([a-z_]+)\}/g, (_m, name: string) =>
    clean(vals[name as Placeholder] ?? ''),
  );
}

/**
 * A DNS name from the template: each value is made a valid label (lower case; letters, digits
 * and `-` only: `p1.f9_bd` → `p1-f9-bd`), empty labels are dropped. '' when the template is
 * empty or nothing valid is left.
 */
export function dnsName(template: string, v: NameVars): string {
  if (template === '') return '';
  const label = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const name = fill(template, values(v), label)
    .split('.')
    .filter((l, i, all) => l !== '' || i === all.length - 1)
    .join('.')
    .replace(/^\.+/, '');
  return DNS_NAME.test(name) && name.length <= 255 ? name : '';
}

export function description(template: string, v: NameVars): string {
  return fill(template, values(v), (s) => s).slice(0, DESCRIPTION_MAX);
}
