/**
 * The bench's members: the same names, passwords and addresses for ispkit (a CSV for
 * `ispkit subscriber import`), FreeRADIUS (users file or radcheck/radreply) and radload, which
 * derives them from the same printf formats.
 */

/** The NAS's shared secret, the same for ispkit, FreeRADIUS and radload. */
export const SECRET = 'bench-Secret-0123456789';

/** radload's --user-fmt and --pass-fmt: the i-th member is USER_FMT % i, PASS_FMT % i. */
export const USER_FMT = 'm%06u';
export const PASS_FMT = 'Pw-%06u-bench';

export interface Member {
  username: string;
  password: string;
  ipv4: string;
  ipv6Prefix: string;
  delegatedPrefix: string;
}

export function member(i: number): Member {
  const n = String(i).padStart(6, '0');
  return {
    username: USER_FMT.replace('%06u', n),
    password: PASS_FMT.replace('%06u', n),
    ipv4: `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
    ipv6Prefix: `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`,
    delegatedPrefix: `2001:db8:${(0x4000 + (i >> 8)).toString(16)}:${((i & 255) << 8).toString(16)}::/56`,
  };
}

export function members(n: number): Member[] {
  if (n > 999_999) throw new Error('at most 999,999 members (six digits in the user names)');
  return Array.from({ length: n }, (_, i) => member(i));
}

/** The CSV `ispkit subscriber import` takes. */
export function membersCsv(list: readonly Member[]): string {
  const lines = ['username,password,ipv4,ipv6_prefix,delegated_prefix,mtu,port_limit'];
  for (const m of list)
    lines.push(`${m.username},${m.password},${m.ipv4},${m.ipv6Prefix},${m.delegatedPrefix},,`);
  return `${lines.join('\n')}\n`;
}
