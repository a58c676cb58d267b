// The RADIUS client: the protocol layer's only socket code. One UDP socket per server, up to
// 256 requests in flight (one per Identifier), retransmission as RFC 5080 §2.2.1 wants it.
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

import { verifyMessageAuthenticator, verifyResponseAuthenticator } from './crypto/index.js';
import { decodePacket } from './decode.js';
import type { Dictionary } from './dictionary/dictionary.js';
import { encodePacket } from './encode.js';
import { RadiusError } from './errors.js';
import { Packet } from './packet.js';

export interface RadiusClientOptions {
  host: string;
  port: number;
  secret: Buffer;
  dictionary: Dictionary;
  /** Wait for the first reply this long (ms); later waits grow by `backoff`. Default 1000. */
  timeoutMs?: number;
  /** Retransmissions after the first send. Default 3. */
  retries?: number;
  /** Each wait is the previous one times this factor. Default 2. */
  backoff?: number;
  /** Cap on one wait (ms). Default 10 000 (or timeoutMs when larger). */
  maxTimeoutMs?: number;
  /**
   * Drop Access-Accept/Reject/Challenge replies without a valid Message-Authenticator
   * (BlastRADIUS, CVE-2024-3596). Default true. A present M-A is always verified.
   */
  requireMessageAuthenticator?: boolean;
  /** Requests waiting for a free Identifier when 256 are in flight. Default 1024. */
  maxQueued?: number;
  /** Local address to bind, e.g. to pick the source of the requests. */
  localAddress?: string;
}

export interface RadiusClientCounters {
  /** Requests sent (first transmissions). */
  sent: number;
  retransmits: number;
  /** Requests that got no acceptable reply after the last retransmission. */
  timeouts: number;
  /** Replies accepted and handed back. */
  replies: number;
  /** Datagrams dropped: malformed, wrong code, bad Response Authenticator or M-A. */
  badReplies: number;
  /** Well-formed datagrams for no request in flight (late duplicates of answered ones). */
  unmatchedReplies: number;
}

interface Pending {
  identifier: number;
  code: number;
  bytes: Buffer;
  /** The Request Authenticator as sent: the reply's authenticator is computed from it. */
  authenticator: Buffer;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  lastError: Error | undefined;
  resolve: (reply: Packet) => void;
  reject: (err: Error) => void;
}

interface Queued {
  packet: Packet;
  resolve: (reply: Packet) => void;
  reject: (err: Error) => void;
}

// Which reply codes answer which request codes (RFC 2865, 2866, 5176, 5997).
const REPLIES: ReadonlyMap<number, readonly number[]> = new Map([
  [1, [2, 3, 11]],
  [4, [5]],
  [12, [2, 3, 11, 5]], // Status-Server: Access-Accept on auth ports, Accounting-Response on acct
  [40, [41, 42]],
  [43, [44, 45]],
]);
const ACCESS_REPLIES = new Set([2, 3, 11]);

export class RadiusClient {
  readonly host: string;
  readonly port: number;
  /** host:port, IPv6 addresses in brackets, for messages. */
  readonly target: string;
  private readonly secret: Buffer;
  private readonly dictionary: Dictionary;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoff: number;
  private readonly maxTimeoutMs: number;
  private readonly requireMa: boolean;
  private readonly maxQueued: number;
  private readonly socket: Socket;
  private readonly ready: Promise<void>;
  private readonly inflight: (Pending | undefined)[] = new Array<Pending | undefined>(256);
  private inflightCount = 0;
  private readonly queue: Queued[] = [];
  // Identifiers are handed out round-robin, so a late reply meets a free slot, not a new request.
  private nextId = Math.floor(Math.random() * 256);
  private closed = false;
  private readonly stats: RadiusClientCounters = {
    sent: 0,
    retransmits: 0,
    timeouts: 0,
    replies: 0,
    badReplies: 0,
    unmatchedReplies: 0,
  };

  constructor(opts: RadiusClientOptions) {
    this.host = opts.host;
    this.port = opts.port;
    this.target = isIPv6(opts.host) ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
    this.secret = opts.secret;
    this.dictionary = opts.dictionary;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.retries = opts.retries ?? 3;
    this.backoff = opts.backoff ?? 2;
    this.maxTimeoutMs = Math.max(opts.maxTimeoutMs ?? 10_000, this.timeoutMs);
    this.requireMa = opts.requireMessageAuthenticator ?? true;
    this.maxQueued = opts.maxQueued ?? 1024;
    if (this.secret.length === 0) {
      throw new RadiusError('SECRET_REQUIRED', 'the shared secret is empty');
    }
    if (!(this.timeoutMs > 0) || !(this.backoff >= 1) || !(this.retries >= 0)) {
      throw new RadiusError(
        'VALUE_INVALID',
        'timeoutMs > 0, backoff >= 1 and retries >= 0 are needed',
      );
    }
    this.socket = createSocket(isIPv6(opts.host) ? 'udp6' : 'udp4');
    this.socket.on('message', (msg) => this.onMessage(msg));
    let failReady: (err: Error) => void = () => undefined;
    // Before the socket is connected an error (bind, lookup) fails the requests; after that,
    // UDP errors (ICMP unreachable, ENOBUFS…) are not fatal: the retransmission timer decides.
    this.socket.on('error', (err) => {
      failReady(err);
      this.noteError(err);
    });
    // Connected: the kernel drops datagrams from any other address and port.
    this.ready = new Promise<void>((resolve, reject) => {
      failReady = reject;
      const connect = (): void => {
        // Node hands a failed lookup to this callback, although its type takes no argument.
        this.socket.connect(opts.port, opts.host, (err?: Error) => {
          if (err) return reject(err);
          this.refresh();
          resolve();
        });
      };
      if (opts.localAddress !== undefined) this.socket.bind(0, opts.localAddress, connect);
      else connect();
    });
    this.ready.catch(() => undefined); // reported by send()
  }

  /** A copy of the counters. */
  get counters(): Readonly<RadiusClientCounters> {
    return { ...this.stats };
  }

  /** Requests in flight and waiting for an Identifier. */
  get pending(): number {
    return this.inflightCount + this.queue.length;
  }

  /**
   * Sends a request and resolves with the verified, decoded reply (encrypted attributes
   * revealed). The packet's identifier is replaced by a free one; Access-Request and
   * Status-Server get a Message-Authenticator first. The caller's packet is not modified.
   * Rejects with RadiusError TIMEOUT after the last retransmission, or at once when 256
   * requests are in flight and `maxQueued` more are already waiting.
   */
  send(packet: Packet): Promise<Packet> {
    if (this.closed) {
      return Promise.reject(new RadiusError('CLIENT_CLOSED', 'the RADIUS client is closed'));
    }
    if (!REPLIES.has(packet.code)) {
      return Promise.reject(
        new RadiusError('VALUE_INVALID', `${packet.codeName} is not a request`),
      );
    }
    return new Promise<Packet>((resolve, reject) => {
      if (this.inflightCount < 256) {
        void this.start(packet, resolve, reject);
        return;
      }
      if (this.queue.length >= this.maxQueued) {
        reject(
          new RadiusError(
            'CLIENT_BUSY',
            `${this.target}: 256 requests in flight and ${this.queue.length} queued`,
          ),
        );
        return;
      }
      this.queue.push({ packet, resolve, reject });
      this.refresh();
    });
  }

  /** Closes the socket; requests still waiting are rejected with TIMEOUT. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = (): RadiusError => new RadiusError('CLIENT_CLOSED', 'the RADIUS client was closed');
    for (const q of this.queue.splice(0)) q.reject(err());
    for (const p of this.inflight) if (p) this.finish(p, undefined, err());
    this.socket.close();
  }

  private async start(
    packet: Packet,
    resolve: (reply: Packet) => void,
    reject: (err: Error) => void,
  ): Promise<void> {
    const identifier = this.allocateId();
    let bytes: Buffer;
    try {
      const copy = new Packet(packet.dictionary, packet.code, identifier, packet.authenticator, [
        ...packet.attributes,
      ]);
      if (copy.code === 1 || copy.code === 12) copy.withMessageAuthenticator();
      bytes = encodePacket(copy, { secret: this.secret });
    } catch (e) {
      this.inflight[identifier] = undefined;
      this.inflightCount--;
      reject(e instanceof Error ? e : new Error(String(e)));
      this.dequeue();
      return;
    }
    const p: Pending = {
      identifier,
      code: packet.code,
      bytes,
      authenticator: Buffer.from(bytes.subarray(4, 20)),
      attempt: 0,
      timer: undefined,
      lastError: undefined,
      resolve,
      reject,
    };
    this.inflight[identifier] = p;
    this.refresh();
    try {
      await this.ready;
    } catch (e) {
      this.finish(p, undefined, e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (this.inflight[identifier] !== p) return; // closed meanwhile
    this.stats.sent++;
    this.transmit(p);
  }

  /** Reserves the next free Identifier; the caller has checked one is free. */
  private allocateId(): number {
    for (let i = 0; i < 256; i++) {
      const id = (this.nextId + i) & 0xff;
      if (this.inflight[id] === undefined) {
        this.nextId = (id + 1) & 0xff;
        this.inflightCount++;
        // A placeholder until the pending entry exists: nothing can match it.
        this.inflight[id] = PLACEHOLDER;
        return id;
      }
    }
    throw new RadiusError('CLIENT_BUSY', 'no free RADIUS identifier');
  }

  /** Sends the same octets each time (RFC 5080: same Identifier and Authenticator). */
  private transmit(p: Pending): void {
    this.socket.send(p.bytes, (err) => {
      if (err) p.lastError = err;
    });
    const wait = Math.min(this.timeoutMs * this.backoff ** p.attempt, this.maxTimeoutMs);
    p.timer = setTimeout(() => this.onTimeout(p), wait);
  }

  private onTimeout(p: Pending): void {
    if (this.inflight[p.identifier] !== p) return;
    if (p.attempt < this.retries) {
      p.attempt++;
      this.stats.retransmits++;
      this.transmit(p);
      return;
    }
    this.stats.timeouts++;
    const why = p.lastError ? ` (last error: ${p.lastError.message})` : '';
    const sends = p.attempt + 1;
    this.finish(
      p,
      undefined,
      new RadiusError(
        'TIMEOUT',
        `no valid reply from ${this.target} to Id ${p.identifier} after ${sends} sends${why}`,
      ),
    );
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 20) {
      this.stats.badReplies++;
      return;
    }
    const p = this.inflight[msg[1] as number];
    if (p === undefined || p === PLACEHOLDER) {
      this.stats.unmatchedReplies++;
      return;
    }
    const reply = this.verify(p, msg);
    if (!reply) {
      // Dropped, not failed: the genuine reply may still come (or a retransmission gets one).
      this.stats.badReplies++;
      return;
    }
    this.stats.replies++;
    this.finish(p, reply, undefined);
  }

  /** The decoded reply when it answers `p` and every signature checks; undefined otherwise. */
  private verify(p: Pending, msg: Buffer): Packet | undefined {
    const code = msg[0] as number;
    if (!(REPLIES.get(p.code) ?? []).includes(code)) return undefined;
    if (!verifyResponseAuthenticator(msg, p.authenticator, this.secret)) return undefined;
    let reply: Packet;
    try {
      reply = decodePacket(msg, this.dictionary, {
        secret: this.secret,
        requestAuthenticator: p.authenticator,
      });
    } catch {
      return undefined;
    }
    const raw = reply.raw ?? msg;
    const ma = reply.messageAuthenticatorOffset;
    if (ma !== undefined) {
      if (!verifyMessageAuthenticator(raw, ma, p.authenticator, this.secret)) return undefined;
    } else if (reply.has('Message-Authenticator')) {
      return undefined; // present but not 16 octets
    } else if (this.requireMa && ACCESS_REPLIES.has(code)) {
      return undefined;
    }
    return reply;
  }

  private finish(p: Pending, reply: Packet | undefined, err: Error | undefined): void {
    if (p.timer) clearTimeout(p.timer);
    if (this.inflight[p.identifier] === p) {
      this.inflight[p.identifier] = undefined;
      this.inflightCount--;
    }
    if (reply) p.resolve(reply);
    else p.reject(err ?? new RadiusError('TIMEOUT', 'no reply'));
    this.dequeue();
  }

  private dequeue(): void {
    while (!this.closed && this.inflightCount < 256) {
      const q = this.queue.shift();
      if (!q) break;
      void this.start(q.packet, q.resolve, q.reject);
    }
    this.refresh();
  }

  private noteError(err: Error): void {
    for (const p of this.inflight) if (p && p !== PLACEHOLDER) p.lastError = err;
  }

  /** Keeps the process alive only while requests wait for replies. */
  private refresh(): void {
    if (this.closed) return;
    if (this.pending > 0) this.socket.ref();
    else this.socket.unref();
  }
}

// Marks an Identifier reserved while its request is being encoded.
const PLACEHOLDER: Pending = {
  identifier: -1,
  code: 0,
  bytes: Buffer.alloc(0),
  authenticator: Buffer.alloc(16),
  attempt: 0,
  timer: undefined,
  lastError: undefined,
  resolve: () => undefined,
  reject: () => undefined,
};
