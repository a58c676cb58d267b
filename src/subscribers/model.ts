// A subscriber as the services and the fronts see it, and its JSON form (split from service.ts).
import type { Selectable } from 'kysely';
import type { SubscriberTable } from '../store/schema.js';
import type { ServiceFields } from './validation.js';

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

export function toSubscriber(r: Selectable<SubscriberTable>): Subscriber {
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
