import type { RemoteInfo, Socket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../logging.js';
import type { Dictionary, Packet } from '../radius/index.js';
import {
  decodePacket,
  encodePacket,
  makeAttribute,
  Packet as RadiusPacket,
  RadiusError,
  verifyPacket,
} from '../radius/index.js';
import type { AuthMethod, MppePolicy } from './authenticate.js';
import { authenticate, detectMethod } from './authenticate.js';
import { DuplicateCache } from './duplicates.js';
import type { NasClient, NasLookup, SessionLookup, SubscriberLookup } from './ports.js';
import type { ReplyAttribute } from './reply.js';
import { acceptAttributes, rejectAttributes } from './reply.js';
import type { ReconnectPolicy } from './session-timeout.js';
import { secondsUntilReconnect } from './session-timeout.js';
import { ServerCounters } from './counters.js';

/** Handles Accounting-Requests (the accounting issue); answers only once the record is durable. */
export interface AccountingHandler {
  /** Resolves true when the request is recorded durably (then it is acknowledged). */
  record(request: Packet, nas: NasClient, receivedAt: number): Promise<boolean>;
}

export interface RadiusServerOptions {
  dictionary: Dictionary;
  nas: NasLookup;
  subscribers: SubscriberLookup;
  accounting?: AccountingHandler;
  /** Open sessions, for Port-Limit (simultaneous use); without it no limit is enforced. */
  sessions?: SessionLookup;
  /** When a subscriber already has Port-Limit open sessions: refuse, or end the oldest. */
  simultaneousUse?: 'reject' | 'accept-mark-oldest';
  listen: readonly string[];
  authPort: number;
  acctPort: number;
  duplicateWindowMs: number;
  receiveBuffer: number;
  interimInterval: number;
  reconnect: ReconnectPolicy;
  mppe: MppePolicy;
  logger: Logger;
  /** The clock (tests move it to check Session-Timeout at several times of day). */
  now?: () => number;
}

export interface BoundAddress {
  kind: 'auth' | 'acct';
  address: string;
  port: number;
}

interface Listener {
  kind: 'auth' | 'acct';
  socket: Socket;
  port: number;
}

const ACCESS_REQUEST = 1;
const ACCOUNTING_REQUEST = 4;
const STATUS_SERVER = 12;

/**
 * The RADIUS server: UDP listeners for authentication and accounting, NAS clients, duplicate
 * detection, the BlastRADIUS rules, and the authentication pipeline
 * (NAS → decode → verify → authenticate → authorise → reply).
 */
export class RadiusServer {
  readonly counters = new ServerCounters();
  private readonly listeners: Listener[] = [];
  private readonly duplicates: DuplicateCache;
  private readonly now: () => number;
  /** NASes that have sent a Message-Authenticator (limit_proxy_state, as FreeRADIUS). */
  private readonly sentMessageAuthenticator = new Set<string>();
  /** Last time a kind of problem was logged, per NAS or source: at most once a minute. */
  private readonly lastLogged = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RadiusServerOptions) {
    this.now = opts.now ?? Date.now;
    this.duplicates = new DuplicateCache(opts.duplicateWindowMs, 65_536, this.now);
  }

  async start(): Promise<void> {
    for (const address of this.opts.listen) {
      for (const [kind, port] of [
        ['auth', this.opts.authPort],
        ['acct', this.opts.acctPort],
      ] as const) {
        this.listeners.push(await this.bind(kind, address, port));
      }
    }
    this.sweeper = setInterval(() => this.duplicates.evict(), 5_000);
    this.sweeper.unref();
  }

  private bind(kind: 'auth' | 'acct', address: string, port: number): Promise<Listener> {
    const v6 = isIPv6(address);
    // An IPv6 socket on `::` would also take IPv4 traffic; ipv6Only lets 0.0.0.0 bind too.
    const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        try {
          // With the default buffer only ~190 requests queue before the kernel drops the rest.
          socket.setRecvBufferSize(this.opts.receiveBuffer);
        } catch {
          this.opts.logger.warn({ kind, address }, 'could not enlarge the UDP receive buffer');
        }
        const listener: Listener = { kind, socket, port: socket.address().port };
        socket.on('message', (msg, rinfo) => this.receive(listener, msg, rinfo));
        socket.on('error', (err) =>
          this.opts.logger.error({ err, kind, address }, 'RADIUS socket error'),
        );
        resolve(listener);
      });
    });
  }

  addresses(): BoundAddress[] {
    return this.listeners.map((l) => ({
      kind: l.kind,
      address: l.socket.address().address,
      port: l.port,
    }));
  }

  /** Stops taking packets, lets requests in progress finish (up to `graceMs`), closes sockets. */
  async stop(graceMs = 5_000): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const pending = Promise.allSettled([...this.inFlight]);
    await Promise.race([pending, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await Promise.all(
      this.listeners.map((l) => new Promise<void>((r) => l.socket.close(() => r()))),
    );
    this.listeners.length = 0;
  }

  private receive(listener: Listener, msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closing) return;
    this.counters.received++;
    const work = this.handle(listener, msg, rinfo).catch((err: unknown) => {
      this.counters.errors++;
      this.opts.logger.error({ err, src: rinfo.address }, 'RADIUS request failed');
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private logOncePerMinute(key: string, log: () => void): void {
    const t = this.now();
    const last = this.lastLogged.get(key);
    if (last !== undefined && t - last < 60_000) return;
    if (this.lastLogged.size > 10_000) this.lastLogged.clear();
    this.lastLogged.set(key, t);
    log();
  }

  private drop(
    reason: keyof ServerCounters['dropped'],
    nas: string,
    src: string,
    detail: string,
  ): void {
    this.counters.dropped[reason]++;
    this.logOncePerMinute(`${reason}|${nas}`, () =>
      this.opts.logger.warn(
        { nas, src, reason, detail },
        `dropped a packet: ${detail} (logged once a minute)`,
      ),
    );
  }

  private async handle(listener: Listener, msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    const started = process.hrtime.bigint();
    const nas = await this.opts.nas.lookup(rinfo.address);
    if (!nas)
      return this.drop(
        'unknownClient',
        rinfo.address,
        rinfo.address,
        `no NAS is configured for ${rinfo.address}`,
      );
    const code = msg.length >= 20 ? (msg[0] as number) : 0;
    const expected = listener.kind === 'auth' ? ACCESS_REQUEST : ACCOUNTING_REQUEST;
    if (code !== expected && code !== STATUS_SERVER) {
      return this.drop(
        'wrongCode',
        nas.name,
        rinfo.address,
        `code ${code} is not accepted on the ${listener.kind} port`,
      );
    }
    const dupKey = DuplicateCache.key(listener.port, rinfo.address, rinfo.port, msg[1] ?? 0);
    if (code !== STATUS_SERVER) {
      const dup = this.duplicates.check(dupKey, msg);
      if (dup.kind !== 'new') {
        this.counters.duplicates++;
        if (dup.kind === 'answered') listener.socket.send(dup.response, rinfo.port, rinfo.address);
        return;
      }
    }
    let req: Packet;
    try {
      req = decodePacket(msg, this.opts.dictionary, { secret: nas.secret });
    } catch (e) {
      if (!(e instanceof RadiusError)) throw e;
      return this.drop('malformed', nas.name, rinfo.address, e.message);
    }
    if (!this.verified(req, nas, rinfo.address)) return;
    const entry = code === STATUS_SERVER ? undefined : this.duplicates.begin(dupKey, msg);
    const response = await this.respond(req, nas, listener.kind, rinfo, started);
    if (!response) {
      if (entry) this.duplicates.abandon(dupKey, entry);
      return;
    }
    if (entry) entry.response = response;
    listener.socket.send(response, rinfo.port, rinfo.address);
  }

  /** Authenticators and the BlastRADIUS rules; a failing packet is dropped, counted, logged. */
  private verified(req: Packet, nas: NasClient, src: string): boolean {
    const checks = verifyPacket(req, nas.secret);
    if (checks.authenticator === 'bad') {
      this.drop(
        'badAuthenticator',
        nas.name,
        src,
        'the Request Authenticator does not verify (wrong shared secret?)',
      );
      return false;
    }
    if (checks.messageAuthenticator === 'bad') {
      this.drop(
        'badMessageAuthenticator',
        nas.name,
        src,
        'the Message-Authenticator does not verify (wrong shared secret?)',
      );
      return false;
    }
    if (req.code === ACCOUNTING_REQUEST) return true;
    if (checks.messageAuthenticator === 'ok') {
      this.sentMessageAuthenticator.add(nas.name);
      return true;
    }
    if (req.code === STATUS_SERVER) {
      this.drop(
        'missingMessageAuthenticator',
        nas.name,
        src,
        'Status-Server without Message-Authenticator (RFC 5997)',
      );
      return false;
    }
    if (nas.requireMessageAuthenticator) {
      this.drop(
        'missingMessageAuthenticator',
        nas.name,
        src,
        'Access-Request without Message-Authenticator from a NAS that must send one',
      );
      return false;
    }
    if (req.has('Proxy-State') && this.sentMessageAuthenticator.has(nas.name)) {
      // limit_proxy_state: this NAS signs its requests; an unsigned one with Proxy-State is forged.
      this.drop(
        'missingMessageAuthenticator',
        nas.name,
        src,
        'Access-Request with Proxy-State but no Message-Authenticator from a NAS that sends one',
      );
      return false;
    }
    return true;
  }

  private async respond(
    req: Packet,
    nas: NasClient,
    port: 'auth' | 'acct',
    rinfo: RemoteInfo,
    started: bigint,
  ): Promise<Buffer | undefined> {
    const receivedAt = this.now();
    const proxyStates = req.getAll('Proxy-State') as Buffer[];
    if (req.code === STATUS_SERVER) {
      this.counters.statusServer++;
      // RFC 5997 §3: Access-Accept on the authentication port, Accounting-Response on accounting.
      const code = port === 'acct' ? 5 : 2;
      const extra: ReplyAttribute[] = code === 2 ? [['Reply-Message', 'ispkit is up']] : [];
      return this.encode(req, nas, code, [
        ...extra,
        ...proxyStates.map((p): ReplyAttribute => ['Proxy-State', p]),
      ]);
    }
    if (req.code === ACCOUNTING_REQUEST) {
      const durable = this.opts.accounting
        ? await this.opts.accounting.record(req, nas, receivedAt)
        : false;
      if (!durable) {
        this.counters.accountingNotRecorded++;
        return undefined; // the NAS retransmits; nothing is acknowledged that is not stored
      }
      this.counters.accounting++;
      return this.encode(
        req,
        nas,
        5,
        proxyStates.map((p): ReplyAttribute => ['Proxy-State', p]),
      );
    }
    return this.authorize(req, nas, rinfo, started, proxyStates);
  }

  private async authorize(
    req: Packet,
    nas: NasClient,
    rinfo: RemoteInfo,
    started: bigint,
    proxyStates: Buffer[],
  ): Promise<Buffer> {
    const userName = req.get('User-Name');
    const method: AuthMethod = detectMethod(req);
    const finish = (result: 'accept' | 'reject', reason: string | undefined): void => {
      if (result === 'accept') this.counters.accepts++;
      else this.counters.rejects++;
      const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
      this.opts.logger.info(
        {
          nas: nas.name,
          src: rinfo.address,
          id: req.identifier,
          user: userName,
          method,
          result,
          reason,
          latency_ms: Math.round(latencyMs * 1000) / 1000,
        },
        reason
          ? `Access-${result === 'accept' ? 'Accept' : 'Reject'}: ${reason}`
          : `Access-${result === 'accept' ? 'Accept' : 'Reject'}`,
      );
    };
    const reject = (message: string, reason: string, extra: ReplyAttribute[] = []): Buffer => {
      finish('reject', reason);
      return this.encode(req, nas, 3, rejectAttributes(message, extra, proxyStates));
    };
    if (typeof userName !== 'string' || userName === '')
      return reject('No User-Name given', 'no User-Name');
    if (method === 'eap')
      return reject('EAP is not supported: use PAP, CHAP or MS-CHAP', 'EAP is not supported');
    const sub = await this.opts.subscribers.findForAuth(userName);
    if (!sub) return reject('Unknown user', 'unknown user');
    if (sub.status !== 'active') {
      return reject(`Account ${sub.status}`, `subscriber is ${sub.status}`);
    }
    const result = authenticate(req, method, sub.password, this.opts.mppe);
    if (!result.ok) {
      const message =
        result.reason === 'wrong password'
          ? 'Wrong password'
          : `Authentication failed: ${result.reason ?? ''}`;
      return reject(message, result.reason ?? 'authentication failed', result.attributes);
    }
    if (sub.portLimit !== null && this.opts.sessions) {
      const open = await this.opts.sessions.openCount(userName);
      if (open >= sub.portLimit) {
        if (this.opts.simultaneousUse !== 'accept-mark-oldest') {
          const n = sub.portLimit > 1 ? ` (${open})` : '';
          return reject(
            `You are already logged in - access denied${n}`,
            `already ${open} open session(s), Port-Limit ${sub.portLimit}`,
          );
        }
        await this.opts.sessions.markOldestLost(userName, this.now());
      }
    }
    const reconnect = this.opts.reconnect;
    const sessionTimeout = reconnect.enabled
      ? secondsUntilReconnect(this.now(), reconnect)
      : undefined;
    const attrs = acceptAttributes(
      sub,
      { interimInterval: this.opts.interimInterval, sessionTimeout },
      result.attributes,
      proxyStates,
    );
    finish('accept', undefined);
    return this.encode(req, nas, 2, attrs);
  }

  /**
   * A reply signed with the NAS's secret. Access-Accept/Reject/Challenge and answers to
   * Status-Server carry Message-Authenticator first (BlastRADIUS); an Accounting-Response to an
   * Accounting-Request carries none, as FreeRADIUS does (its clients verify one over a zero
   * authenticator there, and RFC 2866 defines none).
   */
  private encode(
    req: Packet,
    nas: NasClient,
    code: number,
    attrs: readonly ReplyAttribute[],
  ): Buffer {
    const dict = this.opts.dictionary;
    const reply = new RadiusPacket(dict, code, req.identifier, req.authenticator);
    if (code !== 5 || req.code === STATUS_SERVER) {
      reply.attributes.push(
        makeAttribute(reply.definition('Message-Authenticator'), Buffer.alloc(16)),
      );
    }
    for (const [name, value] of attrs)
      reply.attributes.push(makeAttribute(reply.definition(name), value));
    return encodePacket(reply, { secret: nas.secret, requestAuthenticator: req.authenticator });
  }
}
