import type { RemoteInfo, Socket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import type { LookupOneOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import type { Logger } from '../logging.js';
import type { Dictionary } from '../radius/index.js';
import type { MppePolicy } from './authenticate.js';
import { DuplicateCache } from './duplicates.js';
import type { NasClient, NasLookup, SessionLookup, SubscriberLookup } from './ports.js';
import type { AccountingHandler } from './processor.js';
import { PacketProcessor } from './processor.js';
import type { ReconnectPolicy } from './session-timeout.js';
import { ServerCounters } from './counters.js';
import type { AuthWorkersOptions } from './workers.js';
import type { AuthAnswer } from './workers.js';
import { AuthWorkers } from './workers.js';

export type { AccountingHandler } from './processor.js';

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
  /** Worker threads that answer Access-Requests; without it (or count 0), this thread does. */
  authWorkers?: AuthWorkersOptions;
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
  private readonly processor: PacketProcessor;
  /** Requests received and not finished yet; `stop` waits for them. */
  private pending = 0;
  private workers: AuthWorkers | undefined;
  /** Access-Requests handed to a worker and not answered yet, by duplicate key. */
  private readonly atWorkers = new Map<string, Buffer>();
  private drained: (() => void) | undefined;
  private closing = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RadiusServerOptions) {
    this.now = opts.now ?? Date.now;
    this.duplicates = new DuplicateCache(opts.duplicateWindowMs, 65_536, this.now);
    this.processor = new PacketProcessor({
      ...opts,
      counters: this.counters,
      now: this.now,
      // A NAS first seen signing here (Status-Server, or a request answered here): the workers
      // apply limit_proxy_state to it too.
      onSigns: (name) => this.workers?.signs(name),
    });
  }

  async start(): Promise<void> {
    const w = this.opts.authWorkers;
    if (w && w.count > 0) {
      const workers = new AuthWorkers(w, this.counters, this.opts.logger, (name) =>
        this.processor.nasSigns(name),
      );
      await workers.start();
      this.workers = workers;
    }
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
    const lookup = literalLookup();
    const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, lookup });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        lookup.bound = true;
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
    const finished =
      this.pending === 0 ? Promise.resolve() : new Promise<void>((r) => (this.drained = r));
    await Promise.race([finished, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await Promise.all(
      this.listeners.map((l) => new Promise<void>((r) => l.socket.close(() => r()))),
    );
    this.listeners.length = 0;
    await this.workers?.stop();
    this.workers = undefined;
  }

  private receive(listener: Listener, msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closing) return;
    this.counters.received++;
    this.pending++;
    const started = performance.now();
    // Most packets come from a NAS already known: no promise, no wait (see lookupNow).
    const known = this.opts.nas.lookupNow?.(rinfo.address);
    let done: Promise<void> | undefined;
    try {
      done =
        known === undefined
          ? this.lookupAndHandle(listener, msg, rinfo, started)
          : this.handle(listener, msg, rinfo, known ?? undefined, started);
    } catch (err) {
      this.failed(err, rinfo.address);
      return;
    }
    if (done === undefined) this.settled();
    else done.then(this.settled, (err: unknown) => this.failed(err, rinfo.address));
  }

  private failed(err: unknown, src: string): void {
    this.counters.errors++;
    this.opts.logger.error({ err, src }, 'RADIUS request failed');
    this.settled();
  }

  /** The worker's answer to a request (see AtWorker). */
  answeredByWorker(
    socket: Socket,
    msg: Buffer,
    port: number,
    address: string,
    dupKey: string,
    answer: Buffer | undefined,
  ): void {
    if (this.atWorkers.get(dupKey) === msg) this.atWorkers.delete(dupKey);
    if (answer) {
      // Copied: the worker's reply shares one buffer with the others of its batch.
      const response = Buffer.from(answer);
      this.duplicates.begin(dupKey, msg).response = response;
      // While stopping, the grace period may have ended and the socket closed.
      if (!this.closing || this.listeners.some((l) => l.socket === socket))
        socket.send(response, port, address);
    }
    this.settled();
  }

  /** One request finished (bound once: no closure per packet). */
  private readonly settled = (): void => {
    this.pending--;
    if (this.pending === 0 && this.drained) {
      this.drained();
      this.drained = undefined;
    }
  };

  private async lookupAndHandle(
    listener: Listener,
    msg: Buffer,
    rinfo: RemoteInfo,
    started: number,
  ): Promise<void> {
    const nas = await this.opts.nas.lookup(rinfo.address);
    return this.handle(listener, msg, rinfo, nas, started);
  }

  /**
   * One packet from `nas` (undefined: no NAS has its address). Synchronous for what it drops
   * and for Access-Requests handed to a worker; a promise for what is answered here.
   */
  private handle(
    listener: Listener,
    msg: Buffer,
    rinfo: RemoteInfo,
    nas: NasClient | undefined,
    started: number,
  ): Promise<void> | undefined {
    if (!nas) {
      this.processor.drop(
        'unknownClient',
        rinfo.address,
        rinfo.address,
        `no NAS is configured for ${rinfo.address}`,
      );
      return undefined;
    }
    const code = msg.length >= 20 ? (msg[0] as number) : 0;
    const expected = listener.kind === 'auth' ? ACCESS_REQUEST : ACCOUNTING_REQUEST;
    if (code !== expected && code !== STATUS_SERVER) {
      this.processor.drop(
        'wrongCode',
        nas.name,
        rinfo.address,
        `code ${code} is not accepted on the ${listener.kind} port`,
      );
      return undefined;
    }
    if (code === STATUS_SERVER) return this.statusServer(listener, msg, rinfo, nas, started);
    const dupKey = DuplicateCache.key(listener.port, rinfo.address, rinfo.port, msg[1] ?? 0);
    const dup = this.duplicates.check(dupKey, msg);
    if (dup.kind !== 'new') {
      this.counters.duplicates++;
      if (dup.kind === 'answered') listener.socket.send(dup.response, rinfo.port, rinfo.address);
      return undefined;
    }
    if (this.workers && code === ACCESS_REQUEST) {
      // The worker verifies: the duplicate cache takes the request once it has an answer, and
      // until then a retransmission of the same octets is ignored.
      if (this.atWorkers.get(dupKey)?.equals(msg)) {
        this.counters.duplicates++;
        return undefined;
      }
      this.atWorkers.set(dupKey, msg);
      this.pending++; // until the worker answers (see AtWorker)
      this.workers.process(
        msg,
        nas,
        rinfo.address,
        started,
        new AtWorker(this, listener.socket, msg, rinfo.port, rinfo.address, dupKey),
      );
      return undefined;
    }
    return this.respondHere(listener, msg, rinfo, nas, started, dupKey);
  }

  private async statusServer(
    listener: Listener,
    msg: Buffer,
    rinfo: RemoteInfo,
    nas: NasClient,
    started: number,
  ): Promise<void> {
    // Not cached: RFC 5997 wants each Status-Server answered afresh.
    const response = await this.processor.process(msg, nas, listener.kind, rinfo.address, started);
    if (response) listener.socket.send(response, rinfo.port, rinfo.address);
  }

  private async respondHere(
    listener: Listener,
    msg: Buffer,
    rinfo: RemoteInfo,
    nas: NasClient,
    started: number,
    dupKey: string,
  ): Promise<void> {
    const req = this.processor.accept(msg, nas, rinfo.address);
    if (!req) return; // an invalid packet must not touch the duplicate cache
    const entry = this.duplicates.begin(dupKey, msg);
    const response = await this.processor.respond(req, nas, listener.kind, rinfo.address, started);
    if (!response) {
      this.duplicates.abandon(dupKey, entry);
      return;
    }
    entry.response = response;
    listener.socket.send(response, rinfo.port, rinfo.address);
  }
}

/** An Access-Request at a worker: where its answer goes (one object, no promise per request). */
class AtWorker implements AuthAnswer {
  constructor(
    private readonly server: RadiusServer,
    private readonly socket: Socket,
    private readonly msg: Buffer,
    private readonly port: number,
    private readonly address: string,
    private readonly dupKey: string,
  ) {}

  answered(response: Buffer | undefined): void {
    this.server.answeredByWorker(
      this.socket,
      this.msg,
      this.port,
      this.address,
      this.dupKey,
      response,
    );
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;
type Lookup = (hostname: string, options: LookupOneOptions, callback: LookupCallback) => void;

/**
 * The address lookup of a server socket. Every reply goes to a request's source address, an IP
 * literal, yet `dgram` resolves the destination of each send through `dns.lookup`, which
 * answers a literal on the next tick: 1–2.5 µs per reply (loopback, measured with a one-off
 * script). Once the socket is bound, literals are answered at once; anything else, and the bind
 * itself (whose 'listening' would otherwise be emitted inside `bind()`), go through dns.lookup.
 */
function literalLookup(): Lookup & { bound: boolean } {
  const lookup = Object.assign(
    (hostname: string, options: LookupOneOptions, callback: LookupCallback): void => {
      const family = lookup.bound ? isIP(hostname) : 0;
      if (family !== 0) callback(null, hostname, family);
      else dnsLookup(hostname, options, callback);
    },
    { bound: false },
  );
  return lookup;
}
