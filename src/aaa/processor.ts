import type { Logger } from '../logging.js';
import { infoLineWriter, onceAMinute } from '../logging.js';
import type { Attribute, AttributeDef, Dictionary, Packet } from '../radius/index.js';
import {
  decodePacket,
  encodePacket,
  makeAttribute,
  prepareValues,
  Packet as RadiusPacket,
  RadiusError,
  sameAttribute,
  verifyPacket,
} from '../radius/index.js';
import type { AuthMethod, MppePolicy } from './authenticate.js';
import { authenticate, detectMethod } from './authenticate.js';
import type { ServerCounters } from './counters.js';
import type { AuthSubscriber, NasClient, SessionLookup, SubscriberLookup } from './ports.js';
import type { ReplyAttribute } from './reply.js';
import { subscriberAttributes } from './reply.js';
import type { ReconnectPolicy } from './session-timeout.js';
import { secondsUntilReconnect } from './session-timeout.js';

/** Handles Accounting-Requests (the accounting issue); answers only once the record is durable. */
export interface AccountingHandler {
  /** Resolves true when the request is recorded durably (then it is acknowledged). */
  record(request: Packet, nas: NasClient, receivedAt: number): Promise<boolean>;
}

export interface ProcessorOptions {
  dictionary: Dictionary;
  subscribers: SubscriberLookup;
  accounting?: AccountingHandler;
  /** Open sessions, for Port-Limit (simultaneous use); without it no limit is enforced. */
  sessions?: SessionLookup;
  /** When a subscriber already has Port-Limit open sessions: refuse, or end the oldest. */
  simultaneousUse?: 'reject' | 'accept-mark-oldest';
  interimInterval: number;
  reconnect: ReconnectPolicy;
  mppe: MppePolicy;
  logger: Logger;
  counters: ServerCounters;
  now: () => number;
  /**
   * Told the first time this processor sees a NAS sign its requests (not for nasSigns): the
   * server relays it to the auth workers, a worker to the main thread.
   */
  onSigns?: (name: string) => void;
}

export type DropReason = Exclude<keyof ServerCounters['dropped'], 'unknownClient' | 'wrongCode'>;

const ACCOUNTING_REQUEST = 4;
const STATUS_SERVER = 12;
const NO_ATTRIBUTES: readonly Attribute[] = [];

/**
 * What the server does with one packet from a known NAS, once the socket, the NAS and the
 * duplicate cache are dealt with: decode with the NAS secret, check the authenticators and the
 * BlastRADIUS rules, then answer Status-Server, record accounting, or authenticate and
 * authorise an Access-Request. The same code runs on the main thread and in auth workers.
 */
export class PacketProcessor {
  /** NASes that have sent a Message-Authenticator (limit_proxy_state, as FreeRADIUS). */
  private readonly sentMessageAuthenticator = new Set<string>();
  /** Last time a kind of problem was logged, per NAS or source: at most once a minute. */
  /** A subscriber's reply attributes, built once per subscriber object (a re-read is a new one). */
  private readonly replies = new WeakMap<AuthSubscriber, readonly Attribute[]>();
  /**
   * Reply attributes that most subscribers have alike (Service-Type, Framed-Protocol, the
   * netmask, Acct-Interim-Interval, …): one object for each name and value, shared by every
   * subscriber's reply. An attribute object with its wire octets is ~250 bytes; a warmed cache
   * of 100,000 members held five or six of them each.
   */
  private readonly shared = new Map<string, Attribute>();
  private readonly def: {
    messageAuthenticator: AttributeDef;
    proxyState: AttributeDef;
    sessionTimeout: AttributeDef;
    replyMessage: AttributeDef;
  };
  /** Session-Timeout changes once a second: computed once per second. */
  private timeoutAt = -1;
  private timeoutValue = 0;
  /** The decision lines' writer, when the logger allows it (see infoLineWriter). */
  private readonly line: ((fields: string, msg: string) => void) | undefined;

  constructor(private readonly opts: ProcessorOptions) {
    const d = (name: string): AttributeDef => {
      const def = opts.dictionary.attribute(name);
      if (!def) throw new RadiusError('ATTRIBUTE_UNKNOWN', `unknown attribute ${name}`);
      return def;
    };
    this.def = {
      messageAuthenticator: d('Message-Authenticator'),
      proxyState: d('Proxy-State'),
      sessionTimeout: d('Session-Timeout'),
      replyMessage: d('Reply-Message'),
    };
    this.line = infoLineWriter(opts.logger);
  }

  /** Remembers that a NAS signs its requests (told by another thread). */
  nasSigns(name: string): void {
    this.sentMessageAuthenticator.add(name);
  }

  /** Runs `log` at most once a minute per key. */
  readonly logOncePerMinute = onceAMinute(() => this.opts.now());

  drop(reason: keyof ServerCounters['dropped'], nas: string, src: string, detail: string): void {
    this.opts.counters.dropped[reason]++;
    this.logOncePerMinute(`${reason}|${nas}`, () =>
      this.opts.logger.warn(
        { nas, src, reason, detail },
        `dropped a packet: ${detail} (logged once a minute)`,
      ),
    );
  }

  /**
   * The response to send, or undefined when the packet is dropped (malformed, not authentic,
   * or accounting that could not be recorded). `started` is performance.now() at receipt.
   */
  process(
    msg: Buffer,
    nas: NasClient,
    port: 'auth' | 'acct',
    src: string,
    started: number,
  ): Buffer | undefined | Promise<Buffer | undefined> {
    const req = this.accept(msg, nas, src);
    return req && this.respond(req, nas, port, src, started);
  }

  /** Decodes and checks a packet (synchronously); undefined when it is dropped. */
  accept(msg: Buffer, nas: NasClient, src: string): Packet | undefined {
    let req: Packet;
    try {
      req = decodePacket(msg, this.opts.dictionary, { secret: nas.secret });
    } catch (e) {
      if (!(e instanceof RadiusError)) throw e;
      this.drop('malformed', nas.name, src, e.message);
      return undefined;
    }
    return this.verified(req, nas, src) ? req : undefined;
  }

  /** The answer to a packet `accept` let through. */
  respond(
    req: Packet,
    nas: NasClient,
    port: 'auth' | 'acct',
    src: string,
    started: number,
  ): Buffer | undefined | Promise<Buffer | undefined> {
    if (req.code === STATUS_SERVER) {
      this.opts.counters.statusServer++;
      // RFC 5997 §3: Access-Accept on the authentication port, Accounting-Response on accounting.
      const code = port === 'acct' ? 5 : 2;
      const extra =
        code === 2 ? [makeAttribute(this.def.replyMessage, 'ispkit is up')] : NO_ATTRIBUTES;
      return this.encode(req, nas, code, extra, NO_ATTRIBUTES);
    }
    if (req.code === ACCOUNTING_REQUEST) return this.account(req, nas);
    return this.authorize(req, nas, src, started);
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
      if (!this.sentMessageAuthenticator.has(nas.name)) {
        this.sentMessageAuthenticator.add(nas.name);
        this.opts.onSigns?.(nas.name);
      }
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

  private async account(req: Packet, nas: NasClient): Promise<Buffer | undefined> {
    const receivedAt = this.opts.now();
    const durable = this.opts.accounting
      ? await this.opts.accounting.record(req, nas, receivedAt)
      : false;
    if (!durable) {
      this.opts.counters.accountingNotRecorded++;
      return undefined; // the NAS retransmits; nothing is acknowledged that is not stored
    }
    this.opts.counters.accounting++;
    return this.encode(req, nas, 5, NO_ATTRIBUTES, NO_ATTRIBUTES);
  }

  private async authorize(
    req: Packet,
    nas: NasClient,
    src: string,
    started: number,
  ): Promise<Buffer> {
    const userName = req.get('User-Name');
    const method: AuthMethod = detectMethod(req);
    const reject = (message: string, reason: string, extra?: readonly ReplyAttribute[]): Buffer =>
      this.reject(req, nas, src, started, method, userName, message, reason, extra);
    if (typeof userName !== 'string' || userName === '')
      return reject('No User-Name given', 'no User-Name');
    if (method === 'eap')
      return reject('EAP is not supported: use PAP, CHAP or MS-CHAP', 'EAP is not supported');
    const sub = await this.opts.subscribers.findForAuth(userName);
    if (!sub) return reject('Unknown user', 'unknown user');
    if (sub.status !== 'active')
      return reject(`Account ${sub.status}`, `subscriber is ${sub.status}`);
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
        await this.opts.sessions.markOldestLost(userName, this.opts.now());
      }
    }
    // In the order of the seed exchange: the subscriber's attributes, the method's (MPPE keys),
    // every Proxy-State, then Session-Timeout.
    const tail: Attribute[] = [];
    for (const [name, value] of result.attributes)
      tail.push(makeAttribute(req.definition(name), value));
    const reply = this.encode(req, nas, 2, this.subscriberReply(sub), tail, this.sessionTimeout());
    this.decided(nas, src, req, userName, method, 'accept', undefined, started);
    return reply;
  }

  private reject(
    req: Packet,
    nas: NasClient,
    src: string,
    started: number,
    method: AuthMethod,
    userName: unknown,
    message: string,
    reason: string,
    extra: readonly ReplyAttribute[] = [],
  ): Buffer {
    this.decided(nas, src, req, userName, method, 'reject', reason, started);
    const attrs: Attribute[] = [makeAttribute(this.def.replyMessage, message)];
    for (const [name, value] of extra) attrs.push(makeAttribute(req.definition(name), value));
    return this.encode(req, nas, 3, attrs, NO_ATTRIBUTES);
  }

  /** One JSON line per decision. */
  private decided(
    nas: NasClient,
    src: string,
    req: Packet,
    userName: unknown,
    method: AuthMethod,
    result: 'accept' | 'reject',
    reason: string | undefined,
    started: number,
  ): void {
    if (result === 'accept') this.opts.counters.accepts++;
    else this.opts.counters.rejects++;
    const logger = this.opts.logger;
    if (!logger.isLevelEnabled('info')) return;
    const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
    const msg = reason
      ? `Access-${result === 'accept' ? 'Accept' : 'Reject'}: ${reason}`
      : `Access-${result === 'accept' ? 'Accept' : 'Reject'}`;
    if (this.line && (typeof userName === 'string' || userName === undefined)) {
      // The same line pino writes for the object below, built directly (it runs per request).
      this.line(
        `,"nas":${JSON.stringify(nas.name)},"src":${JSON.stringify(src)},"id":${req.identifier}` +
          (userName === undefined ? '' : `,"user":${JSON.stringify(userName)}`) +
          `,"method":"${method}","result":"${result}"` +
          (reason === undefined ? '' : `,"reason":${JSON.stringify(reason)}`) +
          `,"latency_ms":${Number.isFinite(latencyMs) ? latencyMs : null}`,
        msg,
      );
      return;
    }
    logger.info(
      {
        nas: nas.name,
        src,
        id: req.identifier,
        user: userName,
        method,
        result,
        reason,
        latency_ms: latencyMs,
      },
      msg,
    );
  }

  /**
   * Builds a subscriber's reply attributes, and encodes their values, ahead of its first request
   * (cache warm-up): a member authenticates a few times a day, so for most requests it is the first.
   */
  prepareReply(sub: AuthSubscriber): void {
    prepareValues(this.subscriberReply(sub));
  }

  private subscriberReply(sub: AuthSubscriber): readonly Attribute[] {
    let attrs = this.replies.get(sub);
    if (attrs === undefined) {
      // Built once: the encoder keeps each attribute's wire octets, so later replies copy them.
      attrs = subscriberAttributes(sub, this.opts.interimInterval).map(([name, value]) =>
        this.replyAttribute(name, value),
      );
      this.replies.set(sub, attrs);
    }
    return attrs;
  }

  private replyAttribute(name: string, value: ReplyAttribute[1]): Attribute {
    const def = this.opts.dictionary.attribute(name) as AttributeDef;
    if (!SHARED_REPLY_ATTRIBUTES.has(name) || Buffer.isBuffer(value))
      return makeAttribute(def, value);
    const key = `${name}\0${typeof value}\0${value}`;
    let a = this.shared.get(key);
    if (a === undefined) {
      a = makeAttribute(def, value);
      if (this.shared.size < MAX_SHARED) this.shared.set(key, a);
    }
    return a;
  }

  private sessionTimeout(): Attribute | undefined {
    const reconnect = this.opts.reconnect;
    if (!reconnect.enabled) return undefined;
    const now = this.opts.now();
    const second = Math.floor(now / 1000);
    if (second !== this.timeoutAt) {
      this.timeoutAt = second;
      this.timeoutValue = secondsUntilReconnect(now, reconnect);
    }
    return makeAttribute(this.def.sessionTimeout, this.timeoutValue);
  }

  /**
   * A reply signed with the NAS's secret: Message-Authenticator first on Access-Accept, -Reject,
   * -Challenge and on answers to Status-Server (BlastRADIUS); none on an Accounting-Response to an
   * Accounting-Request, as FreeRADIUS (its clients verify one over a zero authenticator there,
   * and RFC 2866 defines none). Then `head`, `tail`, every Proxy-State in order, and `last`.
   */
  private encode(
    req: Packet,
    nas: NasClient,
    code: number,
    head: readonly Attribute[],
    tail: readonly Attribute[],
    last?: Attribute,
  ): Buffer {
    const attrs: Attribute[] = [];
    if (code !== 5 || req.code === STATUS_SERVER)
      attrs.push(makeAttribute(this.def.messageAuthenticator, ZERO16));
    for (const a of head) attrs.push(a);
    for (const a of tail) attrs.push(a);
    // The request's own Proxy-State attributes: the encoder copies their octets as they came.
    for (const a of req.attributes) if (sameAttribute(a.def, this.def.proxyState)) attrs.push(a);
    if (last) attrs.push(last);
    const reply = new RadiusPacket(
      this.opts.dictionary,
      code,
      req.identifier,
      req.authenticator,
      attrs,
    );
    return encodePacket(reply, { secret: nas.secret, requestAuthenticator: req.authenticator });
  }
}

const ZERO16 = Buffer.alloc(16);

/** Reply attributes whose values most subscribers share (an address is each member's own). */
const SHARED_REPLY_ATTRIBUTES = new Set([
  'Service-Type',
  'Framed-Protocol',
  'Framed-IP-Netmask',
  'Port-Limit',
  'Framed-MTU',
  'Acct-Interim-Interval',
]);
/** At most this many shared values (an odd configuration cannot grow the map without end). */
const MAX_SHARED = 4096;
