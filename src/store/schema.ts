import type { Generated } from 'kysely';

/**
 * The tables, as Kysely sees them. One schema for SQLite and PostgreSQL: times are integer
 * milliseconds since the epoch (UTC), booleans are 0/1 integers, secrets are sealed text.
 */
export interface NasTable {
  id: Generated<number>;
  name: string;
  /** An IP address or a CIDR prefix (IPv4 or IPv6). */
  address: string;
  /** The RADIUS shared secret, sealed with the data dir's key. */
  secret_sealed: string;
  require_message_authenticator: number;
  created_at: number;
  updated_at: number;
}

export interface SubscriberTable {
  id: Generated<number>;
  /** As given (`p1f9bd1@NEUTRINET`). */
  username: string;
  /** The lookup key: the realm after `@` in lower case, the user part as it is. */
  username_key: string;
  /** The password (in clear for CHAP and MS-CHAP), sealed with the data dir's key. */
  password_sealed: string;
  status: string;
  ipv4: string | null;
  ipv6_prefix: string | null;
  delegated_prefix: string | null;
  mtu: number | null;
  port_limit: number | null;
  interim: number | null;
  created_at: number;
  updated_at: number;
}

/** A subscriber's status over time: `valid_to` is null for the current interval. */
export interface SubscriberStatusTable {
  id: Generated<number>;
  subscriber_id: number;
  status: string;
  valid_from: number;
  valid_to: number | null;
}

/** Every change made by a person or a job: who, when, what, old → new (never a secret). */
export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  entity: string;
  entity_key: string;
  old_value: string | null;
  new_value: string | null;
}

/** One accounting session (NAS + Acct-Session-Id + User-Name). Counters are the last reported. */
export interface SessionTable {
  id: Generated<number>;
  unique_id: string;
  nas: string;
  acct_session_id: string;
  username: string;
  username_key: string;
  /** open, stopped, or lost (no update for 3 × the interim interval). */
  state: string;
  /** 1 when the stop was inferred (lost), not reported by the NAS. */
  inferred: number;
  started_at: number;
  updated_at: number;
  stopped_at: number | null;
  /** Event time of the last update applied (older updates are not counted again). */
  last_event_at: number;
  terminate_cause: string | null;
  bytes_in: number;
  bytes_out: number;
  packets_in: number;
  packets_out: number;
  session_time: number;
  interim_interval: number | null;
  nas_identifier: string | null;
  nas_ip: string | null;
  nas_port_id: string | null;
  called_station_id: string | null;
  calling_station_id: string | null;
  circuit_id: string | null;
  framed_ip: string | null;
  framed_ipv6_prefix: string | null;
  delegated_prefix: string | null;
}

/** Usage per subscriber (user name key) and UTC day. */
export interface UsageDailyTable {
  username_key: string;
  day: string;
  username: string;
  bytes_in: number;
  bytes_out: number;
  seconds: number;
  sessions: number;
}

/** An address pool: a prefix cut into slots of one length, for one purpose. */
export interface IpPoolTable {
  id: Generated<number>;
  name: string;
  /** Canonical `address/length`. */
  prefix: string;
  family: number;
  /** ipv4, cgnat-ipv4, framed-ipv6 or delegated-ipv6. */
  purpose: string;
  /** The allocation length (32, 64, 56…). */
  size: number;
  gateway: string | null;
  /** JSON array of canonical addresses or prefixes never handed out. */
  reserved: string;
  quarantine_seconds: number;
  created_at: number;
}

/**
 * Who held which address or prefix, and when: one row per holding interval, kept after the
 * release (and after the pool or the subscriber is gone) to answer "who held X at time T".
 */
export interface IpAssignmentTable {
  id: Generated<number>;
  /** Null once the pool is removed; the row stays as history. */
  pool_id: number | null;
  purpose: string;
  /** The subscriber column it fills: ipv4, ipv6_prefix or delegated_prefix. */
  column_name: string;
  family: number;
  /** The slot number in the pool (0 = the pool's first /size). */
  slot: number;
  /** As the subscriber column holds it: `80.67.191.6`, `2001:913:1d00:600::/60`. */
  address: string;
  /** First and last address as fixed-width hex: text order is address order, for lookups. */
  first_hex: string;
  last_hex: string;
  /** Null once the subscriber is deleted; `username` keeps who it was. */
  subscriber_id: number | null;
  username: string;
  /** allocated (from the pool) or static (given by hand, inside the pool). */
  origin: string;
  valid_from: number;
  /** Null while held; the release time after. */
  valid_to: number | null;
  /** When a released slot may go to someone else (valid_to + the pool's quarantine). */
  reusable_at: number | null;
  /**
   * 1 while this row keeps the slot from others (held or in quarantine), 0 once a later row
   * took the slot over. A unique index on (pool_id, slot) where occupied = 1 makes a double
   * assignment impossible, whatever the number of ispkit instances.
   */
  occupied: number;
}

/** A pool linked to a NetBox prefix (imported by `netbox pull`, or matched by its prefix). */
export interface NetboxPoolTable {
  id: Generated<number>;
  pool_id: number;
  /** The NetBox prefix's id. */
  netbox_id: number;
  /** The prefix's VRF in NetBox (null: the global table); addresses pushed go there too. */
  vrf_id: number | null;
  linked_at: number;
}

/** A reserved address or prefix of a pool that mirrors a NetBox object ispkit does not own. */
export interface NetboxReservationTable {
  id: Generated<number>;
  pool_id: number;
  /** Canonical `address/length`, as in the pool's reserved list. */
  prefix: string;
  /** ipaddress or prefix. */
  netbox_model: string;
  netbox_id: number;
  created_at: number;
}

/** One row (id 1): bumped by every change that servers cache (see PostgresChanges). */
export interface ChangesTable {
  id: number;
  version: number;
}

/** How far an accounting spool file has been replayed (see sessions/spool.ts). */
export interface SpoolProgressTable {
  spool_id: string;
  byte_offset: number;
  records: number;
  updated_at: number;
}

export interface Database {
  ispkit_changes: ChangesTable;
  accounting_spool_progress: SpoolProgressTable;
  netbox_pools: NetboxPoolTable;
  netbox_reservations: NetboxReservationTable;
  ip_pools: IpPoolTable;
  ip_assignments: IpAssignmentTable;
  sessions: SessionTable;
  usage_daily: UsageDailyTable;
  nas: NasTable;
  subscribers: SubscriberTable;
  subscriber_status: SubscriberStatusTable;
  audit_log: AuditLogTable;
}
