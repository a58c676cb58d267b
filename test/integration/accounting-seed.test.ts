// The seed's Interim-Update, sent over UDP to the real server wired to the real store: the
// Accounting-Response comes only once the record is committed, and the session and the day's
// usage hold what the operator's proxy reported. Both stores.
import type { Socket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountingHandler } from '../../src/aaa/accounting.js';
import type { NasClient } from '../../src/aaa/ports.js';
import { RadiusServer } from '../../src/aaa/server.js';
import type { Packet } from '../../src/radius/index.js';
import {
  bundledDictionary,
  createPacket,
  crypto,
  decodePacket,
  encodePacket,
  formatAttributes,
  parseAttributes,
  RadiusClient,
} from '../../src/radius/index.js';
import { SessionQueries } from '../../src/sessions/queries.js';
import { AccountingWriter } from '../../src/sessions/writer.js';
import type { Store } from '../../src/store/store.js';
import { openStore } from '../../src/store/store.js';
import { SEED_ACCOUNTING_REQUEST } from '../fixtures/seed.js';
import { testStores } from '../helpers/stores.js';
import { LOOPBACK_SERVER } from '../helpers/radius-server.js';

const stores = await testStores();
const dict = bundledDictionary();
const secret = Buffer.from('collecte-secret');
const nas: NasClient = { name: 'collecte', secret, requireMessageAuthenticator: true };

/** The seed Interim-Update, with another Acct-Session-Id when given. */
function seedRequest(acctSessionId?: string): Packet {
  const p = createPacket(dict, 'Accounting-Request');
  p.attributes = parseAttributes(dict, SEED_ACCOUNTING_REQUEST);
  if (acctSessionId !== undefined) p.set('Acct-Session-Id', acctSessionId);
  return p;
}

/** A NAS's socket: sends exact octets (a retransmission is the same datagram) and waits. */
class RawNas {
  private readonly socket: Socket = createSocket('udp4');
  private readonly replies: Buffer[] = [];
  private waiter: (() => void) | undefined;

  constructor(private readonly port: number) {
    this.socket.on('message', (msg) => {
      this.replies.push(msg);
      this.waiter?.();
    });
  }

  /** Sends and resolves with the first reply within `ms`, or undefined. */
  async exchange(bytes: Buffer, ms: number): Promise<Buffer | undefined> {
    this.replies.length = 0;
    await new Promise<void>((resolve, reject) =>
      this.socket.send(bytes, this.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
    if (this.replies.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.replies.shift();
  }

  close(): void {
    this.socket.close();
  }
}

describe.each(stores)('replaying the seed Accounting-Request ($name)', (ts) => {
  let dir: string;
  let store: Store;
  let writer: AccountingWriter;
  let server: RadiusServer;
  let acctPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ispkit-acct-seed-'));
    store = await openStore(ts.url, dir);
    await store.migrate();
    writer = new AccountingWriter(store.db);
    server = new RadiusServer({
      dictionary: dict,
      nas: { lookup: (a) => Promise.resolve(a === '127.0.0.1' ? nas : undefined) },
      subscribers: { findForAuth: () => Promise.resolve(undefined) },
      accounting: accountingHandler(writer),
      ...LOOPBACK_SERVER,
    });
    await server.start();
    acctPort = server.addresses().find((a) => a.kind === 'acct')?.port ?? 0;
  });

  afterAll(async () => {
    await server.stop();
    await writer.flush();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers once stored; the session and the usage hold what the proxy reported', async () => {
    const client = new RadiusClient({
      host: '127.0.0.1',
      port: acctPort,
      secret,
      dictionary: dict,
      timeoutMs: 2_000,
      retries: 0,
    });
    // The client checks the Response Authenticator (and the Message-Authenticator if any:
    // RFC 2866 does not ask for one in an Accounting-Response).
    const reply = await client.send(seedRequest()).finally(() => client.close());
    expect(reply.codeName).toBe('Accounting-Response');
    expect(
      formatAttributes(reply.attributes).filter((l) => !l.startsWith('Message-Authenticator')),
    ).toEqual(['Proxy-State = 0x3336']);

    const q = new SessionQueries(store.db);
    const [s] = await q.list({ username: 'p61b8df@neutrinet' });
    // The Interim-Update says: 36,721 s online at 10:12:09 UTC.
    const event = Date.parse('2025-04-08T10:12:09Z');
    const started = event - 36_721_000;
    expect(s).toMatchObject({
      nas: 'collecte',
      acct_session_id: '81004567',
      username: 'p61b8df@NEUTRINET',
      state: 'open',
      started_at: started,
      updated_at: event,
      stopped_at: null,
      bytes_in: 184_624_542,
      bytes_out: 766_528_680,
      session_time: 36_721,
      framed_ip: '100.126.255.5',
      framed_ipv6_prefix: '2001:913:1000:500::/60',
      called_station_id: 'HYPERLINE-02GIL0-GPON',
      calling_station_id: '08:55:31:FA:75:4E',
      nas_port_id: 'XE02-VL164-02GIL0-P0BIS',
      nas_identifier: 'agg01.pxmar.bra.be.verixi.net',
      circuit_id: 'F02GIL00007 eth 1/1/04/13/37/1/2:10',
    });

    // No Start was seen: the usage reported runs from the session's start to the event, at a
    // constant rate, and each UTC day gets its share of that span.
    const midnight = Date.parse('2025-04-08T00:00:00Z');
    const before = Math.max(0, midnight - started); // ms of the span on 2025-04-07
    const span = event - started;
    const share = (n: number) => Math.floor((n * before) / span);
    const prev = { bytes_in: share(184_624_542), bytes_out: share(766_528_680) };
    // (The session began at 00:00:08, just after the midnight reconnect: nothing on the 7th.)
    expect(new Date(started).toISOString()).toBe('2025-04-08T00:00:08.000Z');
    expect(await q.daily('p61b8df@NEUTRINET', '2025-04-07', '2025-04-08')).toEqual([
      {
        date: '2025-04-07',
        bytes_in: prev.bytes_in,
        bytes_out: prev.bytes_out,
        seconds: Math.floor((36_721 * before) / span),
        sessions: started < midnight ? 1 : 0,
      },
      {
        date: '2025-04-08',
        bytes_in: 184_624_542 - prev.bytes_in,
        bytes_out: 766_528_680 - prev.bytes_out,
        seconds: 36_721 - Math.floor((36_721 * before) / span),
        sessions: started < midnight ? 0 : 1,
      },
    ]);
  });

  it('answers a retransmission from its cache and counts it once', async () => {
    const raw = new RawNas(acctPort);
    const request = encodePacket(seedRequest('dup-1'), { secret });
    const first = await raw.exchange(request, 2_000);
    const again = await raw.exchange(request, 2_000);
    raw.close();
    expect(first).toBeDefined();
    expect(again?.equals(first as Buffer)).toBe(true);
    const reqAuth = request.subarray(4, 20);
    expect(crypto.verifyResponseAuthenticator(first as Buffer, reqAuth, secret)).toBe(true);
    const decoded = decodePacket(first as Buffer, dict, { secret, requestAuthenticator: reqAuth });
    expect(decoded.codeName).toBe('Accounting-Response');
    const ma = decoded.messageAuthenticatorOffset;
    if (ma !== undefined) {
      expect(crypto.verifyMessageAuthenticator(first as Buffer, ma, reqAuth, secret)).toBe(true);
    }
    const usage = await store.db
      .selectFrom('sessions')
      .select(['bytes_in'])
      .where('acct_session_id', '=', 'dup-1')
      .execute();
    expect(usage).toEqual([{ bytes_in: 184_624_542 }]);
    const [day] = await new SessionQueries(store.db).daily(
      'p61b8df@NEUTRINET',
      '2025-04-08',
      '2025-04-08',
    );
    // The first test's session and this one: twice the seed, not three times.
    expect(day?.bytes_in).toBe(2 * 184_624_542);
    expect(day?.sessions).toBe(2);
  });

  it('does not answer while the database refuses the record; the retransmission is then stored once', async () => {
    if (ts.name === 'sqlite') {
      await sql
        .raw(
          `CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions
           BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
        )
        .execute(store.db);
    } else {
      await sql
        .raw(
          `CREATE FUNCTION refuse_sessions() RETURNS trigger LANGUAGE plpgsql
           AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
        )
        .execute(store.db);
      await sql
        .raw(
          `CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions
           FOR EACH ROW EXECUTE FUNCTION refuse_sessions()`,
        )
        .execute(store.db);
    }
    const raw = new RawNas(acctPort);
    const request = encodePacket(seedRequest('refused-1'), { secret });
    const notRecordedBefore = server.counters.accountingNotRecorded;
    try {
      expect(await raw.exchange(request, 1_000)).toBeUndefined();
      expect(server.counters.accountingNotRecorded).toBe(notRecordedBefore + 1);
      expect(
        await store.db
          .selectFrom('sessions')
          .select('id')
          .where('acct_session_id', '=', 'refused-1')
          .execute(),
      ).toEqual([]);
      await sql
        .raw('DROP TRIGGER refuse_sessions' + (ts.name === 'postgres' ? ' ON sessions' : ''))
        .execute(store.db);
      // The NAS retransmits the same octets: processed now, answered, stored once.
      const reply = await raw.exchange(request, 2_000);
      expect(reply?.[0]).toBe(5);
      expect(await raw.exchange(request, 2_000)).toEqual(reply);
    } finally {
      raw.close();
    }
    const rows = await store.db
      .selectFrom('sessions')
      .select(['bytes_in'])
      .where('acct_session_id', '=', 'refused-1')
      .execute();
    expect(rows).toEqual([{ bytes_in: 184_624_542 }]);
    const [day] = await new SessionQueries(store.db).daily(
      'p61b8df@NEUTRINET',
      '2025-04-08',
      '2025-04-08',
    );
    expect(day).toMatchObject({ bytes_in: 3 * 184_624_542, sessions: 3 });
  });
});
