import type { AuthSubscriber } from './ports.js';

export interface ReplySettings {
  /** Acct-Interim-Interval unless the subscriber has its own. */
  interimInterval: number;
  /** Seconds until the daily reconnect, or undefined when that is turned off. */
  sessionTimeout: number | undefined;
}

/** A reply attribute by dictionary name, as the server builds replies. */
export type ReplyAttribute = [name: string, value: Buffer | number | string];
type Pair = ReplyAttribute;

/**
 * The Access-Accept for an active subscriber, in the order of the seed exchange: addresses,
 * service, limits, the method's attributes (MPPE keys), every Proxy-State in order, then
 * Session-Timeout. Attributes the subscriber does not have are left out, not sent empty.
 */
export function acceptAttributes(
  sub: AuthSubscriber,
  settings: ReplySettings,
  methodAttributes: readonly Pair[],
  proxyStates: readonly Buffer[],
): Pair[] {
  const out: Pair[] = [];
  if (sub.ipv4) out.push(['Framed-IP-Address', sub.ipv4]);
  if (sub.ipv6Prefix) out.push(['Framed-IPv6-Prefix', sub.ipv6Prefix]);
  if (sub.delegatedPrefix) out.push(['Delegated-IPv6-Prefix', sub.delegatedPrefix]);
  out.push(['Service-Type', 'Framed-User'], ['Framed-Protocol', 'PPP']);
  if (sub.ipv4) out.push(['Framed-IP-Netmask', '255.255.255.255']);
  if (sub.portLimit !== null) out.push(['Port-Limit', sub.portLimit]);
  if (sub.mtu !== null) out.push(['Framed-MTU', sub.mtu]);
  out.push(['Acct-Interim-Interval', sub.interim ?? settings.interimInterval]);
  out.push(...methodAttributes);
  for (const ps of proxyStates) out.push(['Proxy-State', ps]);
  if (settings.sessionTimeout !== undefined) out.push(['Session-Timeout', settings.sessionTimeout]);
  return out;
}

/** The Access-Reject: a Reply-Message a person can read, the method's error, Proxy-State. */
export function rejectAttributes(
  message: string,
  methodAttributes: readonly Pair[],
  proxyStates: readonly Buffer[],
): Pair[] {
  const out: Pair[] = [['Reply-Message', message], ...methodAttributes];
  for (const ps of proxyStates) out.push(['Proxy-State', ps]);
  return out;
}
