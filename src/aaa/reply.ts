import type { AuthSubscriber } from './ports.js';

/** A reply attribute by dictionary name, as the server builds replies. */
export type ReplyAttribute = [name: string, value: Buffer | number | string];

/**
 * The subscriber's part of an Access-Accept, in the order of the seed exchange: addresses,
 * service, limits, Acct-Interim-Interval (the subscriber's own, else `interimInterval`).
 * Attributes the subscriber does not have are left out, not sent empty. The server follows
 * them with the method's attributes (MPPE keys), every Proxy-State, then Session-Timeout.
 */
export function subscriberAttributes(
  sub: AuthSubscriber,
  interimInterval: number,
): ReplyAttribute[] {
  const out: ReplyAttribute[] = [];
  if (sub.ipv4) out.push(['Framed-IP-Address', sub.ipv4]);
  if (sub.ipv6Prefix) out.push(['Framed-IPv6-Prefix', sub.ipv6Prefix]);
  if (sub.delegatedPrefix) out.push(['Delegated-IPv6-Prefix', sub.delegatedPrefix]);
  out.push(['Service-Type', 'Framed-User'], ['Framed-Protocol', 'PPP']);
  if (sub.ipv4) out.push(['Framed-IP-Netmask', '255.255.255.255']);
  if (sub.portLimit !== null) out.push(['Port-Limit', sub.portLimit]);
  if (sub.mtu !== null) out.push(['Framed-MTU', sub.mtu]);
  out.push(['Acct-Interim-Interval', sub.interim ?? interimInterval]);
  return out;
}
