// The day simulation: 200 members on four NASes around a midnight, every Start,
// Interim-Update and Stop sent over UDP to the real server and the real store, with 5% of the
// requests and 5% of the answers lost (the NAS retransmits the same octets), 5% of the requests
// duplicated, and one NAS rebooting (Accounting-On) shortly before midnight. The daily totals
// must equal the generator's own ground truth exactly, for every member and day. Both stores.
//
// The generator's model, which makes the truth exact without borrowing the server's rule:
// within each interval between two reports of a session, traffic flows at a constant whole
// number of bytes per second, and every report falls on a whole second. Each second's bytes
// belong to the UTC day that second falls in; the truth adds them up second by second. (The
// server splits a report's delta in proportion to the milliseconds on each side of midnight,
// which for such traffic gives exactly these whole numbers.)
import type { Socket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountingHandler } from '../../src/aaa/accounting.js';
import type { NasClient } from '../../src/aaa/ports.js';
import { RadiusServer } from '../../src/aaa/server.js';
import type { Packet } from '../../src/radius/index.js';
import { bundledDictionary, createPacket, crypto, encodePacket } from '../../src/radius/index.js';
import { AccountingWriter } from '../../src/sessions/writer.js';
import type { Store } from '../../src/store/store.js';
import { openStore } from '../../src/store/store.js';
import { testStores } from '../helpers/stores.js';
import { LOOPBACK_SERVER } from '../helpers/radius-server.js';

const stores = await testStores();
const dict = bundledDictionary();

const SEED = Number(process.env.ISPKIT_SIM_SEED ?? 20250409);
const SUBSCRIBERS = 200;
const NASES = 4;
const LOSS = 0.05;
const DUPLICATION = 0.05;
const WINDOW = 64;
const RETRANSMIT_MS = 150;
const INTERIM = 60_000;

const S = 1000;
const MIDNIGHT = Date.parse('2025-04-09T00:00:00Z');
const NOON = Date.parse('2025-04-08T12:00:00Z');
const DAYS = ['2025-04-08', '2025-04-09'] as const;
/** NAS 2 goes down at REBOOT, losing what it had not reported, and is back at UP. */
const REBOOTING = 2;
const REBOOT = MIDNIGHT - 150 * S;
const UP = MIDNIGHT - 120 * S;

/** mulberry32: a small seeded generator, so that a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Report {
  status: 'Start' | 'Interim-Update' | 'Stop';
  at: number;
  bytesIn: number;
  bytesOut: number;
  cause?: 'Session-Timeout' | 'User-Request';
}

interface SimSession {
  user: string;
  nas: number;
  acctSessionId: string;
  framedIp: string;
  start: number;
  reports: Report[];
  /** Cut by the NAS's reboot: no Stop, closed by the Accounting-On. */
  cut: boolean;
}

interface Usage {
  bytes_in: number;
  bytes_out: number;
  seconds: number;
  sessions: number;
}

const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);
const zero = (): Usage => ({ bytes_in: 0, bytes_out: 0, seconds: 0, sessions: 0 });

/** The sessions of the day and the truth: usage per member and day. */
function generate(seed: number): { sessions: SimSession[]; truth: Map<string, Usage[]> } {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const sessions: SimSession[] = [];
  const truth = new Map<string, Usage[]>();
  let nextId = 0x81000000;

  for (let i = 0; i < SUBSCRIBERS; i++) {
    const user = `m${String(i).padStart(3, '0')}@NEUTRINET`;
    const nas = i % NASES;
    // Every 20th member moves gigabytes: counters past 2^32 (Gigawords).
    const heavy = i % 20 === 7;
    const maxRate = heavy ? 10_000_000 : 250_000; // bytes per second
    const days = DAYS.map(zero);
    truth.set(user, days);
    const plan: { start: number; end: number; cause: Report['cause'] }[] = [];
    if (r() < 0.2) {
      const start = NOON + int(0, 3600) * S;
      plan.push({ start, end: start + int(300, 600) * S, cause: 'User-Request' });
    }
    const start = MIDNIGHT - int(300, 1200) * S;
    if (r() < 0.15) {
      // Reconnection turned off: one session across midnight.
      plan.push({ start, end: MIDNIGHT + int(300, 1200) * S, cause: 'User-Request' });
    } else {
      // Forced reconnect: Session-Timeout ends the session at midnight, a new one follows.
      plan.push({ start, end: MIDNIGHT, cause: 'Session-Timeout' });
      const again = MIDNIGHT + int(1, 10) * S;
      plan.push({ start: again, end: again + int(300, 1200) * S, cause: 'User-Request' });
    }
    for (const p of plan) {
      const parts: { start: number; end: number; cut: boolean }[] = [];
      if (nas === REBOOTING && p.start < REBOOT && p.end > REBOOT) {
        // The reboot cuts the session; the member's router dials again once the NAS is back.
        parts.push({ start: p.start, end: REBOOT, cut: true });
        parts.push({ start: UP + int(1, 20) * S, end: p.end, cut: false });
      } else {
        expect(nas === REBOOTING && p.start >= REBOOT && p.start <= UP).toBe(false);
        parts.push({ ...p, cut: false });
      }
      for (const part of parts) {
        const s: SimSession = {
          user,
          nas,
          acctSessionId: (nextId++).toString(16).toUpperCase(),
          framedIp: `100.64.${Math.floor(i / 250)}.${(i % 250) + 1}`,
          start: part.start,
          reports: [{ status: 'Start', at: part.start, bytesIn: 0, bytesOut: 0 }],
          cut: part.cut,
        };
        (days[DAYS.indexOf(dayOf(part.start) as (typeof DAYS)[number])] as Usage).sessions++;
        let t = part.start;
        let bytesIn = 0;
        let bytesOut = 0;
        // One interval at a constant rate: each second's bytes go to that second's day.
        const flow = (to: number) => {
          const rateIn = int(1_000, maxRate);
          const rateOut = int(1_000, maxRate);
          for (let sec = t; sec < to; sec += S) {
            const d = days[DAYS.indexOf(dayOf(sec) as (typeof DAYS)[number])] as Usage;
            d.bytes_in += rateIn;
            d.bytes_out += rateOut;
            d.seconds += 1;
          }
          bytesIn += (rateIn * (to - t)) / S;
          bytesOut += (rateOut * (to - t)) / S;
          t = to;
        };
        for (let next = part.start + INTERIM; next < part.end; next += INTERIM) {
          flow(next);
          s.reports.push({ status: 'Interim-Update', at: next, bytesIn, bytesOut });
        }
        // A cut session's last minute died with the NAS: never measured, never reported.
        if (!part.cut) {
          flow(part.end);
          s.reports.push({ status: 'Stop', at: part.end, bytesIn, bytesOut, cause: p.cause });
        }
        sessions.push(s);
      }
    }
  }
  return { sessions, truth };
}

function accountingRequest(s: SimSession, rep: Report): Packet {
  const g = 2 ** 32;
  return createPacket(dict, 'Accounting-Request', {
    'Acct-Status-Type': rep.status,
    'User-Name': s.user,
    'Acct-Session-Id': s.acctSessionId,
    'NAS-Identifier': `nas${s.nas}.example.net`,
    'NAS-Port-Id': `XE02-VL${100 + s.nas}`,
    'Called-Station-Id': `NAS${s.nas}-GPON`,
    'Framed-IP-Address': s.framedIp,
    'Event-Timestamp': new Date(rep.at),
    'Acct-Delay-Time': 0,
    'Acct-Session-Time': (rep.at - s.start) / S,
    'Acct-Input-Octets': rep.bytesIn % g,
    'Acct-Input-Gigawords': Math.floor(rep.bytesIn / g),
    'Acct-Output-Octets': rep.bytesOut % g,
    'Acct-Output-Gigawords': Math.floor(rep.bytesOut / g),
    ...(rep.cause ? { 'Acct-Terminate-Cause': rep.cause } : {}),
  });
}

interface Counts {
  requests: number;
  sent: number;
  lostRequests: number;
  lostAnswers: number;
  duplicated: number;
  retransmitted: number;
  badAnswers: number;
}

/**
 * One NAS: its own source address (127.0.0.N) and socket, RFC 5080 retransmission of the very
 * same octets until an Accounting-Response that verifies comes back. Losses and duplicates
 * are decided here, on the NAS's side of the wire.
 */
class SimNas {
  readonly socket: Socket = createSocket('udp4');
  private readonly waiting = new Map<number, { auth: Buffer; done: () => void }>();
  private nextId = 0;

  constructor(
    readonly address: string,
    readonly secret: Buffer,
    private readonly serverPort: number,
    private readonly chance: () => number,
    private readonly counts: Counts,
  ) {
    this.socket.on('message', (msg) => {
      const w = this.waiting.get(msg[1] as number);
      if (!w) return; // the second answer to a duplicate
      if (msg[0] !== 5 || !crypto.verifyResponseAuthenticator(msg, w.auth, this.secret)) {
        this.counts.badAnswers++;
        return;
      }
      if (this.chance() < LOSS) {
        this.counts.lostAnswers++;
        return;
      }
      w.done();
    });
  }

  bind(): Promise<void> {
    return new Promise((resolve) => this.socket.bind(0, this.address, () => resolve()));
  }

  async exchange(p: Packet): Promise<void> {
    let id = this.nextId;
    while (this.waiting.has(id)) id = (id + 1) & 0xff;
    this.nextId = (id + 1) & 0xff;
    p.identifier = id;
    const bytes = encodePacket(p, { secret: this.secret });
    this.counts.requests++;
    let answered = false;
    let wake: () => void = () => undefined;
    this.waiting.set(id, {
      auth: Buffer.from(bytes.subarray(4, 20)),
      done: () => {
        answered = true;
        wake();
      },
    });
    try {
      for (let attempt = 0; !answered; attempt++) {
        if (attempt > 50) throw new Error(`no answer from the server after ${attempt} sends`);
        if (attempt > 0) this.counts.retransmitted++;
        if (this.chance() < LOSS) this.counts.lostRequests++;
        else {
          this.socket.send(bytes, this.serverPort, '127.0.0.1');
          this.counts.sent++;
          if (attempt === 0 && this.chance() < DUPLICATION) {
            this.socket.send(bytes, this.serverPort, '127.0.0.1');
            this.counts.sent++;
            this.counts.duplicated++;
          }
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, RETRANSMIT_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          if (answered) wake();
        });
      }
    } finally {
      this.waiting.delete(id);
    }
  }
}

/** At most `n` requests in flight over all NASes. */
function limiter(n: number): <T>(f: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (f) => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await f();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

describe.each(stores)('a day of accounting around midnight ($name)', (ts) => {
  let dir: string;
  let store: Store;
  let writer: AccountingWriter;
  let server: RadiusServer;
  const nases: NasClient[] = Array.from({ length: NASES }, (_, n) => ({
    name: `nas${n}`,
    secret: Buffer.from(`secret-of-nas${n}`),
    requireMessageAuthenticator: false,
  }));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-acct-day-'));
    store = await openStore(ts.url, dir);
    await store.migrate();
    writer = new AccountingWriter(store.db);
    server = new RadiusServer({
      dictionary: dict,
      nas: {
        lookup: (a) => {
          const m = /^127\.0\.0\.(\d+)$/.exec(a);
          return Promise.resolve(m ? nases[Number(m[1]) - 1] : undefined);
        },
      },
      subscribers: { findForAuth: () => Promise.resolve(undefined) },
      accounting: accountingHandler(writer),
      ...LOOPBACK_SERVER,
      receiveBuffer: 4 << 20,
    });
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
    await writer.flush();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the daily totals equal the ground truth for every member and day', async () => {
    const began = Date.now();
    const { sessions, truth } = generate(SEED);
    const acctPort = server.addresses().find((a) => a.kind === 'acct')?.port ?? 0;
    const chance = rng(SEED ^ 0x5eed);
    const counts: Counts = {
      requests: 0,
      sent: 0,
      lostRequests: 0,
      lostAnswers: 0,
      duplicated: 0,
      retransmitted: 0,
      badAnswers: 0,
    };
    const sims = nases.map(
      (n, i) => new SimNas(`127.0.0.${i + 1}`, n.secret, acctPort, chance, counts),
    );
    await Promise.all(sims.map((s) => s.bind()));
    const slot = limiter(WINDOW);
    // A session's reports go one after the other (60 s apart on the NAS, far more than a
    // retransmission takes); sessions run side by side, up to WINDOW requests in flight.
    const replay = (filter: (rep: Report) => boolean) =>
      Promise.all(
        sessions.map(async (s) => {
          for (const rep of s.reports.filter(filter)) {
            const nas = sims[s.nas] as SimNas;
            await slot(() => nas.exchange(accountingRequest(s, rep)));
          }
        }),
      );
    try {
      // Everything measured before the rebooted NAS came back, then its Accounting-On, then
      // the rest: the NAS sends nothing in between.
      await replay((rep) => rep.at < UP);
      const on = createPacket(dict, 'Accounting-Request', {
        'Acct-Status-Type': 'Accounting-On',
        'NAS-Identifier': `nas${REBOOTING}.example.net`,
        'Event-Timestamp': new Date(UP),
        'Acct-Delay-Time': 0,
      });
      await slot(() => (sims[REBOOTING] as SimNas).exchange(on));
      await replay((rep) => rep.at >= UP);
    } finally {
      for (const s of sims) s.socket.close();
    }
    const elapsed = Date.now() - began;

    const rows = await store.db.selectFrom('usage_daily').selectAll().execute();
    const got = new Map<string, Usage[]>([...truth.keys()].map((u) => [u, DAYS.map(zero)]));
    for (const row of rows) {
      const days = got.get(row.username);
      expect(days, `usage for a member the generator does not know: ${row.username}`).toBeDefined();
      const i = DAYS.indexOf(row.day as (typeof DAYS)[number]);
      expect(i, `usage on ${row.day}`).toBeGreaterThanOrEqual(0);
      (days as Usage[])[i] = {
        bytes_in: Number(row.bytes_in),
        bytes_out: Number(row.bytes_out),
        seconds: Number(row.seconds),
        sessions: Number(row.sessions),
      };
    }
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(truth));

    // Every session is closed: by its Stop, or by the Accounting-On for the cut ones.
    const stored = await store.db
      .selectFrom('sessions')
      .select(['acct_session_id', 'state', 'terminate_cause', 'stopped_at'])
      .execute();
    expect(stored).toHaveLength(sessions.length);
    const byId = new Map(stored.map((s) => [s.acct_session_id, s]));
    for (const s of sessions) {
      const last = s.reports[s.reports.length - 1] as Report;
      expect(byId.get(s.acctSessionId)).toEqual({
        acct_session_id: s.acctSessionId,
        state: 'stopped',
        terminate_cause: s.cut ? 'NAS-Reboot' : (last.cause ?? null),
        stopped_at: s.cut ? UP : last.at,
      });
    }

    const crossing = sessions.filter(
      (s) => s.start < MIDNIGHT && (s.reports.at(-1) as Report).at > MIDNIGHT,
    ).length;
    // Sessions whose counters went past 2^32: Gigawords on the wire.
    const heavy = sessions.filter((s) => (s.reports.at(-1) as Report).bytesIn >= 2 ** 32).length;
    process.stdout.write(
      `[${ts.name}] ${SUBSCRIBERS} members, ${sessions.length} sessions ` +
        `(${crossing} across midnight, ${sessions.filter((s) => s.cut).length} cut by the ` +
        `reboot, ${heavy} with counters past 2^32): ${counts.requests} requests, ` +
        `${counts.sent} datagrams sent, ${counts.lostRequests} requests and ` +
        `${counts.lostAnswers} answers lost, ${counts.duplicated} duplicated, ` +
        `${counts.retransmitted} retransmitted; server: ${server.counters.duplicates} ` +
        `duplicates, ${writer.committed} records committed; ${elapsed} ms (seed ${SEED})\n`,
    );
    // The simulation did what it says.
    expect(counts.badAnswers).toBe(0);
    expect(crossing).toBeGreaterThan(10);
    expect(heavy).toBeGreaterThan(0);
    expect(counts.lostRequests + counts.lostAnswers).toBeGreaterThan(counts.requests * 0.05);
    expect(counts.duplicated).toBeGreaterThan(counts.requests * 0.03);
  }, 120_000);
});
